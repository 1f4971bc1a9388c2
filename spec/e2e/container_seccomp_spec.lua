-- docker's default seccomp profile on the real kernel: containers, exec'ed processes and RUN
-- steps are filtered (no user namespaces, Seccomp: 2), --security-opt seccomp=unconfined,
-- --privileged and RUN --security=insecure go without, and a docker JSON profile is applied.
local h = require "spec.helpers"
local q = h.quote

local root, ok

local function cb(args)
  return h.cbuild(root, args)
end

local function build(dockerfile)
  local ctx = h.tmpdir "ctx"
  h.write(ctx .. "/Dockerfile", dockerfile)
  return cb("build --progress=plain --no-cache " .. q(ctx))
end

local function wait_for(f)
  for _ = 1, 100 do
    if f() then
      return true
    end
    h.sh "sleep 0.05"
  end
  return false
end

setup(function()
  root = h.tmpdir "seccomp"
  ok = h.must(root)
  h.import_busybox(root)
end)

teardown(h.cleanup)

describe("docker's default seccomp profile", function()
  it("refuses a user namespace in a container, as docker does", function()
    local status, _, err = cb "run --rm --network none busybox unshare -U id"
    assert.are.equal(1, status)
    assert.matches("Operation not permitted", err, 1, true)
  end)

  it("shows as a filter in /proc/self/status", function()
    assert.matches("Seccomp:%s+2\n", ok "run --rm --network none busybox cat /proc/self/status")
  end)

  it("keeps compiled filters in the store's cache", function()
    ok "run --rm --network none busybox true"
    assert.is_true(#h.listdir(root .. "/cache/seccomp") >= 1)
  end)

  it("lets a normal workload run: a shell, files, sockets and a web server", function()
    local script = "ls / >/dev/null && mkdir -p /tmp/d && echo hi > /tmp/d/f && cat /tmp/d/f && "
      .. "(httpd -f -p 127.0.0.1:8080 -h /tmp/d &) && sleep 0.3 && wget -qO- 127.0.0.1:8080/f"
    local out = ok("run --rm --network none busybox sh -c " .. q(script))
    assert.are.equal("hi\nhi\n", out)
  end)

  it("is off with --security-opt seccomp=unconfined and with --privileged", function()
    local out = ok("run --rm --network none --security-opt seccomp=unconfined busybox sh -c "
      .. q "unshare -U id && grep Seccomp: /proc/self/status")
    assert.matches("uid=", out, 1, true)
    assert.matches("Seccomp:%s+0", out)
    assert.matches("Seccomp:%s+0",
      ok "run --rm --network none --privileged busybox grep Seccomp: /proc/self/status")
    assert.matches("uid=", ok "run --rm --network none --privileged busybox unshare -U id", 1, true)
  end)

  it("follows the capabilities: CAP_SYS_ADMIN allows unshare", function()
    assert.matches("uid=", ok "run --rm --network none --cap-add SYS_ADMIN busybox unshare -U id", 1, true)
  end)

  it("filters processes started with exec", function()
    ok "run -d --name filtered --network none busybox sleep 60"
    local _ <close> = setmetatable({}, { __close = function()
      cb "rm -f filtered"
    end })
    assert.is_true(wait_for(function()
      return (cb "exec filtered true") == 0
    end))
    assert.matches("Seccomp:%s+2", ok "exec filtered grep Seccomp: /proc/self/status")
    local status, _, err = cb "exec filtered unshare -U id"
    assert.are.equal(1, status)
    assert.matches("Operation not permitted", err, 1, true)
  end)

  it("is kept by a created container, whose exec'ed processes get it too", function()
    ok "create --name unconf --network none --security-opt seccomp=unconfined busybox sleep 60"
    local _ <close> = setmetatable({}, { __close = function()
      cb "rm -f unconf"
    end })
    assert.matches("seccomp=unconfined", ok "inspect -f '{{.HostConfig.SecurityOpt}}' unconf", 1, true)
    ok "start unconf"
    assert.is_true(wait_for(function()
      return (cb "exec unconf true") == 0
    end))
    assert.matches("Seccomp:%s+0", ok "exec unconf grep Seccomp: /proc/self/status")
  end)
end)

describe("--security-opt", function()
  it("applies a docker JSON profile: one that refuses mkdir", function()
    local dir = h.tmpdir "profile"
    h.write(dir .. "/p.json", [[{
      "defaultAction": "SCMP_ACT_ALLOW",
      "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}],
      "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]
    }]])
    local status, _, err = cb("run --rm --network none --security-opt seccomp=" .. q(dir .. "/p.json")
      .. " busybox mkdir /made")
    assert.are.equal(1, status)
    assert.matches("Operation not permitted", err, 1, true)
    -- the default action allows what the profile does not name
    assert.matches("uid=", ok("run --rm --network none --security-opt seccomp=" .. q(dir .. "/p.json")
      .. " busybox unshare -U id"), 1, true)
  end)

  it("reports a missing or broken profile and unknown options with 125", function()
    local status, _, err = cb "run --rm --security-opt seccomp=/no/such.json busybox true"
    assert.are.equal(125, status)
    assert.matches("opening seccomp profile (/no/such.json) failed", err, 1, true)
    local dir = h.tmpdir "bad"
    h.write(dir .. "/bad.json", '{"defaultAction": "SCMP_ACT_NOPE"}')
    status, _, err = cb("run --rm --network none --security-opt seccomp=" .. q(dir .. "/bad.json") .. " busybox true")
    assert.are.equal(125, status)
    assert.matches("SCMP_ACT_NOPE", err, 1, true)
    status, _, err = cb "run --rm --security-opt bogus busybox true"
    assert.are.equal(125, status)
    assert.matches('Invalid --security-opt: "bogus"', err, 1, true)
  end)

  it("accepts no-new-privileges (always set)", function()
    assert.matches("NoNewPrivs:%s+1",
      ok "run --rm --network none --security-opt no-new-privileges busybox cat /proc/self/status")
  end)
end)

describe("RUN steps", function()
  it("get docker's default profile, as BuildKit's", function()
    local status, out, err = build "FROM busybox\nRUN grep Seccomp: /proc/self/status && unshare -U id\n"
    assert.are_not.equal(0, status)
    assert.matches("Seccomp:%s+2", out .. err)
    assert.matches("Operation not permitted", out .. err, 1, true)
  end)

  it("go without it with RUN --security=insecure", function()
    local status, out, err =
      build "FROM busybox\nRUN --security=insecure grep Seccomp: /proc/self/status && unshare -U id\n"
    assert.are.equal(0, status, err)
    assert.matches("Seccomp:%s+0", out .. err)
  end)
end)
