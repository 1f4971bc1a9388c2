-- spec/core/sandbox_spec.lua: the cbuild.core.sandbox and cbuild.core.mount bindings, on the real
-- kernel with a busybox rootfs (needs root; skipped otherwise).
local helpers = require "spec.helpers"
local fs = require "cbuild.core.fs"
local sys = require "cbuild.core.sys"
local sandbox = require "cbuild.core.sandbox"
local mount = require "cbuild.core.mount"

local q = helpers.quote

-- The fd number behind an open Lua file (io has no fileno): the one /proc/self/fd names PATH.
local function fd_of(path)
  for n = 3, 1024 do
    if fs.readlink("/proc/self/fd/" .. n) == path then
      return n
    end
  end
  error("no fd for " .. path)
end

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read "a"
  f:close()
  return s
end

local root = sys.geteuid() == 0
local describe_root = root and describe or pending

describe_root("cbuild.core.sandbox", function()
  local tmp, rootfs

  setup(function()
    tmp = helpers.tmpdir "sandbox"
    rootfs = tmp .. "/rootfs"
    helpers.ok("sh spec/fixtures/make-busybox-rootfs.sh " .. q(rootfs))
  end)

  -- Run argv in the sandbox with stdout+stderr into a file; returns status, output.
  local function run(opts)
    local out = tmp .. "/out"
    local f = assert(io.open(out, "w"))
    opts.rootfs = opts.rootfs or rootfs
    opts.stdout = fd_of(out)
    opts.stderr = opts.stdout
    local proc, msg, code = sandbox.spawn(opts)
    f:close()
    if not proc then
      return nil, msg, code
    end
    local st = assert(proc:wait())
    assert(proc:remove_stubs())
    proc:close()
    return st, slurp(out)
  end

  it("runs a command and captures its output", function()
    local st, out = run { argv = { "echo", "hi" } }
    assert.are.same({ exited = true, code = 0 }, st)
    assert.are.equal("hi\n", out)
  end)

  it("reports exit codes and signals", function()
    assert.are.equal(3, (run { argv = { "sh", "-c", "exit 3" } }).code)
    local proc <close> = assert(sandbox.spawn { rootfs = rootfs, argv = { "sleep", "100" } })
    assert.is_true(proc:pid() > 1)
    assert.is_true(proc:pidfd() >= 0)
    assert.is_false(proc:poll())
    assert.is_true(proc:kill "KILL")
    local st = proc:wait()
    assert.are.same({ exited = false, code = 137, signal = 9 }, st)
    assert.are.same(st, proc:poll())
  end)

  it("reports exec failures at wait time as docker does", function()
    local st = run { argv = { "nosuchcmd" } }
    assert.are.equal(127, st.code)
    assert.are.equal('exec: "nosuchcmd": executable file not found in $PATH', st.exec_error)
    st = run { argv = { "/etc/passwd" } }
    assert.are.equal(126, st.code)
  end)

  it("is PID 1 with its own hostname, user, cwd and only lo", function()
    local st, out = run {
      argv = { "sh", "-c", "echo $$; hostname; id; pwd; echo $FOO; ls /sys/class/net" },
      env = { "FOO=bar", "PATH=/bin" },
      hostname = "box",
      uid = 65534,
      gid = 65534,
      groups = { 65534 },
      cwd = "/app/sub",
    }
    assert.are.equal(0, st.code, out)
    assert.are.equal(
      "1\nbox\nuid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n/app/sub\nbar\nlo\n",
      out
    )
    assert.is_true(fs.exists(rootfs .. "/app/sub"))
  end)

  it("has docker's capabilities and read-only /proc/sys", function()
    local _, out = run {
      argv = { "sh", "-c", "grep CapBnd /proc/self/status; echo 1 > /proc/sys/kernel/hostname || echo ro" },
    }
    assert.matches("CapBnd:%s+00000000a80425fb\n", out)
    assert.matches("\nro\n$", out)
    _, out = run { argv = { "grep", "CapBnd", "/proc/self/status" }, caps = { "CHOWN" } }
    assert.matches("CapBnd:%s+0000000000000001\n", out)
  end)

  it("binds etc files and mounts, and removes the stubs it created", function()
    helpers.ok("echo nameserver 192.0.2.1 > " .. q(tmp .. "/resolv.conf"))
    helpers.ok("mkdir -p " .. q(tmp .. "/src") .. " && echo data > " .. q(tmp .. "/src/f"))
    local out = tmp .. "/out2"
    local f = assert(io.open(out, "w"))
    local proc = assert(sandbox.spawn {
      rootfs = rootfs,
      argv = { "sh", "-c", "cat /etc/resolv.conf /src/f; touch /src/g || echo ro; df /t | tail -1" },
      etc_files = { resolv_conf = tmp .. "/resolv.conf" },
      mounts = {
        { type = "bind", source = tmp .. "/src", target = "/src", readonly = true },
        { type = "tmpfs", target = "/t", size = 1024 * 1024, mode = tonumber("755", 8) },
      },
      stdout = fd_of(out),
      stderr = fd_of(out),
      network = "host",
    })
    f:close()
    assert.are.same({ "/etc/resolv.conf", "/src", "/t" }, proc:stubs())
    assert.are.equal(0, proc:wait().code)
    local text = slurp(out)
    assert.matches("^nameserver 192.0.2.1\ndata\n.*ro\ntmpfs%s+1024 ", text)
    assert.is_true(fs.exists(rootfs .. "/etc/resolv.conf"))
    assert(proc:remove_stubs())
    assert.is_false(fs.exists(rootfs .. "/etc/resolv.conf"))
    assert.is_false(fs.exists(rootfs .. "/src"))
    assert.are.equal("", helpers.ok("findmnt -rn -o TARGET | grep -F " .. q(tmp) .. " || true"))
  end)

  it("returns nil, msg, code for setup failures", function()
    local proc, msg, code = sandbox.spawn {
      rootfs = rootfs,
      argv = { "true" },
      mounts = { { type = "bind", source = "/nonexistent", target = "/x" } },
    }
    assert.is_nil(proc)
    assert.matches("'/nonexistent'", msg, 1, true)
    assert.are.equal("ENOENT", code)
    proc, msg = sandbox.spawn { rootfs = rootfs, argv = { "true" }, caps = { "bogus" } }
    assert.is_nil(proc)
    assert.matches("unknown capability 'bogus'", msg, 1, true)
  end)

  it("raises on misuse", function()
    assert.has_error(function()
      sandbox.spawn { argv = { "true" } }
    end)
    assert.has_error(function()
      sandbox.spawn { rootfs = rootfs, argv = {} }
    end)
    assert.has_error(function()
      sandbox.spawn { rootfs = rootfs, argv = { "true" }, network = "bridge" }
    end)
    assert.has_error(function()
      sandbox.spawn { rootfs = rootfs, argv = { "true" }, mounts = { { type = "nfs", target = "/x" } } }
    end)
    local proc = assert(sandbox.spawn { rootfs = rootfs, argv = { "true" } })
    proc:close()
    assert.error_matches(function()
      proc:wait()
    end, "closed sandbox process", 1, true)
  end)

  it("kills the container when the handle is closed", function()
    local pid
    do
      local proc <close> = assert(sandbox.spawn { rootfs = rootfs, argv = { "sleep", "100" } })
      pid = proc:pid()
    end
    assert.is_false(fs.exists("/proc/" .. pid))
  end)
end)

