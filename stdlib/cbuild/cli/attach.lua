-- cbuild attach [--no-stdin] [--sig-proxy=false] [--detach-keys KEYS] CONTAINER: the output of
-- a detached container from now on (what its monitor writes to the json-file log, followed), our
-- stdin to its stdin when it was started with -i (the monitor keeps that open: we write into it
-- through /proc/<monitor>/fd/<n>), signals passed on, until it exits (its exit status is ours)
-- or the detach keys (Ctrl-P Ctrl-Q) are typed on a terminal.
local pty = require "cbuild.core.pty"
local proc = require "cbuild.core.proc"
local sys = require "cbuild.core.sys"
local errors = require "cbuild.errors"
local logs = require "cbuild.container.logs"
local state = require "cbuild.container.state"

local M = { summary = "Attach local standard input, output, and error streams to a running container" }

function M.setup(cmd)
  cmd:flag("--no-stdin", "Do not attach STDIN.")
  cmd:option("--sig-proxy", "Proxy all received signals to the process (true or false).", "true")
  cmd:option("--detach-keys", "Override the key sequence for detaching a container.", "ctrl-p,ctrl-q")
  cmd:argument("container", "Container name or ID.")
end

--- docker's --detach-keys: "ctrl-p,ctrl-q", "a,ctrl-@" -> the bytes, or nil.
function M.parse_keys(spec)
  local out = {}
  for key in spec:gmatch "[^,]+" do
    local ctl = key:lower():match "^ctrl%-(.)$"
    if ctl then
      local names = { ["@"] = 0, ["["] = 27, ["\\"] = 28, ["]"] = 29, ["^"] = 30, ["_"] = 31 }
      local b = ctl:match "%l" and (ctl:byte() - 96) or names[ctl]
      if not b then
        return nil
      end
      out[#out + 1] = string.char(b)
    elseif #key == 1 then
      out[#out + 1] = key
    else
      return nil
    end
  end
  return #out > 0 and table.concat(out) or nil
end

-- The monitor's end of the container's stdin, opened for writing, or nil.
local function open_stdin(c)
  local fd = c.Cbuild.stdin_fd
  if not fd or not state.monitor_alive(c) then
    return nil
  end
  local f = io.open("/proc/" .. c.Cbuild.monitor_pid .. "/fd/" .. fd, "wb")
  if f then
    f:setvbuf "no"
  end
  return f
end

local function emit(e)
  local out = e.stream == "stderr" and io.stderr or io.stdout
  out:write(e.log)
  out:flush()
end

function M.run(args, ctx)
  local imgs = ctx:store()
  local c = state.must_lookup(imgs, args.container)
  if not c.State.Running then
    errors.raise "You cannot attach to a stopped container, start it first"
  end
  local keys = M.parse_keys(args.detach_keys)
    or errors.raise("Invalid detach keys (%s) provided", args.detach_keys)
  local tty = c.Config.Tty
  local input = (not args.no_stdin) and c.Config.OpenStdin and open_stdin(c) or nil
  local sigs = {}
  if args.sig_proxy ~= "false" and not tty then
    sigs = { "INT", "TERM", "HUP", "QUIT" }
  end
  local sigfd = #sigs > 0 and errors.need("signals", sys.signalfd(sigs)) or nil
  local saved
  if input and tty and sys.isatty(0) then
    saved = pty.make_raw(0)
  end
  local offset = logs.size(c.LogPath)
  local matched, detached = "", false
  local ok, err = pcall(function()
    local stdin_open = input ~= nil
    while true do
      local fds = {}
      if sigfd then
        fds[#fds + 1] = sigfd
      end
      if stdin_open then
        fds[#fds + 1] = 0
      end
      local ready = errors.need("attach", sys.poll(fds, 50))
      if sigfd and ready[sigfd] then
        local sig = sys.read_signal(sigfd)
        if sig and sig > 0 then
          proc.kill(c.State.Pid, sig)
        end
      end
      if stdin_open and ready[0] then
        local data = sys.read(0)
        if not data or data == "" then
          stdin_open = false -- the container's stdin stays open (docker's run -di)
        else
          if tty then -- watch for the detach keys, which are not passed on
            local seq = matched .. data
            local at = seq:find(keys, 1, true)
            if at then
              input:write(seq:sub(1, at - 1))
              detached = true
              return
            end
            matched = "" -- hold back a tail that may be the start of the keys
            for n = math.min(#keys - 1, #seq), 1, -1 do
              if seq:sub(-n) == keys:sub(1, n) then
                matched = seq:sub(-n)
                break
              end
            end
            data = seq:sub(1, #seq - #matched)
          end
          if data ~= "" and not input:write(data) then
            stdin_open = false
          end
        end
      end
      local cur = state.load(imgs, c.Id)
      local finished = not cur or not cur.State.Running or cur.Cbuild.monitor_start ~= c.Cbuild.monitor_start
      local entries
      entries, offset = logs.read_from(c.LogPath, offset)
      for _, e in ipairs(entries) do
        emit(e)
      end
      if finished then
        c = cur
        return
      end
    end
  end)
  if saved then
    pty.restore(0, saved)
  end
  if input then
    input:close()
  end
  if sigfd then
    sys.close(sigfd)
    sys.unblock_signals(sigs)
  end
  if not ok then
    error(err, 0)
  end
  if detached then
    io.stderr:write("read escape sequence\n")
    return 0
  end
  return c and c.State.ExitCode or 0
end

return M
