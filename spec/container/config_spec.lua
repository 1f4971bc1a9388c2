-- cbuild.container.*: docker's rules without running anything (command, caps, units, names,
-- json-file logs, flag splitting, STATUS text), and the pty/proc bindings' contracts.
local config = require "cbuild.container.config"
local ccli = require "cbuild.container.cli"
local logs = require "cbuild.container.logs"
local names = require "cbuild.container.names"
local state = require "cbuild.container.state"
local json = require "cbuild.core.json"
local helpers = require "spec.helpers"

describe("cbuild.container.config command", function()
  local function cmd(img, ep, args)
    return (config.command(img, ep, args))
  end

  it("replaces CMD with the arguments and appends them to an exec-form ENTRYPOINT", function()
    local img = { Entrypoint = { "/usr/bin/stress" }, Cmd = { "--help" } }
    assert.are.same({ "/usr/bin/stress", "--help" }, cmd(img))
    assert.are.same({ "/usr/bin/stress", "--vm", "1" }, cmd(img, nil, { "--vm", "1" }))
    assert.are.same({ "ls", "-l" }, cmd({ Cmd = { "sh" } }, nil, { "ls", "-l" }))
  end)

  it("keeps a shell-form ENTRYPOINT whole: the arguments only become $0...", function()
    local img = { Entrypoint = { "/bin/sh", "-c", "echo hi" }, Cmd = { "x" } }
    assert.are.same({ "/bin/sh", "-c", "echo hi", "y" }, cmd(img, nil, { "y" }))
  end)

  it("--entrypoint clears the image's CMD, and '' clears the entrypoint", function()
    local img = { Entrypoint = { "/e" }, Cmd = { "c" } }
    assert.are.same({ "/bin/ls" }, cmd(img, "/bin/ls"))
    assert.are.same({ "/bin/ls", "-a" }, cmd(img, "/bin/ls", { "-a" }))
    assert.are.same({ "id" }, cmd(img, "", { "id" }))
    assert.are.same({}, cmd(img, ""))
  end)

  it("treats json.null like an absent field", function()
    assert.are.same({ "sh" }, cmd({ Entrypoint = json.null, Cmd = { "sh" } }))
  end)
end)

describe("cbuild.container.config units and caps", function()
  it("parses docker's binary sizes", function()
    assert.are.equal(200 * 1024 * 1024, config.parse_bytes "200M")
    assert.are.equal(1024 ^ 3, config.parse_bytes "1g")
    assert.are.equal(512 * 1024, config.parse_bytes "512kb")
    assert.are.equal(1000, config.parse_bytes "1000")
    assert.is_nil(config.parse_bytes "lots")
  end)

  it("turns a HostConfig into cgroup limits", function()
    assert.is_nil(config.limits { Memory = 0, NanoCpus = 0 })
    assert.are.same({ memory = 64, memory_swap = 128, cpu_quota = 150000, cpu_period = 100000,
      cpu_shares = 512, pids = 20 },
      config.limits { Memory = 64, MemorySwap = 128, NanoCpus = 1500000000, CpuShares = 512, PidsLimit = 20 })
  end)

  it("adds and drops capabilities from docker's default set", function()
    local caps = config.caps({ "sys_admin" }, { "CAP_NET_RAW", "chown" })
    local set = {}
    for _, c in ipairs(caps) do
      set[c] = true
    end
    assert.is_true(set.SYS_ADMIN)
    assert.is_nil(set.NET_RAW)
    assert.is_nil(set.CHOWN)
    assert.is_true(set.KILL)
    assert.are.same({ "KILL" }, (config.caps({ "kill" }, { "ALL" })))
    local _, all = config.caps({ "ALL" }, nil)
    assert.is_true(all)
  end)

  it("parses volumes and tmpfs, and rejects what it cannot do", function()
    assert.are.same({ Type = "bind", Source = "/a", Destination = "/b", Mode = "ro", RW = false,
      Propagation = "rprivate" }, config.parse_volume "/a:/b:ro")
    assert.is_true(config.parse_volume("/a:/b").RW)
    assert.are.same({ Type = "volume", Name = "named", Destination = "/b", Driver = "local", Mode = "z", RW = true,
      Propagation = "", NoCopy = true }, config.parse_volume "named:/b:nocopy")
    assert.are.same({ Type = "volume", Destination = "/anon", Driver = "local", Mode = "", RW = true,
      Propagation = "" }, config.parse_volume "/anon")
    assert.error_matches(function() config.parse_volume "bad name:/b" end, "invalid characters")
    assert.error_matches(function() config.parse_volume "named:b" end, "the container path must be absolute")
    assert.error_matches(function() config.parse_mount "type=volume,src=x" end, "target is required")
    assert.are.same({ tmpfs = "/t:size=1m" }, config.parse_mount "type=tmpfs,target=/t,tmpfs-size=1m")
    assert.are.same({ type = "tmpfs", target = "/run", size = 1048576, mode = 448 },
      config.parse_tmpfs "/run:size=1m,mode=700")
    local ok, e = pcall(config.parse_volume, "/a:/b:zz")
    assert.is_false(ok)
    assert.are.equal(125, e.exit)
  end)
end)

