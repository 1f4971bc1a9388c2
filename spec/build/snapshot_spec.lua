-- spec/build/snapshot_spec.lua: snapshots (unpacked layers), overlay and vfs mounts, layers from
-- a step's changes.  Real mounts: needs root (skipped otherwise).
local archive = require "cbuild.core.archive"
local digest = require "cbuild.core.digest"
local fs = require "cbuild.core.fs"
local sys = require "cbuild.core.sys"
local images = require "cbuild.image.store"
local snapshot = require "cbuild.build.snapshot"
local helpers = require "spec.helpers"

local q = helpers.quote
local root_user = sys.geteuid() == 0
local D, F = tonumber("755", 8), tonumber("644", 8)

-- base layer: a small rootfs
local function layer1(imgs)
  local lw = assert(archive.layer_writer(imgs.blobs))
  for _, e in ipairs {
    { name = "bin", type = "dir", mode = D, mtime = 1000 },
    { name = "bin/sh", data = "#!shell\n", mode = D, mtime = 1000 },
    { name = "bin/ash", type = "hardlink", linkname = "bin/sh" },
    { name = "etc", type = "dir", mode = D, mtime = 1000 },
    { name = "etc/os-release", data = "ID=test\n", mode = F, mtime = 1000 },
    { name = "etc/passwd", data = "root:x:0:0::/root:/bin/sh\n", mode = F, mtime = 1000 },
    { name = "etc/motd", type = "symlink", linkname = "os-release", mtime = 1000 },
    { name = "usr", type = "dir", mode = D, mtime = 1000 },
    { name = "usr/share", type = "dir", mode = D, mtime = 1000 },
    { name = "usr/share/doc", type = "dir", mode = D, mtime = 1000 },
    { name = "usr/share/doc/a", data = "a\n", mode = F, mtime = 1000 },
    { name = "usr/share/doc/b", data = "b\n", mode = F, mtime = 1000, uid = 7, gid = 8 },
    { name = "usr/share/doc/sub", type = "dir", mode = D, mtime = 1000 },
    { name = "usr/share/doc/sub/c", data = "c\n", mode = F, mtime = 1000 },
    { name = "opt", type = "dir", mode = D, mtime = 1000 },
    { name = "opt/old", data = "old\n", mode = F, mtime = 1000 },
  } do
    assert(lw:add(e))
  end
  local d, size = assert(lw:commit())
  return { digest = d, size = size, mediaType = images.LAYER }
end

-- second layer: a whiteout, an opaque dir, a change; stored gzip-compressed
local function layer2(imgs)
  local lw = assert(archive.layer_writer(imgs.blobs))
  for _, e in ipairs {
    { name = "etc", type = "dir", mode = D, mtime = 2000 },
    { name = "etc/.wh.os-release", data = "" },
    { name = "etc/hostname", data = "box\n", mode = F, mtime = 2000 },
    { name = "opt", type = "dir", mode = D, mtime = 2000 },
    { name = "opt/.wh..wh..opq", data = "" },
    { name = "opt/new", data = "new\n", mode = F, mtime = 2000, xattrs = { ["user.k"] = "v" } },
  } do
    assert(lw:add(e))
  end
  local plain = assert(lw:commit())
  local d, size = assert(archive.compress(imgs.blobs, plain, "gzip"))
  return { digest = d, size = size, mediaType = images.LAYER_GZIP }, plain
end

-- A canonical listing of a tree: path, type, mode, owner, size, link target, content hash.
local function listing(dir)
  return helpers.ok("cd " .. q(dir) .. " && find . -mindepth 1 -printf '%P %y %m %U:%G %s %l\\n' | LC_ALL=C sort"
    .. " && find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum")
end

