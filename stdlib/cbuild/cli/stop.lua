-- cbuild stop [-t SECS] CONTAINER...: the image's STOPSIGNAL (SIGTERM by default), then SIGKILL
-- after the timeout.
local proc = require "cbuild.core.proc"
local runtime = require "cbuild.container.runtime"
local state = require "cbuild.container.state"

local M = { summary = "Stop one or more running containers" }

function M.setup(cmd)
  cmd:option("-t --time", "Seconds to wait before killing the container (default: its --stop-timeout, else 10)."
    ):convert(tonumber)
  cmd:option("-s --signal", "Signal to send to the container.")
  cmd:argument("container", "Container name or ID."):args "+"
end

--- Record that c was stopped by hand: its restart policy does not start it again (until
--- `start`), as docker's HasBeenManuallyStopped.
function M.mark_stopped(imgs, c)
  state.update(imgs, c.Id, function(s)
    s.Cbuild.manually_stopped = true
  end)
end

--- Stop c: signal, wait up to timeout seconds, then SIGKILL; returns when it no longer runs.
function M.stop(imgs, c, timeout, sig)
  timeout = timeout or c.Config.StopTimeout or 10
  M.mark_stopped(imgs, c)
  if not c.State.Running then
    if c.State.Restarting then -- the monitor sees the mark when its delay ends
      runtime.wait_settled(imgs, c.Id)
    end
    return
  end
  if c.State.Paused then -- frozen processes would never see the signal
    require("cbuild.cli.pause").set(imgs, c, false)
  end
  sig = sig or c.Config.StopSignal or "TERM"
  if sig == "" then
    sig = "TERM"
  end
  proc.kill(c.State.Pid, proc.signum(sig) or 15)
  local _, stopped = runtime.wait_stopped(imgs, c.Id, timeout)
  if not stopped then
    local now = state.load(imgs, c.Id)
    if now and now.State.Running then
      proc.kill(now.State.Pid, 9)
    end
    runtime.wait_stopped(imgs, c.Id, nil)
  end
  -- it may have ended on its own just before our signal, and its monitor be in a restart
  -- delay: that sees the mark when the delay ends; return once it has settled
  local now = state.load(imgs, c.Id)
  if now and now.State.Restarting then
    runtime.wait_settled(imgs, c.Id)
  end
end

function M.run(args, ctx)
  local imgs = ctx:store()
  local status = 0
  for _, name in ipairs(args.container) do
    local c, err = state.lookup(imgs, name)
    if c then
      M.stop(imgs, c, args.time, args.signal)
      io.stdout:write(name, "\n")
    else
      io.stderr:write("Error response from daemon: ", err, "\n")
      status = 1
    end
  end
  return status
end

return M
