-- Snapshots: every image layer unpacked once into <root>/snapshots/<chain id hex> (in overlayfs
-- form: whiteouts as 0/0 devices, opaque dirs by xattr) and shared read-only; a build step
-- mounts them as an overlay with a fresh upper dir, and the upper dir is its change.  Where
-- overlayfs is missing, the "vfs" driver copies the parent tree instead and diffs.
--
-- Engine module: failures raise cbuild.errors.
local archive = require "cbuild.core.archive"
local digest = require "cbuild.core.digest"
local fs = require "cbuild.core.fs"
local sys = require "cbuild.core.sys"
local errors = require "cbuild.errors"
local images = require "cbuild.image.store"

local M = {}

local UNCOMPRESSED = { [images.LAYER] = true, [images.DOCKER_LAYER] = true }

local function hex(d)
  return (d:gsub("^sha256:", ""))
end

--- Chain IDs of a list of diff IDs: chainID(L1) = diffID(L1),
--- chainID(Ln) = sha256(chainID(Ln-1) .. " " .. diffID(Ln)).
function M.chain_ids(diff_ids)
  local out, chain = {}, nil
  for i, d in ipairs(diff_ids) do
    chain = chain and digest.sha256(chain .. " " .. d) or d
    out[i] = chain
  end
  return out
end

--- The diff ID of a layer {digest, mediaType, diff_id}: its own, the digest of an uncompressed
--- layer, or the digest of the decompressed blob (which is stored).
function M.diff_id(imgs, layer)
  if layer.diff_id then
    return layer.diff_id
  end
  if UNCOMPRESSED[layer.mediaType] then
    return layer.digest
  end
  local d = errors.need("decompress layer " .. layer.digest, archive.decompress(imgs.blobs, layer.digest))
  layer.diff_id = d
  return d
end