local function entries(imgs, layer)
  local out = {}
  local r <close> = assert(archive.open(imgs.blobs:path(layer.digest)))
  for e in r:entries() do
    out[#out + 1] = e
    out[e.name] = e
  end
  return out
end

local function names(es)
  local out = {}
  for _, e in ipairs(es) do
    out[#out + 1] = e.name
  end
  return out
end

local function mounts_under(dir)
  local _, out = helpers.sh("findmnt -rn -o TARGET | grep -F " .. q(dir) .. " || true")
  return out
end

-- The same step in the merged view, whatever the driver.
local function step(rootfs)
  helpers.ok(table.concat({
    "cd " .. q(rootfs),
    "rm etc/passwd",
    "rm -rf usr/share/doc && mkdir usr/share/doc && echo fresh > usr/share/doc/only",
    "echo appended >> etc/hostname",
    "mkdir -p var/lib && echo hi > var/lib/state && ln var/lib/state var/lib/state2",
    "mkfifo var/fifo && chmod 4755 opt/new",
    "mkdir proc",
  }, " && "))
end

describe("cbuild.build.snapshot", function()
  if not root_user then
    pending("needs root for overlay mounts and whiteout devices")
    return
  end

  local imgs, l1, l2, l2plain
  before_each(function()
    imgs = images.open(helpers.tmpdir "snap-store")
    l1 = layer1(imgs)
    l2, l2plain = layer2(imgs)
  end)
  after_each(function()
    assert.are.equal("", mounts_under(imgs.root))
  end)

  it("computes chain IDs", function()
    local a, b, c = digest.sha256 "a", digest.sha256 "b", digest.sha256 "c"
    local ab = digest.sha256(a .. " " .. b)
    assert.are.same({ a, ab, digest.sha256(ab .. " " .. c) }, snapshot.chain_ids { a, b, c })
    assert.are.same({}, snapshot.chain_ids {})
  end)

  it("unpacks each layer once, in overlay form, named by chain ID", function()
    local dirs = snapshot.ensure(imgs, { l1, l2 })
    local chain = snapshot.chain_ids { l1.digest, l2plain }
    assert.are.equal(imgs.root .. "/snapshots/" .. chain[2]:sub(8), dirs[2])
    assert.are.equal(imgs.root .. "/snapshots/" .. chain[1]:sub(8), dirs[1])
    assert.are.equal(l2plain, l2.diff_id)
    -- the whiteout is a 0/0 char device, the opaque dir has its xattr
    local st = assert(fs.lstat(dirs[2] .. "/etc/os-release"))
    assert.are.equal("char", st.type)
    assert.are.equal("0 0", helpers.ok("stat -c '%t %T' " .. q(dirs[2] .. "/etc/os-release")):gsub("%s+$", ""))
    assert.is_true(fs.exists(dirs[1] .. "/etc/os-release"))
    local again = snapshot.ensure(imgs, { l1, l2 })
    assert.are.same(dirs, again)
    local want = { chain[1]:sub(8), chain[2]:sub(8) }
    table.sort(want)
    assert.are.same(want, helpers.listdir(imgs.root .. "/snapshots"))
  end)

  it("mounts a chain with overlayfs; whiteouts and opaque dirs hide the lower", function()
    local h <close> = snapshot.mount(imgs, { l1, l2 }, { driver = "overlay" })
    assert.are.equal("overlay", h.driver)
    assert.is_false(fs.exists(h.rootfs .. "/etc/os-release"))
    assert.is_false(fs.exists(h.rootfs .. "/opt/old"))
    assert.are.equal("new\n", helpers.read(h.rootfs .. "/opt/new"))
    assert.are.equal("box\n", helpers.read(h.rootfs .. "/etc/hostname"))
    assert.are.equal("#!shell\n", helpers.read(h.rootfs .. "/bin/ash"))
    -- the same view as applying both layers with whiteouts
    local flat = helpers.tmpdir "flat"
    assert(archive.apply(imgs.blobs:path(l1.digest), flat))
    assert(archive.apply(imgs.blobs:path(l2.digest), flat))
    assert.are.equal(listing(flat), listing(h.rootfs))
  end)

  local function check_step_layer(layer, driver)
    local es = entries(imgs, layer)
    local n = names(es)
    -- whiteout, opaque marker, contents
    assert.is_truthy(es["etc/.wh.passwd"], driver .. ": " .. table.concat(n, " "))
    assert.is_truthy(es["usr/share/doc/.wh..wh..opq"], driver)
    assert.are.equal("file", es["usr/share/doc/only"].type)
    assert.is_nil(es["usr/share/doc/a"])
    assert.are.equal("file", es["etc/hostname"].type)
    assert.are.equal("box\nappended\n", es["etc/hostname"].size == 13 and "box\nappended\n")
    assert.are.equal(tonumber("4755", 8), es["opt/new"].mode)
    assert.are.equal("v", es["opt/new"].xattrs["user.k"])
    assert.are.equal("fifo", es["var/fifo"].type)
    assert.are.equal("hardlink", es["var/lib/state2"].type)
    assert.are.equal("var/lib/state", es["var/lib/state2"].linkname)
    assert.is_nil(es["proc"], "excluded")
    assert.is_nil(es["etc/os-release"])
    assert.is_nil(es["bin/sh"], "unchanged files stay out")
    assert.is_nil(es["bin"], "unchanged dirs stay out")
    -- parents before children, each opaque marker right after its dir, siblings sorted
    for i, name in ipairs(n) do
      if name:match "%.wh%.%.wh%.%.opq$" then
        assert.are.equal(name:gsub("/?%.wh%.%.wh%.%.opq$", "") .. "/", n[i - 1])
      end
    end
    assert.is_true(#n > 5)
    return es
  end

  local function applied_view(layer)
    local flat = helpers.tmpdir "flat"
    assert(archive.apply(imgs.blobs:path(l1.digest), flat))
    assert(archive.apply(imgs.blobs:path(l2.digest), flat))
    assert(archive.apply(imgs.blobs:path(layer.digest), flat))
    return listing(flat)
  end

  for _, driver in ipairs { "overlay", "vfs" } do
    it("turns a step's changes into a layer (" .. driver .. ")", function()
      local h = snapshot.mount(imgs, { l1, l2 }, { driver = driver })
      assert.are.equal(driver, h.driver)
      step(h.rootfs)
      local layer = h:commit(imgs, { exclude = { "/proc" } })
      assert.are.equal(images.LAYER, layer.mediaType)
      assert.are.equal(layer.digest, layer.diff_id)
      check_step_layer(layer, driver)
      helpers.ok("rmdir " .. q(h.rootfs .. "/proc"))
      local merged = listing(h.rootfs)
      assert.are.equal(merged, applied_view(layer))
      h:release()
      h:release()
      assert.are.equal("", mounts_under(imgs.root))
      assert.are.same({}, helpers.listdir(imgs.root .. "/tmp"))
    end)
  end

  it("gives equivalent layers through both drivers", function()
    local views = {}
    for _, driver in ipairs { "overlay", "vfs" } do
      local h <close> = snapshot.mount(imgs, { l1, l2 }, { driver = driver })
      step(h.rootfs)
      local layer = h:commit(imgs.blobs, { exclude = { "proc" }, clamp_mtime = 5000 })
      local es = entries(imgs, layer)
      for _, e in ipairs(es) do
        assert.is_true(e.mtime <= 5000)
      end
      views[driver] = applied_view(layer)
    end
    assert.are.equal(views.overlay, views.vfs)
  end)

  it("mounts scratch (no layers) with both drivers", function()
    for _, driver in ipairs { "overlay", "vfs" } do
      local h <close> = snapshot.mount(imgs, {}, { driver = driver })
      assert.are.same({}, helpers.listdir(h.rootfs))
      helpers.write(h.rootfs .. "/hello", "world\n")
      local es = entries(imgs, h:commit(imgs))
      assert.are.same({ "hello" }, names(es))
    end
  end)

  it("picks overlay by default", function()
    local h <close> = snapshot.mount(imgs, { l1 })
    assert.are.equal("overlay", h.driver)
    assert.are.equal("", helpers.ok("findmnt -rn -o FSTYPE " .. q(h.rootfs)):gsub("overlay%s*", ""))
  end)

  it("mounts more layers than fit a page of mount options", function()
    local layers = { l1 }
    for i = 1, 70 do
      local lw = assert(archive.layer_writer(imgs.blobs))
      assert(lw:add { name = "n" .. i, data = tostring(i) })
      local d = assert(lw:commit())
      layers[#layers + 1] = { digest = d, mediaType = images.LAYER }
    end
    local h <close> = snapshot.mount(imgs, layers, { driver = "overlay" })
    assert.are.equal("70", helpers.read(h.rootfs .. "/n70"))
    assert.are.equal("1", helpers.read(h.rootfs .. "/n1"))
    assert.are.equal("#!shell\n", helpers.read(h.rootfs .. "/bin/sh"))
  end)

  it("releases on close and on collection, and cleans what a killed process left", function()
    do
      local h <close> = snapshot.mount(imgs, { l1 })
      helpers.write(h.rootfs .. "/x", "x")
    end
    snapshot.mount(imgs, { l1, l2 }) -- dropped
    collectgarbage()
    collectgarbage()
    assert.are.equal("", mounts_under(imgs.root))
    assert.are.same({}, helpers.listdir(imgs.root .. "/tmp"))
    -- a dead process's scratch dir, still mounted
    local h = snapshot.mount(imgs, { l1 })
    local dead = imgs.root .. "/tmp/snap-999999999-abcdef"
    assert(fs.rename(h.dir, dead))
    helpers.ok("mount --move " .. q(h.rootfs) .. " " .. q(dead .. "/rootfs") .. " 2>/dev/null || true")
    h.mounted = false
    h.released = true
    snapshot.mount(imgs, {}):release()
    assert.is_false(fs.exists(dead))
  end)

  it("never leaves a half snapshot under its name when killed during ensure", function()
    -- a layer big enough to take a while to unpack
    local lw = assert(archive.layer_writer(imgs.blobs))
    for i = 1, 4000 do
      assert(lw:add { name = string.format("d%d/f%d", i % 50, i), data = string.rep("x", 4096) })
    end
    local big = { digest = assert(lw:commit()), mediaType = images.LAYER }
    local script = helpers.tmpdir "kill" .. "/ensure.lua"
    helpers.write(script, string.format([[
      package.path = "%s/stdlib/?.lua;" .. package.path
      package.cpath = "%s/%s/?.so;" .. package.cpath
      local images = require "cbuild.image.store"
      require("cbuild.build.snapshot").ensure(images.open(%q), { { digest = %q, mediaType = %q } })
    ]], helpers.src, helpers.src, helpers.build, imgs.root, big.digest, big.mediaType))
    local final = imgs.root .. "/snapshots/" .. big.digest:sub(8)
    local killed = 0
    for _, delay in ipairs { "0.05", "0.1", "0.2", "0.3" } do
      helpers.sh("lua5.4 " .. q(script) .. " & pid=$!; sleep " .. delay .. "; kill -9 $pid; wait $pid")
      if fs.exists(final) then
        break -- finished before the kill: complete by construction
      end
      killed = killed + 1
    end
    assert.is_true(killed > 0, "no kill landed mid-unpack")
    if fs.exists(final) then
      assert.are.equal("4000", helpers.ok("find " .. q(final) .. " -type f | wc -l"):gsub("%s+", ""))
    end
    local dirs = snapshot.ensure(imgs, { big })
    assert.are.equal("4000", helpers.ok("find " .. q(dirs[1]) .. " -type f | wc -l"):gsub("%s+", ""))
    assert.are.same({ big.digest:sub(8) }, helpers.listdir(imgs.root .. "/snapshots"))
  end)

  it("rejects an unknown driver", function()
    assert.has_error(function()
      snapshot.mount(imgs, {}, { driver = "zfs" })
    end)
  end)
end)
