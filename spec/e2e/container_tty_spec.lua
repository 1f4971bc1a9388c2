-- Terminals: `run -it` and `exec -it` under a pty driver (script(1)), `-i` piping stdin.
local h = require "spec.helpers"
local q = h.quote

local root

local function cb(args, stdin)
  return h.cbuild(root, args, { stdin = stdin })
end

-- Run cbuild ARGS under script(1), its terminal fed by the shell command FEED (typing with
-- pauses); returns status and output (without the NUL that script sends at the end of input).
local function in_pty(args, feed, rows, cols)
  local cmd = string.format("stty rows %d cols %d; CBUILD_ROOT=%s %s %s", rows or 24, cols or 80, q(root),
    q(h.bin), args)
  local status, out = h.sh(string.format("(%s) | timeout 30 script -qec %s /dev/null", feed or "sleep 1", q(cmd)))
  return status, (out:gsub("%^@", ""):gsub("%z", ""))
end

setup(function()
  root = h.tmpdir "ctty"
  h.import_busybox(root)
end)

teardown(function()
  cb "rm -f ttybox"
  h.cleanup()
end)

describe("run -it", function()
  it("gives the command a terminal of our window size and returns its status", function()
    local status, out = in_pty("run -it --rm busybox sh -c 'tty; stty size; echo $TERM; exit 4'", nil, 33, 77)
    assert.are.equal(4, status)
    assert.matches("/dev/console\r?\n33 77\r?\nxterm", out)
  end)

  it("runs an interactive shell: what we type reaches it, Ctrl-C reaches it, not cbuild", function()
    local status, out = in_pty("run -it --rm busybox sh", [[printf 'echo inside-$((6*7))\nsleep 30\n'; sleep 1;
      printf '\003'; sleep 0.5; printf 'echo after-$?\n'; sleep 0.5; printf 'exit 5\n'; sleep 1]])
    assert.are.equal(5, status)
    assert.matches("inside%-42", out)
    assert.matches("after%-130", out) -- sleep died of SIGINT inside; the shell lived on
  end)
end)

describe("run -i", function()
  it("pipes stdin without a terminal; without -i the container reads end of file", function()
    local status, out = cb("run -i --rm busybox sh -c 'tr a-z A-Z; test -t 0 || echo notty'", "hello\n")
    assert.are.equal(0, status)
    assert.are.equal("HELLO\nnotty\n", out)
    status, out = cb("run --rm busybox cat", "ignored\n")
    assert.are.equal(0, status)
    assert.are.equal("", out)
  end)
end)

describe("exec -it", function()
  it("gives a terminal inside a running container", function()
    assert.are.equal(0, (cb "run -d --name ttybox busybox sleep 100"))
    local status, out = in_pty("exec -it ttybox sh -c 'test -t 0 && echo isatty; stty size; exit 6'", nil, 30, 90)
    assert.are.equal(6, status)
    assert.matches("isatty\r?\n30 90", out)
  end)
end)
