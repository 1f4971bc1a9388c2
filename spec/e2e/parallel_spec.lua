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
    h.import_busybox(root)
    local ctx = h.tmpdir "parctx"
    h.write(ctx .. "/Dockerfile", stage("a", "b") .. stage("b", "a")
      .. "FROM busybox\nCOPY --from=a /a /a\nCOPY --from=b /b /b\nRUN cat /a /b\n")
    local status, out, err = h.cbuild(root, "build -t par " .. q(ctx))
    assert.are.equal(0, status, out .. err)
    assert.matches("#%d+ [%d.]+ a\n#%d+ [%d.]+ b\n", err)
  end)

  it("runs them one at a time with --jobs 1 (the rendezvous then fails)", function()
    local root = h.tmpdir "parroot1"
    h.import_busybox(root)
    local ctx = h.tmpdir "parctx1"
    h.write(ctx .. "/Dockerfile", stage("a", "b") .. stage("b", "a") .. "FROM busybox\nCOPY --from=a /a /a\n"
      .. "COPY --from=b /b /b\n")
    local status, _, err = h.cbuild(root, "build --jobs 1 -t par " .. q(ctx))
    assert.are.equal(1, status)
    assert.matches("never saw", err, 1, true)
  end)

  it("runs an identical step reached through two stages once", function()
    local root = h.tmpdir "dedup"
    h.import_busybox(root)
    local ctx = h.tmpdir "dedupctx"
    local run = "RUN --mount=type=cache,id=count,target=/c sh -c 'echo x >> /c/n; sleep 1; wc -l < /c/n > /seen'\n"
    h.write(ctx .. "/Dockerfile", "FROM busybox AS a\n" .. run .. "FROM busybox AS b\n" .. run
      .. "FROM busybox\nCOPY --from=a /seen /a\nCOPY --from=b /seen /b\nRUN cat /a /b\n")
    local status, out, err = h.cbuild(root, "build --no-cache -t dedup " .. q(ctx))
    assert.are.equal(0, status, out .. err)
    assert.matches("#%d+ [%d.]+ 1\n#%d+ [%d.]+ 1\n", err) -- both stages saw the one run
  end)

  describe("cache mount sharing", function()
    -- Two stages whose steps use one cache mount at the same time: each claims it with a
    -- mkdir, so a step that finds the other inside exits 3.
    local function claim(sharing)
      local df = {}
      for _, me in ipairs { "a", "b" } do
        df[#df + 1] = string.format("FROM busybox AS %s\nRUN --mount=type=cache,id=claim,target=/c,sharing=%s "
          .. "sh -c 'mkdir /c/busy || exit 3; echo %s > /c/who; sleep 0.6; rmdir /c/busy' && echo %s > /%s\n",
          me, sharing, me, me, me)
      end
      df[#df + 1] = "FROM busybox\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n"
      local root = h.tmpdir "sharing"
      h.import_busybox(root)
      local ctx = h.tmpdir "sharingctx"
      h.write(ctx .. "/Dockerfile", table.concat(df))
      local status, out, err = h.cbuild(root, "build -t sharing " .. q(ctx))
      return status, out .. err, root
    end

    it("shared lets both steps in at once", function()
      local status, log = claim "shared"
      assert.are.equal(1, status, log)
      assert.matches("exited with code 3", log, 1, true)
    end)

    it("locked makes the second step wait for the first", function()
      local status, log = claim "locked"
      assert.are.equal(0, status, log)
    end)

    it("private gives the second step an instance of its own, kept for later builds", function()
      local status, log, root = claim "private"
      assert.are.equal(0, status, log)
      assert.are.equal(2, #h.listdir(root .. "/cache/mounts"))
    end)
  end)
end)
