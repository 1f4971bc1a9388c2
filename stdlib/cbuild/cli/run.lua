-- cbuild run [flags] IMAGE [COMMAND [ARG...]]: create a container and run it, in the foreground
-- (stdio passed through, a pty with -t) or detached (-d: a monitor process owns it).
local fs = require "cbuild.core.fs"
local proc = require "cbuild.core.proc"
local sys = require "cbuild.core.sys"
local errors = require "cbuild.errors"
local ccli = require "cbuild.container.cli"
local config = require "cbuild.container.config"
local logs = require "cbuild.container.logs"
local runtime = require "cbuild.container.runtime"
local state = require "cbuild.container.state"

local M = { summary = "Create and run a new container from an image" }

--- The flags run shares with create-like verbs.
function M.flags(p)
  p:add_help "--help"
  p:flag("-d --detach", "Run container in background and print container ID.")
  p:flag("-i --interactive", "Keep STDIN open even if not attached.")
  p:flag("-t --tty", "Allocate a pseudo-TTY.")
  p:flag("--rm", "Automatically remove the container when it exits.")
  p:option("--name", "Assign a name to the container.")
  p:option("-e --env", "Set environment variables."):count "*"
  p:option("--env-file", "Read in a file of environment variables."):count "*"
  p:option("-w --workdir", "Working directory inside the container.")
  p:option("-u --user", "Username or UID (format: <name|uid>[:<group|gid>]).")
  p:option("--entrypoint", "Overwrite the default ENTRYPOINT of the image.")
  p:option("-h --hostname", "Container host name.")
  p:option("-v --volume", "Bind mount a host path (/HOST:CONTAINER[:ro]) or a named volume "
    .. "(NAME:CONTAINER[:ro|nocopy]); CONTAINER alone: an anonymous volume."):count "*"
  p:option("--mount", "Attach a filesystem mount: type=bind|volume|tmpfs,source=...,target=...[,readonly]."
    ):count "*"
  p:option("--tmpfs", "Mount a tmpfs directory (PATH[:size=N,mode=M])."):count "*"
  p:flag("--read-only", "Mount the container's root filesystem as read only.")
  p:option("--network --net", "Connect a container to a network: bridge (the default: cbuild0, with "
    .. "NAT), host, none or container:<name|id>.")
  p:option("--pid", "PID namespace to use: host (the host's), or a new one by default.")
  p:option("--ipc", "IPC mode to use: private (default), shareable, or host (with the host's /dev/shm).")
  p:option("--uts", "UTS namespace to use: host (the host's hostname), or a new one by default.")
  p:option("--shm-size", "Size of /dev/shm (default 64m).")
  p:option("--device", "Add a host device to the container (HOST[:CONTAINER[:PERMS]])."):count "*"
  p:option("--group-add", "Add additional groups to join (names from the image's /etc/group, or GIDs)."
    ):count "*"
  p:option("--stop-signal", "Signal to stop the container (default: the image's STOPSIGNAL, else TERM).")
  p:option("--stop-timeout", "Seconds to wait for the container to stop before killing it (default 10).")
  p:option("--expose", "Expose a port or a range of ports (for -P)."):count "*"
  p:option("--cidfile", "Write the container ID to the file.")
  p:option("--pull", "Pull image before running: missing (default), always or never.", "missing")
  p:option("--add-host", "Add a custom host-to-IP mapping (HOST:IP; host-gateway: the host)."):count "*"
  p:option("--dns", "Set custom DNS servers."):count "*"
  p:option("--dns-search", "Set custom DNS search domains."):count "*"
  p:option("--dns-option", "Set DNS options."):count "*"
  p:option("-p --publish", "Publish a container's port to the host ([IP:][HOSTPORT:]PORT[/udp])."):count "*"
  p:flag("-P --publish-all", "Publish all exposed ports to free host ports.")
  p:option("--cap-add", "Add Linux capabilities."):count "*"
  p:option("--cap-drop", "Drop Linux capabilities."):count "*"
  p:flag("--privileged", "Give extended privileges to this container.")
  p:option("--security-opt", "Security options: seccomp=unconfined, seccomp=PROFILE.json (docker's "
    .. "format), no-new-privileges (always on)."):count "*"
  p:flag("--init", "Run an init inside the container that forwards signals and reaps processes.")
  p:option("-m --memory", "Memory limit (e.g. 200M).")
  p:option("--memory-swap", "Swap limit equal to memory plus swap: '-1' to enable unlimited swap.")
  p:option("--cpus", "Number of CPUs.")
  p:option("-c --cpu-shares", "CPU shares (relative weight).")
  p:option("--pids-limit", "Tune container pids limit (set -1 for unlimited).")
  p:option("--ulimit", "Ulimit options (e.g. nofile=1024:2048)."):count "*"
  p:option("-l --label", "Set meta data on a container (KEY=VALUE)."):count "*"
  p:option("--label-file", "Read in a line delimited file of labels."):count "*"
  p:option("--restart", "Restart policy to apply when a container exits: no, on-failure[:N], always "
    .. "or unless-stopped (detached containers restart; their monitor does it).", "no")
  p:option("--health-cmd", "Command to run to check health (run by /bin/sh -c in the container).")
  p:option("--health-interval", "Time between running the check (ms|s|m|h), default 30s.")
  p:option("--health-timeout", "Maximum time to allow one check to run (ms|s|m|h), default 30s.")
  p:option("--health-retries", "Consecutive failures needed to report unhealthy, default 3.")
  p:option("--health-start-period", "Start period for the container to initialize before failures count.")
  p:flag("--no-healthcheck", "Disable any container-specified HEALTHCHECK.")
  p:argument("image", "Image to run.")
  p:argument("command", "Command and arguments."):args "*"
