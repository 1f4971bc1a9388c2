-- The image store: named images in the OCI layout's index.json, over the C content store.
--
-- index.json holds one entry per (manifest, name): the annotation
-- org.opencontainers.image.ref.name carries the full normalized reference, so skopeo and umoci
-- read `oci:<root>:docker.io/library/busybox:latest` directly.  An image that lost its last
-- name stays as an entry without the annotation (docker's "<none>"), until rmi or prune.
-- Library module: errors are raised as cbuild.errors (it is only used by the engine and CLI).
local core_store = require "cbuild.core.store"
local json = require "cbuild.core.json"
local errors = require "cbuild.errors"
local reference = require "cbuild.image.reference"

local M = {}

M.MANIFEST = "application/vnd.oci.image.manifest.v1+json"
M.INDEX = "application/vnd.oci.image.index.v1+json"
M.CONFIG = "application/vnd.oci.image.config.v1+json"
M.LAYER = "application/vnd.oci.image.layer.v1.tar"
M.LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
M.LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
M.DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
M.DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
M.DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
M.DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
M.DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
M.REF_NAME = "org.opencontainers.image.ref.name"

--- Where the store lives by default: $CBUILD_ROOT, else /var/lib/cbuild as root, else
--- $XDG_DATA_HOME/cbuild (DESIGN.md).
function M.default_root()
  local env = os.getenv "CBUILD_ROOT"
  if env and env ~= "" then
    return env
  end
  local sys = require "cbuild.core.sys"
  if sys.geteuid() == 0 then
    return "/var/lib/cbuild"
  end
  local data = os.getenv "XDG_DATA_HOME"
  if not data or data == "" then
    data = (os.getenv "HOME" or "/tmp") .. "/.local/share"
  end
  return data .. "/cbuild"
end

local Images = {}
Images.__index = Images

--- Open (creating when missing) the store at root.
function M.open(root)
  local s = errors.need("open store '" .. root .. "'", core_store.open(root, { create = true }))
  return setmetatable({ blobs = s, root = root }, Images)
end

local function read_index(self)
  local text = errors.need("read index.json", self.blobs:read "index.json")
  local idx = errors.need("parse " .. self.root .. "/index.json", json.decode(text))
  idx.manifests = idx.manifests or json.array {}
  return idx
end

local function write_index(self, idx)
  json.array(idx.manifests)
  errors.need("write index.json", self.blobs:write("index.json", json.encode(idx)))
end

--- Run fn(index) under the store lock and write the index back afterwards.
function Images:update_index(fn)
  return self.blobs:locked(function()
    local idx = read_index(self)
    local r = fn(idx)
    write_index(self, idx)
    return r
  end)
end

--- Every index entry: {digest, size, mediaType, ref = full reference or nil}.
function Images:entries()
  local out = {}
  for _, d in ipairs(read_index(self).manifests) do
    local ann = d.annotations or {}
    out[#out + 1] = { digest = d.digest, size = d.size, mediaType = d.mediaType, ref = ann[M.REF_NAME] }
  end
  return out
end

--- Store a Lua table as canonical JSON; returns digest, size.
function Images:put_json(t)
  local bytes = json.encode(t)
  return errors.need("store blob", self.blobs:put(bytes))
end

--- Decode a JSON blob.
function Images:get_json(digest)
  local bytes = errors.need("read blob " .. digest, self.blobs:get(digest))
  return errors.need("parse blob " .. digest, json.decode(bytes))
end

--- Store config and manifest for an image; returns the manifest descriptor.
--- layers: list of {digest, size, mediaType}.
function Images:put_image(config, layers)
  local cdigest, csize = self:put_json(config)
  local mlayers = json.array {}
  for i, l in ipairs(layers) do
    mlayers[i] = { mediaType = l.mediaType or M.LAYER, digest = l.digest, size = l.size }
  end
  local manifest = {
    schemaVersion = 2,
    mediaType = M.MANIFEST,
    config = { mediaType = M.CONFIG, digest = cdigest, size = csize },
    layers = mlayers,
  }
  local mdigest, msize = self:put_json(manifest)
  return { mediaType = M.MANIFEST, digest = mdigest, size = msize, config = cdigest }
end

local function entry_for(desc, ref)
  local e = { mediaType = desc.mediaType or M.MANIFEST, digest = desc.digest, size = desc.size }
  if ref then
    e.annotations = { [M.REF_NAME] = ref }
  end
  return e
end

local function is_named_elsewhere(manifests, digest, except_ref)
  for _, d in ipairs(manifests) do
    local r = d.annotations and d.annotations[M.REF_NAME]
    if d.digest == digest and r and r ~= except_ref then
      return true
    end
  end
  return false
end

--- Give an image (manifest descriptor) a name; the image that had it before keeps its other
--- names, or stays as an unnamed ("<none>") entry.
function Images:tag(desc, ref)
  local full = type(ref) == "string" and reference.must(ref):full() or ref:full()
  self:update_index(function(idx)
    local out = json.array {}
    for _, d in ipairs(idx.manifests) do
      local r = d.annotations and d.annotations[M.REF_NAME]
      if r == full then
        if d.digest ~= desc.digest and not is_named_elsewhere(idx.manifests, d.digest, full) then
          out[#out + 1] = entry_for(d, nil) -- dangling, like docker's <none>
        end
      elseif not (d.digest == desc.digest and r == nil) then -- an unnamed twin gives way
        out[#out + 1] = d
      end
    end
    out[#out + 1] = entry_for(desc, full)
    idx.manifests = out
  end)
  return full
end

--- Add an image without a name (kept as <none>) unless it is in the index already.
function Images:add_unnamed(desc)
  self:update_index(function(idx)
    for _, d in ipairs(idx.manifests) do
      if d.digest == desc.digest then
        return
      end
    end
    idx.manifests[#idx.manifests + 1] = entry_for(desc, nil)
  end)
end

--- Read an image's manifest and config: returns {digest, manifest, config, config_digest}.
function Images:image(digest)
  local manifest = self:get_json(digest)
  if manifest.mediaType == M.INDEX or manifest.mediaType == M.DOCKER_LIST or manifest.manifests then
    errors.raise("image %s is a multi-platform index; select a platform first", digest)
  end
  local config = self:get_json(manifest.config.digest)
  return { digest = digest, manifest = manifest, config = config, config_digest = manifest.config.digest }
end

local function id_matches(config_digest, s)
  local hex = config_digest:sub(8)
  s = s:gsub("^sha256:", "")
  return #s >= 4 and s:match "^%x+$" and hex:sub(1, #s) == s
end

--- Find an image by name, full reference, image ID (prefix) or manifest digest.
--- Returns {digest, ref, entry} or nil, "No such image: NAME".
function Images:lookup(name)
  local entries = self:entries()
  local ref = reference.parse(name)
  if ref then
    local full = ref:full()
    for _, e in ipairs(entries) do
      if e.ref == full then
        return e
      end
    end
    if ref.digest then
      for _, e in ipairs(entries) do
        if e.digest == ref.digest then
          return e
        end
      end
    end
  end
  if name:match "^sha256:%x+$" or name:match "^%x+$" then
    local found
    for _, e in ipairs(entries) do
      local ok, m = pcall(self.get_json, self, e.digest)
      local cfg = ok and m.config and m.config.digest
      if e.digest == name or (cfg and id_matches(cfg, name)) then
        if found and found.digest ~= e.digest then
          return nil, "ambiguous image ID: " .. name
        end
        found = found or e
      end
    end
    if found then
      return found
    end
  end
  return nil, "No such image: " .. name
end

--- Like lookup, but raises a user error.
function Images:must_lookup(name)
  local e, err = self:lookup(name)
  if not e then
    errors.raise(err)
  end
  return e
end

--- Remove index entries: the one named ref (full), or every entry of a manifest digest.
function Images:remove_entries(pred)
  local removed = {}
  self:update_index(function(idx)
    local out = json.array {}
    for _, d in ipairs(idx.manifests) do
      local r = d.annotations and d.annotations[M.REF_NAME]
      if pred(d.digest, r) then
        removed[#removed + 1] = { digest = d.digest, ref = r }
      else
        out[#out + 1] = d
      end
    end
    idx.manifests = out
  end)
  return removed
end

return M
