-- save/load/import round trips with podman: what podman saves, cbuild loads, and what cbuild
-- saves, podman loads and runs.
local h = require "spec.helpers"
local q = h.quote

local function has(cmd)
  return h.sh("command -v " .. cmd .. " >/dev/null") == 0
end

-- A busybox rootfs tarball from the busybox-static package.
local function busybox_tar(dir)
  h.ok(string.format([[set -e; r=%s/rootfs; mkdir -p $r/bin $r/etc $r/tmp
    cp /bin/busybox $r/bin/busybox
    for a in sh echo cat ls id true; do ln -sf busybox $r/bin/$a; done
    echo 'root:x:0:0:root:/root:/bin/sh' > $r/etc/passwd
    tar -C $r -czf %s/busybox.tar.gz .]], q(dir), q(dir)))
  return dir .. "/busybox.tar.gz"
end

describe("save, load and import", function()
  local root, dir
  setup(function()
    root = h.tmpdir "root"
    dir = h.tmpdir "io"
  end)
  teardown(h.cleanup)

  it("imports a gzip rootfs tarball as a one-layer image", function()
    local tgz = busybox_tar(dir)
    local status, out, err = h.cbuild(root, "import " .. q(tgz) .. " local/busybox:1")
    assert.are.equal(0, status, err)
    assert.matches("^sha256:%x+\n$", out)
    local _, hist = h.cbuild(root, "history local/busybox:1")
    assert.matches("Imported from", hist, 1, true)
    local _, layers = h.cbuild(root, "inspect --format '{{json .RootFS.Layers}}' local/busybox:1")
    local layer = layers:match "sha256:(%x+)"
    local listing = h.ok("tar -tf " .. q(root .. "/blobs/sha256/" .. layer))
    assert.matches("bin/busybox", listing, 1, true)
    assert.not_matches("^%./", listing) -- names are normalised
  end)

  it("loads what podman saves, in both formats, and podman runs what cbuild saves", function()
    if not has "podman" then
      pending "podman is not installed"
      return
    end
    local tgz = busybox_tar(dir)
    h.ok("podman rmi -f localhost/cbuild-spec:bb >/dev/null 2>&1 || true")
    h.ok("podman import -q " .. q(tgz) .. " localhost/cbuild-spec:bb >/dev/null")
    for _, fmt in ipairs { "docker-archive", "oci-archive" } do
      local ptar = dir .. "/podman-" .. fmt .. ".tar"
      h.ok("rm -f " .. q(ptar) .. " && podman save -q --format " .. fmt .. " -o " .. q(ptar)
        .. " localhost/cbuild-spec:bb")
      local status, out, err = h.cbuild(root, "load -i " .. q(ptar))
      assert.are.equal(0, status, fmt .. ": " .. out .. err)
      assert.matches("Loaded image", out, 1, true)
      local ctar = dir .. "/cbuild-" .. fmt .. ".tar"
      status, out, err = h.cbuild(root, "save --format " .. fmt .. " -o " .. q(ctar) .. " localhost/cbuild-spec:bb")
      assert.are.equal(0, status, fmt .. ": " .. out .. err)
      h.ok("podman rmi -f localhost/cbuild-spec:bb >/dev/null 2>&1 || true")
      h.ok("podman load -q -i " .. q(ctar))
      assert.are.equal("hi\n", h.ok("podman run --rm localhost/cbuild-spec:bb echo hi"))
    end
    h.ok("podman rmi -f localhost/cbuild-spec:bb >/dev/null 2>&1 || true")
  end)

  it("compresses layers on save when asked, and loads them back", function()
    local tgz = busybox_tar(dir)
    assert.are.equal(0, (h.cbuild(root, "import " .. q(tgz) .. " local/bb:z")))
    for _, c in ipairs { "gzip", "zstd" } do
      local tar = dir .. "/z-" .. c .. ".tar"
      local status, _, err = h.cbuild(root, "save --compression " .. c .. " -o " .. q(tar) .. " local/bb:z")
      assert.are.equal(0, status, err)
      local kind = h.ok("tar -xOf " .. q(tar) .. " --wildcards '*/layer.tar' | file -")
      assert.matches(c == "gzip" and "gzip" or "Zstandard", kind)
      local r2 = h.tmpdir "root2"
      status, _, err = h.cbuild(r2, "load -i " .. q(tar))
      assert.are.equal(0, status, err)
      local _, a = h.cbuild(root, "images -q local/bb:z")
      local _, b = h.cbuild(r2, "images -q local/bb:z")
      assert.are.equal(a, b)
    end
  end)

  it("refuses an archive whose layer does not match its config", function()
    local tgz = busybox_tar(dir)
    assert.are.equal(0, (h.cbuild(root, "import " .. q(tgz) .. " local/bb:bad")))
    local tar = dir .. "/bad.tar"
    assert.are.equal(0, (h.cbuild(root, "save -o " .. q(tar) .. " local/bb:bad")))
    local x = h.tmpdir "x"
    h.ok(string.format("cd %s && tar -xf %s && f=$(ls */layer.tar) && echo junk > junk && tar -rf $f junk"
      .. " && tar -cf %s/bad2.tar *", q(x), q(tar), q(dir)))
    local r2 = h.tmpdir "root3"
    local status, _, err = h.cbuild(r2, "load -i " .. q(dir .. "/bad2.tar"))
    assert.are.equal(1, status)
    assert.matches("its config says", err, 1, true)
  end)
end)
