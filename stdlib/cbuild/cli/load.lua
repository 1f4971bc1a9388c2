-- cbuild load: images from a tar archive made by `docker save`, `podman save` or `cbuild save`,
-- docker-archive or oci-archive (auto-detected; the archive may itself be compressed).
-- Every file is streamed into the store once; blobs are named only by their real digest, and
-- each layer is checked against the diff ID its config declares.
local archive = require "cbuild.core.archive"
local errors = require "cbuild.errors"
local imgconfig = require "cbuild.image.config"
local images_mod = require "cbuild.image.store"
local reference = require "cbuild.image.reference"

local M = { summary = "Load images from a tar archive or STDIN" }

function M.setup(cmd)
  cmd:option("-i --input", "Read from a tar archive file, instead of STDIN.")
  cmd:flag("-q --quiet", "Suppress the load output.")
end

local function ingest_all(blobs, path)
  local r = errors.need("open '" .. path .. "'", archive.open(path))
  local files = {}
  for entry in r:entries() do
    if entry.type == "file" then
      local name = entry.name:gsub("^%./", "")
      local digest, size = errors.need("read '" .. name .. "' from the archive", r:ingest(blobs))
      files[name] = { digest = digest, size = size }
    end
  end
  r:close()
  return files
end

local function need_file(files, name, what)
  local f = files[name]
  if not f then
    errors.raise("invalid image archive: %s '%s' is missing", what, name)
  end
  return f
end

local function is_layer_media(mt)
  return mt == nil or mt:match "layer" or mt:match "rootfs"
end

local function load_docker(images, files, out)
  local manifest = images:get_json(files["manifest.json"].digest)
  for _, item in ipairs(manifest) do
    local cfgfile = need_file(files, item.Config, "config")
    local cfg = images:get_json(cfgfile.digest)
    local diff_ids = (cfg.rootfs or {}).diff_ids or {}
    if #diff_ids ~= #(item.Layers or {}) then
      errors.raise("invalid image archive: %s lists %d layers, its config %d", item.Config,
        #(item.Layers or {}), #diff_ids)
    end
    local layers = {}
    for i, path in ipairs(item.Layers or {}) do
      local f = need_file(files, path, "layer")
      local diff, size = errors.need("decompress layer " .. path, archive.decompress(images.blobs, f.digest))
      if diff ~= diff_ids[i] then
        errors.raise("invalid image archive: layer %s has digest %s, its config says %s", path, diff, diff_ids[i])
      end
      layers[i] = { digest = diff, size = size, mediaType = images_mod.LAYER }
    end
    local desc = images:put_image(cfg, layers)
    if item.RepoTags and #item.RepoTags > 0 then
      for _, t in ipairs(item.RepoTags) do
        local ref = reference.must(t)
        images:tag(desc, ref)
        out[#out + 1] = "Loaded image: " .. ref:familiar_name() .. ":" .. (ref.tag or "latest")
      end
    else
      images:add_unnamed(desc)
      out[#out + 1] = "Loaded image ID: " .. desc.config
    end
  end
end

local function check_blob(files, digest)
  local f = files["blobs/sha256/" .. digest:gsub("^sha256:", "")]
  if not f then
    errors.raise("invalid OCI archive: blob %s is missing", digest)
  end
  if f.digest ~= digest then
    errors.raise("invalid OCI archive: blob %s holds content with digest %s", digest, f.digest)
  end
  return f
end

-- A manifest (or an index, resolved to the host platform's manifest) from an OCI layout.
local function oci_manifest(images, files, desc)
  check_blob(files, desc.digest)
  local m = images:get_json(desc.digest)
  if m.manifests then
    local want = imgconfig.host_platform()
    for _, d in ipairs(m.manifests) do
      local p = d.platform or {}
      if p.os == want.os and p.architecture == want.architecture then
        return oci_manifest(images, files, d)
      end
    end
    errors.raise("no image for platform %s in index %s", imgconfig.platform_string(want), desc.digest)
  end
  return desc, m
end

local function oci_name(ann)
  ann = ann or {}
  for _, key in ipairs { "io.containerd.image.name", images_mod.REF_NAME } do
    local v = ann[key]
    if v and (v:find("/", 1, true) or v:find(":", 1, true)) then
      local ref = reference.parse(v)
      if ref then
        return ref
      end
    end
  end
  return nil
end

local function load_oci(images, files, out)
  local index = images:get_json(need_file(files, "index.json", "index").digest)
  for _, top in ipairs(index.manifests or {}) do
    local desc, m = oci_manifest(images, files, top)
    check_blob(files, m.config.digest)
    for _, l in ipairs(m.layers or {}) do
      if is_layer_media(l.mediaType) then
        check_blob(files, l.digest)
      end
    end
    local entry = { mediaType = desc.mediaType or images_mod.MANIFEST, digest = desc.digest, size = desc.size }
    local ref = oci_name(top.annotations) or oci_name(desc.annotations)
    if ref then
      images:tag(entry, ref)
      out[#out + 1] = "Loaded image: " .. ref:familiar_name() .. ":" .. (ref.tag or "latest")
    else
      images:add_unnamed(entry)
      out[#out + 1] = "Loaded image ID: " .. m.config.digest
    end
  end
end

function M.run(args, ctx)
  local images = ctx:store()
  local path = args.input or "/dev/stdin"
  local files = ingest_all(images.blobs, path)
  local out = {}
  if files["index.json"] and files["oci-layout"] and not files["manifest.json"] then
    load_oci(images, files, out)
  elseif files["manifest.json"] then
    load_docker(images, files, out)
  elseif files["index.json"] then
    load_oci(images, files, out)
  else
    errors.raise("unrecognized image archive '%s': no manifest.json or index.json", args.input or "-")
  end
  if not args.quiet then
    for _, line in ipairs(out) do
      io.stdout:write(line, "\n")
    end
  end
  return 0
end

return M
