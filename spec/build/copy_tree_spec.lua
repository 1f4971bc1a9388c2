-- COPY of a whole directory, written by C as one tree: the bytes of a rebuild after one change
-- equal those of a cold build of the same tree, ignored files never appear, and entries that
-- land inside a copied tree still follow "later sources win".
local h = require "spec.helpers"
local json = require "cbuild.core.json"
local q = h.quote

local function blob(root, digest)
  return root .. "/blobs/sha256/" .. digest:gsub("^sha256:", "")
end

-- Build ctx into a store at root (created when missing); returns the layer digests.
local function build(root, ctx)
  local status, out, err = h.cbuild(root, "build -q -t t " .. q(ctx), { env = { SOURCE_DATE_EPOCH = "1700000000" } })
  assert.are.equal(0, status, out .. err)
  local idx = json.decode(h.read(root .. "/index.json"))
  for _, m in ipairs(idx.manifests) do
    if (m.annotations or {})["org.opencontainers.image.ref.name"] == "docker.io/library/t:latest" then
      local layers = {}
      for i, l in ipairs(json.decode(h.read(blob(root, m.digest))).layers) do
        layers[i] = l.digest
      end
      return layers
    end
  end
  error "no image t"
end

local function listing(root, digest)
  return h.ok("tar -tf " .. q(blob(root, digest)))
end

