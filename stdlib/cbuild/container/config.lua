-- A new container from an image and `run` flags: docker's rules for the command (ENTRYPOINT and
-- CMD), the environment, limits with docker's units, capabilities, binds and tmpfs, assembled
-- as the docker-shaped record that state.lua stores.
--
-- Engine module: user mistakes raise cbuild.errors (exit 125 at the CLI).
local fs = require "cbuild.core.fs"
local json = require "cbuild.core.json"
local errors = require "cbuild.errors"
local imgconfig = require "cbuild.image.config"
local network = require "cbuild.container.network"
local state = require "cbuild.container.state"

local M = {}

-- docker's default capability set (moby oci/caps/defaults.go).
M.DEFAULT_CAPS = {
  "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID", "SETFCAP",
  "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
}

local function fail(fmt, ...)
  error(errors.new(string.format(fmt, ...), { exit = 125 }), 0)
end
M.fail = fail

--- docker's RAMInBytes: "200M", "1g", "512k", "1024" (binary units) -> bytes, or nil.
function M.parse_bytes(s)
  if s == nil then
    return nil
  end
  local num, unit = tostring(s):lower():match "^(%d+%.?%d*)%s*([kmgtp]?)b?$"
  if not num then
    return nil
  end
  local mult = ({ [""] = 1, k = 1024, m = 1024 ^ 2, g = 1024 ^ 3, t = 1024 ^ 4, p = 1024 ^ 5 })[unit]
  return math.tointeger(math.floor(tonumber(num) * mult))
end

