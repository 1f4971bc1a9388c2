-- Detached containers on the real kernel: the monitor, json-file logs, ps/stop/kill/start/rm,
-- exec into the namespaces, top, stats, wait, inspect, and stale state after kill -9.
local h = require "spec.helpers"
local sys = require "cbuild.core.sys"

local root, ok

local function cb(args, stdin)
  return h.cbuild(root, args, { stdin = stdin })
end

local wait_for = h.wait_for

setup(function()
  root = h.tmpdir "clife"
  ok = h.must(root)
  h.import_busybox(root)
end)

teardown(function()
  cb "rm -f web talker trapper stubborn victim again"
  h.cleanup()
end)

describe("a detached web server", function()
  it("runs, answers exec, logs, stops, shows as exited and is removed", function()
    local id = ok("run -d --name web busybox httpd -f -v -p 127.0.0.1:18080 -h /etc"):gsub("%s+$", "")
    assert.matches("^%x+$", id)
    assert.are.equal(64, #id)
    local ps = ok "ps"
    assert.matches(id:sub(1, 12) .. "%s+busybox%s+\"httpd %-f %-v %-p 127%.…\"%s+.-Up .-%s+web\n", ps)
    assert.matches("CONTAINER ID%s+IMAGE%s+COMMAND%s+CREATED%s+STATUS%s+PORTS%s+NAMES", ps)
    local body
    assert.is_true(wait_for(function()
      local status, out = cb "exec web wget -qO- 127.0.0.1:18080/hostname"
      body = out
      return status == 0
    end))
    assert.are.equal(id:sub(1, 12) .. "\n", body)
    assert.is_true(wait_for(function()
      local _, _, err = cb "logs web"
      return err:match "response:200" ~= nil
    end))
    local t0 = sys.time()
    ok "stop -t 1 web" -- httpd has no SIGTERM handler as PID 1: SIGKILL after 1 s
    local took = sys.time() - t0
    assert.is_true(took >= 0.9 and took < 3, tostring(took))
    assert.matches("Exited %(137%) .- ago%s+web", ok "ps -a")
    assert.is_nil(ok("ps"):find("web", 1, true))
    assert.are.equal("exited false 137\n", ok "inspect -f '{{.State.Status}}' web"
      :gsub("\n", "") .. " " .. ok("inspect -f '{{.State.Running}}' web"):gsub("\n", "") .. " "
      .. ok "inspect -f '{{.State.ExitCode}}' web")
    ok "rm web"
    local status, _, err = cb "inspect web"
    assert.are_not.equal(0, status)
    assert.matches("No such", err)
  end)
end)

describe("stop", function()
  it("returns at once when the process handles SIGTERM", function()
    ok [[run -d --name trapper busybox sh -c 'trap "exit 0" TERM; while true; do sleep 0.1; done']]
    sys.poll({}, 200)
    local t0 = sys.time()
    ok "stop -t 10 trapper"
    assert.is_true(sys.time() - t0 < 1)
    assert.are.equal("0\n", ok "inspect -f '{{.State.ExitCode}}' trapper")
    ok "rm trapper"
  end)
end)

describe("logs", function()
  it("keeps stdout and stderr apart, with --tail, -t, --since and -f", function()
    ok("run -d --name talker busybox sh -c "
      .. "'for i in 1 2 3; do echo out $i; echo err $i >&2; done; sleep 1; echo late'")
    assert.are.equal("0\n", ok "wait talker")
    local _, out, err = cb "logs talker"
    assert.are.equal("out 1\nout 2\nout 3\nlate\n", out)
    assert.are.equal("err 1\nerr 2\nerr 3\n", err)
    _, out = cb "logs --tail 1 talker"
    assert.are.equal("late\n", out)
    _, out = cb "logs -t --tail 1 talker"
    assert.matches("^%d+%-%d+%-%d+T%d+:%d+:%d+%.?%d*Z late\n$", out)
    _, out = cb "logs --since 1h talker"
    assert.matches("late", out)
    local raw = h.read(ok("inspect -f '{{.LogPath}}' talker"):gsub("%s+$", ""))
    assert.matches('\n{"log":"out 1\\n","stream":"stdout","time":"[^"]+"}\n', "\n" .. raw)
    ok "rm talker"
  end)

  it("follows a running container until it exits", function()
    ok [[run -d --name talker busybox sh -c 'echo a; sleep 1; echo b']]
    local status, out = cb "logs -f talker"
    assert.are.equal(0, status)
    assert.are.equal("a\nb\n", out)
    ok "rm talker"
  end)
end)

describe("names, kill, start, wait, rm -f", function()
  it("generates names and starts a stopped container again", function()
    local id = ok("run -d busybox sh -c 'echo run; sleep 100'"):gsub("%s+$", "")
    local name = ok("inspect -f '{{.Name}}' " .. id):gsub("%s+$", "")
    assert.matches("^/%l+_%l+%d?$", name)
    ok("kill -s TERM " .. id) -- PID 1 without a handler ignores it
    sys.poll({}, 200)
    assert.are.equal("true\n", ok("inspect -f '{{.State.Running}}' " .. id))
    ok("kill " .. id)
    assert.are.equal("137\n", ok("wait " .. id))
    ok("start " .. id)
    assert.are.equal("true\n", ok("inspect -f '{{.State.Running}}' " .. id))
    assert.is_true(wait_for(function()
      local _, out = cb("logs " .. id)
      return out == "run\nrun\n"
    end))
    local status, _, err = cb("rm " .. id)
    assert.are.equal(1, status)
    assert.matches("container is running", err)
    ok("rm -f " .. id)
    assert.are.equal("", ok "ps -aq")
  end)
end)

describe("exec, top and stats", function()
  it("joins the container's namespaces, user and cgroup", function()
    ok "run -d --name victim --hostname vic -m 64m busybox sleep 100"
    assert.are.equal("vic\n", ok "exec victim hostname")
    local out = ok "exec victim ps -o pid,args"
    assert.matches("\n%s*1 sleep 100\n", out)
    assert.are.equal("65534 /tmp bar\n",
      ok "exec -u nobody -w /tmp -e FOO=bar victim sh -c 'echo $(id -u) $(pwd) $FOO'")
    local id = ok("inspect -f '{{.Id}}' victim"):gsub("%s+$", "")
    assert.matches("cbuild/" .. id, ok "exec victim cat /proc/self/cgroup")
    local status, _, err = cb "exec victim nosuch"
    assert.are.equal(127, status)
    assert.matches("executable file not found", err)
    assert.are.equal(3, (cb "exec victim sh -c 'exit 3'"))
    assert.matches("sleep 100", ok "top victim")
    local stats = ok "stats --no-stream victim"
    assert.matches("CONTAINER ID%s+NAME%s+CPU %%%s+MEM USAGE / LIMIT", stats)
    assert.matches("victim%s+%d+%.%d+%%%s+[%d.]+%a+ / 64MiB", stats)
    ok "rm -f victim"
    status = cb "exec victim true"
    assert.are_not.equal(0, status)
  end)
end)

describe("stale state", function()
  it("shows a container whose monitor was killed as exited", function()
    ok "run -d --name stubborn busybox sleep 100"
    local text = h.read(root .. "/containers/" .. ok("inspect -f '{{.Id}}' stubborn"):gsub("%s+$", "") .. "/state.json")
    local monitor = text:match '"monitor_pid": (%d+)'
    assert.is_truthy(monitor)
    h.ok("kill -9 " .. monitor)
    assert.is_true(wait_for(function()
      return ok("inspect -f '{{.State.Running}}' stubborn") == "false\n"
    end))
    assert.matches("Exited %(%d+%)", ok "ps -a")
    ok "rm -f stubborn"
  end)
end)

describe("container ls", function()
  it("is ps under docker's management form", function()
    ok "run --name again busybox true"
    assert.matches("again", ok "container ls -a")
    assert.is_nil(ok("container ls"):find("again", 1, true))
    ok "container rm again"
  end)
end)
