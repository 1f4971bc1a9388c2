-- The container lifecycle: mount the rootfs (the image's snapshots under an overlay whose upper
-- and work dirs live in containers/<id>/ and outlive the process), make the cgroup, start the
-- sandbox, record the state, and clean up at the end.  The supervision loops (foreground with
-- or without a pty, and the detached monitor's) are here too.
--
-- Engine module: failures raise cbuild.errors.
local cgroup = require "cbuild.core.cgroup"
local fs = require "cbuild.core.fs"
local mount = require "cbuild.core.mount"
local sandbox = require "cbuild.core.sandbox"
local sys = require "cbuild.core.sys"
local errors = require "cbuild.errors"
local imgconfig = require "cbuild.image.config"
local snapshot = require "cbuild.build.snapshot"
local user = require "cbuild.build.user"
local config = require "cbuild.container.config"
local network = require "cbuild.container.network"
local state = require "cbuild.container.state"

local M = {}

local function mkdirs(dir, ...)
  for _, name in ipairs { ... } do
    errors.need("create '" .. dir .. "/" .. name .. "'", fs.mkdir_p(dir .. "/" .. name, tonumber("755", 8)))
  end
end

-- docker's "init layer": empty /etc/hosts, /etc/resolv.conf and /etc/hostname for the runtime
-- to bind its files onto, in a lower dir on /run (tmpfs) shared by every container.  Without it
-- the sandbox makes those mount points in the container's upper dir at every start and they
-- are removed at its end: the inode churn cost a `run --rm` on ext4 several milliseconds.  nil
-- when /run/cbuild cannot be written (the sandbox then makes the mount points itself).
M.INIT_LAYER = "/run/cbuild/init-layer-1"

local function init_layer()
  local dir = M.INIT_LAYER
  if fs.exists(dir .. "/etc/hostname") then
    return dir
  end
  local parent = dir:match "^(.*)/[^/]+$"
  local tmp = fs.mkdir_p(parent, tonumber("755", 8)) and fs.mkdtemp(dir .. ".tmp-")
  if not tmp then
    return nil
  end
  local made = fs.mkdir_p(tmp .. "/etc", tonumber("755", 8)) and fs.chmod(tmp, tonumber("755", 8))
  for _, name in ipairs { "resolv.conf", "hosts", "hostname" } do
    made = made and fs.write_file(tmp .. "/etc/" .. name, "", { mode = 420 })
  end
  if not made or not fs.rename(tmp, dir) then -- another process's may have won the race
    fs.rm_rf(tmp)
  end
  return fs.exists(dir .. "/etc/hostname") and dir or nil
end

--- Where compiled seccomp filters are kept (compiling docker's profile takes ~10 ms).
function M.seccomp_cache(imgs)
  return imgs.root .. "/cache/seccomp"
end

-- rm -v and --rm: the container's anonymous volumes go too (volumes.lua is loaded only then).
local function remove_anonymous_volumes(imgs, c)
  for _, m in ipairs(c.Mounts or {}) do
    if m.Type == "volume" then
      return require("cbuild.container.volumes").remove_anonymous(imgs, c)
    end
  end
end

--- Mount the container's rootfs (idempotent); returns its path.  A --rm container's overlay is
--- volatile, as podman mounts those: its upper dir goes at the exit, so neither the container's
--- fsyncs nor the unmount (which would sync the whole filesystem under it) wait for the disk.
function M.mount_rootfs(imgs, c)
  local dir = state.dir(imgs, c.Id)
  mkdirs(dir, "upper", "work", "rootfs")
  local rootfs = dir .. "/rootfs"
  if mount.is_mountpoint(rootfs) == true then
    return rootfs
  end
  local dirs = snapshot.ensure(imgs, c.Cbuild.layers)
  local lower = { init_layer() }
  for i = #dirs, 1, -1 do
    lower[#lower + 1] = dirs[i]
  end
  if #lower == 0 then
    mkdirs(dir, "empty")
    lower[1] = dir .. "/empty"
  end
  errors.need("mount the container's rootfs",
    mount.overlay { lower = lower, upper = dir .. "/upper", work = dir .. "/work", target = rootfs,
      volatile = c.HostConfig.AutoRemove == true })
  return rootfs
end

--- Unmount the rootfs if mounted.
function M.umount_rootfs(imgs, c)
  local rootfs = state.dir(imgs, c.Id) .. "/rootfs"
  if mount.is_mountpoint(rootfs) == true then
    if not mount.umount(rootfs) then
      mount.umount(rootfs, { detach = true })
    end
  end
end

--- --add-host's lines for /etc/hosts ("IP\tNAME\n" each); host-gateway is the bridge's
--- gateway (the host, seen from the container), or 127.0.0.1 on the host's network.
function M.extra_hosts(hc, net)
  local out = {}
  for _, e in ipairs(hc.ExtraHosts or {}) do
    local name, ip = e:match "^([^:]+):(.+)$"
    if name then
      if ip == "host-gateway" then
        ip = net and net.gateway or "127.0.0.1"
      end
      out[#out + 1] = ip .. "\t" .. name .. "\n"
    end
  end
  return table.concat(out)
end

--- resolv.conf with --dns, --dns-search and --dns-option in place of the file's nameserver,
--- search and options lines (each kept when its flag is not given), as docker does.
function M.custom_resolv(text, hc)
  local dns, search, options = hc.Dns or {}, hc.DnsSearch or {}, hc.DnsOptions or {}
  if #dns == 0 and #search == 0 and #options == 0 then
    return text
  end
  local out = {}
  for line in text:gmatch "[^\n]+" do
    local key = line:match "^%s*(%a+)"
    if not ((key == "nameserver" and #dns > 0) or ((key == "search" or key == "domain") and #search > 0)
        or (key == "options" and #options > 0)) then
      out[#out + 1] = line
    end
  end
  if #search > 0 then
    out[#out + 1] = "search " .. table.concat(search, " ")
  end
  for _, ns in ipairs(dns) do
    out[#out + 1] = "nameserver " .. ns
  end
  if #options > 0 then
    out[#out + 1] = "options " .. table.concat(options, " ")
  end
  return table.concat(out, "\n") .. "\n"
end

-- /etc/resolv.conf, hosts and hostname of the container, in its directory: written afresh at
-- every start, before the container sees them, so plainly (no rename, no fsync).
local function etc_files(c, net, joined)
  local host = c.Config.Hostname
  local resolv = fs.read_file "/etc/resolv.conf" or ""
  local hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
  if net then -- the bridge: docker's files, with the container's address
    hosts, resolv = network.hosts(host, net.ip), network.resolv_conf(resolv)
  elseif joined then -- --network container: the other container's
    hosts, resolv = fs.read_file(joined.HostsPath) or hosts, fs.read_file(joined.ResolvConfPath) or resolv
  elseif c.HostConfig.NetworkMode ~= "host" then
    hosts = hosts .. "127.0.1.1\t" .. host .. "\n"
  else
    hosts = hosts .. "127.0.1.1\t" .. host .. "\n" .. (fs.read_file "/etc/hosts" or "")
  end
  if not joined then
    hosts = hosts .. M.extra_hosts(c.HostConfig, net)
    resolv = M.custom_resolv(resolv, c.HostConfig)
  end
  local plain = { mode = 420, atomic = false }
  errors.need("write resolv.conf", fs.write_file(c.ResolvConfPath, resolv, plain))
  errors.need("write hosts", fs.write_file(c.HostsPath, hosts, plain))
  errors.need("write hostname", fs.write_file(c.HostnamePath, host .. "\n", plain))
  return { resolv_conf = c.ResolvConfPath, hosts = c.HostsPath, hostname = c.HostnamePath }
end

--- The tiny init for --init: $CBUILD_INIT, or cbuild-init beside the cbuild executable.
function M.init_path()
  local env = os.getenv "CBUILD_INIT"
  if env and env ~= "" then
    return env
  end
  local exe = fs.readlink "/proc/self/exe"
  local cand = exe and exe:gsub("/[^/]*$", "") .. "/cbuild-init"
  if cand and fs.exists(cand) then
    return cand
  end
  return nil
end

--- The user c runs as, resolved in rootfs ({uid, gid, groups, home}); extra: --group-add's.
function M.resolve_user(rootfs, spec, extra)
  local who, uerr = user.resolve(rootfs, spec, extra)
  if not who then
    config.fail("%s", uerr)
  end
  return who
end

--- The environment with HOME from the user's passwd entry when the image does not set it.
function M.environment(env, who)
  local map = imgconfig.env_map(env)
  local out = {}
  for i, kv in ipairs(env) do
    out[i] = kv
  end
  if map.HOME == nil then
    out[#out + 1] = "HOME=" .. (who.home or "/")
  end
  return out
end

--- Ready the kernel for the cgroup move of a container started a few milliseconds later (see
--- cgroup.warm): call it first thing, so the grace period it waits for passes meanwhile.
function M.warm_cgroups()
  cgroup.warm()
end

--- Start c: rootfs, cgroup, sandbox.  io = {stdin=, stdout=, stderr=, ctty=, setsid=}.
--- Returns a handle {proc, cg, rootfs}; on failure nothing is left running or mounted.
function M.start(imgs, c, io_)
  local rootfs = M.mount_rootfs(imgs, c)
  local handle = { rootfs = rootfs }
  local ok, err = pcall(function()
    local who = M.resolve_user(rootfs, c.Config.User, c.HostConfig.GroupAdd)
    local hc = c.HostConfig
    local limits = config.limits(hc)
    local mounts = {}
    for _, m in ipairs(c.Mounts or {}) do
      if m.Type == "bind" then
        if not fs.exists(m.Source) then
          errors.need("create bind source '" .. m.Source .. "'", fs.mkdir_p(m.Source, tonumber("755", 8)))
        end
        mounts[#mounts + 1] = { type = "bind", source = m.Source, target = m.Destination, readonly = not m.RW }
      elseif m.Type == "volume" then
        require("cbuild.container.volumes").fill(imgs, m, rootfs)
        mounts[#mounts + 1] = { type = "bind", source = m.Source, target = m.Destination, readonly = not m.RW }
      end
    end
    for _, t in ipairs(c.Cbuild.tmpfs or {}) do
      mounts[#mounts + 1] = config.parse_tmpfs(t)
    end
    for _, d in ipairs(hc.Devices or {}) do -- the host's node, bound over the container's /dev
      mounts[#mounts + 1] = { type = "bind", source = d.PathOnHost, target = d.PathInContainer, readonly = false }
    end
    if io_.ctty then -- the pty as /dev/console, so ttyname() finds it inside
      local slave = fs.readlink("/proc/self/fd/" .. io_.stdin)
      if slave then
        mounts[#mounts + 1] = { type = "bind", source = slave, target = "/dev/console" }
      end
    end
    local argv = {}
    for i, a in ipairs(c.Cbuild.argv) do
      argv[i] = a
    end
    if hc.Init then
      local init = M.init_path() or config.fail "--init: no cbuild-init found (set CBUILD_INIT)"
      mounts[#mounts + 1] = { type = "bind", source = init, target = "/dev/init", readonly = true }
      table.insert(argv, 1, "--")
      table.insert(argv, 1, "/dev/init")
    end
    local cwd = c.Config.WorkingDir ~= "" and c.Config.WorkingDir or "/"
    -- rlimits are inherited: this process (the monitor, or the foreground cbuild that only
    -- supervises) takes them on so the container starts with them
    for _, u in ipairs(hc.Ulimits or {}) do
      errors.need("--ulimit " .. u.Name, require("cbuild.core.proc").setrlimit(u.Name, u.Soft, u.Hard))
    end
    local mode, netns, joined, joined_host = network.mode(c), nil, nil, false
    if mode == "bridge" then
      handle.net = network.setup(imgs, c)
      netns = handle.net.netns
    elseif mode == "container" then
      netns, joined, joined_host = network.joined(imgs, c)
    end
    local etc = etc_files(c, handle.net, joined)
    -- the cgroup last: making it waits while cgroup.warm's move is in the kernel, and the later
    -- it comes the less of that wait is left
    local cg, msg = cgroup.create(c.Cbuild.cgroup, limits)
    if not cg and limits then
      config.fail("cgroup for the container's limits: %s", msg)
    end
    handle.cg = cg
    handle.oom_base = cg and cg:oom_killed() or 0 -- a reused cgroup may have counted before
    handle.proc = errors.need("start container", sandbox.spawn {
      rootfs = rootfs,
      argv = argv,
      env = M.environment(c.Config.Env, who),
      cwd = cwd,
      uid = who.uid,
      gid = who.gid,
      groups = who.groups,
      hostname = hc.UTSMode ~= "host" and c.Config.Hostname or nil,
      host_uts = hc.UTSMode == "host",
      host_pid = hc.PidMode == "host",
      host_ipc = hc.IpcMode == "host",
      shm_size = hc.ShmSize,
      network = (mode == "host" or joined_host) and "host" or "none",
      netns = netns,
      etc_files = etc,
      mounts = mounts,
      caps = c.Cbuild.caps,
      privileged = c.Cbuild.privileged,
      seccomp = config.seccomp(hc),
      seccomp_cache = M.seccomp_cache(imgs),
      readonly_rootfs = hc.ReadonlyRootfs,
      stdin = io_.stdin,
      stdout = io_.stdout,
      stderr = io_.stderr,
      setsid = io_.setsid,
      ctty = io_.ctty,
      cgroup_procs = cg and cg:procs_paths() or nil,
    })
  end)
  if not ok then
    if handle.cg then
      handle.cg:remove()
      handle.cg:close()
    end
    if handle.net then
      network.teardown(imgs, c.Id)
    end
    M.umount_rootfs(imgs, c)
    error(err, 0)
  end
  return handle
end

--- Record that c runs under this process (the monitor or a foreground cbuild).
function M.mark_running(imgs, c, h)
  local me = sys.getpid()
  local rec = state.update(imgs, c.Id, function(s)
    s.State.Status = "running"
    s.State.Running = true
    s.State.Restarting = false
    s.State.Pid = h.proc:pid()
    s.State.ExitCode = 0
    s.State.Error = ""
    s.State.OOMKilled = false
    s.State.StartedAt = state.now()
    s.State.FinishedAt = state.ZERO_TIME
    s.Cbuild.monitor_pid = me
    s.Cbuild.monitor_start = state.starttime(me)
    s.Cbuild.stubs = h.proc:stubs()
    s.NetworkSettings = network.settings(h.net, network.mode(s))
  end)
  if rec and c.Config.Healthcheck then
    require("cbuild.container.health").start(imgs, rec)
  end
  return rec
end

--- Start a process in running container c, as exec does: its namespaces, root, cgroup, user
--- (opts.user, else the container's) and capabilities.  opts: argv, env ({"K=V"} over the
--- container's), workdir, privileged, stdin/stdout/stderr (fds; default none), ctty.  Returns
--- the proc handle (pid, wait, poll, kill, close).
function M.enter(imgs, c, opts)
  local rootfs = state.dir(imgs, c.Id) .. "/rootfs"
  local who = M.resolve_user(rootfs, opts.user or c.Config.User, c.HostConfig.GroupAdd)
  local env = c.Config.Env
  for _, kv in ipairs(opts.env or {}) do
    local k, v = kv:match "^([^=]+)=(.*)$"
    env = imgconfig.env_set(env, k, v)
  end
  local cg = cgroup.open(c.Cbuild.cgroup)
  local p, msg, code = require("cbuild.core.proc").enter {
    target = c.State.Pid,
    argv = opts.argv,
    env = M.environment(env, who),
    cwd = opts.workdir or (c.Config.WorkingDir ~= "" and c.Config.WorkingDir) or "/",
    uid = who.uid,
    gid = who.gid,
    groups = who.groups,
    network = c.HostConfig.NetworkMode == "host" and "host" or "none", -- else: its init's netns
    privileged = opts.privileged or c.Cbuild.privileged,
    caps = (not opts.privileged) and c.Cbuild.caps or nil,
    seccomp = config.seccomp(c.HostConfig),
    seccomp_cache = M.seccomp_cache(imgs),
    stdin = opts.stdin,
    stdout = opts.stdout,
    stderr = opts.stderr,
    ctty = opts.ctty,
    cgroup_procs = cg and cg:procs_paths() or nil,
  }
  if cg then
    cg:close()
  end
  return errors.need("exec", p, msg, code)
end

--- Whether the container's main process was OOM-killed, docker's State.OOMKilled: it died of
--- SIGKILL while the cgroup's OOM-kill count rose (a child the kernel killed while the main
--- process lived on does not count).  Returns that and the cgroup's count since the start.
function M.oom_verdict(status, kills)
  return status.signal == 9 and kills > 0, kills
end

--- Tear down after the container's init ended with status; records the exit.  Returns the
--- record (nil when it was removed meanwhile).  With remove (a foreground --rm container, whose
--- record nobody reads again) the container's directory goes instead of the record's update.
function M.finish(imgs, c, h, status, remove)
  if c.Config.Healthcheck then -- its checker ends with it
    require("cbuild.container.health").stop(state.load(imgs, c.Id) or c)
  end
  local kills = 0
  if h.cg then
    kills = math.max(0, (h.cg:oom_killed() or 0) - (h.oom_base or 0))
  end
  local oom = M.oom_verdict(status, kills)
  h.proc:remove_stubs()
  h.proc:close()
  if h.net then
    network.teardown(imgs, c.Id)
  end
  if h.cg then
    h.cg:remove()
    h.cg:close()
  end
  M.umount_rootfs(imgs, c)
  if remove then
    errors.need("remove container " .. c.Id, fs.rm_rf(state.dir(imgs, c.Id)))
    remove_anonymous_volumes(imgs, c)
    return nil
  end
  return state.update(imgs, c.Id, function(s)
    s.State.Status = "exited"
    s.State.Running = false
    s.State.Pid = 0
    s.State.ExitCode = status.code
    s.State.OOMKilled = oom
    s.Cbuild.oom_kills = kills -- every OOM kill in the cgroup, the main process or not
    s.State.Error = status.exec_error or ""
    s.State.FinishedAt = state.now()
    s.Cbuild.monitor_pid = nil
    s.Cbuild.monitor_start = nil
    s.Cbuild.stdin_fd = nil
    s.NetworkSettings = network.settings(nil, network.mode(s))
  end)
end

--- Remove a container that is not running: its mounts, cgroup and directory.
function M.remove(imgs, c, opts)
  network.teardown(imgs, c.Id)
  M.umount_rootfs(imgs, c)
  local cg = cgroup.open(c.Cbuild.cgroup)
  if cg then
    cg:remove()
    cg:close()
  end
  errors.need("remove container " .. c.Id, fs.rm_rf(state.dir(imgs, c.Id)))
  if (opts and opts.volumes) or c.HostConfig.AutoRemove then -- rm -v, and --rm, as docker
    remove_anonymous_volumes(imgs, c)
  end
end

--- Clean up after a supervisor that died without doing it (a foreground cbuild or a monitor
--- killed with SIGKILL): what is left in the cgroup is killed and the cgroup removed, the rootfs
--- unmounted, and the exit recorded for good (255, as docker shows a container whose daemon
--- died under it).  A --rm container is removed instead, as docker's daemon removes those it
--- finds stopped when it restarts (its volatile upper dir could not be mounted again anyway).
--- For a record that state reads as stale; returns true when it was, and "removed" then for a
--- --rm container.
function M.reap(imgs, c)
  if not c.stale then
    return false
  end
  if c.HostConfig.AutoRemove then
    M.remove(imgs, c)
    return true, "removed"
  end
  local cg = cgroup.open(c.Cbuild.cgroup)
  if cg then
    cg:remove()
    cg:close()
  end
  network.teardown(imgs, c.Id)
  M.umount_rootfs(imgs, c)
  state.update(imgs, c.Id, function(s)
    if s.stale then -- read as exited: writing it back makes that the record
      s.Cbuild.monitor_pid = nil
      s.Cbuild.monitor_start = nil
      s.NetworkSettings = network.settings(nil, network.mode(s))
    end
  end)
  return true
end

--- Reap every stale container of the store (`run` does this before it starts a new one).
--- Returns the records that remain, newest first.
function M.reap_dead(imgs)
  local out = {}
  for _, c in ipairs(state.list(imgs)) do
    local _, removed = M.reap(imgs, c)
    if not removed then
      out[#out + 1] = c
    end
  end
  return out
end

--- Wait (polling the record) until c no longer runs or timeout seconds passed (nil: forever).
--- Returns the last record and whether it stopped.
function M.wait_stopped(imgs, id, timeout)
  local deadline = timeout and sys.time() + timeout
  while true do
    local c = state.load(imgs, id)
    if not c or not c.State.Running then
      return c, true
    end
    if deadline and sys.time() >= deadline then
      return c, false
    end
    sys.poll({}, 50)
  end
end

--- Wait until c is neither running nor between restarts.
function M.wait_settled(imgs, id)
  while true do
    local c = state.load(imgs, id)
    if not c or not (c.State.Running or c.State.Restarting) then
      return c
    end
    sys.poll({}, 50)
  end
end

-- ---- supervision loops ------------------------------------------------------------------------

--- The signals a foreground cbuild passes on to the container.
M.FORWARD = { "INT", "TERM", "HUP", "QUIT" }

local function read_or_eof(fd)
  local data = sys.read(fd)
  return data or "" -- EIO on a pty master whose slave closed: the end
end

--- Give the pty master our terminal's window size (before the container starts, so its first
--- look at the size is right); a no-op when stdin is no terminal.
function M.copy_winsize(master)
  if sys.isatty(0) then
    local pty = require "cbuild.core.pty"
    local rows, cols = pty.winsize(0)
    if rows then
      pty.set_winsize(master, rows, cols)
    end
  end
end

--- Foreground with a pty: relay our stdin (when interactive) to the master and the master to
--- our stdout (and to log, a json-file writer, as stream stdout, when given), in raw mode, with
--- window size changes.  wait() returns the status.
function M.relay_pty(master, interactive, pidfd, wait, on_signal, log)
  local pty = require "cbuild.core.pty"
  local saved
  if sys.isatty(0) then
    local rows, cols = pty.winsize(0)
    if rows then
      pty.set_winsize(master, rows, cols)
    end
    if interactive then
      saved = pty.make_raw(0)
    end
  end
  local sigs = { "WINCH", "INT", "TERM", "HUP", "QUIT" }
  local sigfd = errors.need("signals", sys.signalfd(sigs))
  local ok, status = pcall(function()
    local stdin_open = interactive
    local status
    while true do
      local fds = { master, sigfd }
      if stdin_open then
        fds[#fds + 1] = 0
      end
      if not status then
        fds[#fds + 1] = pidfd
      end
      local ready = errors.need("relay", sys.poll(fds, status and 100 or -1))
      if ready[sigfd] then
        local sig = sys.read_signal(sigfd)
        if sig == 28 then -- SIGWINCH
          local rows, cols = pty.winsize(0)
          if rows then
            pty.set_winsize(master, rows, cols)
          end
        elseif sig and sig > 0 and on_signal then
          on_signal(sig)
        end
      end
      if stdin_open and ready[0] then
        local data = sys.read(0)
        if not data or data == "" then
          stdin_open = false
          sys.write(master, "\4") -- EOF to the line discipline
        else
          sys.write(master, data)
        end
      end
      if ready[master] then
        local data = read_or_eof(master)
        if data == "" then
          status = status or wait()
          return status
        end
        sys.write(1, data)
        if log then
          log:add("stdout", data)
        end
      elseif status then
        return status -- the container ended and the pty is drained
      end
      if ready[pidfd] and not status then
        status = wait()
      end
    end
  end)
  sys.close(sigfd)
  sys.unblock_signals(sigs)
  if saved then
    pty.restore(0, saved)
  end
  if not ok then
    error(status, 0)
  end
  return status
end

--- Supervise proc until it ends and its output is drained.  opts:
---   outs   = {[fd] = "stdout" | "stderr"}: output pipes (or a pty master), closed here;
---   log    = a json-file writer the output goes to (flushed, not closed);
---   tee    = {stdout = fd, stderr = fd}: where the output is also copied live (foreground);
---   relay  = {[src] = dst}: input copied from src to dst (attach's stdin to a pty master);
---   signals = names caught and forwarded to the container.
--- Returns the status.
function M.supervise(proc, opts)
  local sigs = opts.signals or { "INT", "TERM", "HUP" }
  local sigfd = errors.need("signals", sys.signalfd(sigs))
  local pidfd = proc:pidfd()
  local outs, relay, tee = opts.outs or {}, opts.relay or {}, opts.tee or {}
  local open = {}
  for fd in pairs(outs) do
    open[fd] = true
  end
  local status
  local ok, err = pcall(function()
    while true do
      local fds = { sigfd }
      for fd in pairs(open) do
        fds[#fds + 1] = fd
      end
      for fd in pairs(relay) do
        fds[#fds + 1] = fd
      end
      if not status then
        fds[#fds + 1] = pidfd
      end
      if status and not next(open) then
        break
      end
      local pending = opts.log and opts.log:pending()
      local ready = errors.need("supervise", sys.poll(fds, (status and 200) or (pending and 50) or -1))
      if pending and not next(ready) then
        opts.log:flush() -- a partial line (a prompt) waited long enough
      end
      if ready[sigfd] then
        local sig = sys.read_signal(sigfd)
        if sig and sig > 0 then
          proc:kill(sig)
        end
      end
      for src, dst in pairs(relay) do
        if ready[src] and not status then
          local data = sys.read(src)
          if data and data ~= "" then
            sys.write(dst, data)
          end
        end
      end
      local any = false
      for fd in pairs(open) do
        if ready[fd] then
          any = true
          local data = read_or_eof(fd)
          if data == "" then
            open[fd] = nil
            sys.close(fd)
          else
            local stream = outs[fd]
            if tee[stream] and not sys.write(tee[stream], data) then
              tee[stream] = nil -- our reader went away: the log still gets it
            end
            if opts.log then
              opts.log:add(stream, data)
            end
          end
        end
      end
      if ready[pidfd] and not status then
        status = errors.need("wait for the container", proc:wait())
      elseif status and not any then
        break -- output still open after the end (a daemonized child holds it): stop reading
      end
    end
  end)
  for fd in pairs(open) do
    sys.close(fd)
  end
  if opts.log then
    opts.log:flush()
  end
  sys.close(sigfd)
  sys.unblock_signals(sigs)
  if not ok then
    error(err, 0)
  end
  return status
end

return M
