-- cbuild save: write images to a tar archive, docker-archive (docker save's classic layout:
-- manifest.json, <config>.json, <layer>/layer.tar) or oci-archive (an OCI image layout).
local archive = require "cbuild.core.archive"
local json = require "cbuild.core.json"
local sys = require "cbuild.core.sys"
local errors = require "cbuild.errors"
local compress = require "cbuild.image.compress"
local images_mod = require "cbuild.image.store"
local reference = require "cbuild.image.reference"

local M = { summary = "Save one or more images to a tar archive (streamed to STDOUT by default)" }

function M.setup(cmd)
  cmd:argument("image", "Image name or ID."):args "+"
  cmd:option("-o --output", "Write to a file, instead of STDOUT.")
  cmd:option("--format", "Archive format: docker-archive or oci-archive.", "docker-archive")
  cmd:option("--compression", "Layer compression: none, gzip or zstd[:LEVEL].", "none")
end

local function hex(d)
  return (d:gsub("^sha256:", ""))
end

local Writer = {}
Writer.__index = Writer

local function new_writer(path, blobs)
  local w = errors.need("create '" .. path .. "'", archive.writer(path, {}))
  return setmetatable({ w = w, blobs = blobs, seen = {}, mtime = 0 }, Writer)
end

function Writer:dir(name)
  if not self.seen[name] then
    self.seen[name] = true
    errors.need("write archive", self.w:add { name = name, type = "dir", mode = 493, mtime = self.mtime })
  end
end

function Writer:data(name, data)
  errors.need("write archive", self.w:add { name = name, type = "file", data = data, mode = 420,
    mtime = self.mtime })
end

function Writer:blob(name, digest)
  if self.seen[name] then
    return
  end
  self.seen[name] = true
  errors.need("write archive", self.w:add { name = name, type = "file", blob = { self.blobs, digest },
    mode = 420, mtime = self.mtime })
end

local function resolve(images, names)
  local out = {}
  for _, name in ipairs(names) do
    local e = images:must_lookup(name)
    local ref = reference.parse(name)
    local tag
    if ref and e.ref == ref:full() then
      tag = ref
    end
    out[#out + 1] = { entry = e, img = images:image(e.digest), ref = tag }
  end
  return out
end

local function save_docker(w, list, algo, level)
  local manifest = json.array {}
  for _, it in ipairs(list) do
    local cfgname = hex(it.img.config_digest) .. ".json"
    w:blob(cfgname, it.img.config_digest)
    local layers = json.array {}
    for _, l in ipairs(it.img.manifest.layers) do
      local shipped = compress.layer(w.blobs, l, algo, level)
      local dir = hex(shipped.digest)
      w:dir(dir)
      w:blob(dir .. "/layer.tar", shipped.digest)
      layers[#layers + 1] = dir .. "/layer.tar"
    end
    local tags = json.array {}
    if it.ref then
      tags[1] = it.ref:full() -- fully qualified: podman reads a short name as localhost/NAME
    end
    manifest[#manifest + 1] = { Config = cfgname, RepoTags = tags, Layers = layers }
  end
  w:data("manifest.json", json.encode(manifest))
end

local function save_oci(w, images, list, algo, level)
  w:data("oci-layout", json.encode { imageLayoutVersion = "1.0.0" })
  w:dir "blobs"
  w:dir "blobs/sha256"
  local index = { schemaVersion = 2, mediaType = images_mod.INDEX, manifests = json.array {} }
  for _, it in ipairs(list) do
    local m = it.img.manifest
    local desc = { mediaType = images_mod.MANIFEST, digest = it.entry.digest, size = it.entry.size }
    local layers = json.array {}
    local changed = false
    for i, l in ipairs(m.layers) do
      layers[i] = compress.layer(w.blobs, l, algo, level)
      changed = changed or layers[i].digest ~= l.digest
    end
    if changed then
      local nm = { schemaVersion = 2, mediaType = images_mod.MANIFEST, config = m.config, layers = layers }
      local d, size = images:put_json(nm)
      desc = { mediaType = images_mod.MANIFEST, digest = d, size = size }
    end
    w:blob("blobs/sha256/" .. hex(m.config.digest), m.config.digest)
    for _, l in ipairs(layers) do
      w:blob("blobs/sha256/" .. hex(l.digest), l.digest)
    end
    w:blob("blobs/sha256/" .. hex(desc.digest), desc.digest)
    if it.ref then
      desc.annotations = { [images_mod.REF_NAME] = it.ref:full(), ["io.containerd.image.name"] = it.ref:full() }
    end
    index.manifests[#index.manifests + 1] = desc
  end
  w:data("index.json", json.encode(index))
end

function M.run(args, ctx)
  local images = ctx:store()
  local algo, level = compress.parse(args.compression)
  if args.format ~= "docker-archive" and args.format ~= "oci-archive" then
    errors.raise("invalid --format '%s': want docker-archive or oci-archive", args.format)
  end
  local out = args.output or "-"
  if out == "-" and sys.isatty(1) then
    errors.raise "cowardly refusing to save to a terminal. Use the -o flag or redirect"
  end
  local list = resolve(images, args.image)
  local w = new_writer(out, images.blobs)
  if args.format == "oci-archive" then
    save_oci(w, images, list, algo, level)
  else
    save_docker(w, list, algo, level)
  end
  errors.need("write '" .. out .. "'", w.w:close())
  return 0
end

return M