end

local setup, parse = ccli.raw_verb("run", M.summary, M.flags)
M.setup = setup

-- An fd that reads as end of file (stdin of a container without -i).
local function eof_fd()
  local r, w = errors.need("pipe", sys.pipe())
  sys.close(w)
  return r
end

--- The options config.new takes, from run's parsed flags (create's too).
function M.opts_of(o)
  return {
    image = o.image, cmd = o.command, detach = o.detach, interactive = o.interactive, tty = o.tty,
    rm = o.rm, name = o.name, env = o.env, env_file = o.env_file, workdir = o.workdir, user = o.user,
    entrypoint = o.entrypoint, hostname = o.hostname, volumes = o.volume, mounts = o.mount, tmpfs = o.tmpfs,
    read_only = o.read_only, network = o.network, publish = o.publish, publish_all = o.publish_all,
    cap_add = o.cap_add, cap_drop = o.cap_drop, security_opt = o.security_opt,
    privileged = o.privileged, init = o.init, memory = o.memory, memory_swap = o.memory_swap,
    cpus = o.cpus, cpu_shares = o.cpu_shares, pids_limit = o.pids_limit, ulimits = o.ulimit,
    labels = o.label, label_file = o.label_file, restart = o.restart,
    health_cmd = o.health_cmd, health_interval = o.health_interval, health_timeout = o.health_timeout,
    health_retries = o.health_retries, health_start_period = o.health_start_period,
    no_healthcheck = o.no_healthcheck, group_add = o.group_add, stop_signal = o.stop_signal,
    stop_timeout = o.stop_timeout, expose = o.expose, cidfile = o.cidfile, pull = o.pull,
    add_hosts = o.add_host, devices = o.device, pid = o.pid, ipc = o.ipc, uts = o.uts,
    shm_size = o.shm_size, dns = o.dns, dns_search = o.dns_search,
    dns_option = o.dns_option,
  }
end

--- Create the container record (and its directory) for the parsed flags; returns it.
--- opts.existing: the store's records, when the caller has them (for the name check).
function M.create(imgs, opts)
  local policy = opts.pull or "missing"
  if policy ~= "missing" and policy ~= "always" and policy ~= "never" then
    config.fail("invalid pull option: '%s': must be one of \"always\", \"missing\" or \"never\"", policy)
  end
  local entry = policy ~= "always" and imgs:lookup(opts.image) or nil
  if not entry then -- docker's behaviour: say so, then pull it
    if policy == "missing" then
      io.stderr:write(string.format("Unable to find image '%s' locally\n", opts.image))
    end
    local ok, res = pcall(require("cbuild.registry.pull").ensure, imgs, opts.image, { pull = policy,
      out = function(line)
        io.stderr:write(line, "\n")
      end,
    })
    if not ok then
      config.fail("%s", errors.is(res) and errors.format(res) or tostring(res))
    end
    entry = res
  end
  local img = imgs:image(entry.digest)
  local c = config.new(imgs, img, opts)
  if opts.cidfile then -- docker refuses to overwrite one
    if fs.exists(opts.cidfile) then
      config.fail("Container ID file found, make sure the other container isn't running or delete %s",
        opts.cidfile)
    end
    errors.need("write --cidfile", fs.write_file(opts.cidfile, c.Id))
  end
  errors.need("create container dir", fs.mkdir_p(state.dir(imgs, c.Id), tonumber("700", 8)))
  state.save(imgs, c)
  return c
end

local function report_exec_error(status)
  if status.exec_error then
    io.stderr:write("cbuild: error: failed to create task for container: ", status.exec_error, "\n")
  end
end

