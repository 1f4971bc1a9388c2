-- cbuild restart [-t SECS] CONTAINER...: stop (as `stop`) and start again (as `start`).
local start = require "cbuild.cli.start"
local stop = require "cbuild.cli.stop"
local state = require "cbuild.container.state"

local M = { summary = "Restart one or more containers" }

function M.setup(cmd)
  cmd:option("-t --time", "Seconds to wait before killing the container (default: its --stop-timeout, else 10)."
    ):convert(tonumber)
  cmd:option("-s --signal", "Signal to send to the container.")
  cmd:argument("container", "Container name or ID."):args "+"
end

function M.run(args, ctx)
  local imgs = ctx:store()
  local status = 0
  for _, name in ipairs(args.container) do
    local c, err = state.lookup(imgs, name)
    if c then
      stop.stop(imgs, c, args.time, args.signal)
      status = math.max(status, start.run({ container = { name }, quiet = true }, ctx))
    else
      io.stderr:write("Error response from daemon: ", err, "\n")
      status = 1
    end
  end
  return status
end

return M
