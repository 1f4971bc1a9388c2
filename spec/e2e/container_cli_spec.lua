-- docker's flags and output of the container verbs, on the real kernel: ps --filter/--format,
-- inspect --format templates, logs --until, stop's exit code in ps, rm -v, run --rm -d,
-- --label and --restart.
local h = require "spec.helpers"
local sys = require "cbuild.core.sys"

local root, ok

local function cb(args, stdin)
  return h.cbuild(root, args, { stdin = stdin })
end

local wait_for = h.wait_for

setup(function()
  root = h.tmpdir "ccli"
  ok = h.must(root)
  h.import_busybox(root)
  ok "run -d --name up --label tier=front busybox sleep 100"
  assert.are.equal(3, (cb "run --name done3 busybox sh -c 'exit 3'"))
  ok "run --name done0 --label tier=back busybox true"
end)

teardown(function()
  cb "rm -f up done3 done0 lab tini old again always"
  h.cleanup()
end)

describe("ps", function()

  it("filters by status (which lists stopped containers without -a), name, label, exited, id", function()
    local function names(args)
      local out = {}
      for n in ok("ps --format '{{.Names}}' " .. args):gmatch "[^\n]+" do
        out[#out + 1] = n
      end
      table.sort(out)
      return table.concat(out, " ")
    end
    assert.are.equal("up", names "")
    assert.are.equal("done0 done3", names "-f status=exited")
    assert.are.equal("done0 done3 up", names "-f status=exited -f status=running")
    assert.are.equal("done0 done3", names "-a -f name=done")
    assert.are.equal("done3", names "-a -f name=^done3$")
    assert.are.equal("done0 done3", names "-a -f 'name=^done0$|^done3$'")
    assert.are.equal("done0 done3", names "-a -f 'name=done[03]'")
    assert.are.equal("done0 up", names "-a -f label=tier")
    assert.are.equal("done0", names "-a -f label=tier=back")
    assert.are.equal("done3", names "-a -f exited=3")
    assert.are.equal("done0", names "-a -f exited=0 -f label=tier")
    local id = ok("inspect -f '{{.Id}}' up"):sub(1, 6)
    assert.are.equal("up", names("-a -f id=" .. id))
    assert.are.equal("done0 done3 up", names "-a -f ancestor=busybox")
    local status, _, err = cb "ps -f status=sleeping"
    assert.are.equal(1, status)
    assert.matches("invalid filter 'status=sleeping'", err, 1, true)
    status, _, err = cb "ps -f colour=red"
    assert.are.equal(1, status)
    assert.matches("invalid filter 'colour'", err, 1, true)
  end)

  it("formats with Go templates, table headers, json, -n and -l", function()
    assert.matches("^done3|exited|Exited %(3%) [^|]+ ago|\n$",
      ok "ps -a -f name=done3 --format '{{.Names}}|{{.State}}|{{.Status}}|{{.Labels}}'")
    assert.are.equal("front\n", ok [[ps --format '{{.Label "tier"}}']])
    local t = ok [[ps -a --format 'table {{.Names}}\t{{.Labels}}' -f name=done0]]
    assert.matches("^NAMES%s+LABELS\ndone0%s+tier=back\n$", t)
    local j = ok "ps --format json"
    local rec = require("cbuild.core.json").decode(j)
    assert.are.equal("up", rec.Names)
    assert.are.equal("running", rec.State)
    assert.are.equal('"sleep 100"', rec.Command)
    assert.are.equal("done0\n", ok "ps -l --format '{{.Names}}'")
    assert.are.equal("done0\ndone3\n", ok "ps -n 2 --format '{{.Names}}'")
    assert.matches("^CONTAINER ID%s+IMAGE%s+COMMAND%s+CREATED%s+STATUS%s+PORTS%s+NAMES%s+SIZE\n", ok "ps -s")
  end)
end)

describe("inspect --format", function()
  it("renders a Go template over the container", function()
    assert.are.equal("exited 3 false\n",
      ok "inspect -f '{{.State.Status}} {{.State.ExitCode}} {{.State.Running}}' done3")
    assert.are.equal("sh [-c exit 3]\n", ok "inspect -f '{{.Path}} {{.Args}}' done3")
    assert.are.equal("back\n", ok [[inspect -f '{{index .Config.Labels "tier"}}' done0]])
    assert.are.equal("map[tier:back]\n", ok "inspect -f '{{.Config.Labels}}' done0")
    assert.are.equal('{"MaximumRetryCount":0,"Name":"no"}\n',
      ok "inspect -f '{{json .HostConfig.RestartPolicy}}' done0")
    assert.are.equal("stopped\n", ok "inspect -f '{{if .State.Running}}running{{else}}stopped{{end}}' done3")
    assert.are.equal("done3\ndone0\n", ok [[inspect -f '{{join (split .Name "/") ""}}' done3 done0]])
    local status, _, err = cb "inspect -f '{{.State.Status' done3"
    assert.are.equal(1, status)
    assert.matches("template", err)
  end)
end)

describe("logs --until", function()
  it("shows what was logged before the time", function()
    ok [[run --name old busybox sh -c 'echo early; sleep 2.2; echo late']]
    assert.are.equal("early\nlate\n", ok "logs old")
    -- a moment between the two lines, from the log's own times (not the clock: a slow
    -- machine may take seconds to get here)
    local logs = require "cbuild.container.logs"
    local times = {}
    for ts in ok("logs -t old"):gmatch "(%S+) [^\n]*\n" do
      times[#times + 1] = logs.entry_time { time = ts }
    end
    local mid = string.format("%.3f", (times[1] + times[2]) / 2)
    assert.are.equal("early\n", ok("logs --until " .. mid .. " old"))
    assert.are.equal("late\n", ok("logs --since " .. mid .. " old"))
    local status, _, err = cb "logs --until soon old"
    assert.are_not.equal(0, status)
    assert.matches('invalid value for "until"', err, 1, true)
    ok "rm old"
  end)
end)

describe("stop, rm -v, run --rm -d", function()
  it("shows the exit status of a process that died of stop's SIGTERM", function()
    ok "run -d --name tini --init busybox sleep 100" -- the init passes SIGTERM on to sleep
    ok "stop tini"
    assert.matches("^Exited %(143%) ", ok "ps -a -f name=tini --format '{{.Status}}'")
    assert.are.equal("tini\n", ok "rm -v tini")
  end)

  it("removes a detached --rm container when it exits", function()
    local id = ok("run -d --rm busybox sh -c 'sleep 0.3'"):gsub("%s+$", "")
    assert.is_true(wait_for(function()
      return (cb("inspect " .. id)) ~= 0
    end))
    assert.are.equal("", ok("ps -aq -f id=" .. id))
  end)
end)

describe("--restart", function()
  it("is recorded, refused with --rm, and checked", function()
    local status, _, err = cb "run --rm --restart always busybox true"
    assert.are.equal(125, status)
    assert.matches("Conflicting options: --restart and --rm", err, 1, true)
    status, _, err = cb "run --restart sometimes busybox true"
    assert.are.equal(125, status)
    assert.matches("invalid restart policy format", err, 1, true)
    status = cb "run --restart on-failure:x busybox true"
    assert.are.equal(125, status)
  end)

  it("on-failure:N restarts a failing container N times", function()
    ok [[run -d --name again --restart on-failure:2 busybox sh -c 'echo run; exit 4']]
    assert.is_true(wait_for(function()
      return ok "inspect -f '{{.RestartCount}} {{.State.Status}}' again" == "2 exited\n"
    end))
    sys.poll({}, 500)
    assert.are.equal("2 exited 4\n", ok "inspect -f '{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}' again")
    assert.are.equal("run\nrun\nrun\n", ok "logs again")
    assert.are.equal('{"MaximumRetryCount":2,"Name":"on-failure"}\n',
      ok "inspect -f '{{json .HostConfig.RestartPolicy}}' again")
  end)

  it("always restarts until stopped by hand; start clears that", function()
    ok [[run -d --name always --restart always busybox sh -c 'sleep 0.2']]
    assert.is_true(wait_for(function()
      return tonumber(ok "inspect -f '{{.RestartCount}}' always") >= 2
    end))
    ok "stop always"
    local n = ok "inspect -f '{{.RestartCount}} {{.State.Status}}' always"
    assert.matches("^%d+ exited\n$", n)
    sys.poll({}, 800)
    assert.are.equal(n, ok "inspect -f '{{.RestartCount}} {{.State.Status}}' always")
    ok "start always"
    assert.is_true(wait_for(function()
      return tonumber((ok "inspect -f '{{.RestartCount}}' always")) > tonumber(n:match "%d+")
    end))
    ok "rm -f always"
  end)
end)