--- The command docker runs: ENTRYPOINT (or --entrypoint, which also drops the image's CMD)
--- followed by the arguments (or the image's CMD).  Returns argv, entrypoint, cmd.
function M.command(imgcfg, entrypoint_flag, args)
  local function list(v)
    return type(v) == "table" and v or nil -- json.null and absent alike
  end
  local entrypoint, cmd = list(imgcfg.Entrypoint), list(imgcfg.Cmd)
  if entrypoint_flag ~= nil then
    entrypoint = entrypoint_flag ~= "" and { entrypoint_flag } or nil
    cmd = nil
  end
  if args and #args > 0 then
    cmd = args
  end
  local argv = {}
  for _, a in ipairs(entrypoint or {}) do
    argv[#argv + 1] = a
  end
  for _, a in ipairs(cmd or {}) do
    argv[#argv + 1] = a
  end
  return argv, entrypoint, cmd
end

--- docker's capability arithmetic: the default set plus add minus drop ("ALL" allowed on both).
function M.caps(add, drop)
  local norm = function(c)
    return (c:upper():gsub("^CAP_", ""))
  end
  local set, order = {}, {}
  local function put(c)
    if not set[c] then
      set[c] = true
      order[#order + 1] = c
    end
  end
  local all_dropped = false
  for _, d in ipairs(drop or {}) do
    if norm(d) == "ALL" then
      all_dropped = true
    end
  end
  if not all_dropped then
    for _, c in ipairs(M.DEFAULT_CAPS) do
      put(c)
    end
  end
  for _, a in ipairs(add or {}) do
    if norm(a) == "ALL" then
      return nil, true -- every capability: as privileged, minus nothing
    end
    put(norm(a))
  end
  local out = {}
  local dropped = {}
  for _, d in ipairs(drop or {}) do
    dropped[norm(d)] = true
  end
  for _, c in ipairs(order) do
    if not dropped[c] then
      out[#out + 1] = c
    end
  end
  return out, false
end

--- docker's --security-opt list, as HostConfig.SecurityOpt keeps it: seccomp=unconfined,
--- seccomp=<the profile's JSON> (the file is read now, as docker's CLI does, so the container
--- never depends on it again), no-new-privileges[=true|false] (cbuild always sets it), and
--- apparmor=/label= (accepted: cbuild applies no LSM profile).
function M.security_opts(list)
  local out = {}
  for _, opt in ipairs(list or {}) do
    local key, value = opt:match "^([%w-]+)[=:](.*)$"
    key = key or opt
    if key == "seccomp" and value and value ~= "" then
      if value ~= "unconfined" then
        local text, msg = fs.read_file(value)
        if not text then
          fail("opening seccomp profile (%s) failed: %s", value, msg or "cannot read it")
        end
        local doc, jmsg = json.decode(text)
        if type(doc) ~= "table" then
          fail("decoding seccomp profile (%s) failed: %s", value, jmsg or "not a JSON object")
        end
        value = text
      end
      out[#out + 1] = "seccomp=" .. value
    elseif key == "no-new-privileges" and (value == nil or value == "true" or value == "false") then
      out[#out + 1] = opt
    elseif (key == "apparmor" or key == "label") and value then
      out[#out + 1] = opt
    else
      fail("Invalid --security-opt: %q", opt)
    end
  end
  return out
end

--- The sandbox's seccomp field for a container's HostConfig: nil (docker's default profile),
--- "unconfined", or the JSON text of its profile.  The last seccomp= option wins.
function M.seccomp(hc)
  local value
  for _, opt in ipairs(hc and hc.SecurityOpt or {}) do
    value = opt:match "^seccomp=(.*)$" or value
  end
  return value
end

-- Read an --env-file: KEY=VALUE lines, KEY alone takes the host's value, # comments.
local function env_file(path)
  local text = fs.read_file(path)
  if not text then
    fail("open %s: no such file or directory", path)
  end
  local out = {}
  for line in text:gmatch "[^\n]+" do
    line = line:gsub("^%s+", ""):gsub("\r$", "")
    if line ~= "" and not line:match "^#" then
      out[#out + 1] = line
    end
  end
  return out
end

local function apply_env(env, list)
  for _, kv in ipairs(list) do
    local k, v = kv:match "^([^=]+)=(.*)$"
    if not k then
      k, v = kv, os.getenv(kv)
    end
    if v ~= nil then
      env = imgconfig.env_set(env, k, v)
    end
  end
  return env
end

-- A volume mount's options ("ro", "rw", "nocopy", SELinux's "z"/"Z" accepted) into m.
local function volume_options(m, spec, opts)
  for o in (opts or ""):gmatch "[^,]+" do
    if o == "ro" or o == "rw" then
      m.RW, m.Mode = o == "rw", o == "ro" and "ro" or m.Mode
    elseif o == "nocopy" and m.Type == "volume" then
      m.NoCopy = true
    elseif o ~= "z" and o ~= "Z" then
      fail("invalid mode: %s", o)
    end
  end
  if not m.Destination:match "^/" then
    fail("invalid volume specification: '%s': the container path must be absolute", spec)
  end
  return m
end

--- Parse -v into a mount: HOST:CTR[:OPTS] binds an absolute host path, NAME:CTR[:OPTS] mounts
--- the named volume (made on first use, as docker), and a lone CTR an anonymous volume.  A
--- volume's Name is nil for an anonymous one and its Source is filled when it is created.
function M.parse_volume(spec)
  local parts = {}
  for p in (spec .. ":"):gmatch "([^:]*):" do
    parts[#parts + 1] = p
  end
  if #parts == 1 and parts[1]:match "^/" then
    return volume_options({ Type = "volume", Destination = parts[1], Driver = "local", Mode = "", RW = true,
      Propagation = "" }, spec)
  end
  if #parts < 2 or #parts > 3 or parts[1] == "" then
    fail("invalid volume specification: '%s'", spec)
  end
  local src, dst = parts[1], parts[2]
  if src:match "^/" then
    return volume_options({ Type = "bind", Source = src, Destination = dst, Mode = "", RW = true,
      Propagation = "rprivate" }, spec, parts[3])
  end
  if not src:match "^[a-zA-Z0-9][a-zA-Z0-9_.-]+$" then
    fail("invalid volume specification: '%s': \"%s\" includes invalid characters for a local volume name, "
      .. "only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed; if you intended to pass a host directory, use "
      .. "absolute path", spec, src)
  end
  return volume_options({ Type = "volume", Name = src, Destination = dst, Driver = "local", Mode = "z", RW = true,
    Propagation = "" }, spec, parts[3])
end

--- Parse --mount type=bind|volume|tmpfs,source=...,target=...[,readonly][,volume-nocopy]
--- [,tmpfs-size=N][,tmpfs-mode=M]: a mount (as parse_volume's), or {tmpfs = <--tmpfs spec>}.
function M.parse_mount(spec)
  local f = {}
  for kv in spec:gmatch "[^,]+" do
    local k, v = kv:match "^([^=]+)=(.*)$"
    f[(k or kv):lower()] = v or true
  end
  local typ = f.type or "volume"
  local dst = f.target or f.destination or f.dst
  if type(dst) ~= "string" or dst == "" then
    fail("invalid argument \"%s\" for \"--mount\" flag: target is required", spec)
  end
  local ro = f.readonly == true or f.readonly == "true" or f.readonly == "1" or f.ro == true or f.ro == "true"
  local src = f.source or f.src
  if typ == "tmpfs" then
    local o = {}
    if f["tmpfs-size"] then
      o[#o + 1] = "size=" .. f["tmpfs-size"]
    end
    if f["tmpfs-mode"] then
      o[#o + 1] = "mode=" .. f["tmpfs-mode"]
    end
    return { tmpfs = dst .. (#o > 0 and (":" .. table.concat(o, ",")) or "") }
  elseif typ == "bind" then
    if type(src) ~= "string" or not src:match "^/" then
      fail("invalid argument \"%s\" for \"--mount\" flag: a bind mount needs an absolute source", spec)
    end
    if not require("cbuild.core.fs").exists(src) then
      fail("invalid mount config for type \"bind\": bind source path does not exist: %s", src)
    end
    return volume_options({ Type = "bind", Source = src, Destination = dst, Mode = ro and "ro" or "", RW = not ro,
      Propagation = "rprivate" }, spec)
  elseif typ == "volume" then
    local m = type(src) == "string" and src ~= "" and M.parse_volume(src .. ":" .. dst)
      or M.parse_volume(dst)
    m.RW, m.Mode = not ro, ro and "ro" or m.Mode
    m.NoCopy = f["volume-nocopy"] == true or f["volume-nocopy"] == "true" or nil
    return m
  end
  fail("invalid argument \"%s\" for \"--mount\" flag: unknown mount type %q", spec, tostring(typ))
end

--- Parse --device HOST[:CONTAINER[:PERMS]] into docker's {PathOnHost, PathInContainer,
--- CgroupPermissions}; the host path must be a device node.
function M.parse_device(spec)
  local host, ctr, perms = spec:match "^([^:]+):?([^:]*):?([rwm]*)$"
  if not host or not host:match "^/" then
    fail("invalid device specification: %s", spec)
  end
  if ctr:match "^[rwm]+$" and perms == "" then
    ctr, perms = "", ctr
  end
  local st = require("cbuild.core.fs").stat(host)
  if not st or (st.type ~= "char" and st.type ~= "block") then
    fail("error gathering device information while adding custom device %q: not a device node", host)
  end
  return { PathOnHost = host, PathInContainer = ctr ~= "" and ctr or host,
    CgroupPermissions = perms ~= "" and perms or "rwm" }
end

--- The image's ExposedPorts with --expose's (PORT[/PROTO] or a range START-END[/PROTO]), or nil.
function M.exposed(image_ports, list)
  local out = json.object {}
  for k, v in pairs(image_ports or {}) do
    out[k] = v
  end
  for _, spec in ipairs(list or {}) do
    local a, b, proto = spec:match "^(%d+)%-?(%d*)/?(%a*)$"
    if not a then
      fail("invalid range format for --expose: %s", spec)
    end
    for port = tonumber(a), tonumber(b ~= "" and b or a) do
      out[port .. "/" .. (proto ~= "" and proto or "tcp")] = json.object {}
    end
  end
  return next(out) and out or nil
end

--- One --add-host HOST:IP (or HOST=IP): name, ip ("host-gateway" kept for the caller to map),
--- or nil, docker's message.
function M.add_host(spec)
  local name, ip = spec:match "^([^:=]+)[:=](.+)$"
  if not name then
    return nil, string.format("invalid argument %q for \"--add-host\" flag: invalid IP address in add-host", spec)
  end
  if ip ~= "host-gateway" and not (ip:match "^%d+%.%d+%.%d+%.%d+$" or ip:match "^%[?[%x:]+%]?$") then
    return nil, string.format("invalid argument %q for \"--add-host\" flag: invalid IP address in add-host: %q",
      spec, ip)
  end
  return name, (ip:gsub("^%[(.*)%]$", "%1"))
end

--- Parse --tmpfs /path[:size=64m,mode=1777].
function M.parse_tmpfs(spec)
  local path, opts = spec:match "^([^:]+):?(.*)$"
  if not path or not path:match "^/" then
    fail("invalid tmpfs mount '%s': the path must be absolute", spec)
  end
  local m = { type = "tmpfs", target = path }
  for o in opts:gmatch "[^,]+" do
    local k, v = o:match "^([^=]+)=(.*)$"
    if k == "size" then
      m.size = M.parse_bytes(v) or fail("invalid tmpfs size '%s'", v)
    elseif k == "mode" then
      m.mode = tonumber(v, 8) or fail("invalid tmpfs mode '%s'", v)
    end
  end
  return m
end

--- Parse --ulimit NAME=SOFT[:HARD] into docker's {Name, Soft, Hard} (-1 = unlimited).
function M.parse_ulimit(spec)
  local name, soft, hard = spec:match "^(%a+)=(%-?%d+):?(%-?%d*)$"
  local known = { as = 1, core = 1, cpu = 1, data = 1, fsize = 1, locks = 1, memlock = 1, msgqueue = 1,
    nice = 1, nofile = 1, nproc = 1, rss = 1, rtprio = 1, rttime = 1, sigpending = 1, stack = 1 }
  if not name or not known[name] then
    fail("invalid ulimit argument: %s", spec)
  end
  soft = math.tointeger(tonumber(soft))
  hard = hard ~= "" and math.tointeger(tonumber(hard)) or soft
  if soft > hard and hard ~= -1 then
    fail("ulimit soft limit must be less than or equal to hard limit: %d > %d", soft, hard)
  end
  return { Name = name, Soft = soft, Hard = hard }
end

--- The cgroup limits of a HostConfig (nil when there are none).
function M.limits(hc)
  local lim, any = {}, false
  if hc.Memory and hc.Memory > 0 then
    lim.memory, any = hc.Memory, true
    if hc.MemorySwap and hc.MemorySwap ~= 0 then
      lim.memory_swap = hc.MemorySwap
    end
  end
  if hc.NanoCpus and hc.NanoCpus > 0 then
    lim.cpu_period = 100000
    lim.cpu_quota = math.tointeger(hc.NanoCpus * 100000 // 1000000000)
    any = true
  end
  if hc.CpuShares and hc.CpuShares > 0 then
    lim.cpu_shares, any = hc.CpuShares, true
  end
  if hc.PidsLimit and hc.PidsLimit > 0 then
    lim.pids, any = hc.PidsLimit, true
  end
  return any and lim or nil
end

--- docker's --restart: no, always, unless-stopped, on-failure[:N] -> {Name, MaximumRetryCount}.
function M.parse_restart(spec)
  if spec == nil or spec == "" then
    return { Name = "no", MaximumRetryCount = 0 }
  end
  local name, count = spec:match "^([%a-]+):?(.*)$"
  local known = { no = true, always = true, ["unless-stopped"] = true, ["on-failure"] = true }
  if not name or not known[name] then
    fail("invalid restart policy format: %s", spec)
  end
  if count ~= "" then
    if name ~= "on-failure" then
      fail("invalid restart policy format: maximum retry count can only be used with 'on-failure'")
    end
    count = math.tointeger(tonumber(count))
    if not count or count < 0 then
      fail("invalid restart policy format: maximum retry count must be an integer")
    end
  end
  return { Name = name, MaximumRetryCount = count ~= "" and count or 0 }
end

--- Whether a container that ended with code under policy starts again (docker's rules:
--- unless-stopped and always alike here, neither after a manual stop).
function M.should_restart(policy, code, restarts, manually_stopped)
  if manually_stopped or not policy then
    return false
  end
  if policy.Name == "always" or policy.Name == "unless-stopped" then
    return true
  elseif policy.Name == "on-failure" then
    local max = policy.MaximumRetryCount or 0
    return code ~= 0 and (max == 0 or restarts < max)
  end
  return false
end

--- The labels: the image's, then --label-file lines, then --label K=V (K alone: empty value).
function M.labels(image_labels, files, list)
  local out = json.object {}
  for k, v in pairs(type(image_labels) == "table" and image_labels or {}) do
    out[k] = v
  end
  local function add(kv)
    local k, v = kv:match "^([^=]+)=(.*)$"
    out[k or kv] = v or ""
  end
  for _, f in ipairs(files or {}) do
    local text = fs.read_file(f) or fail("open %s: no such file or directory", f)
    for line in text:gmatch "[^\n]+" do
      line = line:gsub("^%s+", ""):gsub("\r$", "")
      if line ~= "" and not line:match "^#" then
        add(line)
      end
    end
  end
  for _, kv in ipairs(list or {}) do
    add(kv)
  end
  return out
end

local function arr(t)
  return json.array(t or {})
end

-- The image's layers with the diff ID its config gives each, so starting the container needs
-- no decompression to name the snapshots (as the build takes a base image's layers).
local function layers_of(img)
  local diff_ids = (img.config.rootfs or {}).diff_ids or {}
  local out = arr {}
  for i, l in ipairs(img.manifest.layers or {}) do
    out[i] = { digest = l.digest, size = l.size, mediaType = l.mediaType, diff_id = diff_ids[i] }
  end
  return out
end

--- A new container record from opts (the parsed `run` flags) and an image
--- ({digest, config, manifest} from the image store).  opts.image is the name as given;
--- opts.existing, the records a new name must not clash with (default: read them all).
function M.new(imgs, img, opts)
  local icfg = (img.config.config or {})
  local argv, entrypoint, cmd = M.command(icfg, opts.entrypoint, opts.cmd)
  if #argv == 0 then
    fail "No command specified"
  end
  local id = state.new_id()
  local env = arr(icfg.Env)
  for flag, v in pairs { ["--pid"] = opts.pid, ["--uts"] = opts.uts } do
    if v and v ~= "host" and v ~= "" then
      fail("invalid %s: %q (host, or leave it out for a namespace of its own)", flag, v)
    end
  end
  if opts.ipc and opts.ipc ~= "host" and opts.ipc ~= "private" and opts.ipc ~= "shareable" then
    fail("invalid IPC mode: %s (host, private or shareable)", opts.ipc)
  end
  if opts.uts == "host" and opts.hostname then
    fail "Conflicting options: hostname and the UTS mode"
  end
  local hostname = opts.hostname or (opts.uts == "host" and require("cbuild.core.sys").hostname())
    or id:sub(1, 12)
  for _, f in ipairs(opts.env_file or {}) do
    env = apply_env(env, env_file(f))
  end
  env = apply_env(env, opts.env or {})
  local map = imgconfig.env_map(env)
  local full_env = json.array {}
  if map.PATH == nil then
    full_env[#full_env + 1] = "PATH=" .. imgconfig.DEFAULT_PATH
  end
  full_env[#full_env + 1] = "HOSTNAME=" .. hostname
  for _, kv in ipairs(env) do
    if not kv:match "^HOSTNAME=" then
      full_env[#full_env + 1] = kv
    end
  end
  if opts.tty and map.TERM == nil then
    full_env[#full_env + 1] = "TERM=xterm"
  end

  local memory = opts.memory and (M.parse_bytes(opts.memory) or fail("invalid size: '%s'", opts.memory)) or 0
  local swap = 0
  if opts.memory_swap then
    swap = opts.memory_swap == "-1" and -1 or M.parse_bytes(opts.memory_swap)
      or fail("invalid size: '%s'", opts.memory_swap)
    if memory == 0 then
      fail "You should always set the Memory limit when using Memoryswap limit, see usage"
    end
    if swap > 0 and swap < memory then
      fail "Minimum memoryswap limit should be larger than memory limit, see usage"
    end
  elseif memory > 0 then
    swap = 2 * memory -- docker's default: as much swap as memory
  end
  if memory > 0 and memory < 6 * 1024 * 1024 then
    fail "Minimum memory limit allowed is 6MB"
  end
  local nano = 0
  if opts.cpus then
    local n = tonumber(opts.cpus)
    if not n or n < 0 then
      fail("invalid argument \"%s\" for \"--cpus\" flag", opts.cpus)
    end
    nano = math.tointeger(math.floor(n * 1e9 + 0.5))
  end
  local netmode = network.mode_of(imgs, opts.network, opts.existing)

  local mounts = arr {}
  local binds = arr {}
  local tmpfs_specs = { table.unpack(opts.tmpfs or {}) }
  for _, v in ipairs(opts.volumes or {}) do
    mounts[#mounts + 1] = M.parse_volume(v)
    binds[#binds + 1] = v
  end
  for _, spec in ipairs(opts.mounts or {}) do
    local m = M.parse_mount(spec)
    if m.tmpfs then
      tmpfs_specs[#tmpfs_specs + 1] = m.tmpfs
    else
      mounts[#mounts + 1] = m
    end
  end
  -- the image's VOLUMEs that no mount covers become anonymous volumes, as docker's
  local covered = {}
  for _, m in ipairs(mounts) do
    covered[m.Destination] = true
  end
  local image_volumes = {}
  for path in pairs(icfg.Volumes or {}) do
    image_volumes[#image_volumes + 1] = path
  end
  table.sort(image_volumes)
  for _, path in ipairs(image_volumes) do
    if not covered[path] then
      mounts[#mounts + 1] = M.parse_volume(path)
    end
  end
  for _, m in ipairs(mounts) do
    if m.Type == "volume" then
      local v = require("cbuild.container.volumes").create(imgs, m.Name)
      m.Name, m.Source = v.Name, v.Mountpoint
    end
  end
  local tmpfs = json.object {}
  for _, t in ipairs(tmpfs_specs) do
    local m = M.parse_tmpfs(t)
    tmpfs[m.target] = t:match "^[^:]+:(.*)$" or ""
  end
  local restart = M.parse_restart(opts.restart)
  if restart.Name ~= "no" and opts.rm then
    fail "Conflicting options: --restart and --rm"
  end
  local caps, all = M.caps(opts.cap_add, opts.cap_drop)
  local ulimits = arr {}
  for _, u in ipairs(opts.ulimits or {}) do
    ulimits[#ulimits + 1] = M.parse_ulimit(u)
  end

  local config = {
    Hostname = hostname,
    Domainname = "",
    User = opts.user or icfg.User or "",
    AttachStdin = opts.interactive or false,
    AttachStdout = not opts.detach,
    AttachStderr = not opts.detach,
    Tty = opts.tty or false,
    OpenStdin = opts.interactive or false,
    StdinOnce = opts.interactive or false,
    Env = full_env,
    Cmd = cmd and arr(cmd) or json.null,
    Image = opts.image,
    Volumes = icfg.Volumes and next(icfg.Volumes) and icfg.Volumes or json.null,
    WorkingDir = opts.workdir or icfg.WorkingDir or "",
    Entrypoint = entrypoint and arr(entrypoint) or json.null,
    Labels = M.labels(icfg.Labels, opts.label_file, opts.labels),
    Healthcheck = (icfg.Healthcheck or opts.health_cmd or opts.no_healthcheck or opts.health_interval
      or opts.health_timeout or opts.health_retries or opts.health_start_period)
      and require("cbuild.container.health").config(icfg.Healthcheck, opts) or nil,
    StopSignal = opts.stop_signal or icfg.StopSignal,
    StopTimeout = opts.stop_timeout and (math.tointeger(tonumber(opts.stop_timeout))
      or fail("invalid argument %q for \"--stop-timeout\" flag", opts.stop_timeout)) or nil,
    ExposedPorts = M.exposed(icfg.ExposedPorts, opts.expose),
  }
  local extra_hosts = arr {}
  for _, spec in ipairs(opts.add_hosts or {}) do
    local name, ip = M.add_host(spec)
    if not name then
      fail("%s", ip)
    end
    extra_hosts[#extra_hosts + 1] = name .. ":" .. ip
  end
  local devices = arr {}
  for _, d in ipairs(opts.devices or {}) do
    devices[#devices + 1] = M.parse_device(d)
  end
  local shm = opts.shm_size and (M.parse_bytes(opts.shm_size) or fail("invalid size: '%s'", opts.shm_size))
  local host = {
    PidMode = opts.pid or "",
    IpcMode = opts.ipc or "private",
    UTSMode = opts.uts or "",
    ShmSize = shm or 67108864,
    Devices = devices,
    GroupAdd = arr(opts.group_add),
    ExtraHosts = extra_hosts,
    Dns = arr(opts.dns),
    DnsSearch = arr(opts.dns_search),
    DnsOptions = arr(opts.dns_option),
    Binds = binds,
    NetworkMode = netmode,
    PortBindings = network.port_bindings(opts.publish, opts.publish_all and M.exposed(icfg.ExposedPorts, opts.expose)),
    AutoRemove = opts.rm or false,
    CapAdd = arr(opts.cap_add),
    CapDrop = arr(opts.cap_drop),
    Privileged = opts.privileged or false,
    SecurityOpt = arr(M.security_opts(opts.security_opt)),
    ReadonlyRootfs = opts.read_only or false,
    Tmpfs = tmpfs,
    Init = opts.init or false,
    Memory = memory,
    MemorySwap = swap,
    NanoCpus = nano,
    CpuShares = math.tointeger(tonumber(opts.cpu_shares or 0)) or fail("invalid --cpu-shares"),
    PidsLimit = math.tointeger(tonumber(opts.pids_limit or 0)) or fail("invalid --pids-limit"),
    Ulimits = ulimits,
    RestartPolicy = restart,
  }
  local now = state.now()
  return {
    Id = id,
    Created = now,
    Path = argv[1],
    Args = arr { table.unpack(argv, 2) },
    State = {
      Status = "created", Running = false, Paused = false, Restarting = false, OOMKilled = false,
      Dead = false, Pid = 0, ExitCode = 0, Error = "", StartedAt = state.ZERO_TIME,
      FinishedAt = state.ZERO_TIME,
    },
    Image = img.config_digest,
    ResolvConfPath = state.dir(imgs, id) .. "/resolv.conf",
    HostnamePath = state.dir(imgs, id) .. "/hostname",
    HostsPath = state.dir(imgs, id) .. "/hosts",
    LogPath = state.dir(imgs, id) .. "/" .. id .. "-json.log",
    Name = state.pick_name(imgs, opts.name, opts.existing),
    RestartCount = 0,
    Driver = "overlay",
    Platform = "linux",
    Config = config,
    HostConfig = host,
    Mounts = mounts,
    NetworkSettings = network.settings(nil, netmode),
    Cbuild = {
      manifest = img.digest,
      layers = layers_of(img),
      argv = arr(argv),
      caps = (not all) and arr(caps) or nil,
      privileged = (opts.privileged or all) or false,
      tmpfs = arr(tmpfs_specs),
      cgroup = "cbuild/" .. id,
    },
  }
end

return M
