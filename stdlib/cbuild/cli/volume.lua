-- cbuild volume create|ls|inspect|rm|prune: docker's named volumes (container/volumes.lua).
local errors = require "cbuild.errors"
local format = require "cbuild.cli.format"
local json = require "cbuild.core.json"
local volumes = require "cbuild.container.volumes"

local M = { summary = "Manage volumes" }

function M.setup(cmd)
  cmd:command_target "subcommand"
  cmd:require_command(true)
  local create = cmd:command("create", "Create a volume")
  create:argument("name", "Volume name (default: a random one)."):args "?"
  create:option("--name", "Volume name (as the argument)."):target "name_opt"
  create:option("-d --driver", "Volume driver name (only local).", "local")
  create:option("--label", "Set metadata for a volume (KEY=VALUE)."):count "*"
  create:option("-o --opt", "Set driver specific options (recorded; the local driver binds a directory)."):count "*"
  local ls = cmd:command("ls list", "List volumes")
  ls:flag("-q --quiet", "Only display volume names.")
  ls:option("-f --filter", "Provide filter values (dangling=true, name=NAME, label=KEY[=VALUE], driver=local)."
    ):count "*"
  ls:option("--format", "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go "
    .. "template.")
  local inspect = cmd:command("inspect", "Display detailed information on one or more volumes")
  inspect:option("-f --format", "Format output using a Go template.")
  inspect:argument("volume", "Volume name."):args "+"
  local rm = cmd:command("rm remove", "Remove one or more volumes")
  rm:flag("-f --force", "Force the removal of one or more volumes (no error for a missing one).")
  rm:argument("volume", "Volume name."):args "+"
  local prune = cmd:command("prune", "Remove unused volumes")
  prune:flag("-a --all", "Remove all unused volumes, not just anonymous ones.")
  prune:flag("-f --force", "Do not prompt for confirmation.")
end

-- KEY=VALUE flags as a table (KEY alone: "").
local function pairs_of(list)
  local out = {}
  for _, kv in ipairs(list or {}) do
    local k, v = kv:match "^([^=]+)=(.*)$"
    out[k or kv] = v or ""
  end
  return out
end

local function create(args, imgs)
  if args.driver ~= "local" then
    errors.raise("create volume: driver %q is not supported (local)", args.driver)
  end
  if args.name and args.name_opt and args.name ~= args.name_opt then
    errors.raise "conflicting options: either specify --name or provide positional arg, not both"
  end
  local v = volumes.create(imgs, args.name or args.name_opt, pairs_of(args.label), pairs_of(args.opt))
  io.stdout:write(v.Name, "\n")
  return 0
end

local LS_FILTERS = { dangling = true, name = true, label = true, driver = true }

local function ls(args, imgs)
  local filters = format.filters(args.filter, LS_FILTERS)
  local items = {}
  for _, v in ipairs(volumes.list(imgs)) do
    local keep = format.has_labels(v.Labels, filters.label)
    for _, d in ipairs(filters.dangling or {}) do
      keep = keep and ((d == "true" or d == "1") == (#volumes.users(imgs, v.Name) == 0))
    end
    for _, n in ipairs(filters.name or {}) do
      keep = keep and v.Name:find(n, 1, true) ~= nil
    end
    for _, d in ipairs(filters.driver or {}) do
      keep = keep and v.Driver == d
    end
    if keep then
      items[#items + 1] = { Name = v.Name, Driver = v.Driver, Mountpoint = v.Mountpoint, Scope = v.Scope,
        CreatedAt = v.CreatedAt, Labels = v.Labels, Links = "N/A", Size = "N/A" }
    end
  end
  if args.quiet then
    for _, v in ipairs(items) do
      io.stdout:write(v.Name, "\n")
    end
    return 0
  end
  format.print(items, args.format, "table {{.Driver}}\t{{.Name}}", { Name = "VOLUME NAME", Driver = "DRIVER",
    Mountpoint = "MOUNTPOINT", Scope = "SCOPE", CreatedAt = "CREATED", Labels = "LABELS", Links = "LINKS",
    Size = "SIZE" })
  return 0
end

local function inspect(args, imgs)
  local out, status = {}, 0
  for _, name in ipairs(args.volume) do
    local v = volumes.get(imgs, name)
    if v then
      out[#out + 1] = v
    else
      io.stderr:write("Error: No such volume: ", name, "\n")
      status = 1
    end
  end
  if args.format then
    format.print(out, args.format)
  else
    io.stdout:write(json.encode(json.array(out), { indent = 4 }), "\n")
  end
  return status
end

local function rm(args, imgs)
  local status = 0
  for _, name in ipairs(args.volume) do
    local ok, err = pcall(volumes.remove, imgs, name, args.force)
    if ok then
      io.stdout:write(name, "\n")
    else
      io.stderr:write("Error response from daemon: ", errors.is(err) and err.msg or tostring(err), "\n")
      status = 1
    end
  end
  return status
end

local function prune(args, imgs)
  if not args.force then
    local what = args.all and "all local volumes not used by at least one container"
      or "all anonymous local volumes not used by at least one container"
    if not require("cbuild.cli.system").confirm("WARNING! This will remove " .. what .. ".") then
      return 0
    end
  end
  local du = require("cbuild.build.gc").du
  local removed, reclaimed = {}, 0
  for _, v in ipairs(volumes.list(imgs)) do
    if (args.all or volumes.anonymous(v)) and #volumes.users(imgs, v.Name) == 0 then
      local n = du(v.Mountpoint)
      volumes.remove(imgs, v.Name)
      removed[#removed + 1] = v.Name
      reclaimed = reclaimed + n
    end
  end
  if #removed > 0 then
    io.stdout:write("Deleted Volumes:\n", table.concat(removed, "\n"), "\n\n")
  end
  io.stdout:write("Total reclaimed space: ", format.size(reclaimed), "\n")
  return 0
end

function M.run(args, ctx)
  local imgs = ctx:store()
  local sub = args.subcommand
  if sub == "create" then
    return create(args, imgs)
  elseif sub == "ls" then
    return ls(args, imgs)
  elseif sub == "inspect" then
    return inspect(args, imgs)
  elseif sub == "rm" then
    return rm(args, imgs)
  end
  return prune(args, imgs)
end

return M
