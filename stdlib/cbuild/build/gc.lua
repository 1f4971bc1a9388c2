-- Garbage collection of the store (DESIGN.md: nothing is deleted except by gc): disk usage per
-- kind (`system df`) and mark-and-sweep (`system prune`, `builder prune`).
--
-- Roots: the images of index.json (named and unnamed), every container's image, the images a
-- running build resolved, and (unless the build cache is being pruned) the cache records under
-- cache/keys/.  Marked are their manifests, configs and layer blobs, the compressed twins of
-- marked layers (cache/compressed/), and the snapshots of their layer chains.  Everything else
-- in blobs/sha256 and snapshots/ is swept, under the store lock.
--
-- Concurrent builds: a build holds a lease (M.lease, a dir tmp/lease-<pid>-XXXXXX made under the
-- store lock) while it runs.  A prune that sees a live lease keeps every cache record, snapshot
-- and cache mount, and every blob or record written since the oldest lease began; blobs are only
-- named after their commit, so nothing half-written is ever under blobs/.
--
-- COPY indexes (cache/copy-index/, which entries of a COPY's last layer lie where) go with the
-- layer they describe: swept once its blob is gone, and every one with the build cache ("all").
--
-- Engine module: failures raise cbuild.errors.
local fs = require "cbuild.core.fs"
local json = require "cbuild.core.json"
local sys = require "cbuild.core.sys"
local errors = require "cbuild.errors"

local M = {}

local function hex(d)
  return (d:gsub("^sha256:", ""))
end

local function now()
  local s, ns = sys.clock_gettime()
  return s + ns / 1e9
end

-- The start time of pid (/proc/<pid>/stat field 22), or nil when it is gone.
local function starttime(pid)
  return require("cbuild.container.state").starttime(pid)
end

--- Bytes used by the files under path (apparent sizes; hard links once), 0 when missing.
function M.du(path, seen)
  seen = seen or {}
  local st = fs.lstat(path)
  if not st then
    return 0
  end
  if st.type == "dir" then
    local total = 0
    for _, name in ipairs(fs.readdir(path) or {}) do
      total = total + M.du(path .. "/" .. name, seen)
    end
    return total
  end
  if st.nlink > 1 then
    local id = st.dev .. ":" .. st.ino
    if seen[id] then
      return 0
    end
    seen[id] = true
  end
  return st.size
end

local Lease = {}
Lease.__index = Lease

--- Take a lease for a build on images (an image store): until it is released, a prune keeps
--- what the build may use or has written.  Returns the lease (:add_image(digest), :release(),
--- also __close).
function M.lease(images)
  local tmp = images.root .. "/tmp"
  errors.need("create '" .. tmp .. "'", fs.mkdir_p(tmp))
  local pid = sys.getpid()
  local l = setmetatable({ images = {}, start = now(), pid = pid }, Lease)
  errors.need("lock the store", images.blobs:locked(function()
    l.dir = errors.need("build lease", fs.mkdtemp(tmp .. "/lease-" .. pid .. "-"))
    l:save()
    return true
  end))
  return l
end

-- Written whole by a rename, as a prune may read it at any time, but not fsynced: a lease
-- matters only while its build runs, and after a crash it is stale anyway (every build wrote
-- it three times, each with an fsync).
function Lease:save()
  if self.dir then
    local path = self.dir .. "/lease.json"
    fs.write_file(path .. ".tmp", json.encode {
      pid = self.pid, starttime = starttime(self.pid), start = self.start, images = json.array(self.images),
    }, { atomic = false })
    fs.rename(path .. ".tmp", path)
  end
end

--- Keep image (a manifest digest) while the build runs.
function Lease:add_image(digest)
  self.images[#self.images + 1] = digest
  self:save()
end

function Lease:release()
  if self.dir then
    fs.rm_rf(self.dir)
    self.dir = nil
  end
end

Lease.__close = Lease.release
Lease.__gc = Lease.release

-- The leases of live builds (removing those whose process is gone): a list of
-- {start =, images = {digest}}.
local function live_leases(root)
  local out = {}
  local tmp = root .. "/tmp"
  for _, name in ipairs(fs.readdir(tmp) or {}) do
    local pid = tonumber(name:match "^lease%-(%d+)%-")
    if pid then
      local dir = tmp .. "/" .. name
      local text = fs.read_file(dir .. "/lease.json")
      local l = text and json.decode(text)
      if type(l) == "table" and starttime(pid) ~= nil and starttime(pid) == l.starttime then
        out[#out + 1] = l
      elseif not text and starttime(pid) ~= nil then
        out[#out + 1] = { start = now(), images = {} } -- being made right now
      else
        fs.rm_rf(dir)
      end
    end
  end
  return out
end

-- Mark a manifest (or an index of manifests) and what it refers to.  Returns the chain IDs (hex)
-- of its layers when it is an image.
local function mark_image(blobs, digest, marks, chains)
  if marks[digest] == "image" then
    return
  end
  marks[digest] = "image"
  local text = blobs:get(digest)
  local m = text and json.decode(text)
  if type(m) ~= "table" then
    return
  end
  for _, d in ipairs(m.manifests or {}) do
    mark_image(blobs, d.digest, marks, chains)
  end
  if m.config and m.config.digest then
    marks[m.config.digest] = "image"
    local ctext = blobs:get(m.config.digest)
    local cfg = ctext and json.decode(ctext)
    local diff_ids = type(cfg) == "table" and type(cfg.rootfs) == "table" and cfg.rootfs.diff_ids or {}
    for _, c in ipairs(require("cbuild.build.snapshot").chain_ids(diff_ids)) do
      chains[hex(c)] = true
    end
  end
  for _, l in ipairs(m.layers or {}) do
    marks[l.digest] = "image"
  end
end

-- When a file was last written or renamed (seconds, with the fraction).
local function changed_at(st)
  return math.max(st.mtime + st.mtime_ns / 1e9, st.ctime + st.ctime_ns / 1e9)
end

-- Every blob of the store: {digest = {size =, mtime =}}.
local function all_blobs(root)
  local out = {}
  local dir = root .. "/blobs/sha256"
  for _, name in ipairs(fs.readdir(dir) or {}) do
    if name:match "^%x+$" and #name == 64 then
      local st = fs.lstat(dir .. "/" .. name)
      if st then
        out["sha256:" .. name] = { size = st.size, mtime = changed_at(st) }
      end
    end
  end
  return out
end

-- COPY indexes: a list of {path =, blob = digest or false (not an index), mtime =, size =}.
local function copy_indexes(root)
  local archive = require "cbuild.core.archive"
  local out = {}
  local dir = root .. "/cache/copy-index"
  for _, name in ipairs(fs.readdir(dir) or {}) do
    local path = dir .. "/" .. name
    local st = fs.lstat(path)
    if st and st.type == "file" then
      out[#out + 1] = { path = path, blob = archive.index_blob(path) or false, mtime = changed_at(st),
        size = st.size }
    end
  end
  return out
end

-- Cache records: a list of {key =, path =, rec =, mtime =, size =}.
local function cache_records(root)
  local out = {}
  local dir = root .. "/cache/keys"
  for _, name in ipairs(fs.readdir(dir) or {}) do
    local key = name:match "^(%x+)%.json$"
    if key then
      local path = dir .. "/" .. name
      local st = fs.lstat(path)
      local text = fs.read_file(path)
      local rec = text and json.decode(text)
      if st then
        out[#out + 1] = { key = key, path = path, rec = type(rec) == "table" and rec or {}, mtime = changed_at(st),
          size = st.size }
      end
    end
  end
  return out
end

-- Records of compressed twins: a list of {path =, source = layer digest, digest = compressed}.
local function compressed_records(root)
  local out = {}
  local dir = root .. "/cache/compressed"
  for _, algo in ipairs(fs.readdir(dir) or {}) do
    for _, name in ipairs(fs.readdir(dir .. "/" .. algo) or {}) do
      local src = name:match "^(%x+)%.json$"
      if src then
        local path = dir .. "/" .. algo .. "/" .. name
        local text = fs.read_file(path)
        local rec = text and json.decode(text)
        local st = fs.lstat(path)
        out[#out + 1] = { path = path, source = "sha256:" .. src, mtime = st and changed_at(st) or 0,
          digest = type(rec) == "table" and rec.digest or nil }
      end
    end
  end
  return out
end

-- Snapshot dirs used as overlay lower dirs by mounts of this mount namespace (containers'
-- rootfs, build steps): {hex = true}.
local function mounted_snapshots(root)
  local out = {}
  local text = fs.read_file "/proc/self/mountinfo" or ""
  local prefix = (fs.realpath(root) or root) .. "/snapshots/"
  for line in text:gmatch "[^\n]+" do
    local lower = line:match "lowerdir=([^,%s]+)"
    if lower then
      for dir in lower:gmatch "[^:]+" do
        dir = dir:gsub("\\072", ":")
        if dir:sub(1, #prefix) == prefix then
          out[dir:sub(#prefix + 1):match "^[^/]+"] = true
        end
      end
    end
  end
  return out
end

-- The containers' records and what they use: {list =, manifests = {digest = true}}.
local function containers(images)
  local state = require "cbuild.container.state"
  local list = state.list(images)
  local used = {}
  for _, c in ipairs(list) do
    local cb = c.Cbuild or {}
    if cb.manifest then
      used[cb.manifest] = true
    end
  end
  return { list = list, manifests = used }
end

local function running(c)
  return c.State and c.State.Running
end

-- The walk both usage() and prune() start from, under the lock.
local function survey(images, ctrs)
  local blobs = images.blobs
  local root = images.root
  local idx = json.decode(blobs:read "index.json" or "{}") or {}
  local s = { root = root, index = idx, entries = idx.manifests or {}, blobs = all_blobs(root),
    records = cache_records(root), leases = live_leases(root), ctrs = ctrs }
  return s
end

local function image_marks(s, digests)
  local marks, chains = {}, {}
  for _, d in ipairs(digests) do
    mark_image(s.blobs_store, d, marks, chains)
  end
  return marks, chains
end

local function snapshot_sizes(root, names)
  local total = 0
  for name in pairs(names) do
    total = total + M.du(root .. "/snapshots/" .. name)
  end
  return total
end

--- Disk usage, docker's `system df` rows: a list of {type, total, active, size, reclaimable}
--- (sizes in bytes; reclaimable_pct false where docker prints no percentage).
function M.usage(images)
  local blobs = images.blobs
  local root = images.root
  local ctrs = containers(images)
  local rows
  errors.need("lock the store", blobs:locked(function()
    local s = survey(images, ctrs)
    s.blobs_store = blobs
    -- images: distinct manifests in the index; active = used by a container
    local digests, seen = {}, {}
    for _, e in ipairs(s.entries) do
      if not seen[e.digest] then
        seen[e.digest] = true
        digests[#digests + 1] = e.digest
      end
    end
    local all_marks, all_chains = image_marks(s, digests)
    local active, active_digests = 0, {}
    for _, d in ipairs(digests) do
      if ctrs.manifests[d] then
        active = active + 1
        active_digests[#active_digests + 1] = d
      end
    end
    for d in pairs(ctrs.manifests) do
      if not seen[d] then
        active_digests[#active_digests + 1] = d
      end
    end
    local used_marks, used_chains = image_marks(s, active_digests)
    local function size_of(marks, chains)
      local n = 0
      for d in pairs(marks) do
        n = n + (s.blobs[d] and s.blobs[d].size or 0)
      end
      local present = {}
      for c in pairs(chains) do
        if fs.exists(root .. "/snapshots/" .. c) then
          present[c] = true
        end
      end
      return n + snapshot_sizes(root, present)
    end
    local img_size = size_of(all_marks, all_chains)
    local img_used = size_of(used_marks, used_chains)
    -- containers: their upper dirs
    local ctr_size, ctr_reclaim, ctr_active = 0, 0, 0
    local cstate = require "cbuild.container.state"
    for _, c in ipairs(ctrs.list) do
      local n = M.du(cstate.dir(images, c.Id) .. "/upper")
      ctr_size = ctr_size + n
      if running(c) then
        ctr_active = ctr_active + 1
      else
        ctr_reclaim = ctr_reclaim + n
      end
    end
    -- build cache: records, blobs nothing else holds, snapshots of no image, cache mounts
    local cache_size = 0
    for _, r in ipairs(s.records) do
      cache_size = cache_size + r.size
    end
    for d, b in pairs(s.blobs) do
      if not all_marks[d] and not used_marks[d] then
        cache_size = cache_size + b.size
      end
    end
    for _, name in ipairs(fs.readdir(root .. "/snapshots") or {}) do
      if name:sub(1, 1) ~= "." and not all_chains[name] and not used_chains[name] then
        cache_size = cache_size + M.du(root .. "/snapshots/" .. name)
      end
    end
    local mounts = fs.readdir(root .. "/cache/mounts") or {}
    cache_size = cache_size + M.du(root .. "/cache/mounts")
    for _, ix in ipairs(copy_indexes(root)) do
      cache_size = cache_size + ix.size
    end
    local cache_active = #s.leases
    rows = {
      { type = "Images", total = #digests, active = active, size = img_size,
        reclaimable = math.max(0, img_size - img_used) },
      { type = "Containers", total = #ctrs.list, active = ctr_active, size = ctr_size, reclaimable = ctr_reclaim },
      { type = "Local Volumes", total = 0, active = 0, size = 0, reclaimable = 0 },
      { type = "Build Cache", total = #s.records + #mounts, active = cache_active, size = cache_size,
        reclaimable = cache_active > 0 and 0 or cache_size, no_pct = true },
    }
    return true
  end))
  return rows
end

--- Prune.  opts: containers (remove stopped containers), images (nil, "dangling": unnamed
--- images, "all": every image no container uses), cache (nil, "dangling": records whose layer
--- no image holds, "all": every record and the RUN --mount caches).  Returns a report:
--- {reclaimed = bytes, containers = {id}, images = {{untagged = ref} | {deleted = digest}},
--- records = n, blobs = n, snapshots = n, indexes = n COPY indexes, kept_for_builds = n live builds}.
function M.prune(images, opts)
  opts = opts or {}
  local blobs = images.blobs
  local root = images.root
  local report = { reclaimed = 0, containers = {}, images = {}, records = 0, blobs = 0, snapshots = 0,
    indexes = 0 }
  local cstate = require "cbuild.container.state"
  if opts.containers then
    local runtime = require "cbuild.container.runtime"
    for _, c in ipairs(cstate.list(images)) do
      if not running(c) then
        local n = M.du(cstate.dir(images, c.Id))
        runtime.remove(images, c)
        report.reclaimed = report.reclaimed + n
        report.containers[#report.containers + 1] = c.Id
      end
    end
  end
  local ctrs = containers(images)
  local started = now()
  errors.need("lock the store", blobs:locked(function()
    local s = survey(images, ctrs)
    s.blobs_store = blobs
    report.kept_for_builds = #s.leases
    -- anything written since the oldest live build began (or since this prune began: a writer
    -- without a lease, such as a pull, names its blobs before the index does) stays
    local cutoff = started
    local keep_digests = {}
    for _, l in ipairs(s.leases) do
      cutoff = math.min(cutoff, l.start or started)
      for _, d in ipairs(l.images or {}) do
        keep_digests[d] = true
      end
    end
    local building = #s.leases > 0

    -- images
    if opts.images then
      local kept, changed = json.array {}, false
      local names = {}
      for _, e in ipairs(s.entries) do
        local ref = e.annotations and e.annotations[require("cbuild.image.store").REF_NAME]
        if ref then
          names[e.digest] = true
        end
      end
      local dropped = {}
      for _, e in ipairs(s.entries) do
        local ref = e.annotations and e.annotations[require("cbuild.image.store").REF_NAME]
        local drop = not ctrs.manifests[e.digest] and not keep_digests[e.digest]
          and (opts.images == "all" or (ref == nil and not names[e.digest]))
        if drop then
          changed = true
          if ref then
            report.images[#report.images + 1] = { untagged = ref }
          end
          dropped[e.digest] = true
        else
          kept[#kept + 1] = e
        end
      end
      for d in pairs(dropped) do
        local text = blobs:get(d)
        local m = text and json.decode(text)
        report.images[#report.images + 1] = { deleted = type(m) == "table" and m.config and m.config.digest or d }
      end
      if changed then
        s.index.manifests = kept
        errors.need("write index.json", blobs:write("index.json", json.encode(s.index)))
        s.entries = kept
      end
    end

    -- mark
    local roots = {}
    for _, e in ipairs(s.entries) do
      roots[#roots + 1] = e.digest
    end
    for d in pairs(ctrs.manifests) do
      roots[#roots + 1] = d
    end
    for d in pairs(keep_digests) do
      roots[#roots + 1] = d
    end
    local marks, chains = image_marks(s, roots)
    for _, c in ipairs(ctrs.list) do -- a container's layers, even if its manifest is gone
      for _, l in ipairs((c.Cbuild or {}).layers or {}) do
        marks[l.digest] = "image"
      end
    end
    for _, r in ipairs(s.records) do
      local layer = r.rec.layer and r.rec.layer.digest
      local protected = building or r.mtime >= cutoff
      local drop = not protected and (opts.cache == "all" or (opts.cache == "dangling" and layer ~= nil
        and not marks[layer]))
      if drop then
        fs.unlink(r.path)
        report.records = report.records + 1
        report.reclaimed = report.reclaimed + r.size
      elseif layer then
        marks[layer] = marks[layer] or "cache"
      end
    end
    for _, c in ipairs(compressed_records(root)) do
      if marks[c.source] and c.digest then
        marks[c.digest] = marks[c.source]
      elseif c.mtime < cutoff then
        fs.unlink(c.path)
      end
    end

    -- sweep blobs
    for d, b in pairs(s.blobs) do
      if not marks[d] and b.mtime < cutoff then
        local ok = blobs:remove(d)
        if ok then
          report.blobs = report.blobs + 1
          report.reclaimed = report.reclaimed + b.size
        end
      end
    end

    -- sweep COPY indexes whose layer is gone (all of them with the whole cache)
    for _, ix in ipairs(copy_indexes(root)) do
      local gone = not ix.blob or not blobs:has(ix.blob)
      if ix.mtime < cutoff and (gone or opts.cache == "all") and fs.unlink(ix.path) then
        report.indexes = report.indexes + 1
        report.reclaimed = report.reclaimed + ix.size
      end
    end

    -- sweep snapshots and cache mounts (not while a build runs: it may be about to mount them)
    if not building then
      local mounted = mounted_snapshots(root)
      for _, name in ipairs(fs.readdir(root .. "/snapshots") or {}) do
        local path = root .. "/snapshots/" .. name
        local st = fs.lstat(path)
        local fresh = not st or changed_at(st) >= cutoff
        if name:sub(1, 1) ~= "." and not chains[name] and not mounted[name] and not fresh then
          local n = M.du(path)
          if fs.rm_rf(path) then
            report.snapshots = report.snapshots + 1
            report.reclaimed = report.reclaimed + n
          end
        end
      end
      if opts.cache == "all" then
        for _, name in ipairs(fs.readdir(root .. "/cache/mounts") or {}) do
          local path = root .. "/cache/mounts/" .. name
          local n = M.du(path)
          if fs.rm_rf(path) then
            report.reclaimed = report.reclaimed + n
          end
        end
      end
    end
    return true
  end))
  return report
end

return M
