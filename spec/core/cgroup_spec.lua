-- require "cbuild.core.cgroup": layouts (v1, v2, hybrid), fake v2 trees, and the real kernel.
local cgroup = require "cbuild.core.cgroup"

local FIX = "spec/fixtures/cgroup"

local function slurp(path)
  local f = assert(io.open(path))
  local s = f:read "a"
  f:close()
  return s
end

local function src(dir, prefix)
  return {
    mountinfo = slurp(dir .. "/mountinfo"),
    proc_cgroup = slurp(dir .. "/cgroup"),
    prefix = prefix or dir,
  }
end

local function tmpcopy(dir)
  local tmp = os.tmpname()
  os.remove(tmp)
  assert(os.execute(("cp -r '%s' '%s'"):format(dir, tmp)))
  return tmp
end

local function trim(s)
  return (s:gsub("%s+$", ""))
end

describe("cbuild.core.cgroup layout", function()
  it("reads this machine's layout", function()
    local l = assert(cgroup.layout())
    assert.is_truthy(({ v1 = true, v2 = true, hybrid = true })[l.mode])
    assert.is_true(#l.hierarchies > 0)
    for name, c in pairs(l.controllers) do
      assert.is_string(name)
      assert.is_truthy(c.version == 1 or c.version == 2)
      assert.is_string(c.path)
    end
  end)

  it("finds each controller where it lives in a hybrid layout", function()
    local l = assert(cgroup.layout(src(FIX .. "/hybrid")))
    assert.are.equal("hybrid", l.mode)
    assert.are.equal(1, l.controllers.memory.version)
    assert.are.equal(FIX .. "/hybrid/sys/fs/cgroup/memory", l.controllers.memory.path)
    assert.are.equal("/process_api/session-1", l.controllers.memory.self)
    assert.are.equal(1, l.controllers.pids.version)
    assert.are.equal(2, l.controllers.hugetlb.version)
    assert.are.equal(FIX .. "/hybrid/sys/fs/cgroup/unified", l.controllers.hugetlb.path)
  end)

  it("reads a pure v2 layout from its root's cgroup.controllers", function()
    local l = assert(cgroup.layout(src(FIX .. "/v2")))
    assert.are.equal("v2", l.mode)
    assert.are.equal(1, #l.hierarchies)
    assert.are.same({ "cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc" },
      l.hierarchies[1].controllers)
    assert.are.equal("/user.slice/user-1000.slice/session-2.scope", l.hierarchies[1].self)
    for _, c in ipairs { "memory", "cpu", "cpuacct", "pids" } do
      assert.are.equal(2, l.controllers[c].version)
    end
  end)

  it("returns nil, msg, code without any cgroup mount", function()
    local l, msg, code = cgroup.layout { mountinfo = "1 0 0:1 / / rw - ext4 /dev/sda rw\n" }
    assert.is_nil(l)
    assert.matches("no cgroup", msg)
    assert.are.equal("ENOTFOUND", code)
  end)
end)

describe("cbuild.core.cgroup on a fake v2 tree", function()
  it("reads stats, OOM kills and pids in the v2 formats", function()
    local cg = assert(cgroup.open("cbuild/fixed", src(FIX .. "/v2")))
    assert.are.same({ memory = 52428800, cpu_ns = 2500000000, pids = 4 }, cg:stats())
    assert.are.equal(2, cg:oom_killed())
    assert.are.same({ oom_kill = 2, oom = 3, under_oom = false }, cg:oom())
    assert.are.same({ 101, 102, 103, 104 }, cg:pids())
    assert.are.same({ FIX .. "/v2/sys/fs/cgroup/cbuild/fixed/cgroup.procs" }, cg:procs_paths())
    cg:close()
  end)

  it("writes v2 limits, converting shares and swap", function()
    local root = tmpcopy(FIX .. "/v2")
    local s = src(FIX .. "/v2", root)
    local cg = assert(cgroup.create("fixed", {
      memory = 64 * 1024 * 1024,
      memory_swap = 128 * 1024 * 1024,
      cpu_quota = 150000,
      cpu_period = 100000,
      cpu_shares = 2048,
      pids = 32,
    }, s))
    local dir = root .. "/sys/fs/cgroup/cbuild/fixed/"
    assert.are.equal("67108864", trim(slurp(dir .. "memory.max")))
    assert.are.equal("150000 100000", trim(slurp(dir .. "cpu.max")))
    assert.are.equal("79", trim(slurp(dir .. "cpu.weight")))
    assert.are.equal("32", trim(slurp(dir .. "pids.max")))
    assert(cg:set { pids = -1, cpu_quota = -1 })
    assert.are.equal("max", trim(slurp(dir .. "pids.max")))
    assert.are.equal("max 100000", trim(slurp(dir .. "cpu.max")))
    cg:keep() -- a fake tree cannot be removed by rmdir; keep it from __gc
    cg:close()
    os.execute(("rm -rf '%s'"):format(root))
  end)
end)

describe("cbuild.core.cgroup errors", function()
  it("returns nil, msg, code for a missing cgroup and a bad name", function()
    local cg, msg, code = cgroup.open("cbuild/does-not-exist-" .. tostring(os.time()))
    assert.is_nil(cg)
    assert.matches("does not exist", msg)
    assert.are.equal("ENOTFOUND", code)
    cg, msg, code = cgroup.create("../escape")
    assert.is_nil(cg)
    assert.matches("invalid cgroup name", msg)
    assert.are.equal("EINVAL", code)
  end)

  it("returns nil, msg, code for a limit whose controller is absent", function()
    local cg, msg, code = cgroup.create("x", { pids = 5 }, {
      mountinfo = "26 24 0:25 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
      prefix = tmpcopy(FIX .. "/v2"),
    })
    assert.is_nil(cg)
    assert.matches("pids", msg)
    assert.are.equal("ENOTFOUND", code)
  end)

  it("raises on misuse", function()
    assert.error_matches(function() cgroup.create({}) end, "string expected")
    assert.error_matches(function() cgroup.create("x", { memroy = 1 }) end, "unknown cgroup limit 'memroy'")
    assert.error_matches(function() cgroup.create("x", { memory = "1G" }) end, "must be an integer")
    assert.error_matches(function() cgroup.create("x", { pids = -5 }) end, ">= %-1")
    assert.error_matches(function() cgroup.open("x", { prefix = "/" }) end, "needs 'mountinfo'")
  end)
end)

-- The real kernel: only as root where memory and pids can be limited.
local layout = cgroup.layout()
local real = layout and layout.controllers.memory and layout.controllers.pids
local can = real and io.open(layout.controllers.memory.path .. "/cgroup.procs", "a")
if can then
  can:close()
end

describe("cbuild.core.cgroup on this kernel", function()
  local name = "cbuild/spec-" .. tostring(os.time()) .. "-" .. tostring(math.random(1e6))

  local function in_cgroup(cg, pid)
    for _, p in ipairs(cg:pids()) do
      if p == pid then
        return true
      end
    end
    return false
  end

  -- A shell that prints its pid, waits until it is inside CG, then runs SCRIPT.
  local function spawn(cg, script)
    local procs = cg:procs_paths()[1]
    local f = assert(io.popen(("sh -c 'echo $$; until grep -qx $$ %s; do sleep 0.02; done; %s' 2>/dev/null")
      :format(procs, script)))
    local pid = math.tointeger(f:read "l")
    assert(cg:add(pid))
    return f, pid
  end

  local it_real = can and it or pending

  it_real("limits memory and pids, counts an OOM kill, and removes everything", function()
    local cg = assert(cgroup.create(name, { memory = 64 * 1024 * 1024, memory_swap = 64 * 1024 * 1024,
      pids = 20, cpu_shares = 512 }))
    local paths = cg:procs_paths()
    assert.is_true(#paths >= 2)

    local f, pid = spawn(cg, "echo in; exec sleep 30")
    assert.are.equal("in", f:read "l")
    assert.is_true(in_cgroup(cg, pid))
    local st = assert(cg:stats())
    assert.are.equal(1, st.pids)
    assert.is_number(st.memory)

    -- the same cgroup from a second handle, as `cbuild stats` would open it
    local other <close> = assert(cgroup.open(name))
    assert.are.same(cg:procs_paths(), other:procs_paths())
    assert.are.equal(1, other:stats().pids)

    -- tail holds a 256M line in a 64M cgroup: the kernel kills it
    assert.are.equal(0, cg:oom_killed())
    local hog = spawn(cg, "head -c 268435456 /dev/zero | tail -n 1 >/dev/null; echo status=$?")
    assert.are.equal("status=137", hog:read "l")
    hog:close()
    assert.is_true(cg:oom_killed() >= 1)

    -- remove kills the sleeper and leaves no directory
    assert(cg:remove())
    f:close()
    for _, p in ipairs(paths) do
      assert.is_falsy(os.rename(p, p))
    end
    assert.is_true(cg:remove())
    local gone, _, code = cgroup.open(name)
    assert.is_nil(gone)
    assert.are.equal("ENOTFOUND", code)
  end)

  it_real("removes an owned cgroup when the handle is closed, not an opened one", function()
    local dirs
    do
      local cg <close> = assert(cgroup.create(name .. "-gc", { pids = 10 }))
      dirs = cg:dirs()
      local opened = assert(cgroup.open(name .. "-gc"))
      opened:close() -- a handle from open never removes
      assert.is_truthy(os.rename(dirs[1], dirs[1])) -- still there
    end
    assert.is_falsy(os.rename(dirs[1], dirs[1])) -- gone with the handle
  end)
end)
