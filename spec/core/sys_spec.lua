-- spec/core/sys_spec.lua: the cbuild.core.sys binding.
local sys = require "cbuild.core.sys"

describe("cbuild.core.sys", function()
  it("reports process ids", function()
    assert.is_true(math.type(sys.geteuid()) == "integer")
    assert.is_true(math.type(sys.getuid()) == "integer")
    assert.is_true(sys.getpid() > 1)
    local stat = io.open("/proc/self/stat"):read "a"
    assert.are.equal(tonumber(stat:match "^(%d+)"), sys.getpid())
  end)

  it("tells the time in seconds with nanoseconds", function()
    local t = sys.time()
    assert.is_true(math.type(t) == "float")
    assert.is_true(math.abs(t - os.time()) < 2)
    local s, ns = sys.clock_gettime()
    assert.is_true(math.type(s) == "integer" and math.type(ns) == "integer")
    assert.is_true(ns >= 0 and ns < 1000000000)
    assert.is_true(s >= math.floor(t))
  end)

  it("isatty is false for a pipe and raises on a bad fd argument", function()
    assert.is_false(sys.isatty(1000))
    assert.has_error(function()
      sys.isatty "x"
    end)
    assert.has_error(function()
      sys.isatty(-1)
    end)
  end)

  it("uname, hostname, nproc", function()
    local u = sys.uname()
    assert.are.equal("Linux", u.sysname)
    assert.is_string(u.release)
    assert.is_string(u.machine)
    local h = io.open("/proc/sys/kernel/hostname"):read "l"
    assert.are.equal(h, sys.hostname())
    assert.is_true(sys.nproc() >= 1)
  end)

  it("umask reads without changing, and sets returning the old one", function()
    local cur = sys.umask()
    assert.are.equal(cur, sys.umask())
    local old = sys.umask(tonumber("027", 8))
    assert.are.equal(cur, old)
    assert.are.equal(tonumber("027", 8), sys.umask())
    sys.umask(old)
    assert.has_error(function()
      sys.umask(-1)
    end)
  end)
end)
