-- cbuild pause|unpause CONTAINER...: freeze or thaw every process of running containers (their
-- cgroup's freezer), as docker pause; the record says Paused meanwhile.
local cgroup = require "cbuild.core.cgroup"
local errors = require "cbuild.errors"
local state = require "cbuild.container.state"

local M = { summary = "Pause all processes within one or more containers" }

function M.setup(cmd)
  cmd:argument("container", "Container name or ID."):args "+"
end

--- Freeze (frozen = true) or thaw c; records State.Paused.
function M.set(imgs, c, frozen)
  local cg = cgroup.open(c.Cbuild.cgroup)
  if not cg then
    errors.raise("container %s has no cgroup to freeze", c.Id)
  end
  local ok, msg, code = cg:freeze(frozen)
  cg:close()
  errors.need(frozen and "pause" or "unpause", ok, msg, code)
  state.update(imgs, c.Id, function(s)
    s.State.Paused = frozen
    s.State.Status = frozen and "paused" or "running"
  end)
end

--- The verb's run for pause (frozen) or unpause.
function M.verb(frozen)
  return function(args, ctx)
    local imgs = ctx:store()
    local status = 0
    for _, name in ipairs(args.container) do
      local c, err = state.lookup(imgs, name)
      if c and not c.State.Running then
        c, err = nil, "Container " .. c.Id .. " is not running"
      elseif c and c.State.Paused == frozen then
        c, err = nil, "Container " .. c.Id .. (frozen and " is already paused" or " is not paused")
      end
      local ok, e = true, nil
      if c then
        ok, e = pcall(M.set, imgs, c, frozen)
      end
      if c and ok then
        io.stdout:write(name, "\n")
      else
        io.stderr:write("Error response from daemon: ", err or (errors.is(e) and e.msg or tostring(e)), "\n")
        status = 1
      end
    end
    return status
  end
end

M.run = M.verb(true)

return M
