-- cbuild rm [-f] [-v] CONTAINER...: remove containers (-f kills a running one first, -v removes
-- their anonymous volumes).
local proc = require "cbuild.core.proc"
local runtime = require "cbuild.container.runtime"
local state = require "cbuild.container.state"

local M = { summary = "Remove one or more containers" }

function M.setup(cmd)
  cmd:flag("-f --force", "Force the removal of a running container (uses SIGKILL).")
  cmd:flag("-v --volumes", "Remove anonymous volumes associated with the container.")
  cmd:argument("container", "Container name or ID."):args "+"
end

function M.run(args, ctx)
  local imgs = ctx:store()
  local status = 0
  for _, name in ipairs(args.container) do
    local c, err = state.lookup(imgs, name)
    if c and c.State.Running then
      if args.force then
        proc.kill(c.State.Pid, 9)
        if c.State.Paused then
          pcall(require("cbuild.cli.pause").set, imgs, c, false)
        end
        c = runtime.wait_stopped(imgs, c.Id, 10) or c
      else
        c, err = nil, "cannot remove container \"" .. name .. "\": container is running: stop the "
          .. "container before removing or force remove"
      end
    end
    if c then
      runtime.remove(imgs, c, { volumes = args.volumes })
      io.stdout:write(name, "\n")
    else
      io.stderr:write("Error response from daemon: ", err, "\n")
      status = 1
    end
  end
  return status
end

return M
