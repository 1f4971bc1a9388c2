-- Compressed copies of local layers, made once and remembered: layers are stored
-- uncompressed (DESIGN.md), push and save compress them, and the store keeps which compressed
-- blob belongs to which diff ID so the next push or save reuses it.
local archive = require "cbuild.core.archive"
local json = require "cbuild.core.json"
local errors = require "cbuild.errors"
local images = require "cbuild.image.store"

local M = {}

M.MEDIA = {
  none = images.LAYER,
  gzip = images.LAYER_GZIP,
  zstd = images.LAYER_ZSTD,
}

--- Parse "gzip", "zstd", "zstd:19", "none"; returns algo, level (nil = default) or raises.
function M.parse(spec)
  local algo, level = spec:match "^(%a+):?(%d*)$"
  if not algo or not M.MEDIA[algo] then
    errors.raise("invalid compression '%s': want gzip, zstd[:LEVEL] or none", spec)
  end
  return algo, tonumber(level)
end

local function is_uncompressed(media)
  return media == images.LAYER or media == images.DOCKER_LAYER or media == nil
end

--- The layer descriptor to ship for `layer` ({digest, size, mediaType}) with algo/level.
function M.layer(blobs, layer, algo, level)
  if algo == "none" or not is_uncompressed(layer.mediaType) then
    return layer
  end
  local rec_path = string.format("cache/compressed/%s-%s/%s.json", algo, level or "default",
    layer.digest:gsub("^sha256:", ""))
  local text = blobs:read(rec_path)
  local rec = text and json.decode(text)
  if rec and rec.digest and blobs:has(rec.digest) then
    return { digest = rec.digest, size = rec.size, mediaType = M.MEDIA[algo] }
  end
  local digest, size = errors.need("compress layer " .. layer.digest,
    archive.compress(blobs, layer.digest, algo, level))
  blobs:write(rec_path, json.encode { digest = digest, size = size })
  return { digest = digest, size = size, mediaType = M.MEDIA[algo] }
end

return M