-- True when process pid is alive (a temp dir name carries its maker's pid).
local function alive(pid)
  return pid == sys.getpid() or fs.exists("/proc/" .. pid)
end

-- Remove what dead processes left in dir: entries named <prefix><pid>-XXXXXX.
local function clean_stale(dir, prefix, before_remove)
  local names = fs.readdir(dir)
  for _, name in ipairs(names or {}) do
    local pid = name:sub(1, #prefix) == prefix and tonumber(name:sub(#prefix + 1):match "^(%d+)%-")
    if pid and not alive(pid) then
      local path = dir .. "/" .. name
      if before_remove then
        before_remove(path)
      end
      fs.rm_rf(path)
    end
  end
end

local function snapshots_dir(imgs)
  local dir = imgs.root .. "/snapshots"
  if not fs.exists(dir) then
    errors.need("create '" .. dir .. "'", fs.mkdir_p(dir))
  end
  return dir
end

--- Unpack every layer (bottom first) that is not unpacked yet; returns the snapshot dirs,
--- bottom first.  Each is unpacked into a temp dir under snapshots/ and renamed into place, so a
--- snapshot exists under its name complete or not at all.
function M.ensure(imgs, layers)
  local root = snapshots_dir(imgs)
  local cleaned = false
  local dirs, chain = {}, nil
  for i, layer in ipairs(layers) do
    local diff_id = M.diff_id(imgs, layer)
    chain = chain and digest.sha256(chain .. " " .. diff_id) or diff_id
    local dir = root .. "/" .. hex(chain)
    if not fs.exists(dir) then
      if not cleaned then -- what dead unpackers left, looked for only when there is work
        clean_stale(root, ".tmp-")
        cleaned = true
      end
      local tmp = errors.need("unpack layer " .. layer.digest,
        fs.mkdtemp(root .. "/.tmp-" .. sys.getpid() .. "-"))
      local ok, msg, code = fs.chmod(tmp, tonumber("755", 8))
      if ok then
        ok, msg, code = archive.apply(imgs.blobs:path(layer.digest), tmp, { overlay = true })
      end
      if ok then
        ok, msg, code = fs.rename(tmp, dir)
        if not ok and fs.exists(dir) then
          ok = true -- another process unpacked it first: theirs is as good
          fs.rm_rf(tmp)
        end
      end
      if not ok then
        fs.rm_rf(tmp)
        errors.need("unpack layer " .. layer.digest, nil, msg, code)
      end
    end
    dirs[i] = dir
  end
  return dirs
end

local Handle = {}
Handle.__index = Handle

-- The mount binding, loaded on first use (the vfs driver does without it).
local function mount_mod()
  return require "cbuild.core.mount"
end

local function scratch_dir(imgs)
  local tmp = imgs.root .. "/tmp"
  errors.need("create '" .. tmp .. "'", fs.mkdir_p(tmp))
  clean_stale(tmp, "snap-", function(path)
    mount_mod().umount(path .. "/rootfs", { detach = true })
  end)
  local dir = errors.need("make a scratch dir", fs.mkdtemp(tmp .. "/snap-" .. sys.getpid() .. "-"))
  return dir
end

local function mkdirs(h, ...)
  for _, name in ipairs { ... } do
    errors.need("create '" .. h.dir .. "/" .. name .. "'", fs.mkdir_p(h.dir .. "/" .. name, tonumber("755", 8)))
  end
end

-- overlay: lowers are the snapshots (top-most first) or an empty dir for scratch.  Volatile, as
-- buildah mounts its build containers: the upper dir is read once into a layer blob (which the
-- store fsyncs) and thrown away, so the step's fsyncs and the unmount need not wait for the disk.
local function mount_overlay(h, imgs, layers)
  local dirs = M.ensure(imgs, layers)
  mkdirs(h, "upper", "work", "rootfs")
  local lower = {}
  for i = #dirs, 1, -1 do
    lower[#lower + 1] = dirs[i]
  end
  if #lower == 0 then
    mkdirs(h, "empty")
    lower[1] = h.dir .. "/empty"
  end
  h.upper, h.work, h.rootfs = h.dir .. "/upper", h.dir .. "/work", h.dir .. "/rootfs"
  h.lowers = lower
  local ok, msg, code = mount_mod().overlay { lower = lower, upper = h.upper, work = h.work, target = h.rootfs,
    volatile = true }
  if ok then
    h.mounted = true
  end
  return ok, msg, code
end

-- vfs: the parent tree applied twice, once to keep (lower) and once to change (rootfs).
local function mount_vfs(h, imgs, layers)
  mkdirs(h, "lower", "rootfs")
  h.lower, h.rootfs = h.dir .. "/lower", h.dir .. "/rootfs"
  for _, dir in ipairs { h.lower, h.rootfs } do
    for _, layer in ipairs(layers) do
      errors.need("unpack layer " .. layer.digest, archive.apply(imgs.blobs:path(layer.digest), dir))
    end
  end
  h.since = math.floor(sys.time()) -- files whose ctime is this or later were touched by the step
end

--- Mount the layers (bottom first; may be empty) for a build step.  opts.driver: "overlay" or
--- "vfs" forces one; by default overlay, and vfs when the overlay cannot be mounted.  Returns a
--- handle: .rootfs, .driver, :commit(store, opts), :release().
function M.mount(imgs, layers, opts)
  opts = opts or {}
  local driver = opts.driver
  if driver ~= nil and driver ~= "overlay" and driver ~= "vfs" then
    errors.raise("unknown storage driver '%s' (overlay or vfs)", tostring(driver))
  end
  local h = setmetatable({ dir = scratch_dir(imgs) }, Handle)
  local ok, err = pcall(function()
    if driver ~= "vfs" and M.overlay_works ~= false then
      local mounted, msg, code = mount_overlay(h, imgs, layers)
      if mounted then
        h.driver = "overlay"
        M.overlay_works = true
        return
      end
      if driver == "overlay" then
        errors.need("mount overlay", nil, msg, code)
      end
      M.overlay_works = false
      fs.rm_rf(h.dir)
      errors.need("make a scratch dir", fs.mkdir_p(h.dir, tonumber("700", 8)))
    end
    mount_vfs(h, imgs, layers)
    h.driver = "vfs"
  end)
  if not ok then
    h:release()
    error(err, 0)
  end
  return h
end

--- The change the step made, as a layer in store (an image store or a core store):
--- {digest, size, mediaType, diff_id}.  opts: clamp_mtime (seconds), exclude ({paths}).
function Handle:commit(store, opts)
  if self.released then
    error("attempt to commit a released snapshot mount", 2)
  end
  opts = opts or {}
  local blobs = store.blobs or store
  local d, size
  if self.driver == "overlay" then
    d, size = errors.need("layer from the step's changes", archive.layer_from_dir(blobs, self.upper,
      { overlay = true, lowers = self.lowers, clamp_mtime = opts.clamp_mtime, exclude = opts.exclude }))
  else
    d, size = errors.need("layer from the step's changes", archive.layer_from_diff(blobs, self.lower, self.rootfs,
      { since = self.since, clamp_mtime = opts.clamp_mtime, exclude = opts.exclude }))
  end
  return { digest = d, size = size, mediaType = images.LAYER, diff_id = d }
end

--- Unmount and remove every scratch dir; safe to call twice (also __close and __gc).
function Handle:release()
  if self.released then
    return true
  end
  self.released = true
  if self.mounted then
    local ok = mount_mod().umount(self.rootfs)
    if not ok then
      mount_mod().umount(self.rootfs, { detach = true })
    end
    self.mounted = false
  end
  return fs.rm_rf(self.dir)
end

function Handle:__close()
  pcall(self.release, self)
end

Handle.__gc = Handle.__close

return M
