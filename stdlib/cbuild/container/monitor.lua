-- The monitor of a detached container: a cbuild process of its own (double-forked, setsid) that
-- starts the container, tells the `run -d` or `start` that launched it how the start went (on
-- the notify fd: "ok", or "<status>:<message>"), writes its output to the json-file log, and
-- records its exit (code, end time, OOM kill) in state.json.
local pty = require "cbuild.core.pty"
local sys = require "cbuild.core.sys"
local errors = require "cbuild.errors"
local config = require "cbuild.container.config"
local logs = require "cbuild.container.logs"
local runtime = require "cbuild.container.runtime"
local state = require "cbuild.container.state"

local M = {}

M.EXEC_GRACE_MS = 100 -- how long a start waits for an exec failure before saying "ok"

local function notify(fd, text)
  if fd then
    sys.write(fd, text)
    sys.close(fd)
  end
end

-- Start c once and supervise it to its end.  Returns the monitor's exit status and the
-- container's (nil when it did not start, or failed to exec: no restart then).
local function run_once(imgs, c, notify_fd)
  runtime.warm_cgroups()
  local id = c.Id
  -- stdin_fd: with -i, the write end of the container's stdin that this process keeps open and
  -- `attach` opens as /proc/<monitor>/fd/<n> (a pipe: the same pipe, not a copy); for a pty it
  -- is a pipe of our own whose data goes on to the master.
  local outs, relay, io_, close_after = {}, {}, nil, nil -- luacheck: ignore 311
  local stdin_fd
  if c.Config.Tty then
    local master, slave = errors.need("open a pty", pty.open())
    outs[master] = "stdout"
    io_ = { stdin = slave, stdout = slave, stderr = slave, ctty = true }
    close_after = { slave }
    if c.Config.OpenStdin then
      local rin
      rin, stdin_fd = errors.need("pipe", sys.pipe())
      relay[rin] = master
    end
  else
    local ro, wo = errors.need("pipe", sys.pipe())
    local re, we = errors.need("pipe", sys.pipe())
    local ri, wi = errors.need("pipe", sys.pipe())
    if c.Config.OpenStdin then
      stdin_fd = wi
    else
      sys.close(wi)
    end
    outs[ro], outs[re] = "stdout", "stderr"
    io_ = { stdin = ri, stdout = wo, stderr = we, setsid = true }
    close_after = { ri, wo, we }
  end
  local ok, h = pcall(runtime.start, imgs, c, io_)
  for _, fd in ipairs(close_after) do
    sys.close(fd)
  end
  if not ok then
    local msg = errors.is(h) and h.msg or tostring(h)
    state.update(imgs, id, function(s)
      s.State.Error = msg
      s.State.Restarting = false
      if s.State.Status == "restarting" then
        s.State.Status = "exited"
      end
    end)
    notify(notify_fd, "125:" .. msg)
    return 125
  end
  runtime.mark_running(imgs, c, h)
  if stdin_fd then
    state.update(imgs, id, function(s)
      s.Cbuild.stdin_fd = stdin_fd
    end)
  end
  -- an exec failure shows within moments: report it as `docker run -d` does (126/127)
  sys.poll({ h.proc:pidfd() }, M.EXEC_GRACE_MS)
  local early = h.proc:poll()
  if early and early.exec_error then
    for fd in pairs(outs) do
      sys.close(fd)
    end
    runtime.finish(imgs, c, h, early)
    notify(notify_fd, early.code .. ":failed to create task for container: " .. early.exec_error)
    return early.code
  end
  notify(notify_fd, "ok")
  local log = logs.writer(c.LogPath)
  local sok, status = pcall(runtime.supervise, h.proc, { outs = outs, log = log, relay = relay })
  log:close()
  if not sok then
    h.proc:kill "KILL"
    status = h.proc:wait() or { code = 137 }
  end
  runtime.finish(imgs, c, h, status)
  return 0, status
end

--- The first delay before a restart, doubled each time up to the cap, and reset after a run
--- of RESET_AFTER seconds (docker's backoff).
M.RESTART_DELAY_MS, M.RESTART_DELAY_MAX_MS, M.RESET_AFTER = 100, 60000, 10

-- Mark id as restarting (its monitor, this process, still owns it).
local function restarting(imgs, id, value)
  return state.update(imgs, id, function(s)
    s.State.Restarting = value
    if value then
      s.State.Status = "restarting"
      s.Cbuild.monitor_pid = sys.getpid()
      s.Cbuild.monitor_start = state.starttime(sys.getpid())
    else
      if s.State.Status == "restarting" then
        s.State.Status = "exited"
      end
      s.Cbuild.monitor_pid = nil
      s.Cbuild.monitor_start = nil
    end
  end)
end

--- Run container id to its end, and again while its restart policy says so; returns the exit
--- status for the monitor process.
function M.main(imgs, id, notify_fd)
  local c = state.load(imgs, id)
  if not c then
    notify(notify_fd, "125:No such container: " .. id)
    return 125
  end
  if c.State.Running then
    notify(notify_fd, "ok")
    return 0
  end
  local t0 = sys.time()
  local ret, status = run_once(imgs, c, notify_fd)
  local delay = M.RESTART_DELAY_MS
  while status do
    local cur = state.load(imgs, id)
    if not cur or not config.should_restart(cur.HostConfig.RestartPolicy, status.code, cur.RestartCount,
        cur.Cbuild.manually_stopped) then
      break
    end
    if sys.time() - t0 >= M.RESET_AFTER then
      delay = M.RESTART_DELAY_MS
    end
    restarting(imgs, id, true)
    sys.poll({}, delay)
    delay = math.min(delay * 2, M.RESTART_DELAY_MAX_MS)
    cur = state.load(imgs, id)
    if not cur or cur.Cbuild.manually_stopped then
      if cur then
        restarting(imgs, id, false)
      end
      break
    end
    cur = state.update(imgs, id, function(s)
      s.RestartCount = (s.RestartCount or 0) + 1
    end)
    t0 = sys.time()
    ret, status = run_once(imgs, cur, nil)
  end
  if c.HostConfig.AutoRemove then
    pcall(runtime.remove, imgs, c)
  end
  return ret
end

return M
