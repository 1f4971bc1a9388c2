-- Pull an image: resolve the manifest (by tag or digest; an index or manifest list is narrowed
-- to one platform), fetch the config and the missing layers in parallel, each streamed into the
-- store and named only when its bytes match its digest, then name the image in index.json.
-- Layers keep their compressed blobs and media types.
-- Engine tier: raises cbuild.errors; progress lines go to opts.out (docker's wording).
local digest = require "cbuild.core.digest"
local http = require "cbuild.core.http"
local json = require "cbuild.core.json"
local errors = require "cbuild.errors"
local imgconfig = require "cbuild.image.config"
local images_mod = require "cbuild.image.store"
local reference = require "cbuild.image.reference"
local client_mod = require "cbuild.registry.client"
local progress = require "cbuild.registry.progress"

local M = {}

local INDEX_TYPES = {
  [images_mod.INDEX] = true,
  [images_mod.DOCKER_LIST] = true,
}
local MANIFEST_TYPES = {
  [images_mod.MANIFEST] = true,
  [images_mod.DOCKER_MANIFEST] = true,
}

local function short(d)
  return d:gsub("^sha256:", ""):sub(1, 12)
end

--- Remember that blob d lives in repository name (host/path), for cross-repository mounts.
function M.remember_source(blobs, d, name)
  local rel = "cache/registry/sources/" .. d:gsub("^sha256:", "")
  local text = blobs:read(rel) or ""
  for line in text:gmatch "[^\n]+" do
    if line == name then
      return
    end
  end
  blobs:write(rel, text .. name .. "\n")
end

--- Repositories (host/path) known to hold blob d.
function M.sources(blobs, d)
  local out = {}
  local text = blobs:read("cache/registry/sources/" .. d:gsub("^sha256:", "")) or ""
  for line in text:gmatch "[^\n]+" do
    out[#out + 1] = line
  end
  return out
end

local function fetch_manifest(client, ref, scopes, what)
  local resp, err = client:request({
    path = "/v2/" .. ref.path .. "/manifests/" .. what,
    headers = { Accept = client_mod.ACCEPT_MANIFESTS },
    retries = 3, timeout = 120,
  }, scopes)
  if not resp then
    errors.raise("pull %s: %s", ref:full(), err)
  end
  if resp.status == 404 then
    errors.raise("manifest for %s not found: manifest unknown", ref:full())
  end
  if resp.status ~= 200 then
    errors.raise("%s", client:status_error(resp, "pull " .. ref:full()))
  end
  local body = resp.body
  local d = digest.sha256(body)
  if what:match "^sha256:" and d ~= what then
    errors.raise("pull %s: manifest digest mismatch: asked for %s, got %s", ref:full(), what, d)
  end
  local doc = json.decode(body)
  if type(doc) ~= "table" then
    errors.raise("pull %s: the registry sent a manifest that is not JSON", ref:full())
  end
  local media = doc.mediaType or (resp.headers["content-type"] or ""):match "^[^;%s]+"
  if doc.schemaVersion == 1 then
    errors.raise("pull %s: docker schema1 manifests are not supported", ref:full())
  end
  if not media or (not INDEX_TYPES[media] and not MANIFEST_TYPES[media]) then
    media = doc.manifests and images_mod.INDEX or images_mod.MANIFEST
  end
  return { body = body, digest = d, size = #body, doc = doc, mediaType = media }
end

local function matches(p, want)
  if type(p) ~= "table" or p.os ~= want.os or p.architecture ~= want.architecture then
    return false
  end
  if want.variant and p.variant and p.variant ~= want.variant then
    return false
  end
  return true
end

local function select_platform(index, want, ref)
  local fallback
  for _, m in ipairs(index.doc.manifests or {}) do
    if matches(m.platform, want) then
      if not want.variant or (m.platform and m.platform.variant == want.variant) then
        return m
      end
      fallback = fallback or m
    end
  end
  if fallback then
    return fallback
  end
  errors.raise("pull %s: no matching manifest for %s in the manifest list entries", ref:full(),
    imgconfig.platform_string(want))
end

-- Fetch blobs ({digest, size}) missing from the store; each is verified before it is named.
-- board (nil: silent) shows a line per blob.
local function fetch_blobs(client, images, ref, scopes, list, board, parallel)
  local todo = {}
  for _, b in ipairs(list) do
    if images.blobs:has(b.digest) then
      if board then
        board:status(short(b.digest), "Already exists")
      end
    else
      todo[#todo + 1] = b
      if board then
        board:status(short(b.digest), "Pulling fs layer")
      end
    end
  end
  if #todo == 0 then
    return
  end
  local reqs = {}
  for i, b in ipairs(todo) do
    local r, err = client:prepare({ path = "/v2/" .. ref.path .. "/blobs/" .. b.digest,
      sink = images.blobs, expect = b.digest, retries = 4 }, scopes)
    if not r then
      errors.raise("pull %s: %s", ref:full(), err)
    end
    if board then
      local id = short(b.digest)
      r.progress = function(done, total)
        board:bytes(id, "Downloading", done, total > 0 and total or b.size)
      end
    end
    reqs[i] = r
  end
  local answers = errors.need("pull " .. ref:full(), http.perform_all(reqs, { parallel = parallel or 4 }))
  for i, b in ipairs(todo) do
    local a = answers[i]
    if not a.error and a.status == 401 then -- token expired meanwhile: once more, alone
      a = errors.need("pull " .. ref:full(), client:request({ path = "/v2/" .. ref.path .. "/blobs/" .. b.digest,
        sink = images.blobs, expect = b.digest, retries = 4, progress = reqs[i].progress }, scopes))
    end
    if a.error then
      errors.raise("pull %s: layer %s: %s", ref:full(), short(b.digest), a.error)
    end
    if a.status ~= 200 and a.status ~= 206 then
      errors.raise("%s", client:status_error(a, "pull " .. ref:full() .. ": blob " .. b.digest))
    end
    if a.digest ~= b.digest then
      errors.raise("pull %s: blob %s: the registry sent no body", ref:full(), b.digest)
    end
    if b.size and a.size ~= b.size then
      errors.raise("pull %s: blob %s has %d bytes, the manifest says %d", ref:full(), b.digest,
        a.size, b.size)
    end
    M.remember_source(images.blobs, b.digest, ref:name())
    if board then
      board:status(short(b.digest), "Pull complete")
    end
  end
end

--- Pull ref (a parsed reference) into images (cbuild.image.store).  opts: platform (table),
--- tls_verify, authfile, parallel, out (function(line): plain lines) or progress (a
--- cbuild.registry.progress board, e.g. redrawn on a terminal).  Returns the manifest descriptor.
function M.pull(images, ref, opts)
  opts = opts or {}
  local board = opts.progress or progress.plain(opts.out)
  local out = function(line)
    board:note(line)
  end
  local client = client_mod.new(ref.domain, { tls_verify = opts.tls_verify, authfile = opts.authfile })
  local scopes = { "repository:" .. ref.path .. ":pull" }
  local ping, perr = client:ping()
  if not ping then
    errors.raise("pull %s: %s", ref:full(), perr)
  end
  out((ref.tag or ref.digest) .. ": Pulling from " .. ref.path)
  local what = ref.digest or ref.tag
  local top = fetch_manifest(client, ref, scopes, what)
  local m = top
  if INDEX_TYPES[top.mediaType] then
    local want = opts.platform or imgconfig.host_platform()
    local entry = select_platform(top, want, ref)
    m = fetch_manifest(client, ref, scopes, entry.digest)
    if INDEX_TYPES[m.mediaType] then
      errors.raise("pull %s: nested manifest lists are not supported", ref:full())
    end
  end
  local doc = m.doc
  if type(doc.config) ~= "table" or type(doc.config.digest) ~= "string" then
    errors.raise("pull %s: manifest %s has no config", ref:full(), m.digest)
  end
  local list = {}
  for _, l in ipairs(doc.layers or {}) do
    if type(l) ~= "table" or type(l.digest) ~= "string" or not l.digest:match "^sha256:%x+$" then
      errors.raise("pull %s: manifest %s has a malformed layer", ref:full(), m.digest)
    end
    list[#list + 1] = { digest = l.digest, size = l.size }
  end
  fetch_blobs(client, images, ref, scopes, { { digest = doc.config.digest, size = doc.config.size } },
    nil, opts.parallel)
  fetch_blobs(client, images, ref, scopes, list, board, opts.parallel)
  local mdigest, msize = errors.need("store manifest", images.blobs:put(m.body))
  assert(mdigest == m.digest)
  local desc = { mediaType = m.mediaType, digest = mdigest, size = msize }
  local before = images:lookup(ref:full())
  local name = ref.digest and ref:name() .. "@" .. ref.digest or ref:full()
  images:tag(desc, name)
  out("Digest: " .. (ref.digest or top.digest))
  if before and before.digest == mdigest then
    out("Status: Image is up to date for " .. name)
  else
    out("Status: Downloaded newer image for " .. name)
  end
  desc.config = doc.config.digest
  return desc
end

--- The tags of ref's repository on its registry (GET /v2/<name>/tags/list, following the Link
--- header's pages), sorted.  opts: tls_verify, authfile.
function M.tags(ref, opts)
  opts = opts or {}
  local client = client_mod.new(ref.domain, { tls_verify = opts.tls_verify, authfile = opts.authfile })
  local scopes = { "repository:" .. ref.path .. ":pull" }
  local ping, perr = client:ping()
  if not ping then
    errors.raise("list tags of %s: %s", ref:name(), perr)
  end
  local tags, path = {}, "/v2/" .. ref.path .. "/tags/list"
  while path do
    local resp, err = client:request({ path = path, retries = 3, timeout = 120 }, scopes)
    if not resp then
      errors.raise("list tags of %s: %s", ref:name(), err)
    end
    if resp.status ~= 200 then
      errors.raise("%s", client:status_error(resp, "list tags of " .. ref:name()))
    end
    local ok, doc = pcall(json.decode, resp.body)
    if not ok or type(doc) ~= "table" then
      errors.raise("list tags of %s: the registry sent an answer that is not JSON", ref:name())
    end
    for _, t in ipairs(type(doc.tags) == "table" and doc.tags or {}) do
      tags[#tags + 1] = t
    end
    local link = resp.headers and resp.headers.link
    path = link and link:match "^<(/v2/[^>]+)>;%s*rel=\"?next\"?"
  end
  table.sort(tags)
  return tags
end

--- The index entry ({digest, size, mediaType, ref}) of image name in images, pulling it first
--- when it is absent, as FROM and `run` need.  opts: pull ("missing" default, "always",
--- "never"), platform, tls_verify, authfile, parallel, out (function(line)) or progress (a
--- board); with neither it pulls quietly.
--- Raises a cbuild.errors error ("No such image: NAME" for pull = "never").
function M.ensure(images, name, opts)
  opts = opts or {}
  local policy = opts.pull or "missing"
  if policy ~= "always" then
    local e = images:lookup(name)
    if e or policy == "never" then
      return e or images:must_lookup(name)
    end
  end
  local ref = reference.must(name)
  M.pull(images, ref, { platform = opts.platform, tls_verify = opts.tls_verify, authfile = opts.authfile,
    parallel = opts.parallel, out = opts.out, progress = opts.progress })
  return images:must_lookup(ref.digest and (ref:name() .. "@" .. ref.digest) or ref:full())
end

return M
