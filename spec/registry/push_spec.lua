-- push paths beyond the plain upload: cross-repository mount, chunked PATCH upload, zstd layers,
-- an image cbuild pushed run by podman, pull.ensure, and the progress view on a terminal.
local h = require "spec.helpers"
local rh = require "spec.registry.helpers"

-- Requests the registry logged (its access log), e.g. count(r, "PATCH /v2/x/blobs/uploads/").
local function logged(r, pattern)
  local n = 0
  for line in h.read(r.log):gmatch "[^\n]+" do
    if line:find(pattern, 1, true) then
      n = n + 1
    end
  end
  return n
end

describe("registry push", function()
  local r, tar
  setup(function()
    r, tar = rh.start()
  end)
  teardown(function()
    rh.stop(r)
  end)

  it("mounts every blob from another repository of the same registry, sending no bytes", function()
    local root = h.tmpdir "root"
    rh.import_push(root, tar, r.host .. "/one/bb")
    assert.are.equal(0, (h.cbuild(root, "tag " .. r.host .. "/one/bb " .. r.host .. "/two/bb")))
    local uploads = logged(r, "PUT /v2/")
    local out = rh.push(root, r.host .. "/two/bb")
    assert.matches(": Mounted from one/bb", out, 1, true)
    assert.is_nil(out:find(": Pushed", 1, true))
    -- the second push PUT only its manifest: no blob upload
    assert.are.equal(uploads + 1, logged(r, "PUT /v2/"))
    assert.are.equal(0, logged(r, "PUT /v2/two/bb/blobs/uploads/"))
    assert.matches("mount=sha256", h.read(r.log), 1, true)
    local inspect = h.ok("skopeo inspect --tls-verify=false docker://" .. r.host .. "/two/bb")
    assert.matches('"Layers"', inspect, 1, true)
  end)

  it("push -a pushes every local tag of a repository, pull -a pulls every tag back", function()
    local root = h.tmpdir "alltags"
    rh.import(root, tar, r.host .. "/many/bb:one")
    for _, t in ipairs { "two", "three" } do
      assert.are.equal(0, (h.cbuild(root, "tag " .. r.host .. "/many/bb:one " .. r.host .. "/many/bb:" .. t)))
    end
    rh.push(root, r.host .. "/many/bb", "-a")
    local listed = h.ok("skopeo list-tags --tls-verify=false docker://" .. r.host .. "/many/bb")
    for _, t in ipairs { "one", "two", "three" } do
      assert.matches('"' .. t .. '"', listed)
    end
    local fresh = rh.pull_fresh(r.host .. "/many/bb", "-a")
    local _, names = h.cbuild(fresh, "images --format '{{.Tag}}'")
    assert.are.equal("one\nthree\ntwo\n", h.ok("printf %s " .. h.quote(names) .. " | sort"))
    local status, _, err = h.cbuild(root, "push -a " .. r.host .. "/many/bb:one")
    assert.are.equal(1, status)
    assert.matches("tag can't be used with --all-tags/-a", err, 1, true)
  end)

  it("build --push pushes the image it tagged", function()
    local root = h.tmpdir "buildpush"
    rh.import(root, tar, "busybox")
    local ctx = h.tmpdir "buildpushctx"
    h.write(ctx .. "/Dockerfile", "FROM busybox\nRUN echo pushed > /pushed\n")
    local status, out, err = h.cbuild(root, "build -q --push -t " .. r.host .. "/built/bb:v1 " .. h.quote(ctx))
    assert.are.equal(0, status, out .. err)
    local fresh = rh.pull_fresh(r.host .. "/built/bb:v1")
    local _, got = h.cbuild(fresh, "run --rm " .. r.host .. "/built/bb:v1 cat /pushed")
    assert.are.equal("pushed\n", got)
  end)

  it("uploads a blob over the chunk size in PATCH chunks (CBUILD_PUSH_CHUNK)", function()
    local root = h.tmpdir "root"
    local name = r.host .. "/chunked"
    rh.import_push(root, tar, name, "--compression none", { env = { CBUILD_PUSH_CHUNK = "65536" } })
    local size = tonumber(h.ok("stat -c %s " .. tar))
    -- the layer is the tar as imported (about 1 MiB+): many 64 KiB chunks
    assert.is_true(logged(r, "PATCH /v2/chunked/blobs/uploads/") >= math.floor(size / 65536) - 2)
    rh.pull_fresh(name)
    h.ok("skopeo copy --quiet --src-tls-verify=false docker://" .. name .. " oci:" .. h.tmpdir "sk" .. ":x")
  end)

  it("pushes zstd layers that skopeo reads", function()
    local root = h.tmpdir "root"
    local name = r.host .. "/zstd"
    rh.import_push(root, tar, name, "--compression zstd")
    local raw = h.ok("skopeo inspect --raw --tls-verify=false docker://" .. name)
    assert.matches("application/vnd.oci.image.layer.v1.tar+zstd", raw, 1, true)
    local inspect = h.ok("skopeo inspect --tls-verify=false docker://" .. name)
    assert.matches('"Os": "linux"', inspect, 1, true)
    local dir = h.tmpdir "skz"
    h.ok(string.format("skopeo copy --quiet --src-tls-verify=false docker://%s oci:%s:x", name, dir))
    rh.pull_fresh(name)
  end)

  it("pushes an image podman pulls and runs", function()
    if h.sh "command -v podman" ~= 0 then
      pending "podman is not installed"
      return
    end
    local root = h.tmpdir "root"
    local name = r.host .. "/runme"
    rh.import_push(root, tar, name)
    local proot = h.tmpdir "podman"
    local podman = string.format("podman --root %s/root --runroot %s/run --storage-driver vfs ", proot, proot)
    h.ok(podman .. "pull -q --tls-verify=false " .. name)
    local out = h.ok(podman .. "run --rm --net none " .. name .. " /bin/busybox echo hello from cbuild")
    assert.matches("hello from cbuild", out, 1, true)
    h.sh(podman .. "rmi -a -f >/dev/null 2>&1")
  end)

  it("ensure returns the local entry, or pulls the image when absent", function()
    local root = h.tmpdir "root"
    local name = r.host .. "/ensured"
    rh.import_push(root, tar, name)
    local images = require("cbuild.image.store").open(h.tmpdir "fresh")
    local pull = require "cbuild.registry.pull"
    local errors = require "cbuild.errors"
    local ok, e = pcall(pull.ensure, images, name, { pull = "never" })
    assert.is_false(ok)
    assert.is_true(errors.is(e))
    assert.matches("No such image", tostring(e), 1, true)
    local lines = {}
    local entry = pull.ensure(images, name, { out = function(l) lines[#lines + 1] = l end })
    assert.are.equal(name .. ":latest", entry.ref)
    assert.matches("^sha256:%x+$", entry.digest)
    assert.matches("Pull complete", table.concat(lines, "\n"), 1, true)
    -- present now: no registry needed, nothing printed
    lines = {}
    local again = pull.ensure(images, name, { out = function(l) lines[#lines + 1] = l end })
    assert.are.equal(entry.digest, again.digest)
    assert.are.same({}, lines)
    -- quiet without out
    local quiet = pull.ensure(require("cbuild.image.store").open(h.tmpdir "q"), name)
    assert.are.equal(entry.digest, quiet.digest)
  end)

  it("draws a line per layer on a terminal, redrawn with bytes done / total", function()
    if h.sh "command -v script" ~= 0 then
      pending "script(1) is not installed"
      return
    end
    local root = h.tmpdir "root"
    local name = r.host .. "/tty"
    rh.import(root, tar, name)
    local log = h.tmpdir "tty" .. "/typescript"
    h.ok(string.format("CBUILD_ROOT=%s script -qec %s %s >/dev/null", h.quote(root),
      h.quote(h.quote(h.bin) .. " push --compression none " .. name), h.quote(log)))
    local typed = h.read(log)
    assert.matches(": Preparing", typed, 1, true)
    assert.matches(": Pushed", typed, 1, true)
    assert.matches("\27[2K", typed, 1, true)
    local fresh = h.tmpdir "fresh"
    h.ok(string.format("CBUILD_ROOT=%s script -qec %s %s >/dev/null", h.quote(fresh),
      h.quote(h.quote(h.bin) .. " pull " .. name), h.quote(log)))
    typed = h.read(log)
    assert.matches(": Pull complete", typed, 1, true)
    assert.matches("Digest: sha256:", typed, 1, true)
    assert.matches("\27%[%d+A", typed) -- cursor up: lines redrawn in place
  end)
end)
