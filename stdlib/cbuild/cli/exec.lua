-- cbuild exec [-d] [-i] [-t] [-e K=V] [-u USER] [-w DIR] CONTAINER COMMAND [ARG...]: run a command
-- in a running container: its namespaces, root, cgroup, user and capabilities.  -d hands it to
-- a detached cbuild (this verb again, told where to report the start) and returns at once.
local fs = require "cbuild.core.fs"
local proc = require "cbuild.core.proc"
local sys = require "cbuild.core.sys"
local errors = require "cbuild.errors"
local ccli = require "cbuild.container.cli"
local runtime = require "cbuild.container.runtime"
local state = require "cbuild.container.state"

local M = { summary = "Execute a command in a running container" }

function M.flags(p)
  p:add_help "--help"
  p:flag("-d --detach", "Detached mode: run command in the background.")
  p:option("--notify-fd", "(internal) the detached helper's report fd."):hidden(true):convert(math.tointeger)
  p:flag("-i --interactive", "Keep STDIN open even if not attached.")
  p:flag("-t --tty", "Allocate a pseudo-TTY.")
  p:option("-e --env", "Set environment variables."):count "*"
  p:option("-u --user", "Username or UID (format: <name|uid>[:<group|gid>]).")
  p:option("-w --workdir", "Working directory inside the container.")
  p:flag("--privileged", "Give extended privileges to the command.")
  p:argument("container", "Container name or ID.")
  p:argument("command", "Command and arguments."):args "+"
end

local setup, parse = ccli.raw_verb("exec", M.summary, M.flags)
M.setup = setup

-- exec -d: this verb again in a detached process, which reports how the start went on a pipe
-- ("ok" or "<status>:<message>"); returns the status.
local function detach(imgs, raw)
  local exe = errors.need("find the cbuild executable", fs.readlink "/proc/self/exe")
  local rfd, wfd = errors.need("pipe", sys.pipe())
  local argv = { exe, "--root", imgs.root, "exec", "--notify-fd", tostring(wfd) }
  table.move(raw, 1, #raw, #argv + 1, argv)
  local pid, msg = proc.spawn_detached(argv, { keep_fd = wfd })
  sys.close(wfd)
  if not pid then
    sys.close(rfd)
    errors.raise("%s", msg)
  end
  local parts = {}
  repeat
    local data = sys.read(rfd)
    parts[#parts + 1] = data
  until not data or data == ""
  sys.close(rfd)
  local answer = table.concat(parts)
  if answer == "ok" then
    return 0
  end
  local code, text = answer:match "^(%d+):(.*)$"
  io.stderr:write("cbuild: error: ", text or "the detached exec died during start", "\n")
  return tonumber(code) or 126
end

local function notify(fd, text)
  sys.write(fd, text)
  sys.close(fd)
end

function M.run(args, ctx)
  local o = parse(args)
  if o.notify_fd then -- the detached helper: no terminal, no stdin
    o.tty, o.interactive = false, false
  end
  return ccli.exit125(function()
    local imgs = ctx:store()
    local c = state.must_lookup(imgs, o.container)
    if not c.State.Running then
      errors.raise("container %s is not running", c.Id)
    elseif c.State.Paused then
      errors.raise("Container %s is paused, unpause the container before exec", c.Id)
    end
    if o.detach and not o.notify_fd then
      return detach(imgs, args.raw)
    end
    local env = {}
    for _, kv in ipairs(o.env or {}) do
      local k, v = kv:match "^([^=]+)=(.*)$"
      if not k then
        k, v = kv, os.getenv(kv)
      end
      if v then
        env[#env + 1] = k .. "=" .. v
      end
    end
    local master, slave
    if o.tty then
      -- from the container's own devpts, so the command's `tty` names it (/dev/pts/N); a
      -- container without one gets a pty of ours
      local pty = require "cbuild.core.pty"
      master, slave = pty.open_at("/proc/" .. c.State.Pid .. "/root/dev/pts/ptmx")
      if not master then
        master, slave = errors.need("open a pty", pty.open())
      end
      runtime.copy_winsize(master)
    end
    local p = runtime.enter(imgs, c, { argv = o.command, env = env, user = o.user, workdir = o.workdir,
      privileged = o.privileged, stdin = slave, stdout = slave, stderr = slave, ctty = o.tty })
    local status
    if o.notify_fd then
      sys.poll({}, 100) -- an exec failure shows within moments
      local early = p:poll()
      if early and early.exec_error then
        notify(o.notify_fd, early.code .. ":OCI runtime exec failed: " .. early.exec_error)
        p:close()
        return early.code
      end
      notify(o.notify_fd, "ok")
      status = errors.need("wait", p:wait())
    elseif o.tty then
      sys.close(slave)
      status = runtime.relay_pty(master, o.interactive, nil, function()
        return errors.need("wait", p:wait())
      end, function(sig)
        p:kill(sig)
      end)
      sys.close(master)
    else
      status = errors.need("wait", p:wait())
    end
    p:close()
    if status.exec_error then
      io.stderr:write("cbuild: error: OCI runtime exec failed: ", status.exec_error, "\n")
    end
    return status.code
  end)
end

return M
