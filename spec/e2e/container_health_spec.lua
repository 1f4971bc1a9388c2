-- Health checks: HEALTHCHECK and run's --health-* flags, probed inside the running container by
-- its checker process; ps and inspect show starting / healthy / unhealthy as docker does.
local h = require "spec.helpers"
local json = require "cbuild.core.json"
local q = h.quote

local root, ok


local function health(name)
  return json.decode(ok("inspect -f '{{json .State.Health}}' " .. name))
end

local function status_of(name)
  return ok("ps -a --filter name=" .. name .. " --format '{{.Status}}'")
end

describe("health checks", function()
  setup(function()
    root = h.tmpdir "healthroot"
    ok = h.must(root)
    h.import_busybox(root)
  end)
  teardown(function()
    h.cbuild(root, "rm -f probed fromimage off")
    h.cleanup()
  end)

  it("--health-cmd: starting, unhealthy after the retries, healthy once it passes", function()
    ok "run -d --name probed --health-cmd 'test -e /tmp/ok' --health-interval 100ms --health-retries 2 busybox sleep 60"
    assert.matches("%(health: starting%)", status_of "probed")
    assert.is_true(h.wait_for(function()
      return health("probed").Status == "unhealthy"
    end, 100))
    assert.matches("%(unhealthy%)", status_of "probed")
    local hs = health "probed"
    assert.is_true(hs.FailingStreak >= 2)
    assert.are.equal(1, hs.Log[#hs.Log].ExitCode)
    ok "exec probed touch /tmp/ok"
    assert.is_true(h.wait_for(function()
      return health("probed").Status == "healthy"
    end, 100))
    assert.matches("Up .* %(healthy%)", status_of "probed")
    assert.is_true(#health("probed").Log <= 5)
    local id = ok("inspect -f '{{.Id}}' probed"):gsub("\n$", "")
    assert.are.equal(0, (h.sh("pgrep -f '[_]health " .. id .. "'"))) -- its checker runs...
    ok "rm -f probed"
    assert.is_true(h.wait_for(function() -- ...and ends with it
      return h.sh("pgrep -f '[_]health " .. id .. "'") == 1
    end))
  end)

  it("runs the image's HEALTHCHECK, keeps its output, and --no-healthcheck turns it off", function()
    local ctx = h.tmpdir "healthctx"
    h.write(ctx .. "/Dockerfile", "FROM busybox\nHEALTHCHECK --interval=100ms --timeout=2s CMD echo fine\n")
    ok("build -q -t withcheck " .. q(ctx))
    ok "run -d --name fromimage withcheck sleep 60"
    assert.is_true(h.wait_for(function()
      return health("fromimage").Status == "healthy"
    end, 100))
    assert.are.equal("fine\n", health("fromimage").Log[1].Output)
    ok "run -d --name off --no-healthcheck withcheck sleep 60"
    assert.are.equal("null\n", ok "inspect -f '{{json .State.Health}}' off")
    assert.matches("^Up [^%(]*\n$", status_of "off")
  end)

  it("a probe that overruns its timeout counts as a failure", function()
    ok("run -d --name slow --health-cmd 'sleep 5' --health-interval 100ms --health-timeout 200ms "
      .. "--health-retries 1 busybox sleep 60")
    assert.is_true(h.wait_for(function()
      return health("slow").Status == "unhealthy"
    end, 100))
    local last = health("slow").Log[1]
    assert.are.equal(-1, last.ExitCode)
    assert.matches("exceeded timeout", last.Output)
    ok "rm -f slow"
  end)
end)
