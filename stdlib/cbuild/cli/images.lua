-- cbuild images: list images in docker's table.
local format = require "cbuild.cli.format"
local reference = require "cbuild.image.reference"

local M = { summary = "List images" }

function M.setup(cmd)
  cmd:argument("repository", "Show only images of this repository[:tag]."):args "?"
  cmd:flag("-a --all", "Show all images (the default hides nothing extra yet).")
  cmd:flag("-q --quiet", "Only show image IDs.")
  cmd:flag("--digests", "Show digests.")
  cmd:flag("--no-trunc", "Don't truncate output.")
end

local function image_size(images, digest)
  local m = images:get_json(digest)
  local total = 0
  for _, l in ipairs(m.layers or {}) do
    total = total + (l.size or 0)
  end
  return total, m.config.digest
end

function M.run(args, ctx)
  local images = ctx:store()
  local want
  if args.repository then
    want = reference.parse(args.repository)
  end
  local rows, seen = {}, {}
  local entries = images:entries()
  for _, e in ipairs(entries) do
    local repo, tag = "<none>", "<none>"
    local ref = e.ref and reference.parse(e.ref)
    if ref then
      repo, tag = ref:familiar_name(), ref.tag or "<none>"
    end
    local keep = true
    if want then
      keep = ref ~= nil and ref:name() == want:name() and (not args.repository:find(":[^/]*$") or ref.tag == want.tag)
    end
    if keep then
      local size, config_digest = image_size(images, e.digest)
      local cfg = images:get_json(config_digest)
      rows[#rows + 1] = { repo = repo, tag = tag, id = config_digest, digest = e.digest, size = size,
        created = cfg.created, t = require("cbuild.image.config").parse_timestamp(cfg.created) or 0 }
    end
  end
  table.sort(rows, function(a, b)
    if a.t ~= b.t then
      return a.t > b.t
    end
    return a.repo .. ":" .. a.tag < b.repo .. ":" .. b.tag
  end)
  if args.quiet then
    for _, r in ipairs(rows) do
      local id = args.no_trunc and r.id or format.short_id(r.id)
      if not seen[id] then
        seen[id] = true
        io.stdout:write(id, "\n")
      end
    end
    return 0
  end
  local headers = { "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE" }
  if args.digests then
    headers = { "REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE" }
  end
  local out = {}
  for _, r in ipairs(rows) do
    local id = args.no_trunc and r.id or format.short_id(r.id)
    local line = { r.repo, r.tag, id, r.created and format.ago(r.created) or "N/A", format.size(r.size) }
    if args.digests then
      table.insert(line, 3, r.digest)
    end
    out[#out + 1] = line
  end
  format.table(headers, out)
  return 0
end

return M
