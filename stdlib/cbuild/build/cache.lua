-- The build cache: one small record per operation key under <root>/cache/keys/, written
-- atomically, so it survives across processes and a kill -9.  Keys never depend on mtimes
-- (DESIGN.md): they hash the parent's key, the operation and its expanded arguments, and the
-- content digests of its inputs.
local digest = require "cbuild.core.digest"
local json = require "cbuild.core.json"

local M = {}

--- key = H(parent key, op, canonical JSON of the parts).
function M.key(parent_key, op, parts)
  return digest.sha256(json.encode { parent = parent_key or "", op = op, parts = parts })
end

local function record_path(key)
  return "cache/keys/" .. key:gsub("^sha256:", "") .. ".json"
end

--- The record stored for key, or nil.
function M.get(blobs, key)
  local text = blobs:read(record_path(key))
  if not text then
    return nil
  end
  local rec = json.decode(text)
  if type(rec) ~= "table" then
    return nil
  end
  if rec.layer and not blobs:has(rec.layer.digest) then
    return nil -- the layer was pruned: the record is stale
  end
  return rec
end

--- Remember a record (a table: {created =, layer = {digest, size, mediaType}}).
function M.put(blobs, key, rec)
  return blobs:write(record_path(key), json.encode(rec))
end

return M
