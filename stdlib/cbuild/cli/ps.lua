-- cbuild ps [-a] [-q] [-n N] [-l] [--no-trunc] [-f FILTER]... [--format FMT]: containers in
-- docker's table, filtered (status, name, id, label, exited, ancestor, before, since) and
-- formatted (a Go template over docker's fields, "table ...", or "json") as docker does.
local errors = require "cbuild.errors"
local format = require "cbuild.cli.format"
local network = require "cbuild.container.network"
local state = require "cbuild.container.state"

local M = { summary = "List containers" }

function M.setup(cmd)
  cmd:flag("-a --all", "Show all containers (default shows just running).")
  cmd:option("-f --filter", "Filter output based on conditions provided (status=, name=, id=, "
    .. "label=, exited=, ancestor=, before=, since=)."):count "*"
  cmd:option("--format", "Format output using a custom template: 'table', 'table TEMPLATE', 'json' "
    .. "or a Go template over .ID .Image .Command .CreatedAt .RunningFor .Ports .State .Status "
    .. ".Size .Names .Labels .Label .Mounts .Networks.")
  cmd:option("-n --last", "Show n last created containers (includes all states).", "-1"):convert(math.tointeger)
  cmd:flag("-l --latest", "Show the latest created container (includes all states).")
  cmd:flag("--no-trunc", "Don't truncate output.")
  cmd:flag("-q --quiet", "Only display container IDs.")
  cmd:flag("-s --size", "Display total file sizes.")
end

M.STATES = { created = true, restarting = true, running = true, removing = true, paused = true,
  exited = true, dead = true }

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

local function labels_of(c)
  local l = c.Config.Labels
  return type(l) == "table" and l or {}
end

-- A Go regexp as the name filter uses it, as Lua patterns, one per top-level alternative
-- ("web|db"): classes, anchors, . * + ? work; groups do not.
local function regex_patterns(re)
  local alts, depth, start = {}, 0, 1
  for i = 1, #re do
    local ch = re:sub(i, i)
    if ch == "[" then
      depth = depth + 1
    elseif ch == "]" and depth > 0 then
      depth = depth - 1
    elseif ch == "|" and depth == 0 and re:sub(i - 1, i - 1) ~= "\\" then
      alts[#alts + 1] = re:sub(start, i - 1)
      start = i + 1
    end
  end
  alts[#alts + 1] = re:sub(start)
  for i, a in ipairs(alts) do
    alts[i] = a:gsub("%%", "%%%%"):gsub("%-", "%%-"):gsub("\\(.)", "%%%1")
  end
  return alts
end

local FILTERS = { status = true, name = true, id = true, label = true, exited = true, ancestor = true,
  before = true, since = true }

--- Parse -f KEY=VALUE filters into {key = {values}}; raises on an unknown key or bad value.
function M.parse_filters(list)
  local out = format.filters(list, FILTERS)
  for _, v in ipairs(out.status or {}) do
    if not M.STATES[v] then
      errors.raise("invalid filter 'status=%s'", v)
    end
  end
  for _, v in ipairs(out.exited or {}) do
    if not math.tointeger(tonumber(v)) then
      errors.raise("invalid filter 'exited=%s'", v)
    end
  end
  return out
end

local function any(values, pred)
  for _, v in ipairs(values) do
    if pred(v) then
      return true
    end
  end
  return false
end

--- Whether c passes the filters (values of one key: any; different keys: all).
function M.match(c, filters, ctx)
  local name = c.Name:gsub("^/", "")
  local checks = {
    status = function(v)
      return c.State.Status == v
    end,
    name = function(v)
      for _, p in ipairs(regex_patterns(v)) do
        if name:find(p) or c.Name:find(p) then
          return true
        end
      end
      return false
    end,
    id = function(v)
      return c.Id:sub(1, #v) == v
    end,
    label = function(v)
      local k, want = v:match "^([^=]+)=(.*)$"
      local have = labels_of(c)[k or v]
      return have ~= nil and (want == nil or have == want)
    end,
    exited = function(v)
      return not c.State.Running and c.State.Status == "exited" and c.State.ExitCode == tonumber(v)
    end,
    ancestor = function(v)
      return ctx.ancestor(c, v)
    end,
    before = function(v)
      local o = ctx.ref(v)
      return c.Created < o.Created
    end,
    since = function(v)
      local o = ctx.ref(v)
      return c.Created > o.Created
    end,
  }
  for k, values in pairs(filters) do
    if not any(values, checks[k]) then
      return false
    end
  end
  return true
end

--- docker's fields of a container for --format ({{.ID}}, {{.Label "k"}}, ...).
function M.fields(c, trunc, now, size)
  local names = {}
  for k, v in pairs(labels_of(c)) do
    names[#names + 1] = k .. "=" .. tostring(v)
  end
  table.sort(names)
  local mounts = {}
  for _, m in ipairs(c.Mounts or {}) do
    mounts[#mounts + 1] = trunc and format.trunc(m.Destination or m.Source or "", 15) or m.Destination
  end
  local created = state.parse_time(c.Created)
  return {
    ID = trunc and c.Id:sub(1, 12) or c.Id,
    Image = c.Config.Image or c.Image,
    Command = command_of(c, trunc),
    CreatedAt = created and os.date("!%Y-%m-%d %H:%M:%S +0000 UTC", created) or "",
    RunningFor = created and format.duration(now - created) .. " ago" or "",
    Ports = c.State.Running and network.ports_column(c) or "",
    State = c.State.Status,
    Status = state.status_text(c, now),
    Size = size or "0B",
    Names = (c.Name:gsub("^/", "")),
    Labels = table.concat(names, ","),
    Label = function(key)
      local v = labels_of(c)[key]
      return v == nil and "" or v
    end,
    Mounts = table.concat(mounts, ","),
    Networks = c.HostConfig.NetworkMode or "",
    LocalVolumes = "0",
  }
end

-- docker's headers for the fields, for "table" formats.
local HEADERS = {
  ID = "CONTAINER ID", Image = "IMAGE", Command = "COMMAND", CreatedAt = "CREATED AT",
  RunningFor = "CREATED", Ports = "PORTS", State = "STATE", Status = "STATUS", Size = "SIZE",
  Names = "NAMES", Labels = "LABELS", Mounts = "MOUNTS", Networks = "NETWORKS",
  LocalVolumes = "LOCAL VOLUMES",
}
local HEADER_ROW = setmetatable({ Label = function()
  return "LABEL"
end }, { __index = HEADERS })

M.DEFAULT_TABLE = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"

-- The containers ps lists, newest first.
local function select(imgs, args)
  local filters = M.parse_filters(args.filter)
  local list = state.list(imgs)
  local ctx = {
    ref = function(v)
      return state.must_lookup(imgs, v)
    end,
    ancestor = function(c, v)
      if c.Config.Image == v or c.Config.Image .. ":latest" == v or c.Config.Image == v .. ":latest" then
        return true
      end
      local id = v:gsub("^sha256:", "")
      if id:match "^%x+$" and (c.Image or ""):gsub("^sha256:", ""):sub(1, #id) == id then
        return true
      end
      local e = imgs:lookup(v)
      return e ~= nil and e.digest == (c.Cbuild or {}).manifest
    end,
  }
  local all = args.all or args.latest or (args.last or -1) > 0 or filters.status ~= nil
  local out = {}
  for _, c in ipairs(list) do
    if (all or c.State.Running or c.State.Restarting) and M.match(c, filters, ctx) then
      out[#out + 1] = c
    end
  end
  local limit = args.latest and 1 or args.last or -1
  if limit > 0 then
    out = { table.unpack(out, 1, limit) }
  end
  return out
end

function M.run(args, ctx)
  local imgs = ctx:store()
  local now = os.time()
  local list = select(imgs, args)
  local trunc = not args.no_trunc
  if args.quiet then
    for _, c in ipairs(list) do
      io.stdout:write(trunc and c.Id:sub(1, 12) or c.Id, "\n")
    end
    return 0
  end
  local sizes = {}
  if args.size then
    local du = require("cbuild.build.gc").du
    for _, c in ipairs(list) do
      sizes[c.Id] = format.size(du(state.dir(imgs, c.Id) .. "/upper"))
    end
  end
  local items = {}
  for i, c in ipairs(list) do
    items[i] = M.fields(c, trunc, now, sizes[c.Id])
    if args.format == "json" then
      items[i].Label = nil
    end
  end
  format.print(items, args.format, M.DEFAULT_TABLE .. (args.size and "\t{{.Size}}" or ""), HEADER_ROW)
  return 0
end

return M
