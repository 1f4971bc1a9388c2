-- cbuild inspect NAME...: docker-shaped JSON for containers and images.
local json = require "cbuild.core.json"
local errors = require "cbuild.errors"
local reference = require "cbuild.image.reference"
local cstate = require "cbuild.container.state"
local template = require "cbuild.container.template"

local M = { summary = "Return low-level information on containers and images" }

function M.setup(cmd)
  cmd:argument("name", "Container or image name or ID."):args "+"
  cmd:option("-f --format", "Format the output using the given Go template, e.g. "
    .. "'{{.State.Status}} {{.State.ExitCode}}' or '{{json .Config}}'.")
  cmd:option("--type", "Only inspect objects of this type (container or image).")
end

--- The docker `container inspect` object of a record: state.json without cbuild's own part.
function M.container_object(c)
  local out = {}
  for k, v in pairs(c) do
    if k ~= "Cbuild" and k ~= "stale" then
      out[k] = v
    end
  end
  return out
end

--- The docker `image inspect` object for an index entry.
function M.image_object(images, entry)
  local img = images:image(entry.digest)
  local cfg = img.config
  local tags, digests = json.array {}, json.array {}
  for _, e in ipairs(images:entries()) do
    if e.digest == entry.digest and e.ref then
      local r = reference.parse(e.ref)
      if r then
        tags[#tags + 1] = r:familiar_name() .. ":" .. (r.tag or "latest")
      end
    end
  end
  local size = 0
  for _, l in ipairs(img.manifest.layers or {}) do
    size = size + (l.size or 0)
  end
  local last = cfg.history and cfg.history[#cfg.history]
  return {
    Id = img.config_digest,
    RepoTags = tags,
    RepoDigests = digests,
    Parent = "",
    Comment = last and last.comment or "",
    Created = cfg.created or "",
    Author = cfg.author or "",
    Config = cfg.config or json.object {},
    Architecture = cfg.architecture,
    Variant = cfg.variant,
    Os = cfg.os,
    Size = size,
    RootFS = { Type = "layers", Layers = (cfg.rootfs or {}).diff_ids or json.array {} },
    Metadata = { LastTagTime = "" },
    Descriptor = { mediaType = entry.mediaType, digest = entry.digest, size = entry.size },
  }
end

function M.run(args, ctx)
  local images = ctx:store()
  local objs, status = json.array {}, 0
  for _, name in ipairs(args.name) do
    local c = args.type ~= "image" and cstate.lookup(images, name)
    local e, err
    if not c and args.type ~= "container" then
      e, err = images:lookup(name)
    end
    if c then
      objs[#objs + 1] = M.container_object(c)
    elseif e then
      objs[#objs + 1] = M.image_object(images, e)
    else
      io.stderr:write("cbuild: error: ", err or ("No such container: " .. name), "\n")
      status = 1
    end
  end
  if args.format then
    local tree = template.parse((args.format:gsub("^table%s*", "")))
    for _, o in ipairs(objs) do
      io.stdout:write(template.render(tree, o), "\n")
    end
  else
    io.stdout:write(json.encode(objs, { indent = 4 }), "\n")
  end
  if status ~= 0 and #objs == 0 then
    errors.raise("no such object: %s", table.concat(args.name, " "))
  end
  return status
end

return M
