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
end)
