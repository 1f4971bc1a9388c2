-- cbuild restart [-t SECS] CONTAINER...: stop (as `stop`) and start again (as `start`).
local start = require "cbuild.cli.start"
local stop = require "cbuild.cli.stop"
local state = require "cbuild.container.state"

local M = { summary = "Restart one or more containers", setup = stop.setup } -- stop's flags

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
