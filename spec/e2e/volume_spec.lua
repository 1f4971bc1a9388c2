-- volume create/ls/inspect/rm/prune: docker's named volumes under <root>/volumes.
local h = require "spec.helpers"
local json = require "cbuild.core.json"

local root

local function ok(args)
  local status, out, err = h.cbuild(root, args)
  assert.are.equal(0, status, out .. err)
  return out
end

describe("volume", function()
  setup(function()
    root = h.tmpdir "volroot"
  end)
  teardown(h.cleanup)

  it("creates named and anonymous volumes, lists, filters and inspects them", function()
    assert.are.equal("data\n", ok "volume create data")
    assert.are.equal("data\n", ok "volume create data") -- as docker: an existing one is fine
    assert.are.equal("tagged\n", ok "volume create --label tier=db --name tagged")
    local anon = ok("volume create"):gsub("\n$", "")
    assert.matches("^%x+$", anon)
    assert.are.equal("DRIVER    VOLUME NAME\nlocal     " .. anon .. "\nlocal     data\nlocal     tagged\n",
      ok "volume ls")
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
end)
