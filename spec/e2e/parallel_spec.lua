-- Independent stages build side by side: each stage's RUN waits (up to 3 s) for a marker the
-- other writes into a shared cache mount, so the build only succeeds when they overlap.
local h = require "spec.helpers"
local q = h.quote

local function stage(me, other)
  return string.format("FROM busybox AS %s\nRUN --mount=type=cache,id=sync,target=/sync sh -c "
    .. "'touch /sync/%s; i=0; while [ $i -lt 30 ]; do [ -e /sync/%s ] && exit 0; sleep 0.1; i=$((i+1)); done; "
    .. "echo never saw %s; exit 1'\nRUN echo %s > /%s\n", me, me, other, other, me, me)
end

describe("the solver", function()
  teardown(h.cleanup)

  it("runs the RUN steps of independent stages at the same time", function()
    local root = h.tmpdir "parroot"
    h.ok(string.format("CBUILD_ROOT=%s %s/examples/busybox/make-busybox.sh %s busybox", q(root), q(h.src),
      q(h.bin)))
    local ctx = h.tmpdir "parctx"
    h.write(ctx .. "/Dockerfile", stage("a", "b") .. stage("b", "a")
      .. "FROM busybox\nCOPY --from=a /a /a\nCOPY --from=b /b /b\nRUN cat /a /b\n")
    local status, out, err = h.cbuild(root, "build -t par " .. q(ctx))
    assert.are.equal(0, status, out .. err)
    assert.matches("#%d+ [%d.]+ a\n#%d+ [%d.]+ b\n", err)
  end)

  it("runs them one at a time with --jobs 1 (the rendezvous then fails)", function()
    local root = h.tmpdir "parroot1"
    h.ok(string.format("CBUILD_ROOT=%s %s/examples/busybox/make-busybox.sh %s busybox", q(root), q(h.src),
      q(h.bin)))
    local ctx = h.tmpdir "parctx1"
    h.write(ctx .. "/Dockerfile", stage("a", "b") .. stage("b", "a") .. "FROM busybox\nCOPY --from=a /a /a\n"
      .. "COPY --from=b /b /b\n")
    local status, _, err = h.cbuild(root, "build --jobs 1 -t par " .. q(ctx))
    assert.are.equal(1, status)
    assert.matches("never saw", err, 1, true)
  end)

  it("runs an identical step reached through two stages once", function()
    local root = h.tmpdir "dedup"
    h.ok(string.format("CBUILD_ROOT=%s %s/examples/busybox/make-busybox.sh %s busybox", q(root), q(h.src),
      q(h.bin)))
    local ctx = h.tmpdir "dedupctx"
    local run = "RUN --mount=type=cache,id=count,target=/c sh -c 'echo x >> /c/n; sleep 1; wc -l < /c/n > /seen'\n"
    h.write(ctx .. "/Dockerfile", "FROM busybox AS a\n" .. run .. "FROM busybox AS b\n" .. run
      .. "FROM busybox\nCOPY --from=a /seen /a\nCOPY --from=b /seen /b\nRUN cat /a /b\n")
    local status, out, err = h.cbuild(root, "build --no-cache -t dedup " .. q(ctx))
    assert.are.equal(0, status, out .. err)
    assert.matches("#%d+ [%d.]+ 1\n#%d+ [%d.]+ 1\n", err) -- both stages saw the one run
  end)
end)
