-- cbuild kill [-s SIGNAL] CONTAINER...: signal the container's init (SIGKILL by default).
local proc = require "cbuild.core.proc"
local state = require "cbuild.container.state"

local M = { summary = "Kill one or more running containers" }

function M.setup(cmd)
  cmd:option("-s --signal", "Signal to send to the container.", "KILL")
  cmd:argument("container", "Container name or ID."):args "+"
end

function M.run(args, ctx)
  local imgs = ctx:store()
  local status = 0
  local sig = proc.signum(args.signal)
  if not sig then
    io.stderr:write("cbuild: error: invalid signal: ", args.signal, "\n")
    return 1
  end
  for _, name in ipairs(args.container) do
    local c, err = state.lookup(imgs, name)
    if c and not c.State.Running then
      c, err = nil, "cannot kill container: " .. name .. ": container " .. c.Id .. " is not running"
    end
    if c then
      require("cbuild.cli.stop").mark_stopped(imgs, c)
      proc.kill(c.State.Pid, sig)
      if c.State.Paused then -- thawed, it takes the signal
        pcall(require("cbuild.cli.pause").set, imgs, c, false)
      end
      io.stdout:write(name, "\n")
    else
      io.stderr:write("Error response from daemon: ", err, "\n")
      status = 1
    end
  end
  return status
end

return M
