-- cbuild wait CONTAINER...: block until each stops, then print its exit code.
local runtime = require "cbuild.container.runtime"
local state = require "cbuild.container.state"

local M = { summary = "Block until one or more containers stop, then print their exit codes" }

function M.setup(cmd)
  cmd:argument("container", "Container name or ID."):args "+"
end

function M.run(args, ctx)
  local imgs = ctx:store()
  local status = 0
  for _, name in ipairs(args.container) do
    local c, err = state.lookup(imgs, name)
    if c then
      c = runtime.wait_stopped(imgs, c.Id, nil) or c
      io.stdout:write(tostring(c.State.ExitCode), "\n")
    else
      io.stderr:write("Error response from daemon: ", err, "\n")
      status = 1
    end
  end
  return status
end

return M
