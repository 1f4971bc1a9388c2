-- cbuild images [REPOSITORY[:TAG]] [-f FILTER]... [--format FMT]: list images in docker's table,
-- filtered (dangling, label, reference, before, since) and formatted as docker does.
local errors = require "cbuild.errors"
local format = require "cbuild.cli.format"
local imgconfig = require "cbuild.image.config"
local reference = require "cbuild.image.reference"

local M = { summary = "List images" }

function M.setup(cmd)
  cmd:argument("repository", "Show only images of this repository[:tag]."):args "?"
  cmd:flag("-a --all", "Show all images (the default hides nothing extra yet).")
  cmd:flag("-q --quiet", "Only show image IDs.")
  cmd:flag("--digests", "Show digests.")
  cmd:flag("--no-trunc", "Don't truncate output.")
  cmd:option("-f --filter", "Filter output based on conditions provided (dangling=true, label=KEY[=VALUE], "
    .. "reference=PATTERN, before=IMAGE, since=IMAGE)."):count "*"
  cmd:option("--format", "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go "
    .. "template.")
end

M.DEFAULT_TABLE = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
M.DIGESTS_TABLE = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
M.HEADERS = { Repository = "REPOSITORY", Tag = "TAG", ID = "IMAGE ID", Digest = "DIGEST",
  CreatedSince = "CREATED", CreatedAt = "CREATED AT", Size = "SIZE", Containers = "CONTAINERS",
  SharedSize = "SHARED SIZE", UniqueSize = "UNIQUE SIZE", VirtualSize = "SIZE" }

local FILTERS = { dangling = true, label = true, reference = true, before = true, since = true }

-- A docker reference pattern (path.Match: * and ? within a path segment) as a Lua pattern.
local function glob(pattern)
  local p = pattern:gsub("[%^%$%(%)%%%.%[%]%+%-]", "%%%0"):gsub("%*", "[^/]*"):gsub("%?", "[^/]")
  return "^" .. p .. "$"
end

local function matches_reference(row, patterns)
  for _, pat in ipairs(patterns) do
    local g = glob(pat)
    if row.ref and (row.repo:match(g) or (row.repo .. ":" .. row.tag):match(g)) then
      return true
    end
  end
  return false
end

-- A config's created time in seconds with its fraction, so that images made within one
-- second still sort (and filter) in the order they were made.
local function created_time(created)
  local t = imgconfig.parse_timestamp(created)
  if not t then
    return 0
  end
  local frac = tostring(created):match "T%d+:%d+:%d+(%.%d+)"
  return t + (frac and tonumber("0" .. frac) or 0)
end

-- The created time of the image a before=/since= filter names.
local function created_of(images, name)
  local e = images:lookup(name)
  if not e then
    errors.raise("No such image: %s", name)
  end
  return created_time(images:image(e.digest).config.created)
end

local function keep(images, row, filters)
  for _, v in ipairs(filters.dangling or {}) do
    if v ~= "true" and v ~= "false" then
      errors.raise("invalid filter 'dangling=%s'", v)
    end
    if (v == "true") ~= (row.ref == nil) then
      return false
    end
  end
  if filters.label and not format.has_labels((row.cfg.config or {}).Labels, filters.label) then
    return false
  end
  if filters.reference and not matches_reference(row, filters.reference) then
    return false
  end
  for _, b in ipairs(filters.before or {}) do
    if row.t >= created_of(images, b) then
      return false
    end
  end
  for _, s in ipairs(filters.since or {}) do
    if row.t <= created_of(images, s) then
      return false
    end
  end
  return true
end

local function image_size(images, digest)
  local m = images:get_json(digest)
  local total = 0
  for _, l in ipairs(m.layers or {}) do
    total = total + (l.size or 0)
  end
  return total, m.config.digest
end

-- The images to list, newest first.
local function select(images, args)
  local want = args.repository and reference.parse(args.repository)
  local filters = format.filters(args.filter, FILTERS)
  local rows = {}
  for _, e in ipairs(images:entries()) do
    local repo, tag = "<none>", "<none>"
    local ref = e.ref and reference.parse(e.ref)
    if ref then
      repo, tag = ref:familiar_name(), ref.tag or "<none>"
    end
    if not want or (ref ~= nil and ref:name() == want:name()
        and (not args.repository:find(":[^/]*$") or ref.tag == want.tag)) then
      local size, config_digest = image_size(images, e.digest)
      local cfg = images:get_json(config_digest)
      local row = { ref = ref, repo = repo, tag = tag, id = config_digest, digest = e.digest, size = size,
        created = cfg.created, t = created_time(cfg.created), cfg = cfg }
      if keep(images, row, filters) then
        rows[#rows + 1] = row
      end
    end
  end
  table.sort(rows, function(a, b)
    if a.t ~= b.t then
      return a.t > b.t
    end
    return a.repo .. ":" .. a.tag < b.repo .. ":" .. b.tag
  end)
  return rows
end

--- docker's fields of an image row for --format.
function M.fields(r, trunc)
  local size = format.size(r.size)
  return {
    ID = trunc and format.short_id(r.id) or r.id, Repository = r.repo, Tag = r.tag, Digest = r.digest,
    CreatedSince = r.created and format.ago(r.created) or "N/A",
    CreatedAt = r.t > 0 and os.date("!%Y-%m-%d %H:%M:%S +0000 UTC", math.floor(r.t)) or "",
    Size = size, VirtualSize = size, Containers = "N/A", SharedSize = "N/A", UniqueSize = "N/A",
  }
end

function M.run(args, ctx)
  local images = ctx:store()
  local rows = select(images, args)
  if args.quiet then
    local seen = {}
    for _, r in ipairs(rows) do
      local id = args.no_trunc and r.id or format.short_id(r.id)
      if not seen[id] then
        seen[id] = true
        io.stdout:write(id, "\n")
      end
    end
    return 0
  end
  local items = {}
  for i, r in ipairs(rows) do
    items[i] = M.fields(r, not args.no_trunc)
  end
  format.print(items, args.format, args.digests and M.DIGESTS_TABLE or M.DEFAULT_TABLE, M.HEADERS)
  return 0
end

return M