-- A foreground container whose restart policy wants it again: as docker's daemon does, it goes
-- on in the background (a monitor, as `run -d` has) while this command returns its first exit.
local function restart_in_background(imgs, c, status)
  local cur = not status.exec_error and state.load(imgs, c.Id)
  if not cur or not config.should_restart(cur.HostConfig.RestartPolicy, status.code, 0,
      cur.Cbuild.manually_stopped) then
    return
  end
  state.update(imgs, c.Id, function(s)
    s.RestartCount = (s.RestartCount or 0) + 1
  end)
  local ok, msg = M.start_detached(imgs, cur)
  if not ok then
    io.stderr:write("cbuild: error: restart ", c.Id, ": ", msg, "\n")
  end
end

-- Run c here, in the foreground, until it exits; returns its exit status.  Its output passes
-- through live and goes to its json-file log as well (as docker's does), so `logs` works after.
local function foreground(imgs, c, o)
  local pty, master, slave
  local io_
  local outs = {}
  local close_after
  if o.tty then
    pty = require "cbuild.core.pty"
    master, slave = errors.need("open a pty", pty.open())
    runtime.copy_winsize(master)
    io_ = { stdin = slave, stdout = slave, stderr = slave, ctty = true }
    close_after = { slave }
  else
    local ro, wo = errors.need("pipe", sys.pipe())
    local re, we = errors.need("pipe", sys.pipe())
    outs[ro], outs[re] = "stdout", "stderr"
    io_ = { stdin = (not o.interactive) and eof_fd() or nil, stdout = wo, stderr = we, setsid = true }
    close_after = { wo, we, io_.stdin }
  end
  local ok, h = pcall(runtime.start, imgs, c, io_)
  for _, fd in pairs(close_after) do
    sys.close(fd)
  end
  if not ok then
    if master then
      sys.close(master)
    end
    for fd in pairs(outs) do
      sys.close(fd)
    end
    state.update(imgs, c.Id, function(s)
      s.State.Error = errors.is(h) and h.msg or tostring(h)
    end)
    if o.rm then
      runtime.remove(imgs, c)
    end
    error(h, 0)
  end
  runtime.mark_running(imgs, c, h)
  local log = logs.writer(c.LogPath)
  local status
  local sok, serr = pcall(function()
    if o.tty then
      status = runtime.relay_pty(master, o.interactive, h.proc:pidfd(), function()
        return errors.need("wait for the container", h.proc:wait())
      end, function(sig)
        h.proc:kill(sig)
      end, log)
    else
      status = runtime.supervise(h.proc, { outs = outs, log = log, tee = { stdout = 1, stderr = 2 },
        signals = runtime.FORWARD })
    end
  end)
  log:close()
  if master then
    sys.close(master)
  end
  if not sok then
    h.proc:kill "KILL"
    status = h.proc:wait() or { code = 137 }
  end
  runtime.finish(imgs, c, h, status, o.rm)
  if not sok then
    error(serr, 0)
  end
  report_exec_error(status)
  restart_in_background(imgs, c, status)
  return status.code
end

--- Hand c to a detached monitor; returns the monitor's verdict: true, or nil, message, status.
function M.start_detached(imgs, c)
  local exe = errors.need("find the cbuild executable", fs.readlink "/proc/self/exe")
  local rfd, wfd = errors.need("pipe", sys.pipe())
  local pid, msg = proc.spawn_detached({ exe, "--root", imgs.root, "container", "_monitor",
    "--notify-fd", tostring(wfd), c.Id }, { keep_fd = wfd })
  sys.close(wfd)
  if not pid then
    sys.close(rfd)
    return nil, msg, 125
  end
  local parts = {}
  while true do
    local data = sys.read(rfd)
    if not data or data == "" then
      break
    end
    parts[#parts + 1] = data
  end
  sys.close(rfd)
  local answer = table.concat(parts)
  if answer == "ok" then
    return true
  end
  local code, text = answer:match "^(%d+):(.*)$"
  return nil, text or "the container monitor died during start", tonumber(code) or 125
end

local function detached(imgs, c)
  local ok, msg, code = M.start_detached(imgs, c)
  if ok then
    io.stdout:write(c.Id, "\n")
    return 0
  end
  io.stderr:write("cbuild: error: ", msg, "\n")
  return code
end

function M.run(args, ctx)
  runtime.warm_cgroups() -- the kernel's wait before a cgroup move passes while all else is done
  local o = parse(args)
  return ccli.exit125(function()
    local imgs = ctx:store()
    local opts = M.opts_of(o)
    opts.existing = runtime.reap_dead(imgs) -- what supervisors killed with SIGKILL left behind
    local c = M.create(imgs, opts)
    if o.detach then
      return detached(imgs, c)
    end
    return foreground(imgs, c, o)
  end)
end

return M
