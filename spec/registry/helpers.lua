-- What the registry specs share: a registry (spec/fixtures/registry) with a busybox image to
-- push, and the import-then-push every test starts with.
--
--   local r, tar
--   setup(function() r, tar = rh.start() end)
--   teardown(function() rh.stop(r) end)
local h = require "spec.helpers"
local reg = require "spec.fixtures.registry.registry"

local M = {}

--- A tar of a busybox root filesystem (spec/fixtures/make-busybox-rootfs.sh), to import.
function M.busybox_tar()
  local dir = h.tmpdir "bbfs"
  h.ok(string.format("sh %s/spec/fixtures/make-busybox-rootfs.sh %s/fs && tar -C %s/fs -cf %s/bb.tar .",
    h.quote(h.src), h.quote(dir), h.quote(dir), h.quote(dir)))
  return dir .. "/bb.tar"
end

--- Start a registry (opts as reg.start's) and make a busybox tar: returns both.
function M.start(opts)
  return reg.start(opts), M.busybox_tar()
end

--- Stop registry r and remove the spec's temp dirs.
function M.stop(r)
  r:stop()
  h.cleanup()
end

-- Run cbuild at root: verb [flags] name (opts as h.cbuild's).  It must exit 0: returns stdout,
-- or raises at the line that called its caller (no tail calls to it, which would hide that).
local function must(root, verb, name, flags, opts)
  local args = verb .. " " .. (flags and (flags .. " ") or "") .. name
  local status, out, err = h.cbuild(root, args, opts)
  if status ~= 0 then
    error(string.format("cbuild %s: exit %s\n%s%s", args, tostring(status), out, err), 3)
  end
  return out
end

--- Import tar into the store at root as name; it must succeed.
function M.import(root, tar, name)
  must(root, "import " .. tar, name)
end

--- Push name from the store at root (flags before the name, opts as h.cbuild's); it must
--- succeed.  Returns its stdout.
function M.push(root, name, flags, opts)
  local out = must(root, "push", name, flags, opts)
  return out
end

--- Import tar as name and push it (as M.push).  Returns push's stdout.
function M.import_push(root, tar, name, flags, opts)
  must(root, "import " .. tar, name)
  local out = must(root, "push", name, flags, opts)
  return out
end

--- Pull name into the store at root (as M.push).  Returns its stdout.
function M.pull(root, name, flags, opts)
  local out = must(root, "pull", name, flags, opts)
  return out
end

--- Pull name into a fresh store (flags and opts as M.push's); it must succeed and leave only
--- blobs that hold the bytes of their names.  Returns the store's root and pull's stdout.
function M.pull_fresh(name, flags, opts)
  local fresh = h.tmpdir "fresh"
  local out = must(fresh, "pull", name, flags, opts)
  local bad = h.bad_blobs(fresh)
  if #bad > 0 then
    error("pull " .. name .. ": bad blobs: " .. table.concat(bad, " "), 2)
  end
  return fresh, out
end

return M
