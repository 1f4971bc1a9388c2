-- The store survives kill -9 of a build at any moment: the next command works and no blob has
-- the wrong content for its name.
local h = require "spec.helpers"
local q = h.quote

describe("kill -9 during a build", function()
  teardown(h.cleanup)

  it("leaves a consistent store", function()
    local root = h.tmpdir "root"
    local ctx = h.tmpdir "ctx"
    -- big enough that the build takes a while: 64 MiB in a few files
    h.ok(string.format("cd %s && for i in 1 2 3 4; do head -c 16M /dev/urandom > f$i; done", q(ctx)))
    h.write(ctx .. "/Dockerfile", "FROM scratch\nCOPY . /data/\nCMD [\"/x\"]\n")
    for _, delay in ipairs { "0.05", "0.15", "0.3", "0.5" } do
      h.sh(string.format("cd %s && (CBUILD_ROOT=%s %s build -t crash %s >/dev/null 2>&1 & pid=$!; "
        .. "sleep %s; kill -9 $pid; wait $pid)", q(h.src), q(root), q(h.bin), q(ctx), delay))
      assert.are.same({}, h.bad_blobs(root))
      local status, _, err = h.cbuild(root, "images")
      assert.are.equal(0, status, err)
    end
    local status, _, err = h.cbuild(root, "build -t crash " .. q(ctx))
    assert.are.equal(0, status, err)
    assert.are.same({}, h.bad_blobs(root))
    local _, out = h.cbuild(root, "images -q crash")
    assert.matches("^%x+\n$", out)
  end)
end)
