-- cbuild start CONTAINER...: start stopped containers again, detached, under a new monitor.
local run = require "cbuild.cli.run"
local runtime = require "cbuild.container.runtime"
local state = require "cbuild.container.state"

local M = { summary = "Start one or more stopped containers" }

function M.setup(cmd)
  cmd:argument("container", "Container name or ID."):args "+"
end

function M.run(args, ctx)
  local imgs = ctx:store()
  local status = 0
  for _, name in ipairs(args.container) do
    local c, err = state.lookup(imgs, name)
    local ok, code = true, 0
    if c and not c.State.Running and select(2, runtime.reap(imgs, c)) == "removed" then
      c, err = nil, "No such container: " .. name -- a --rm container whose supervisor died
    end
    if c and not c.State.Running then
      state.update(imgs, c.Id, function(s)
        s.Cbuild.manually_stopped = nil
      end)
      ok, err, code = run.start_detached(imgs, c)
    end
    if c and ok then
      io.stdout:write(name, "\n")
    else
      io.stderr:write("Error response from daemon: ", err, "\n")
      status = code ~= 0 and code or 1
    end
  end
  return status
end

return M