describe("COPY of a directory tree", function()
  teardown(h.cleanup)

  local function context(files)
    local ctx = h.tmpdir "copytree"
    for path, content in pairs(files) do
      local dir = path:match "^(.*)/[^/]*$"
      if dir then
        h.ok("mkdir -p " .. q(ctx .. "/" .. dir))
      end
      h.write(ctx .. "/" .. path, content)
    end
    return ctx
  end

  it("writes parents before children when a sibling's name has a byte below \"/\"", function()
    local ctx = context { Dockerfile = "FROM scratch\nCOPY . /data\n", [".dockerignore"] = "Dockerfile\n",
      ["a/x"] = "1", ["a-b"] = "2", ["a.c/y"] = "3", ["a0"] = "4" }
    local root = h.tmpdir "order"
    local layers = build(root, ctx)
    assert.are.equal("data/\ndata/.dockerignore\ndata/a/\ndata/a/x\ndata/a-b\ndata/a.c/\ndata/a.c/y\ndata/a0\n",
      listing(root, layers[1]))
  end)

  it("gives the same layer bytes on a rebuild after one change as a cold build", function()
    local files = { Dockerfile = "FROM scratch\nCOPY . /data\n", [".dockerignore"] = "Dockerfile\n" }
    for a = 1, 4 do
      for b = 1, 30 do
        files[string.format("d%d/f%03d.txt", a, b)] = string.rep(string.char(64 + a), b * 97)
      end
    end
    local ctx = context(files)
    local warm = h.tmpdir "warm"
    local first = build(warm, ctx)
    h.write(ctx .. "/d2/f015.txt", "changed\n")
    local rebuilt = build(warm, ctx)
    assert.are_not.equal(first[1], rebuilt[1])
    local cold = build(h.tmpdir "cold", ctx)
    assert.are.same(cold, rebuilt)
    assert.matches("data/d2/f015.txt\n", listing(warm, rebuilt[1]), 1, true)
  end)

  it("never writes an ignored file, and keeps the exceptions of .dockerignore", function()
    local ctx = context {
      Dockerfile = "FROM scratch\nCOPY . /data\n",
      [".dockerignore"] = "**/*.log\n!keep/important.log\nsecret\nDockerfile\n.dockerignore\n",
      ["a/b/c.txt"] = "c",
      ["a/b/d.log"] = "d",
      ["keep/important.log"] = "i",
      ["keep/other.log"] = "o",
      ["secret/key"] = "k",
      ["top.log"] = "t",
    }
    local root = h.tmpdir "ignore"
    local layers = build(root, ctx)
    assert.are.equal("data/\ndata/a/\ndata/a/b/\ndata/a/b/c.txt\ndata/keep/\ndata/keep/important.log\n",
      listing(root, layers[1]))
  end)

  it("lets a later source win inside a copied tree", function()
    local ctx = context {
      Dockerfile = "FROM scratch\nCOPY one/ two/ /dest/\nCOPY x one/ /mix/\n",
      ["one/x"] = "from one",
      ["one/y"] = "only one",
      ["two/x"] = "from two",
      x = "top x",
    }
    local root = h.tmpdir "merge"
    local layers = build(root, ctx)
    local function cat(layer, name)
      return h.ok("tar -xOf " .. q(blob(root, layer)) .. " " .. q(name))
    end
    assert.are.equal("from two", cat(layers[1], "dest/x"))
    assert.are.equal("only one", cat(layers[1], "dest/y"))
    assert.are.equal("from one", cat(layers[2], "mix/x"))
    assert.are.equal("mix/\nmix/x\nmix/y\n", listing(root, layers[2]))
  end)

  describe("an indexed layer writer", function()
    local archive = require "cbuild.core.archive"
    local fs = require "cbuild.core.fs"
    local store = require "cbuild.core.store"

    -- The layer of dir under "data" (plus a data entry and a heredoc-like file), written with
    -- index (or none); returns digest and the count of entries taken from the earlier layer.
    local function layer(s, dir, index)
      local tree = assert(fs.walk(dir))
      assert(tree:digest(fs.hashcache()))
      local lw = assert(archive.layer_writer(s, { index = index }))
      assert(lw:add { name = "data", type = "dir", mtime = 1 })
      assert(lw:add_tree(tree, { prefix = "data", epoch = 1700000000 }))
      assert(lw:add { name = "zz", data = "inline", mtime = 1 })
      local reused = lw:reused()
      local d = assert(lw:commit())
      return d, reused
    end

    it("copies unchanged entries from the earlier layer and gives the bytes of a fresh write", function()
      local dir = h.tmpdir "indexed"
      for i = 1, 20 do
        h.write(string.format("%s/d%d/f%02d", dir, i % 3, i), string.rep("x", i * 300))
      end
      local s = assert(store.open(h.tmpdir "indexed-store", { create = true }))
      local index = h.tmpdir "indexed-cache" .. "/sub/index"
      local first, none = layer(s, dir, index)
      assert.are.equal(0, none)
      assert.are.equal(first, (layer(s, dir)))
      h.write(dir .. "/d1/f07", "changed, and longer than a block: " .. string.rep("y", 700))
      local second, reused = layer(s, dir, index)
      assert.are_not.equal(first, second)
      assert.are.equal(20 + 3 + 2 - 1, reused) -- every entry but the changed file
      assert.are.equal(second, (layer(s, dir))) -- what a write without index gives
      local again, all = layer(s, dir, index)
      assert.are.equal(second, again)
      assert.are.equal(20 + 3 + 2, all)
    end)

    it("a big layer changed in its middle: the unchanged start copied, the bytes of a fresh write", function()
      local dir = h.tmpdir "indexed-big"
      for i = 1, 48 do -- 48 x 200 KiB: marks every MiB, a tail hashed on the writer's thread
        h.write(string.format("%s/f%02d", dir, i), string.rep(string.char(65 + i % 26), 200 * 1024 - i))
      end
      local s = assert(store.open(h.tmpdir "indexed-big-store", { create = true }))
      local index = h.tmpdir "indexed-big-cache" .. "/index"
      local first = layer(s, dir, index)
      assert.are.equal(first, archive.index_blob(index))
      for _, f in ipairs { "f20", "f03", "f47" } do
        h.write(dir .. "/" .. f, "changed " .. f)
        local d, reused = layer(s, dir, index)
        assert.are.equal(48 + 2 - 1, reused) -- every entry but the changed file
        assert.are.equal(d, (layer(s, dir)))
        assert(s:verify(d))
      end
    end)

    it("archive.index_blob: the layer of an index, false for no index, raises on misuse", function()
      local dir = h.tmpdir "ixblob"
      h.write(dir .. "/junk", "cbuild-tar-index 1\nshort")
      assert.is_false(archive.index_blob(dir .. "/junk"))
      assert.is_false(archive.index_blob(dir .. "/absent"))
      local d, msg, code = archive.index_blob(dir)
      assert.is_nil(d)
      assert.matches(dir, msg, 1, true)
      assert.are.equal("EISDIR", code)
      assert.error_matches(function()
        archive.index_blob {}
      end, "string expected")
    end)

    it("ignores an index that is not its own or whose layer is gone", function()
      local dir = h.tmpdir "indexed2"
      h.write(dir .. "/f", "x")
      local s = assert(store.open(h.tmpdir "indexed2-store", { create = true }))
      local index = h.tmpdir "indexed2-cache" .. "/index"
      h.write(index, "cbuild-tar-index 1\njunk")
      local d, reused = layer(s, dir, index)
      assert.are.equal(0, reused)
      assert(fs.unlink(s:path(d)))
      local d2, reused2 = layer(s, dir, index)
      assert.are.equal(0, reused2)
      assert.are.equal(d, d2)
    end)
  end)

  describe("the bindings", function()
    local archive = require "cbuild.core.archive"
    local fs = require "cbuild.core.fs"

    it("fs.walk: nil, msg, code for a missing root; raises on misuse and passes a filter's error", function()
      local t, msg, code = fs.walk "/nonexistent/cbuild-walk"
      assert.is_nil(t)
      assert.matches("nonexistent", msg, 1, true)
      assert.are.equal("ENOENT", code)
      local dir = h.tmpdir "walk"
      h.write(dir .. "/f", "x")
      assert.error_matches(function()
        fs.walk(dir, 42)
      end, "function expected")
      assert.error_matches(function()
        fs.walk(dir, function()
          return "maybe"
        end)
      end, "expected keep, all, skip or look")
      local ok, e = pcall(fs.walk, dir, function()
        error { custom = true }
      end)
      assert.is_false(ok)
      assert.is_true(e.custom)
      local tree = assert(fs.walk(dir))
      assert.are.equal(2, tree:count())
      assert.is_true(tree:has "f")
      tree:free()
      assert.error_matches(function()
        tree:count()
      end, "freed tree")
    end)

    it("lw:add_tree raises for something that is not a tree; cache:file fails softly", function()
      local store = require "cbuild.core.store"
      local s = assert(store.open(h.tmpdir "bind-store", { create = true }))
      local lw <close> = assert(archive.layer_writer(s))
      assert.error_matches(function()
        lw:add_tree({}, {})
      end, "cbuild.core.fs.tree expected")
      local d, msg, code = fs.hashcache():file("/nonexistent/f", { size = 1 })
      assert.is_nil(d)
      assert.matches("nonexistent", msg, 1, true)
      assert.are.equal("ENOENT", code)
    end)
  end)
end)
