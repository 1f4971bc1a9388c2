-- volume create/ls/inspect/rm/prune: docker's named volumes under <root>/volumes.
local h = require "spec.helpers"
local json = require "cbuild.core.json"
local q = h.quote

local root, ok


describe("volume", function()
  setup(function()
    root = h.tmpdir "volroot"
    ok = h.must(root)
  end)
  teardown(h.cleanup)

  it("creates named and anonymous volumes, lists, filters and inspects them", function()
    assert.are.equal("data\n", ok "volume create data")
    assert.are.equal("data\n", ok "volume create data") -- as docker: an existing one is fine
    assert.are.equal("tagged\n", ok "volume create --label tier=db --name tagged")
    local anon = ok("volume create"):gsub("\n$", "")
    assert.matches("^%x+$", anon)
    local listed = ok "volume ls"
    assert.matches("^DRIVER    VOLUME NAME\n", listed)
    for _, name in ipairs { anon, "data", "tagged" } do
      assert.matches("\nlocal     " .. name .. "\n", listed, 1, true)
    end
    assert.are.equal("tagged\n", ok "volume ls -q -f label=tier=db")
    assert.are.equal("data\n", ok "volume ls -q -f name=dat")
    local v = json.decode(ok "volume inspect tagged")[1]
    assert.are.equal("local", v.Driver)
    assert.are.equal("db", v.Labels.tier)
    assert.are.equal(root .. "/volumes/tagged/_data", v.Mountpoint)
    assert.are.equal(root .. "/volumes/data/_data\n", ok "volume inspect -f '{{.Mountpoint}}' data")
  end)

  it("refuses bad names and missing volumes in docker's words", function()
    local status, _, err = h.cbuild(root, "volume create 'a b'")
    assert.are.equal(1, status)
    assert.matches('includes invalid characters for a local volume name', err, 1, true)
    status, _, err = h.cbuild(root, "volume rm nope")
    assert.are.equal(1, status)
    assert.matches("no such volume", err, 1, true)
    assert.are.equal(0, (h.cbuild(root, "volume rm -f nope")))
  end)

  it("prune removes unused anonymous volumes; -a every unused one", function()
    local out = ok "volume prune -f"
    assert.matches("Deleted Volumes:\n%x+\n", out)
    assert.are.equal("data\ntagged\n", ok "volume ls -q")
    ok "volume prune -a -f"
    assert.are.equal("", ok "volume ls -q")
  end)

  describe("mounted into containers", function()
    setup(function()
      h.import_busybox(root)
    end)

    it("-v NAME:PATH keeps files across containers, made on first use; :ro is read-only", function()
      ok "run --rm -v keep:/data busybox sh -c 'echo kept > /data/f'"
      assert.are.equal("kept\n", ok "run --rm -v keep:/data:ro busybox cat /data/f")
      local status, _, err = h.cbuild(root, "run --rm -v keep:/data:ro busybox touch /data/g")
      assert.are.equal(1, status)
      assert.matches("Read%-only file system", err)
      ok "run --name insp -v keep:/data busybox true"
      local m = json.decode(ok "inspect -f '{{json .Mounts}}' insp")
      assert.are.equal("volume", m[1].Type)
      assert.are.equal("keep", m[1].Name)
      assert.are.equal(root .. "/volumes/keep/_data", m[1].Source)
      status = h.cbuild(root, "volume rm keep")
      assert.are.equal(1, status) -- in use by the stopped container
      ok "rm insp"
      ok "volume rm keep"
    end)

    it("copies the image's files into an empty volume, unless nocopy", function()
      local ctx = h.tmpdir "seedctx"
      h.write(ctx .. "/Dockerfile", "FROM busybox\nRUN mkdir /seed && echo a > /seed/a && echo b > /seed/b "
        .. "&& chmod 0750 /seed && chown 7:8 /seed\n")
      ok("build -q -t seeded " .. q(ctx))
      assert.are.equal("a\nb\n", ok "run --rm --mount type=volume,src=seed,dst=/seed seeded ls /seed")
      assert.are.same({ "a", "b" }, h.listdir(root .. "/volumes/seed/_data"))
      assert.are.equal("750 7:8\n", h.ok("stat -c '%a %u:%g' " .. q(root .. "/volumes/seed/_data")))
      assert.are.equal("", ok "run --rm -v bare:/seed:nocopy seeded ls /seed")
    end)

    it("gives an image's VOLUME an anonymous volume, removed by rm -v and by --rm", function()
      local ctx = h.tmpdir "volctx"
      h.write(ctx .. "/Dockerfile", "FROM busybox\nRUN mkdir /state && echo seed > /state/s\nVOLUME /state\n")
      ok("build -q -t withvol " .. q(ctx))
      local before = #h.listdir(root .. "/volumes")
      assert.are.equal("seed\n", ok "run --name av withvol sh -c 'cat /state/s; echo more > /state/m'")
      assert.are.equal(before + 1, #h.listdir(root .. "/volumes"))
      ok "rm -v av"
      assert.are.equal(before, #h.listdir(root .. "/volumes"))
      ok "run --rm withvol true"
      assert.are.equal(before, #h.listdir(root .. "/volumes"))
    end)

    it("--mount type=bind and type=tmpfs", function()
      local dir = h.tmpdir "bindsrc"
      h.write(dir .. "/x", "bound\n")
      assert.are.equal("bound\n", ok("run --rm --mount type=bind,source=" .. q(dir) .. ",target=/b,readonly "
        .. "busybox cat /b/x"))
      assert.matches("tmpfs on /t type tmpfs", ok "run --rm --mount type=tmpfs,target=/t busybox mount")
      local status, _, err = h.cbuild(root, "run --rm --mount type=bind,source=/no/such,target=/b busybox true")
      assert.are.equal(125, status)
      assert.matches("bind source path does not exist: /no/such", err, 1, true)
    end)
  end)
end)
