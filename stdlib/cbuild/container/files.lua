-- A container's files from the host, for cp and export: its rootfs (the overlay mounted for the
-- time it takes when the container is not running) and host trees written as tar streams.
-- Paths inside a container are resolved inside its rootfs (symlinks never lead out of it).
local archive = require "cbuild.core.archive"
local fs = require "cbuild.core.fs"
local errors = require "cbuild.errors"
local state = require "cbuild.container.state"

local M = {}

--- fn(rootfs) with c's root filesystem mounted; returns fn's results.
function M.with_rootfs(imgs, c, fn)
  local rootfs = state.dir(imgs, c.Id) .. "/rootfs"
  if c.State.Running then
    return fn(rootfs) -- mounted by the container's supervisor for as long as it runs
  end
  local runtime = require "cbuild.container.runtime" -- which needs this module for volumes
  runtime.mount_rootfs(imgs, c)
  local _ <close> = setmetatable({}, { __close = function()
    runtime.umount_rootfs(imgs, c)
  end })
  return fn(rootfs)
end

--- The host path of path inside rootfs, its last component not followed (a symlink named is
--- the symlink itself, as docker cp copies it without -L); nil, msg when a parent is missing.
function M.resolve(rootfs, path, follow)
  if follow then
    return fs.resolve_in_root(rootfs, path)
  end
  local parent, base = path:match "^(.*)/([^/]+)/*$"
  if not parent then
    parent, base = ".", path
  end
  if base == "." or base == ".." then
    return fs.resolve_in_root(rootfs, path)
  end
  local dir, msg = fs.resolve_in_root(rootfs, parent == "" and "/" or parent)
  if not dir then
    return nil, msg
  end
  return dir .. "/" .. base
end

-- One tar entry for host path p (lstat st) named name; owner kept or root's.
local function entry(p, st, name, keep_owner)
  local e = { name = name, type = st.type, mode = st.mode, mtime = st.mtime,
    uid = keep_owner and st.uid or 0, gid = keep_owner and st.gid or 0 }
  if st.type == "file" then
    e.src = p
  elseif st.type == "symlink" then
    e.linkname = errors.need("read link " .. p, fs.readlink(p))
  elseif st.type == "char" or st.type == "block" then
    e.devmajor, e.devminor = st.rdevmajor, st.rdevminor
  elseif st.type ~= "dir" and st.type ~= "fifo" then
    return nil -- sockets and the like have no tar form
  end
  return e
end

--- Write the tree at host path p into tar writer w under name (its contents at the top when
--- name is ""); opts.keep_owner keeps uids and gids (else root's, as docker cp without -a).
function M.add_tree(w, p, name, opts)
  local st = errors.need("read " .. p, fs.lstat(p))
  if name ~= "" then
    local e = entry(p, st, name, opts.keep_owner)
    if e then
      errors.need("write " .. name, w:add(e))
    end
  end
  if st.type == "dir" then
    local names = errors.need("read " .. p, fs.readdir(p))
    table.sort(names)
    for _, n in ipairs(names) do
      M.add_tree(w, p .. "/" .. n, name == "" and n or (name .. "/" .. n), opts)
    end
  end
end

--- A scratch directory under the store for the command's temp files, removed by the returned
--- closer (use with <close>).
function M.scratch(imgs, what)
  local tmp = imgs.root .. "/tmp"
  errors.need("create " .. tmp, fs.mkdir_p(tmp))
  local dir = errors.need(what, fs.mkdtemp(tmp .. "/" .. what .. "-"))
  return dir, setmetatable({}, { __close = function()
    fs.rm_rf(dir)
  end })
end

--- Unpack the tar at path into the host directory dest (created), never writing outside it.
function M.unpack(path, dest)
  errors.need("create " .. dest, fs.mkdir_p(dest))
  errors.need("extract into " .. dest, archive.apply(path, dest, { whiteouts = false }))
end

return M
