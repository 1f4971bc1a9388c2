-- COPY indexes (cache/copy-index/) under gc: builder prune and system prune drop the ones whose
-- layer is gone, -a drops them all, and system df counts them as build cache.
local h = require "spec.helpers"
local q = h.quote

local root, ctx

local function cb(args, opts)
  return h.cbuild(root, args, opts)
end

local function ok(args, opts)
  local status, out, err = cb(args, opts)
  assert.are.equal(0, status, out .. err)
  return out, err
end

local function build(tag)
  return ok("build -q -t " .. tag .. " " .. q(ctx)):gsub("%s+$", "")
end

local function indexes()
  local out = {}
  for _, name in ipairs(h.listdir(root .. "/cache/copy-index")) do
    out[#out + 1] = name
  end
  return out
end

local function cache_row()
  for line in ok("system df"):gmatch "[^\n]+" do
    local total, size = line:match "^Build Cache%s+(%d+)%s+%d+%s+(%S+)"
    if total then
      return tonumber(total), size
    end
  end
end

setup(function()
  root = h.tmpdir "ixgc"
  h.import_busybox(root)
  ctx = h.tmpdir "ctx"
  h.write(ctx .. "/Dockerfile", "FROM busybox\nCOPY . /data\n")
  h.write(ctx .. "/a.txt", "a\n")
  h.write(ctx .. "/b.txt", "b\n")
end)

teardown(function()
  h.cleanup()
end)

describe("COPY indexes under gc", function()
  it("stay while their layer is held, go with it, and all go with -a", function()
    build "one"
    assert.are.equal(1, #indexes())
    local total, size = cache_row()
    assert.are.equal(1, total) -- the build record; the index adds bytes, not a row
    assert.are_not.equal("0B", size)
    h.write(ctx .. "/b.txt", "b changed\n")
    build "one" -- the same COPY: the same index, now of the new layer
    assert.are.equal(1, #indexes())

    ok "builder prune -f"
    assert.are.equal(1, #indexes(), "the layer of the tagged image is held")
    ok "rmi one"
    ok "builder prune -f"
    assert.are.same({}, indexes())

    build "two"
    assert.are.equal(1, #indexes())
    ok "builder prune -af"
    assert.are.same({}, indexes(), "-a drops them all, even one whose layer is held")
  end)

  it("system prune drops an index whose layer is gone and files that are no index", function()
    build "three"
    local name = indexes()[1]
    h.write(root .. "/cache/copy-index/junk", "not an index")
    ok "rmi three two" -- "two" holds the same layer
    ok "system prune -f"
    assert.are.same({}, indexes())
    assert.is_not_nil(name)
  end)
end)