describe_root("cbuild.core.mount", function()
  it("mounts an overlay whose upper dir records writes and whiteouts", function()
    local tmp = helpers.tmpdir "mount"
    for _, d in ipairs { "l1", "l2", "upper", "work", "merged" } do
      assert(fs.mkdir_p(tmp .. "/" .. d))
    end
    helpers.ok("echo a > " .. q(tmp .. "/l1/a") .. " && echo b > " .. q(tmp .. "/l2/b"))
    local merged = tmp .. "/merged"
    assert.is_false(mount.is_mountpoint(merged))
    assert(mount.overlay {
      lower = { tmp .. "/l1", tmp .. "/l2" },
      upper = tmp .. "/upper",
      work = tmp .. "/work",
      target = merged,
    })
    assert.is_true(mount.is_mountpoint(merged))
    assert.are.equal("a\n", slurp(merged .. "/a"))
    helpers.ok("echo new > " .. q(merged .. "/new") .. " && rm " .. q(merged .. "/b"))
    assert.are.equal("new\n", slurp(tmp .. "/upper/new"))
    assert.are.equal("character special file 0 0\n", helpers.ok("stat -c '%F %t %T' " .. q(tmp .. "/upper/b")))
    assert(mount.umount(merged))
    assert(mount.bind(tmp .. "/l1", merged, { readonly = true }))
    assert.is_nil(io.open(merged .. "/x", "w"))
    assert(mount.umount(merged, { detach = true }))
    local ok, msg, code = mount.umount(merged)
    assert.is_nil(ok)
    assert.matches("unmount", msg, 1, true)
    assert.are.equal("EINVAL", code)
    ok, msg, code = mount.is_mountpoint(tmp .. "/nope")
    assert.is_nil(ok)
    assert.matches("nope", msg, 1, true)
    assert.are.equal("ENOENT", code)
    assert.has_error(function()
      mount.overlay { target = merged }
    end)
    assert.has_error(function()
      mount.bind(nil, merged)
    end)
  end)
end)
