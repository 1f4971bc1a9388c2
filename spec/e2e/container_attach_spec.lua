-- Input and output of running containers on the real kernel: exec -d, run -di (stdin kept open
-- by the monitor), attach (output, stdin, detach keys, exit status), and exec -it with a pty
-- from the container's own devpts.
local h = require "spec.helpers"
local q = h.quote
local sys = require "cbuild.core.sys"

local root, ok

local function cb(args, stdin)
  return h.cbuild(root, args, { stdin = stdin })
end

local wait_for = h.wait_for

-- Run cbuild ARGS under script(1), typing what the shell command FEED prints.
local function in_pty(args, feed)
  local cmd = string.format("stty rows 24 cols 80; CBUILD_ROOT=%s %s %s", q(root), q(h.bin), args)
  local status, out = h.sh(string.format("(%s) | timeout 30 script -qec %s /dev/null", feed or "sleep 1", q(cmd)))
  return status, (out:gsub("%z", ""))
end

setup(function()
  root = h.tmpdir "cattach"
  ok = h.must(root)
  h.import_busybox(root)
end)

teardown(function()
  cb "rm -f box reader shell ptybox"
  h.cleanup()
end)

describe("exec -d", function()
  it("starts the command in the background and returns at once", function()
    ok "run -d --name box busybox sleep 100"
    local t0 = sys.time()
    assert.are.equal("", ok "exec -d box sh -c 'sleep 1; echo done > /tmp/marker'")
    assert.is_true(sys.time() - t0 < 0.9)
    local status = cb "exec box cat /tmp/marker"
    assert.are.equal(1, status) -- not yet
    assert.is_true(wait_for(function()
      local _, out = cb "exec box cat /tmp/marker"
      return out == "done\n"
    end))
  end)

  it("reports a command that cannot start as exec does", function()
    local status, _, err = cb "exec -d box nosuch"
    assert.are.equal(127, status)
    assert.matches('exec: "nosuch": executable file not found', err, 1, true)
    ok "rm -f box"
  end)
end)

describe("run -di and attach", function()
  it("keeps stdin open for attach, which streams output and returns the exit status", function()
    ok [[run -d -i --name reader busybox sh -c 'read a; echo got $a; read b; echo got $b >&2; exit 5']]
    sys.poll({}, 200)
    assert.are.equal("true\n", ok "inspect -f '{{.State.Running}}' reader") -- no EOF on stdin
    local status, out, err = cb("container attach reader", "one\ntwo\n")
    assert.are.equal(5, status)
    assert.are.equal("got one\n", out)
    assert.are.equal("got two\n", err)
    local _, lout = cb "logs reader"
    assert.are.equal("got one\n", lout)
  end)

  it("refuses a stopped container", function()
    local status, _, err = cb "container attach reader"
    assert.are.equal(1, status)
    assert.matches("You cannot attach to a stopped container, start it first", err, 1, true)
    ok "rm reader"
  end)

  it("attaches a terminal to -dit, detaches on Ctrl-P Ctrl-Q and attaches again", function()
    ok "run -dit --name shell busybox sh"
    local status, out = in_pty("container attach shell",
      [[sleep 0.5; printf 'echo in-$((6*7))\n'; sleep 0.5; printf '\020\021'; sleep 0.5]])
    assert.are.equal(0, status)
    assert.matches("in%-42", out)
    assert.matches("read escape sequence", out)
    assert.are.equal("true\n", ok "inspect -f '{{.State.Running}}' shell")
    status, out = in_pty("container attach shell", [[sleep 0.5; printf 'echo again; exit 7\n'; sleep 1]])
    assert.are.equal(7, status)
    assert.matches("again", out)
    assert.matches("Exited %(7%)", ok "ps -a --filter name=shell")
    local _, logged = cb "logs shell"
    assert.matches("in%-42\r\n", logged)
    ok "rm shell"
  end)
end)

describe("exec -it", function()
  it("gives a pty of the container's own, which tty names", function()
    ok "run -d --name ptybox busybox sleep 100"
    local status, out = in_pty("exec -it ptybox sh -c 'tty; ls /dev/pts; exit 3'")
    assert.are.equal(3, status)
    assert.matches("/dev/pts/0\r?\n", out)
    status, out = in_pty("exec -it -u nobody ptybox tty")
    assert.are.equal(0, status)
    assert.matches("/dev/pts/%d+", out)
    ok "rm -f ptybox"
  end)
end)
