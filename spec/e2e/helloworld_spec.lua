-- End to end: the hello-world tutorial (issue "Foundation"), built by the real cbuild binary,
-- read back by podman and skopeo.
local h = require "spec.helpers"
local q = h.quote

local function has(cmd)
  return h.sh("command -v " .. cmd .. " >/dev/null") == 0
end

describe("hello world from scratch", function()
  local root, ctx
  setup(function()
    root = h.tmpdir "root"
    ctx = h.helloworld_context()
  end)
  teardown(h.cleanup)

  it("builds, lists and shows history like docker", function()
    local status, out, err = h.cbuild(root, "build -t yujiang/helloworld " .. q(ctx))
    assert.are.equal(0, status, out .. err)
    assert.matches("naming to docker.io/yujiang/helloworld:latest", err, 1, true)

    local _, images = h.cbuild(root, "images")
    local header, row = images:match "^([^\n]*)\n([^\n]*)"
    assert.matches("^REPOSITORY%s+TAG%s+IMAGE ID%s+CREATED%s+SIZE$", header)
    local repo, tag, id, size = row:match "^(%S+)%s+(%S+)%s+(%x+)%s+.-%s+(%S+)$"
    assert.are.equal("yujiang/helloworld", repo)
    assert.are.equal("latest", tag)
    assert.are.equal(12, #id)
    local binsize = #h.read(ctx .. "/helloworld")
    local kb = tonumber(size:match "^([%d.]+)kB$")
    assert.is_truthy(kb, "size " .. size)
    assert.is_true(math.abs(kb * 1000 - binsize) < 10000, size .. " vs " .. binsize)

    local _, hist = h.cbuild(root, "history yujiang/helloworld")
    local lines = {}
    for l in hist:gmatch "[^\n]+" do
      lines[#lines + 1] = l
    end
    assert.are.equal(3, #lines, hist)
    assert.matches('CMD %["/helloworld"%]%s+0B', lines[2])
    assert.matches("ADD helloworld / # buildkit%s+%d+kB", lines[3])
  end)

  it("writes the layer bytes: one file, the binary, at /helloworld", function()
    local _, out = h.cbuild(root, "inspect --format '{{json .RootFS.Layers}}' yujiang/helloworld")
    local layer = out:match "sha256:(%x+)"
    local listing = h.ok("tar -tvf " .. q(root .. "/blobs/sha256/" .. layer))
    assert.matches("^%-rwx.- 0/0%s+%d+ .- helloworld\n$", listing)
    local bytes = h.ok("tar -xOf " .. q(root .. "/blobs/sha256/" .. layer) .. " helloworld | sha256sum")
    assert.are.equal(h.ok("sha256sum < " .. q(ctx .. "/helloworld")), bytes)
  end)

  it("has the config docker gives it", function()
    local _, out = h.cbuild(root, "inspect --format '{{json .Config}}' yujiang/helloworld")
    local json = require "cbuild.core.json"
    local cfg = json.decode(out)
    assert.are.same({ "/helloworld" }, cfg.Cmd)
    assert.are.same({ "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" }, cfg.Env)
  end)

  it("is read by skopeo straight from the store", function()
    if not has "skopeo" then
      pending "skopeo is not installed"
      return
    end
    local out = h.ok("skopeo inspect --config oci:" .. q(root) .. ":docker.io/yujiang/helloworld:latest")
    assert.matches('"/helloworld"', out, 1, true)
  end)

  it("runs in podman after save --format docker-archive (and oci-archive)", function()
    if not has "podman" then
      pending "podman is not installed"
      return
    end
    for _, fmt in ipairs { "docker-archive", "oci-archive" } do
      local tar = root .. "/../h-" .. fmt .. ".tar"
      local status, out, err = h.cbuild(root, "save --format " .. fmt .. " -o " .. q(tar) .. " yujiang/helloworld")
      assert.are.equal(0, status, out .. err)
      h.ok("podman rmi -f docker.io/yujiang/helloworld >/dev/null 2>&1 || true")
      h.ok("podman load -q -i " .. q(tar))
      assert.are.equal("hello world!\n", h.ok("podman run --rm docker.io/yujiang/helloworld"))
    end
    h.ok("podman rmi -f docker.io/yujiang/helloworld >/dev/null 2>&1 || true")
  end)

  it("gives the same image ID twice with SOURCE_DATE_EPOCH, from two copies of the context", function()
    -- a fresh clone has fresh mtimes: any time after the epoch is clamped to it
    local ctx2 = h.tmpdir "hello2"
    h.ok("cp -a " .. q(ctx) .. "/. " .. q(ctx2) .. " && touch -d '2024-06-01' " .. q(ctx2) .. "/helloworld")
    h.ok("touch " .. q(ctx) .. "/helloworld")
    local ids = {}
    for i, c in ipairs { ctx, ctx2 } do
      local r = h.tmpdir "repro"
      local status, out, err = h.cbuild(r, "build -q -t repro " .. q(c), { env = { SOURCE_DATE_EPOCH = "1700000000" } })
      assert.are.equal(0, status, err)
      ids[i] = out
    end
    assert.matches("^sha256:%x+\n$", ids[1])
    assert.are.equal(ids[1], ids[2])
  end)

  it("reuses the cache on a second build: same image ID, CACHED", function()
    local _, id1 = h.cbuild(root, "build -q " .. q(ctx))
    local status, out, err = h.cbuild(root, "build " .. q(ctx))
    assert.are.equal(0, status, err)
    assert.matches("CACHED", err, 1, true)
    local _, id2 = h.cbuild(root, "build -q " .. q(ctx))
    assert.are.equal(id1, id2, out)
  end)
end)
