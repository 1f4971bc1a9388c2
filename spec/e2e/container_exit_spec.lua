-- How a container's end is recorded, on the real kernel: a foreground run's json-file log (plain
-- and with a pty), OOMKilled for the main process only, and what a supervisor killed with
-- SIGKILL leaves (shown as exited, cleaned by rm, system prune and the next run).
local h = require "spec.helpers"
local q = h.quote
local sys = require "cbuild.core.sys"

local root, ok

local function cb(args, stdin)
  return h.cbuild(root, args, { stdin = stdin })
end

local function id_of(name)
  return (ok("inspect -f '{{.Id}}' " .. name):gsub("%s+$", ""))
end

-- Whether the container's rootfs is mounted and whether any cgroup directory of it is left.
local function leftovers(id)
  local mounted = h.read("/proc/self/mountinfo"):find(id, 1, true) ~= nil
  local _, out = h.sh("ls -d /sys/fs/cgroup/*/cbuild/" .. id .. " /sys/fs/cgroup/cbuild/" .. id .. " 2>/dev/null")
  return mounted, out ~= ""
end

setup(function()
  root = h.tmpdir "cexit"
  ok = h.must(root)
  h.import_busybox(root)
end)

teardown(function()
  cb "rm -f fg fgtty oom-main oom-child dead1 dead2 dead3"
  h.cleanup()
end)

describe("a foreground run", function()
  it("with --rm mounts its rootfs volatile (nothing of it is kept) and leaves nothing behind", function()
    local status, out = cb "run --rm busybox sh -c 'grep \" / / \" /proc/self/mountinfo'"
    assert.are.equal(0, status)
    assert.matches("volatile", out, 1, true)
    assert.are.equal("", ok "ps -aq")
    assert.are.same({}, h.listdir(root .. "/containers"))
  end)

  it("without --rm keeps a rootfs that is synced as usual, and a record without temp files", function()
    local status, out = cb "run --name keep busybox sh -c 'grep \" / / \" /proc/self/mountinfo'"
    assert.are.equal(0, status)
    assert.is_nil(out:find("volatile", 1, true))
    local dir = root .. "/containers/" .. id_of "keep"
    local names = table.concat(h.listdir(dir), " ")
    assert.matches("state.json", names, 1, true)
    assert.is_nil(names:find(".tmp", 1, true))
    assert.matches('"Status": "exited"', h.read(dir .. "/state.json"), 1, true)
    ok "rm keep"
  end)

  it("passes its output through live and keeps it in the json-file log", function()
    local status, out, err = cb "run --name fg busybox sh -c 'echo out 1; echo err 1 >&2; echo out 2; exit 3'"
    assert.are.equal(3, status)
    assert.are.equal("out 1\nout 2\n", out)
    assert.are.equal("err 1\n", err)
    local _, lout, lerr = cb "logs fg"
    assert.are.equal("out 1\nout 2\n", lout)
    assert.are.equal("err 1\n", lerr)
    local raw = h.read(ok("inspect -f '{{.LogPath}}' fg"):gsub("%s+$", ""))
    assert.matches('{"log":"err 1\\n","stream":"stderr","time":"[^"]+"}\n', raw)
    _, lout = cb "logs --tail 1 fg"
    assert.are.equal("out 2\n", lout)
  end)

  it("with -t logs the pty's output as stdout", function()
    local status = h.sh(string.format("CBUILD_ROOT=%s timeout 30 script -qec %s /dev/null", q(root),
      q(q(h.bin) .. " run -t --name fgtty busybox sh -c 'echo hi; echo oops >&2'")))
    assert.are.equal(0, status)
    local _, out, err = cb "logs fgtty"
    assert.are.equal("hi\r\noops\r\n", out)
    assert.are.equal("", err)
    local raw = h.read(ok("inspect -f '{{.LogPath}}' fgtty"):gsub("%s+$", ""))
    assert.is_nil(raw:find('"stderr"', 1, true))
  end)

  it("still works as a pipe's writer, and --rm leaves no record", function()
    local before = ok "ps -aq"
    local status, out = cb "run --rm busybox sh -c 'seq 1 20000' | tail -1"
    assert.are.equal(0, status)
    assert.are.equal("20000\n", out)
    assert.are.equal(before, ok "ps -aq")
  end)
end)

