-- cbuild.build.gc on a real store: marking from the index, cache records and leases; a live
-- build's lease keeps what it wrote, a dead one is cleared; du counts hard links once.
local h = require "spec.helpers"
local gc = require "cbuild.build.gc"
local images = require "cbuild.image.store"
local cache = require "cbuild.build.cache"
local fs = require "cbuild.core.fs"
local json = require "cbuild.core.json"

local function store()
  return images.open(h.tmpdir "gc")
end

-- A one-layer image: a layer blob (any bytes will do for gc), config and manifest.
local function image(imgs, text, name)
  local ld, lsize = assert(imgs.blobs:put(text))
  local desc = imgs:put_image({ architecture = "amd64", os = "linux", rootfs = { type = "layers",
    diff_ids = json.array { ld } } }, { { digest = ld, size = lsize } })
  if name then
    imgs:tag(desc, name)
  else
    imgs:add_unnamed(desc)
  end
  return desc, ld
end

local function backdate(imgs, digest)
  h.ok("touch -d '-1 hour' " .. h.quote(imgs.blobs:path(digest)))
end

describe("cbuild.build.gc", function()
  teardown(h.cleanup)

  it("keeps named and unnamed images and their snapshots; sweeps what nothing holds", function()
    local imgs = store()
    local named, l1 = image(imgs, "layer one", "keep:1")
    local unnamed, l2 = image(imgs, "layer two")
    local orphan = assert(imgs.blobs:put "nobody's")
    local chain = l1:sub(8) -- a one-layer chain ID is its diff ID
    assert(fs.mkdir_p(imgs.root .. "/snapshots/" .. chain))
    assert(fs.mkdir_p(imgs.root .. "/snapshots/" .. string.rep("a", 64)))
    local rep = gc.prune(imgs, {})
    assert.are.equal(1, rep.blobs)
    assert.is_false(imgs.blobs:has(orphan))
    for _, d in ipairs { named.digest, named.config, unnamed.digest, l1, l2 } do
      assert.is_true(imgs.blobs:has(d), d)
    end
    assert.are.same({ chain }, h.listdir(imgs.root .. "/snapshots"))
    assert.are.equal(8, rep.reclaimed)
  end)

  it("dangling: unnamed images and cache records of no image go; -a: every record", function()
    local imgs = store()
    local _, l1 = image(imgs, "named layer", "keep:1")
    local unnamed, l2 = image(imgs, "unnamed layer")
    local cached = assert(imgs.blobs:put "cache-only layer")
    cache.put(imgs.blobs, "sha256:" .. string.rep("1", 64), { created = "x", layer = { digest = l1 } })
    cache.put(imgs.blobs, "sha256:" .. string.rep("2", 64), { created = "x", layer = { digest = cached } })
    cache.put(imgs.blobs, "sha256:" .. string.rep("3", 64), { created = "x" })
    local rep = gc.prune(imgs, { images = "dangling", cache = "dangling" })
    assert.are.same({ { deleted = unnamed.config } }, rep.images)
    assert.is_false(imgs.blobs:has(unnamed.digest))
    assert.is_false(imgs.blobs:has(l2))
    assert.is_false(imgs.blobs:has(cached))
    assert.is_true(imgs.blobs:has(l1))
    assert.are.equal(1, rep.records)
    assert.are.equal(2, #h.listdir(imgs.root .. "/cache/keys"))
    rep = gc.prune(imgs, { cache = "all" })
    assert.are.equal(2, rep.records)
    assert.are.same({}, h.listdir(imgs.root .. "/cache/keys"))
    assert.is_true(imgs.blobs:has(l1))
  end)

  it("a live build's lease keeps its images, the cache, and all it wrote since it began", function()
    local imgs = store()
    local base, bl = image(imgs, "base layer", "base:1")
    local old = assert(imgs.blobs:put "old orphan")
    backdate(imgs, old)
    local lease <close> = gc.lease(imgs)
    lease:add_image(base.digest)
    imgs:remove_entries(function()
      return true
    end) -- rmi base meanwhile
    local fresh = assert(imgs.blobs:put "written by the build")
    cache.put(imgs.blobs, "sha256:" .. string.rep("4", 64), { created = "x", layer = { digest = fresh } })
    local rep = gc.prune(imgs, { images = "all", cache = "all" })
    assert.are.equal(1, rep.kept_for_builds)
    assert.is_true(imgs.blobs:has(fresh))
    assert.is_true(imgs.blobs:has(bl))
    assert.is_true(imgs.blobs:has(base.digest))
    assert.is_false(imgs.blobs:has(old))
    assert.are.equal(1, #h.listdir(imgs.root .. "/cache/keys"))
    lease:release()
    rep = gc.prune(imgs, { cache = "all" })
    assert.are.equal(0, rep.kept_for_builds)
    assert.is_false(imgs.blobs:has(fresh))
    assert.is_false(imgs.blobs:has(bl))
  end)

  it("clears the lease of a dead build", function()
    local imgs = store()
    assert(fs.mkdir_p(imgs.root .. "/tmp/lease-999999-abcdef"))
    assert(fs.write_file(imgs.root .. "/tmp/lease-999999-abcdef/lease.json",
      json.encode { pid = 999999, starttime = "1", start = 0, images = json.array {} }))
    local rep = gc.prune(imgs, {})
    assert.are.equal(0, rep.kept_for_builds)
    assert.are.same({}, h.listdir(imgs.root .. "/tmp"))
  end)

  it("reports usage in docker's four rows", function()
    local imgs = store()
    image(imgs, "some layer bytes", "one:1")
    local rows = gc.usage(imgs)
    assert.are.same({ "Images", "Containers", "Local Volumes", "Build Cache" },
      { rows[1].type, rows[2].type, rows[3].type, rows[4].type })
    assert.are.equal(1, rows[1].total)
    assert.is_true(rows[1].size > 16)
    assert.are.equal(rows[1].size, rows[1].reclaimable)
  end)

  it("du counts a hard-linked file once", function()
    local d = h.tmpdir "du"
    h.write(d .. "/a", string.rep("x", 1000))
    h.ok("ln " .. h.quote(d .. "/a") .. " " .. h.quote(d .. "/b") .. " && mkdir " .. h.quote(d .. "/sub"))
    h.write(d .. "/sub/c", "123")
    assert.are.equal(1003, gc.du(d))
    assert.are.equal(0, gc.du(d .. "/missing"))
  end)
end)
