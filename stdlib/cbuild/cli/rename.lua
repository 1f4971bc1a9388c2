-- cbuild rename CONTAINER NEW_NAME, as docker rename.
local state = require "cbuild.container.state"

local M = { summary = "Rename a container" }

function M.setup(cmd)
  cmd:argument("container", "Container name or ID.")
  cmd:argument("new_name", "The new name.")
end

function M.run(args, ctx)
  local imgs = ctx:store()
  local c = state.must_lookup(imgs, args.container)
  local name = state.pick_name(imgs, args.new_name) -- refuses a bad or taken name, as docker
  state.update(imgs, c.Id, function(s)
    s.Name = name
  end)
  return 0
end

return M
