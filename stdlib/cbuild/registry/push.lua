-- Push an image: compress local (uncompressed) layers once, HEAD every blob and skip those the
-- registry has, mount blobs from another repository of the same registry when we know one holds
-- them, upload the rest (one PUT when small, PATCH chunks when large), then PUT the manifest.
-- Engine tier: raises cbuild.errors; progress lines go to opts.out (docker's wording).
local json = require "cbuild.core.json"
local errors = require "cbuild.errors"
local compress = require "cbuild.image.compress"
local images_mod = require "cbuild.image.store"
local auth = require "cbuild.registry.auth"
local client_mod = require "cbuild.registry.client"
local pull = require "cbuild.registry.pull"
local progress = require "cbuild.registry.progress"

local M = {}

M.CHUNK = 32 * 1024 * 1024 -- blobs larger than this go up in PATCH chunks of this size

-- The chunk size: opts.chunk, else $CBUILD_PUSH_CHUNK (bytes), else M.CHUNK.
local function chunk_size(opts)
  local n = opts.chunk or tonumber(os.getenv "CBUILD_PUSH_CHUNK" or "")
  if n and n >= 1 then
    return math.floor(n)
  end
  return M.CHUNK
end

local function short(d)
  return d:gsub("^sha256:", ""):sub(1, 12)
end

local function with_query(url, q)
  return url .. (url:find("?", 1, true) and "&" or "?") .. q
end

local function fail(client, ref, resp, err, what)
  if not resp then
    errors.raise("push %s: %s", ref:full(), err)
  end
  errors.raise("%s", client:status_error(resp, what or ("push " .. ref:full())))
end

-- true when the registry has the blob
local function exists(client, ref, scopes, d)
  local resp, err = client:request({ method = "HEAD", path = "/v2/" .. ref.path .. "/blobs/" .. d,
    retries = 3, timeout = 60 }, scopes)
  if not resp then
    fail(client, ref, nil, err)
  end
  if resp.status == 200 then
    return true
  elseif resp.status == 404 then
    return false
  end
  fail(client, ref, resp, nil, "push " .. ref:full() .. ": check blob " .. short(d))
end

-- Start an upload session (or mount); returns "mounted" or the upload URL.
local function start_upload(client, ref, scopes, d, from)
  local path = "/v2/" .. ref.path .. "/blobs/uploads/"
  if from then
    path = path .. "?mount=" .. auth.urlencode(d) .. "&from=" .. auth.urlencode(from)
  end
  local resp, err = client:request({ method = "POST", path = path, retries = 2, timeout = 60 }, scopes)
  if not resp then
    fail(client, ref, nil, err)
  end
  if resp.status == 201 and from then
    return "mounted"
  end
  if resp.status ~= 202 or not resp.headers.location then
    fail(client, ref, resp, nil, "push " .. ref:full() .. ": start upload of " .. short(d))
  end
  return client:absolute(resp.headers.location)
end

-- A progress function for bytes of blob sent from offset base on.
local function sending(ctx, blob, base)
  if not ctx.board.tty or blob.config then
    return nil
  end
  local id = ctx.id
  return function(done)
    ctx.board:bytes(id, "Pushing", base + done, blob.size)
  end
end

local function upload(client, images, ref, scopes, blob, ctx)
  local url = start_upload(client, ref, scopes, blob.digest)
  local resp, err
  local chunk, stats = ctx.chunk, ctx.stats
  if blob.size <= chunk then
    resp, err = client:request({ method = "PUT", url = with_query(url, "digest=" .. auth.urlencode(blob.digest)),
      headers = { "Content-Type: application/octet-stream" },
      body = { store = images.blobs, digest = blob.digest }, timeout = 0, progress = sending(ctx, blob, 0) }, scopes)
  else
    local off = 0
    while off < blob.size do
      local len = math.min(chunk, blob.size - off)
      resp, err = client:request({ method = "PATCH", url = url,
        headers = { "Content-Type: application/octet-stream",
          string.format("Content-Range: %d-%d", off, off + len - 1) },
        body = { store = images.blobs, digest = blob.digest, offset = off, length = len },
        progress = sending(ctx, blob, off) }, scopes)
      if not resp or resp.status ~= 202 or not resp.headers.location then
        fail(client, ref, resp, err, "push " .. ref:full() .. ": upload " .. short(blob.digest))
      end
      url = client:absolute(resp.headers.location)
      off = off + len
      stats.chunks = stats.chunks + 1
    end
    resp, err = client:request({ method = "PUT", url = with_query(url, "digest=" .. auth.urlencode(blob.digest)),
      headers = { "Content-Type: application/octet-stream" }, body = "" }, scopes)
  end
  if not resp or resp.status ~= 201 then
    fail(client, ref, resp, err, "push " .. ref:full() .. ": upload " .. short(blob.digest))
  end
end

-- Another repository of the same registry known to hold the blob (for a mount), or nil.
local function mount_source(images, ref, d)
  for _, name in ipairs(pull.sources(images.blobs, d)) do
    local host, path = name:match "^([^/]+)/(.+)$"
    if host == ref.domain and path ~= ref.path then
      return path
    end
  end
  return nil
end

local function push_blob(client, images, ref, scopes, blob, ctx, id)
  local stats = ctx.stats
  id = id or short(blob.digest)
  local board = blob.config and progress.plain(nil) or ctx.board
  if exists(client, ref, scopes, blob.digest) then
    board:status(id, "Layer already exists")
    stats.skipped = stats.skipped + (blob.config and 0 or 1)
    return
  end
  local from = mount_source(images, ref, blob.digest)
  if from then
    local mscopes = { scopes[1], "repository:" .. from .. ":pull" }
    if start_upload(client, ref, mscopes, blob.digest, from) == "mounted" then
      board:status(id, "Mounted from " .. from)
      stats.mounted = stats.mounted + (blob.config and 0 or 1)
      pull.remember_source(images.blobs, blob.digest, ref:name())
      return
    end
  end
  ctx.id = id
  upload(client, images, ref, scopes, blob, ctx)
  if not blob.config then
    stats.pushed = stats.pushed + 1
  end
  stats.bytes = stats.bytes + blob.size
  pull.remember_source(images.blobs, blob.digest, ref:name())
  board:status(id, "Pushed")
end

--- Push the local image named name to ref.  opts: compression ("gzip" default, "zstd[:N]",
--- "none"), tls_verify, authfile, chunk (bytes; default $CBUILD_PUSH_CHUNK or 32 MiB), out
--- (function(line): plain lines) or progress (a cbuild.registry.progress board).
--- Returns {digest, size, mediaType, stats = {pushed, skipped, mounted, bytes, chunks}}.
function M.push(images, name, ref, opts)
  opts = opts or {}
  local board = opts.progress or progress.plain(opts.out)
  local out = function(line)
    board:note(line)
  end
  local entry = images:must_lookup(name)
  local img = images:image(entry.digest)
  local algo, level = compress.parse(opts.compression or "gzip")
  local client = client_mod.new(ref.domain, { tls_verify = opts.tls_verify, authfile = opts.authfile })
  local scopes = { "repository:" .. ref.path .. ":pull,push" }
  local ping, perr = client:ping()
  if not ping then
    errors.raise("push %s: %s", ref:full(), perr)
  end
  out("The push refers to repository [" .. ref:name() .. "]")

  local changed = false
  local layers = json.array {}
  local all, ids = img.manifest.layers or {}, {}
  for i = #all, 1, -1 do
    board:status(short(all[i].digest), "Preparing")
  end
  for i, l in ipairs(all) do
    local shipped = compress.layer(images.blobs, l, algo, level)
    if shipped.digest ~= l.digest then
      changed = true
    end
    layers[i] = { mediaType = shipped.mediaType, digest = shipped.digest, size = shipped.size }
    ids[i] = short(l.digest) -- docker shows the local layer's ID
  end
  local stats = { pushed = 0, skipped = 0, mounted = 0, bytes = 0, chunks = 0 }
  local ctx = { board = board, stats = stats, chunk = chunk_size(opts) }
  for i = #layers, 1, -1 do -- docker lists the top layer first
    push_blob(client, images, ref, scopes, layers[i], ctx, ids[i])
  end
  local cfg = img.manifest.config
  push_blob(client, images, ref, scopes, { digest = cfg.digest, size = cfg.size, config = true }, ctx)

  local body, media
  if changed then
    local manifest = {
      schemaVersion = 2,
      mediaType = images_mod.MANIFEST,
      config = { mediaType = cfg.mediaType or images_mod.CONFIG, digest = cfg.digest, size = cfg.size },
      layers = layers,
      annotations = img.manifest.annotations,
    }
    body = json.encode(manifest)
    media = images_mod.MANIFEST
  else
    body = errors.need("read manifest", images.blobs:get(entry.digest))
    media = img.manifest.mediaType or entry.mediaType or images_mod.MANIFEST
  end
  local mdigest, msize = errors.need("store manifest", images.blobs:put(body))
  local tag = ref.tag or "latest"
  local resp, err = client:request({ method = "PUT", path = "/v2/" .. ref.path .. "/manifests/" .. tag,
    headers = { "Content-Type: " .. media }, body = body, timeout = 120 }, scopes)
  if not resp or resp.status ~= 201 then
    fail(client, ref, resp, err, "push " .. ref:full() .. ": manifest")
  end
  local said = resp.headers["docker-content-digest"]
  if said and said ~= mdigest then
    errors.raise("push %s: the registry stored the manifest as %s, expected %s", ref:full(), said, mdigest)
  end
  if stats.pushed == 0 and stats.mounted == 0 then
    out("All layers already exist on " .. ref.domain .. ": no layer bytes sent")
  end
  out(string.format("%s: digest: %s size: %d", tag, mdigest, msize))
  return { digest = mdigest, size = msize, mediaType = media, stats = stats }
end

return M
