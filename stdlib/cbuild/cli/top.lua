-- cbuild top CONTAINER [ps OPTIONS]: the container's processes (from its cgroup), shown by ps.
local cgroup = require "cbuild.core.cgroup"
local errors = require "cbuild.errors"
local state = require "cbuild.container.state"

local M = { summary = "Display the running processes of a container" }

function M.setup(cmd)
  cmd:argument("container", "Container name or ID.")
  cmd:argument("ps_options", "ps options (default -ef)."):args "*"
end

function M.run(args, ctx)
  local imgs = ctx:store()
  local c = state.must_lookup(imgs, args.container)
  if not c.State.Running then
    errors.raise("container %s is not running", c.Id)
  end
  local cg = errors.need("open the container's cgroup", cgroup.open(c.Cbuild.cgroup))
  local pids = errors.need("list processes", cg:pids())
  cg:close()
  local want = {}
  for _, p in ipairs(pids) do
    want[tostring(p)] = true
  end
  local opts = #args.ps_options > 0 and table.concat(args.ps_options, " ") or "-ef"
  if opts:match "[^%w%s,=%-]" then
    errors.raise("invalid ps options: %s", opts)
  end
  local f = assert(io.popen("ps " .. opts))
  local header = f:read "l"
  local pidcol
  local i = 0
  for col in (header or ""):gmatch "%S+" do
    i = i + 1
    if col == "PID" then
      pidcol = i
    end
  end
  if not pidcol then
    f:close()
    errors.raise "Couldn't find PID field in ps output"
  end
  io.stdout:write(header, "\n")
  for line in f:lines() do
    local j = 0
    for field in line:gmatch "%S+" do
      j = j + 1
      if j == pidcol then
        if want[field] then
          io.stdout:write(line, "\n")
        end
        break
      end
    end
  end
  f:close()
  return 0
end

return M
