-- End to end: where the Dockerfile and the context come from (docker build's rules): a
-- directory, a tarball path, "-" (a tar on stdin is the context; anything else is the
-- Dockerfile, with no context), -f - (Dockerfile on stdin), <Dockerfile>.dockerignore; and
-- the base image's ONBUILD triggers.
local h = require "spec.helpers"
local json = require "cbuild.core.json"
local q = h.quote

local function config(root, name)
  local _, out = h.cbuild(root, "inspect " .. name)
  return json.decode(out)[1]
end

local function files(root, name)
  local info = config(root, name)
  local all = {}
  for _, d in ipairs(info.RootFS.Layers) do
    for line in h.ok("tar -tf " .. q(root .. "/blobs/sha256/" .. d:gsub("^sha256:", ""))):gmatch "[^\n]+" do
      all[#all + 1] = line
    end
  end
  table.sort(all)
  return all
end

describe("build contexts", function()
  local root, ctx
  setup(function()
    root = h.tmpdir "ctx-root"
    ctx = h.tmpdir "ctx"
    h.write(ctx .. "/Dockerfile", "FROM scratch\nCOPY . /\n")
    h.write(ctx .. "/a.txt", "a")
    h.write(ctx .. "/b.log", "b")
    h.write(ctx .. "/sub/c.txt", "c")
    h.write(ctx .. "/.dockerignore", "*.log\n")
  end)
  teardown(h.cleanup)

  it("reads the Dockerfile from stdin with -f - and the context from the directory", function()
    local status, _, err = h.cbuild(root, "build -q -t fstdin -f - " .. q(ctx),
      { stdin = "FROM scratch\nCOPY a.txt /x\n" })
    assert.are.equal(0, status, err)
    assert.are.same({ "x" }, files(root, "fstdin"))
  end)

  it("takes a Dockerfile on stdin as `-` without a context", function()
    local status, _, err = h.cbuild(root, "build -q -t nostdctx -", { stdin = "FROM scratch\nLABEL a=b\n" })
    assert.are.equal(0, status, err)
    assert.are.same({ a = "b" }, config(root, "nostdctx").Config.Labels)
    status, _, err = h.cbuild(root, "build -q -", { stdin = "FROM scratch\nCOPY a /\n" })
    assert.are.equal(1, status)
    assert.matches("Dockerfile:2:", err, 1, true)
  end)

  it("takes a tarball context on stdin or as a path, honouring its .dockerignore", function()
    local tar = h.tmpdir "tar" .. "/ctx.tar.gz"
    h.ok("tar -C " .. q(ctx) .. " -czf " .. q(tar) .. " .")
    local status, _, err = h.cbuild(root, "build -q -t tarpath " .. q(tar))
    assert.are.equal(0, status, err)
    local want = { ".dockerignore", "Dockerfile", "a.txt", "sub/", "sub/c.txt" }
    assert.are.same(want, files(root, "tarpath"))
    status, _, err = h.sh("cd " .. q(h.src) .. " && CBUILD_ROOT=" .. q(root) .. " " .. q(h.bin)
      .. " build -q -t tarstdin - < " .. q(tar))
    assert.are.equal(0, status, err)
    assert.are.same(want, files(root, "tarstdin"))
  end)

  it("prefers <Dockerfile>.dockerignore next to a Dockerfile given with -f", function()
    h.write(ctx .. "/build/app.Dockerfile", "FROM scratch\nCOPY . /\n")
    h.write(ctx .. "/build/app.Dockerfile.dockerignore", "*.txt\nbuild\n")
    local df = q(ctx .. "/build/app.Dockerfile")
    local status, _, err = h.cbuild(root, "build -q -t dfignore -f " .. df .. " " .. q(ctx))
    assert.are.equal(0, status, err)
    -- "*.txt" matches at the top only, as in docker
    assert.are.same({ ".dockerignore", "Dockerfile", "b.log", "sub/", "sub/c.txt" }, files(root, "dfignore"))
  end)

  it("refuses stdin for both the context and the Dockerfile", function()
    local status, _, err = h.cbuild(root, "build -f - -", { stdin = "" })
    assert.are.equal(1, status)
    assert.matches("can't use stdin for both build context and dockerfile", err, 1, true)
  end)

  it("runs the base image's ONBUILD triggers right after FROM", function()
    local base = h.tmpdir "onbuild"
    h.write(base .. "/Dockerfile", "FROM scratch\nONBUILD COPY a.txt /from-trigger\nONBUILD LABEL t=$V\n")
    local status, _, err = h.cbuild(root, "build -q -t onbase " .. q(base))
    assert.are.equal(0, status, err)
    assert.are.same({ "COPY a.txt /from-trigger", "LABEL t=$V" }, config(root, "onbase").Config.OnBuild)
    status, _, err = h.cbuild(root, "build -q -t onchild -f - " .. q(ctx),
      { stdin = "FROM onbase\nARG V=expanded\nENV E=1\n" })
    assert.are.equal(0, status, err)
    local cfg = config(root, "onchild").Config
    assert.is_nil(cfg.OnBuild)
    assert.are.same({ t = "" }, cfg.Labels) -- triggers run before the stage's own ARG
    assert.are.same({ "from-trigger" }, files(root, "onchild"))
  end)
end)
