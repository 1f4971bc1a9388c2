-- cbuild ps [-a] [-q] [--no-trunc]: containers in docker's table.
local format = require "cbuild.cli.format"
local state = require "cbuild.container.state"

local M = { summary = "List containers" }

function M.setup(cmd)
  cmd:flag("-a --all", "Show all containers (default shows just running).")
  cmd:flag("-q --quiet", "Only display container IDs.")
  cmd:flag("--no-trunc", "Don't truncate output.")
  cmd:flag("-l --latest", "Show the latest created container (includes all states).")
end

local function command_of(c, trunc)
  local parts = { c.Path }
  for _, a in ipairs(c.Args or {}) do
    parts[#parts + 1] = a
  end
  local s = table.concat(parts, " ")
  if trunc then
    s = format.trunc(s, 20)
  end
  return '"' .. s .. '"'
end

function M.run(args, ctx)
  local imgs = ctx:store()
  local rows, now = {}, os.time()
  local list = state.list(imgs)
  if args.latest then
    list = { list[1] }
  end
  for _, c in ipairs(list) do
    if args.all or args.latest or c.State.Running then
      local id = args.no_trunc and c.Id or c.Id:sub(1, 12)
      if args.quiet then
        io.stdout:write(id, "\n")
      else
        rows[#rows + 1] = { id, c.Config.Image or c.Image, command_of(c, not args.no_trunc),
          format.ago(c.Created), state.status_text(c, now), "", (c.Name:gsub("^/", "")) }
      end
    end
  end
  if not args.quiet then
    format.table({ "CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES" }, rows)
  end
  return 0
end

return M
