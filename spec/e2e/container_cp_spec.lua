-- cp and export: files between containers (running or stopped) and the host with docker cp's
-- placement rules, tar streams on stdin/stdout, and nothing written outside the container.
local h = require "spec.helpers"
local q = h.quote

local root, out

local function cb(args)
  return h.cbuild(root, args)
end

local function ok(args)
  local status, o, err = cb(args)
  assert.are.equal(0, status, o .. err)
  return o
end

describe("cp", function()
  setup(function()
    root = h.tmpdir "cproot"
    h.import_busybox(root)
    ok("run --name files busybox sh -c 'mkdir -p /data/sub && echo hi > /data/a && echo deep > /data/sub/b "
      .. "&& ln -s /etc/passwd /data/link && ln -s / /data/up && chown 1234:5678 /data/a'")
  end)
  before_each(function()
    out = h.tmpdir "cpout"
  end)
  teardown(function()
    cb "rm -f files live"
    h.cleanup()
  end)

  it("copies a directory out: into an existing dir under its name, or as a new dir", function()
    ok("cp files:/data " .. q(out))
    assert.are.equal("hi\n", h.read(out .. "/data/a"))
    assert.are.equal("deep\n", h.read(out .. "/data/sub/b"))
    assert.are.equal("/etc/passwd", h.ok("readlink " .. q(out .. "/data/link")):gsub("\n$", ""))
    ok("cp files:/data " .. q(out .. "/fresh"))
    assert.are.equal("hi\n", h.read(out .. "/fresh/a"))
  end)

  it("copies a directory's contents with SRC/. and a file to a new name", function()
    ok("cp files:/data/. " .. q(out))
    assert.are.equal("deep\n", h.read(out .. "/sub/b"))
    ok("cp files:/data/a " .. q(out .. "/renamed"))
    assert.are.equal("hi\n", h.read(out .. "/renamed"))
    assert.are.equal("0:0\n", h.ok("stat -c %u:%g " .. q(out .. "/renamed")))
  end)

  it("keeps owners with -a", function()
    ok("cp -a files:/data/a " .. q(out .. "/owned"))
    assert.are.equal("1234:5678\n", h.ok("stat -c %u:%g " .. q(out .. "/owned")))
  end)

  it("refuses what docker refuses, in one line", function()
    local status, _, err = cb("cp files:/nope " .. q(out))
    assert.are.equal(1, status)
    assert.are.equal("cbuild: error: No such container:path: files:/nope\n", err)
    h.write(out .. "/plain", "x")
    status, _, err = cb("cp files:/data " .. q(out .. "/plain"))
    assert.are.equal(1, status)
    assert.matches("cannot copy a directory to a file", err, 1, true)
    status, _, err = cb("cp files:/data/a " .. q(out .. "/missing/"))
    assert.are.equal(1, status)
    assert.matches("must exist", err, 1, true)
  end)

  it("copies into a stopped container and a running one", function()
    h.write(out .. "/note", "from the host\n")
    ok("cp " .. q(out .. "/note") .. " files:/data/")
    ok "run -d --name live busybox sleep 30"
    ok("cp " .. q(out .. "/note") .. " live:/tmp/got")
    assert.are.equal("from the host\n", ok "exec live cat /tmp/got")
    assert.matches("\ndata/note\n", "\n" .. ok "export files | tar t")
  end)

  it("never writes outside the container through its symlinks", function()
    h.write(out .. "/escape", "x")
    ok("cp " .. q(out .. "/escape") .. " files:/data/up/tmp/")
    assert.is_nil(io.open("/tmp/escape"))
    ok("cp files:/tmp/escape " .. q(out .. "/back")) -- it landed in the container's /tmp
    assert.are.equal("x", h.read(out .. "/back"))
  end)

  it("streams a tar with -", function()
    local status, o = cb("cp files:/data/sub - | tar t | sort")
    assert.are.equal(0, status)
    assert.are.equal("sub/\nsub/b\n", o)
    h.ok("mkdir -p " .. q(out .. "/t") .. " && echo streamed > " .. q(out .. "/t/s"))
    h.ok("tar -C " .. q(out .. "/t") .. " -cf " .. q(out .. "/in.tar") .. " s")
    status = cb("cp - files:/tmp < " .. q(out .. "/in.tar"))
    assert.are.equal(0, status)
    ok("cp files:/tmp/s " .. q(out .. "/s"))
    assert.are.equal("streamed\n", h.read(out .. "/s"))
  end)
end)

describe("export", function()
  it("writes the container's merged filesystem as a tar", function()
    local r = h.tmpdir "exproot"
    h.import_busybox(r)
    local status, o, err = h.cbuild(r, "run --name ex busybox sh -c 'echo mine > /mine && rm /bin/vi'")
    assert.are.equal(0, status, o .. err)
    local file = h.tmpdir "expout" .. "/ex.tar"
    status, o, err = h.cbuild(r, "export -o " .. q(file) .. " ex")
    assert.are.equal(0, status, o .. err)
    local list = "\n" .. h.ok("tar tf " .. q(file))
    assert.matches("\nmine\n", list)
    assert.matches("\nbin/busybox\n", list)
    assert.not_matches("\nbin/vi\n", list)
    assert.are.equal("mine\n", h.ok("tar xOf " .. q(file) .. " mine"))
    h.cbuild(r, "rm ex")
  end)
end)