describe("cbuild.container.cli", function()
  local argparse = require "argparse"
  local p = argparse("x")
  p:option("-e --env"):count "*"
  p:flag("-i")
  p:flag("-t")
  p:argument("image")
  p:argument("command"):args "*"

  it("stops flag parsing at the first positional argument, as docker does", function()
    assert.are.same({ "-it", "-e", "A=1", "--", "busybox", "ls", "-l" },
      ccli.stop_at_positional(p, { "-it", "-e", "A=1", "busybox", "ls", "-l" }))
    assert.are.same({ "--env=A", "-eB=2", "--", "img" }, ccli.stop_at_positional(p, { "--env=A", "-eB=2", "img" }))
    assert.are.same({ "-i" }, ccli.stop_at_positional(p, { "-i" }))
    local args = p:parse(ccli.stop_at_positional(p, { "-i", "busybox", "ls", "-l", "--help" }))
    assert.are.same({ "ls", "-l", "--help" }, args.command)
  end)
end)

describe("cbuild.container.names and state", function()
  it("generates adjective_surname names", function()
    for _ = 1, 50 do
      local n = names.generate(0)
      assert.matches("^%l+_%l+$", n)
      assert.are_not.equal("boring_wozniak", n)
    end
    assert.matches("^%l+_%l+%d$", names.generate(1))
  end)

  it("writes docker's STATUS text", function()
    local now = os.time()
    local function ts(t)
      return os.date("!%Y-%m-%dT%H:%M:%S", t) .. ".5Z"
    end
    assert.are.equal("Up 5 seconds", state.status_text({ State = { Running = true, StartedAt = ts(now - 5) } }, now))
    assert.are.equal("Exited (137) 3 minutes ago", state.status_text({ State = { Running = false,
      Status = "exited", ExitCode = 137, FinishedAt = ts(now - 190) } }, now))
    assert.are.equal("Created", state.status_text({ State = { Running = false, Status = "created" } }, now))
  end)

  it("reads a record whose monitor is gone as exited", function()
    local root = helpers.tmpdir "cstate"
    local imgs = require("cbuild.image.store").open(root)
    local id = state.new_id()
    assert.matches("^%x+$", id)
    assert.are.equal(64, #id)
    assert(require("cbuild.core.fs").mkdir_p(state.dir(imgs, id)))
    state.save(imgs, { Id = id, Name = "/x", Created = state.now(), Config = {}, Cbuild = {
      monitor_pid = 999999999, monitor_start = "1" },
      State = { Status = "running", Running = true, Pid = 42, ExitCode = 0,
        StartedAt = state.now(), FinishedAt = state.ZERO_TIME } })
    local c = state.load(imgs, id)
    assert.is_false(c.State.Running)
    assert.are.equal("exited", c.State.Status)
    assert.are.equal(255, c.State.ExitCode)
    assert.are.equal(c, (state.lookup(imgs, "x")) and c)
    assert.are.equal(id, state.lookup(imgs, id:sub(1, 6)).Id)
    local none, msg = state.lookup(imgs, "nope")
    assert.is_nil(none)
    assert.are.equal("No such container: nope", msg)
    assert.error_matches(function() state.pick_name(imgs, "x") end, "already in use")
    assert.error_matches(function() state.pick_name(imgs, "bad name") end, "Invalid container name")
    -- a name is checked against the records given, when the caller read them already
    assert.are.equal("/x", state.pick_name(imgs, "x", {}))
    assert.error_matches(function() state.pick_name(imgs, "y", { { Name = "/y", Id = "1" } }) end, "already in use")
    -- the record is replaced by rename, with no temp file left beside it
    assert.are.same({ "state.json" }, helpers.listdir(state.dir(imgs, id)))
  end)

  it("gives each layer of a new container the diff ID of the image's config", function()
    local imgs = require("cbuild.image.store").open(helpers.tmpdir "cstate")
    local GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
    local img = {
      digest = "sha256:m", config_digest = "sha256:c",
      manifest = { layers = { { digest = "sha256:gz1", size = 10, mediaType = GZIP },
        { digest = "sha256:gz2", size = 20, mediaType = GZIP } } },
      config = { config = { Cmd = { "true" } }, rootfs = { type = "layers", diff_ids = { "sha256:d1", "sha256:d2" } } },
    }
    local c = config.new(imgs, img, { image = "x", existing = {} })
    assert.are.same({ "sha256:d1", "sha256:d2" }, { c.Cbuild.layers[1].diff_id, c.Cbuild.layers[2].diff_id })
    assert.are.equal("sha256:gz2", c.Cbuild.layers[2].digest)
    assert.are.equal(20, c.Cbuild.layers[2].size)
  end)
end)

describe("cbuild.container.logs", function()
  it("writes one JSON line per output line, keeping partial lines until their newline", function()
    local dir = helpers.tmpdir "clogs"
    local w = logs.writer(dir .. "/log")
    w:add("stdout", "one\ntw")
    w:add("stderr", "err\n")
    w:add("stdout", "o\nthree")
    w:close()
    local entries = logs.parse(helpers.read(dir .. "/log"))
    local got = {}
    for i, e in ipairs(entries) do
      got[i] = e.stream .. ":" .. e.log
      assert.matches("^%d+%-%d+%-%d+T[%d:.]+Z$", e.time)
    end
    assert.are.same({ "stdout:one\n", "stderr:err\n", "stdout:two\n", "stdout:three" }, got)
    for line in helpers.read(dir .. "/log"):gmatch "[^\n]+" do
      assert.matches('^{"log":".*","stream":"std%a+","time":"[^"]+"}$', line)
    end
  end)

  it("parses --since forms", function()
    assert.are.equal(1000 - 600, logs.parse_since("10m", 1000))
    assert.are.equal(10000 - 5400, logs.parse_since("1h30m", 10000))
    assert.are.equal(1700000000, logs.parse_since "1700000000")
    assert.are.equal(0, logs.parse_since "1970-01-01T00:00:00Z")
    assert.is_nil(logs.parse_since "yesterday")
  end)
end)

describe("cbuild.core.pty and cbuild.core.proc", function()
  local pty = require "cbuild.core.pty"
  local proc = require "cbuild.core.proc"
  local sys = require "cbuild.core.sys"

  it("opens a pty pair, sets and reads its window size, and makes it raw and back", function()
    local m, s = assert(pty.open())
    assert.is_true(sys.isatty(s))
    assert(pty.set_winsize(m, 40, 132))
    assert.are.same({ 40, 132 }, { pty.winsize(s) })
    local saved = assert(pty.make_raw(s))
    assert(sys.write(m, "x"))
    assert.are.equal("x", sys.read(s)) -- raw: no line buffering
    assert(pty.restore(s, saved))
    sys.close(s)
    sys.close(m)
  end)

  it("returns nil, msg, code for a non-terminal and raises on misuse", function()
    local r, w = assert(sys.pipe())
    local ok, msg, code = pty.winsize(r)
    assert.is_nil(ok)
    assert.matches("window size", msg)
    assert.is_string(code)
    assert.is_nil((pty.make_raw(r)))
    sys.close(r)
    sys.close(w)
    assert.error_matches(function() pty.winsize "x" end, "number expected")
    assert.error_matches(function() pty.restore(0, {}) end, "cbuild.core.pty.termios expected")
  end)

  it("knows signal names and numbers", function()
    assert.are.equal(15, proc.signum "TERM")
    assert.are.equal(15, proc.signum "SIGTERM")
    assert.are.equal(9, proc.signum "9")
    assert.are.equal(10, proc.signum "usr1")
    assert.is_nil(proc.signum "NOPE")
    assert.error_matches(function() proc.kill(1, "NOPE") end, "unknown signal")
  end)

  it("spawns a detached process that outlives its parent's child and can be killed", function()
    local dir = helpers.tmpdir "cproc"
    local pid = assert(proc.spawn_detached { "/bin/sh", "-c", "echo $$ > " .. dir .. "/pid; exec sleep 30" })
    local text
    for _ = 1, 100 do
      text = io.open(dir .. "/pid") and helpers.read(dir .. "/pid")
      if text and text ~= "" then
        break
      end
      sys.poll({}, 20)
    end
    assert.are.equal(pid, math.tointeger(tonumber(text)))
    local stat = helpers.read("/proc/" .. pid .. "/stat")
    local ppid, _, session = stat:match "%) %a (%d+) (%d+) (%d+)"
    local mine = helpers.read("/proc/self/stat"):match "%) %a %d+ %d+ (%d+)"
    assert.are_not.equal(tostring(sys.getpid()), ppid)
    assert.are_not.equal(mine, session) -- a session of its own (double fork: not its leader)
    assert.are_not.equal(tostring(pid), session)
    assert.are.same({ true, false }, { proc.kill(pid, "KILL") })
    for _ = 1, 100 do
      if not io.open("/proc/" .. pid .. "/stat") or helpers.read("/proc/" .. pid .. "/stat"):match "%) Z" then
        break
      end
      sys.poll({}, 20)
    end
    local ok, msg, code = proc.spawn_detached { "/nonexistent/binary" }
    assert.is_nil(ok)
    assert.matches("exec", msg)
    assert.are.equal("ENOENT", code)
  end)

  it("returns nil, msg, code when the target of enter does not exist", function()
    local p, msg, code = proc.enter { target = 999999999 % 4194304 + 1, argv = { "true" } }
    if p then -- an unlikely live pid: nothing to check
      p:close()
      return
    end
    assert.matches("/proc/", msg)
    assert.are.equal("ENOENT", code)
    assert.error_matches(function() proc.enter { argv = { "x" } } end, "target")
    assert.error_matches(function() proc.enter { target = 1, argv = {} } end, "argv")
    assert.error_matches(function() proc.enter { target = 1, argv = { "x" }, caps = { "nope" } } end,
      "unknown capability")
  end)
end)

describe("cbuild.container.config restart, labels, OOM", function()
  it("parses docker's restart policies and refuses others", function()
    assert.are.same({ Name = "no", MaximumRetryCount = 0 }, config.parse_restart "no")
    assert.are.same({ Name = "always", MaximumRetryCount = 0 }, config.parse_restart "always")
    assert.are.same({ Name = "on-failure", MaximumRetryCount = 5 }, config.parse_restart "on-failure:5")
    assert.are.same({ Name = "unless-stopped", MaximumRetryCount = 0 }, config.parse_restart "unless-stopped")
    for _, bad in ipairs { "sometimes", "always:3", "on-failure:x", "on-failure:-1" } do
      assert.has_error(function()
        config.parse_restart(bad)
      end)
    end
  end)

  it("restarts by docker's rules", function()
    local onf = config.parse_restart "on-failure:2"
    assert.is_true(config.should_restart(onf, 1, 0, false))
    assert.is_true(config.should_restart(onf, 1, 1, false))
    assert.is_false(config.should_restart(onf, 1, 2, false))
    assert.is_false(config.should_restart(onf, 0, 0, false))
    assert.is_true(config.should_restart(config.parse_restart "on-failure", 1, 99, false))
    assert.is_true(config.should_restart(config.parse_restart "always", 0, 7, false))
    assert.is_false(config.should_restart(config.parse_restart "always", 0, 7, true))
    assert.is_false(config.should_restart(config.parse_restart "no", 1, 0, false))
  end)

  it("merges labels: the image's, then the file's, then --label", function()
    local f = os.tmpname()
    helpers.write(f, "# comment\nb=file\nc=file\n")
    local l = config.labels({ a = "img", b = "img" }, { f }, { "c=flag", "d" })
    os.remove(f)
    assert.are.same({ a = "img", b = "file", c = "flag", d = "" }, setmetatable(l, nil))
  end)

  it("calls it OOMKilled only when the main process died of SIGKILL while the count rose", function()
    local runtime = require "cbuild.container.runtime"
    assert.is_true((runtime.oom_verdict({ code = 137, signal = 9 }, 1)))
    assert.is_false((runtime.oom_verdict({ code = 137, signal = 9 }, 0))) -- docker kill
    assert.is_false((runtime.oom_verdict({ code = 137 }, 2))) -- a child was killed; exit(137)
    assert.is_false((runtime.oom_verdict({ code = 0 }, 1)))
  end)
end)

describe("cbuild.core.cgroup.warm", function()
  local cgroup = require "cbuild.core.cgroup"

  it("returns at once, twice in a row, and quietly where no hierarchy can be found", function()
    assert.is_true(cgroup.warm())
    assert.is_true(cgroup.warm()) -- the first thread may still run: nothing new starts
    assert.is_true(cgroup.warm { mountinfo = "", proc_cgroup = "" })
    assert.error_matches(function() cgroup.warm "x" end, "table expected")
  end)

  it("leaves the process able to fork and run a child while its thread waits", function()
    cgroup.warm()
    local status, out = helpers.sh "echo forked"
    assert.are.equal(0, status)
    assert.are.equal("forked\n", out)
  end)
end)