describe("OOMKilled", function()
  local grow = [[a=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; while true; do a=$a$a; done]]

  it("is true when the container's main process was OOM-killed", function()
    local status = cb("run --name oom-main -m 16m --memory-swap 16m busybox sh -c " .. q(grow))
    assert.are.equal(137, status)
    assert.are.equal("true 137\n", ok "inspect -f '{{.State.OOMKilled}} {{.State.ExitCode}}' oom-main")
  end)

  it("is false when only a child was killed, though the cgroup counted it", function()
    local status, out = cb("run --name oom-child -m 16m --memory-swap 16m busybox sh -c "
      .. q("sh -c " .. q(grow) .. "; echo child $?"))
    assert.are.equal(0, status)
    assert.are.equal("child 137\n", out)
    assert.are.equal("false 0\n", ok "inspect -f '{{.State.OOMKilled}} {{.State.ExitCode}}' oom-child")
    local rec = h.read(root .. "/containers/" .. id_of "oom-child" .. "/state.json")
    assert.matches('"oom_kills": [1-9]', rec)
  end)

  it("is recorded by a detached container's monitor too", function()
    local id = ok("run -d -m 16m --memory-swap 16m busybox sh -c " .. q("sleep 0.2; " .. grow)):gsub("%s+$", "")
    assert.are.equal("137\n", ok("wait " .. id))
    assert.are.equal("true\n", ok("inspect -f '{{.State.OOMKilled}}' " .. id))
    ok("rm " .. id)
  end)
end)

describe("a foreground cbuild killed with SIGKILL", function()
  -- Start `cbuild run --name NAME busybox sleep 100` in the background, kill -9 it once the
  -- container runs; returns the container's id.
  local function run_and_kill(name, flags)
    local pidfile = os.tmpname()
    h.ok(string.format("(CBUILD_ROOT=%s %s run %s--name %s busybox sleep 100 >/dev/null 2>&1 & echo $! > %s)",
      q(root), q(h.bin), flags or "", name, q(pidfile)))
    local pid = h.read(pidfile):gsub("%s+$", "")
    os.remove(pidfile)
    for _ = 1, 100 do
      local _, out = cb("inspect -f '{{.State.Running}}' " .. name)
      if out == "true\n" then
        break
      end
      sys.poll({}, 50)
    end
    h.ok("kill -9 " .. pid)
    sys.poll({}, 200)
    return id_of(name)
  end

  it("leaves a container that ps -a shows as exited, until the next run cleans up", function()
    local id = run_and_kill "dead1"
    assert.matches("Exited %(255%) .- ago%s+dead1\n", ok "ps -a")
    assert.are.equal("false\n", ok "inspect -f '{{.State.Running}}' dead1")
    local mounted, cg = leftovers(id)
    assert.is_true(mounted)
    assert.is_true(cg)
    ok "run --rm busybox true"
    mounted, cg = leftovers(id)
    assert.is_false(mounted)
    assert.is_false(cg)
    assert.matches("Exited %(255%)", ok "ps -a --filter name=dead1")
    ok "start dead1" -- and it can run again
    assert.are.equal("true\n", ok "inspect -f '{{.State.Running}}' dead1")
    ok "rm -f dead1"
  end)

  it("with --rm leaves a container the next run removes, as docker's daemon does at restart", function()
    local id = run_and_kill("deadrm", "--rm ")
    assert.matches("Exited %(255%) .- ago%s+deadrm\n", ok "ps -a")
    local status, _, err = cb "start deadrm" -- removed, not started: its upper dir was volatile
    assert.are.equal(1, status)
    assert.matches("No such container: deadrm", err, 1, true)
    assert.are.same({ false, false }, { leftovers(id) })
    assert.are_not.equal(0, (h.sh("test -e " .. q(root .. "/containers/" .. id))))
    id = run_and_kill("deadrm2", "--rm ")
    ok "run --rm busybox true"
    assert.are.same({ false, false }, { leftovers(id) })
    assert.is_nil(ok("ps -a"):find("deadrm", 1, true))
    assert.are_not.equal(0, (h.sh("test -e " .. q(root .. "/containers/" .. id))))
  end)

  it("is cleaned by rm and by system prune", function()
    local id2 = run_and_kill "dead2"
    local id3 = run_and_kill "dead3"
    ok "rm dead2"
    assert.are.same({ false, false }, { leftovers(id2) })
    ok "system prune -f"
    assert.are.same({ false, false }, { leftovers(id3) })
    assert.are.equal(1, (cb "inspect dead3"))
  end)
end)
