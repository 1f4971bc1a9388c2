-- RUN: execute a command in the sandbox on top of the parent's layers and capture what it
-- changed as a layer.  The rootfs is an overlay of the parent's snapshots (build/snapshot.lua);
-- the command's output streams to the progress view; Ctrl-C kills the step and cleans up.
local cgroup = require "cbuild.core.cgroup"
local fs = require "cbuild.core.fs"
local sandbox = require "cbuild.core.sandbox"
local sys = require "cbuild.core.sys"
local errors = require "cbuild.errors"
local imgconfig = require "cbuild.image.config"
local sched = require "cbuild.build.sched"
local snapshot = require "cbuild.build.snapshot"
local user = require "cbuild.build.user"

local M = {}

M.HOSTNAME = "buildkitsandbox"
M.LOG_LIMIT = 4 * 1024 * 1024 -- output kept in memory before it spills to a file

--- The environment RUN sees: the image's Env, then build ARGs that Env does not set, PATH
--- and HOME defaults (docker's rules).  Returns a list of "K=V".
function M.environment(config_env, build_args, home)
  local out = {}
  local map = imgconfig.env_map(config_env)
  for _, kv in ipairs(config_env or {}) do
    out[#out + 1] = kv
  end
  local names = {}
  for k in pairs(build_args or {}) do
    names[#names + 1] = k
  end
  table.sort(names)
  for _, k in ipairs(names) do
    if map[k] == nil then
      out[#out + 1] = k .. "=" .. build_args[k]
      map[k] = build_args[k]
    end
  end
  if map.PATH == nil then
    out[#out + 1] = "PATH=" .. imgconfig.DEFAULT_PATH
  end
  if map.HOME == nil then
    out[#out + 1] = "HOME=" .. (home or "/")
  end
  return out
end

-- The part of RUN --mount specs that decides the step's result, for its cache key: never a
-- secret's content; a bind mount of the context by the content it mounts.
function M.mounts_key(solver, mounts, ctx)
  ctx = ctx or solver.opts.context
  local out = {}
  for i, m in ipairs(mounts or {}) do
    local k = { m.type, m.target or "", m.source or "", m.from or "", m.id or "", m.readonly or false,
      m.mode or "", m.uid or "", m.gid or "", m.size or "" }
    if m.from_state then
      k[#k + 1] = solver:files_key(m.from_state)
    elseif m.from_image then
      local entry = m.from_entry or solver.images:must_lookup(m.from_image)
      k[#k + 1] = solver.images:image(entry.digest).config_digest
    elseif m.type == "bind" and (m.context or ctx) then
      k[#k + 1] = (m.context or ctx):hash(m.source or ".")
    end
    out[i] = k
  end
  return out
end

local function parse_size(s)
  if s == nil or s == "" then
    return 0
  end
  local n, unit = tostring(s):lower():match "^(%d+)([kmgt]?)b?$"
  local mult = { [""] = 1, k = 1024, m = 1024 ^ 2, g = 1024 ^ 3, t = 1024 ^ 4 }
  if not n then
    errors.raise("invalid tmpfs size '%s'", tostring(s))
  end
  return math.tointeger(tonumber(n) * mult[unit])
end

-- The layers of a mount's from= (a stage's state or an image).
local function from_layers(solver, m)
  if m.from_state then
    return solver:solve(m.from_state).layers
  end
  local entry = m.from_entry or solver.images:must_lookup(m.from_image)
  local img = solver.images:image(entry.digest)
  local diff_ids = (img.config.rootfs or {}).diff_ids or {}
  local layers = {}
  for i, l in ipairs(img.manifest.layers) do
    layers[i] = { digest = l.digest, size = l.size, mediaType = l.mediaType, diff_id = diff_ids[i] }
  end
  return layers
end

local function make_cache_dir(dir, m)
  if not fs.exists(dir) then
    errors.need("cache mount " .. dir, fs.mkdir_p(dir, tonumber(m.mode or "755", 8) or 493))
    fs.chown(dir, math.tointeger(tonumber(m.uid or 0)) or 0, math.tointeger(tonumber(m.gid or 0)) or 0)
  end
end

-- dir's lock: its fd, or false when another step (or another cbuild) holds it.
local function try_lock(dir)
  local fd, msg = sys.try_lock(dir)
  if fd == nil then
    errors.raise("lock cache mount %s: %s", dir, msg)
  end
  return fd
end

-- Wait (letting other branches of the build run) until this process holds dir's lock.
local function lock_dir(dir)
  while true do
    local fd = try_lock(dir)
    if fd then
      return fd
    end
    sched.poll({}, 50)
  end
end

-- The host dir of a cache mount, kept across builds under cache/mounts/, one per id (default:
-- the target).  Its sharing, as BuildKit: shared lets every step in at once; locked makes a
-- step wait until no other step (of any build on this store) has it; private gives a step that
-- finds it in use an instance of its own (id.1, id.2, ...: kept too).  Locks held go on
-- `held`, released with the step's other mounts.
local function cache_dir(root, m, held)
  local id = m.id and m.id ~= "" and m.id or m.target
  local dir = root .. "/cache/mounts/" .. require("cbuild.core.digest").sha256(id):sub(8, 31)
  local fd
  if m.sharing == "locked" then
    make_cache_dir(dir, m)
    fd = lock_dir(dir)
  elseif m.sharing == "private" then
    local base = dir
    for n = 1, math.huge do
      make_cache_dir(dir, m)
      fd = try_lock(dir)
      if fd then
        break
      end
      dir = base .. "." .. n
    end
  else
    make_cache_dir(dir, m)
  end
  if fd then
    held[#held + 1] = { release = function() sys.close(fd) end }
  end
  return dir
end

-- RUN --mount specs to sandbox mounts; env gets the variables of secret env= mounts; views
-- collects what the step holds (snapshot mounts of from= sources, cache mount locks), for the
-- caller to release after the step.
local function sandbox_mounts(solver, st, env, views)
  local out = {}
  local nssh = 0
  local root = solver.images.root
  for _, m in ipairs(st.args.mounts or {}) do
    local target = m.target
    if m.type == "tmpfs" then
      out[#out + 1] = { type = "tmpfs", target = target, size = parse_size(m.size) }
    elseif m.type == "cache" then
      out[#out + 1] = { type = "bind", source = cache_dir(root, m, views), target = target, readonly = false }
    elseif m.type == "bind" and (m.from_state or m.from_image) then
      local view = snapshot.mount(solver.images, from_layers(solver, m), { driver = solver.opts.driver })
      views[#views + 1] = view
      local host = fs.resolve_in_root(view.rootfs, m.source or "/")
      if not host or not fs.exists(host) then
        errors.raise_at(st.loc, "RUN --mount=type=bind,from=%s: %q not found", m.from, m.source or "/")
      end
      out[#out + 1] = { type = "bind", source = host, target = target, readonly = m.readonly ~= false }
    elseif m.type == "bind" and not m.from then
      local ctx = m.context or st.args.context or solver.opts.context
      if not ctx then
        errors.raise_at(st.loc, "RUN --mount=type=bind needs a build context")
      end
      local host = fs.resolve_in_root(ctx.root, m.source or ".")
      -- the context after .dockerignore, as BuildKit mounts it: ignored files never show
      local view, scratch
      if host and fs.exists(host) then
        view, scratch = ctx:view(host == ctx.root and "." or host:sub(#ctx.root + 2),
          root .. "/tmp/run-" .. sys.getpid() .. "-", { writable = m.readonly == false })
      end
      if not view then
        errors.raise_at(st.loc, "RUN --mount=type=bind: %q not found in build context", m.source or ".")
      end
      if scratch then
        views[#views + 1] = { release = function() fs.rm_rf(scratch) end }
      end
      out[#out + 1] = { type = "bind", source = view, target = target, readonly = m.readonly ~= false }
    elseif m.type == "secret" then
      local id = m.id or (m.target and m.target:match "[^/]+$") or m.env
      local src = (solver.opts.secrets or {})[id]
      if not src then
        if m.required then
          errors.raise_at(st.loc, "secret %s: not provided (use --secret id=%s,src=FILE)", id, id)
        end
      elseif m.env then
        env[#env + 1] = m.env .. "=" .. (fs.read_file(src) or "")
        if m.target then
          out[#out + 1] = { type = "bind", source = src, target = m.target, readonly = true }
        end
      else
        out[#out + 1] = { type = "bind", source = src, target = target or ("/run/secrets/" .. id), readonly = true }
      end
    elseif m.type == "ssh" then -- the agent socket --ssh names, bound in; SSH_AUTH_SOCK points at it
      local id = m.id and m.id ~= "" and m.id or "default"
      local sock = (solver.opts.ssh or {})[id]
      nssh = nssh + 1
      if sock then
        local at = target or ("/run/buildkit/ssh_agent." .. (nssh - 1))
        out[#out + 1] = { type = "bind", source = sock, target = at, readonly = false }
        if nssh == 1 then
          env[#env + 1] = "SSH_AUTH_SOCK=" .. at
        end
      elseif m.required then
        errors.raise_at(st.loc, "RUN --mount=type=ssh: no SSH agent %q was given (build --ssh %s[=SOCKET])", id, id)
      end
    else
      errors.raise_at(st.loc, "RUN --mount=type=%s%s is not supported yet", m.type,
        m.from and (",from=" .. m.from) or "")
    end
  end
  return out
end

-- The argv of a RUN with heredocs (BuildKit's rules): a lone heredoc is the script itself,
-- otherwise the shell gets the command line with the heredoc bodies after it.
local function heredoc_argv(a)
  local hds = a.heredocs or {}
  local instr = a.instr or {}
  if #hds == 0 or not instr.prepend_shell then
    return a.cmd
  end
  local shell = { table.unpack(a.cmd, 1, #a.cmd - 1) }
  local line = instr.cmd
  if #hds == 1 and line:match("^%s*<<%-?[\"']?" .. hds[1].name:gsub("%W", "%%%0") .. "[\"']?%s*$") then
    local body = hds[1].content
    if body:match "^#!" then
      shell = { "/bin/sh", "-c" } -- a script with its own interpreter
    end
    shell[#shell + 1] = body
    return shell
  end
  local text = { line }
  for _, hd in ipairs(hds) do
    local body = hd.content
    if not body:match "\n$" then
      body = body .. "\n"
    end
    text[#text + 1] = body .. hd.name
  end
  shell[#shell + 1] = table.concat(text, "\n")
  return shell
end

-- /etc/resolv.conf, /etc/hosts and /etc/hostname for the step, in a scratch dir of the store;
-- extra_hosts ({{name=, ip=}}, from --add-host) follow localhost in /etc/hosts, as docker's.
local function etc_files(dir, extra_hosts)
  local resolv = fs.read_file "/etc/resolv.conf" or ""
  local files = {
    resolv_conf = dir .. "/resolv.conf",
    hosts = dir .. "/hosts",
    hostname = dir .. "/hostname",
  }
  errors.need("write resolv.conf", fs.write_file(files.resolv_conf, resolv, { mode = 420 }))
  local hosts = { "127.0.0.1\tlocalhost " .. M.HOSTNAME, "::1\tlocalhost ip6-localhost ip6-loopback" }
  for _, h in ipairs(extra_hosts or {}) do
    hosts[#hosts + 1] = h.ip .. "\t" .. h.name
  end
  errors.need("write hosts", fs.write_file(files.hosts, table.concat(hosts, "\n") .. "\n", { mode = 420 }))
  errors.need("write hostname", fs.write_file(files.hostname, M.HOSTNAME .. "\n", { mode = 420 }))
  return files
end

-- A log that keeps the first LOG_LIMIT bytes in memory and spills all of it to a file (kept
-- after the build, its path printed) once it grows past that; on_spill(path) is called then.
local function new_log(on_spill)
  local log = { parts = {}, size = 0 }
  function log:add(data)
    self.size = self.size + #data
    if self.size <= M.LOG_LIMIT then
      self.parts[#self.parts + 1] = data
    else
      if not self.file then
        self.path = errors.need("RUN log", fs.mkdtemp "/tmp/cbuild-run-") .. "/output.log"
        self.file = assert(io.open(self.path, "wb"))
        self.file:write(table.concat(self.parts))
        self.parts = {}
        if on_spill then
          on_spill(self.path)
        end
      end
      self.file:write(data)
    end
  end
  function log:close()
    if self.file then
      self.file:close()
    end
  end
  return log
end

-- The times of the directories the sandbox may create mountpoint stubs in (/, /etc and the
-- parents of extra mounts), so they can be put back once the stubs are gone: an unchanged
-- copied-up directory then stays out of the layer (BuildKit's MountStubsCleaner does the same).
local function dir_times(rootfs, mounts)
  local dirs = { "/", "/etc" }
  for _, m in ipairs(mounts or {}) do
    local parent = (m.target or ""):match "^(.*)/[^/]+$"
    if parent and parent ~= "" then
      dirs[#dirs + 1] = parent
    end
  end
  local times = {}
  for _, d in ipairs(dirs) do
    local host = fs.resolve_in_root(rootfs, d)
    local st = host and fs.lstat(host)
    if st and st.type == "dir" then
      times[#times + 1] = { path = host, st = st }
    end
  end
  return times
end

local function restore_times(times)
  for _, t in ipairs(times) do
    fs.utimes(t.path, t.st.atime, t.st.atime_ns, t.st.mtime, t.st.mtime_ns, { nofollow = true })
  end
end

-- True once Ctrl-C (or TERM) reached the build: read from sigfd, remembered on the solver so
-- that every step running in parallel sees it, whichever of them read the signal.
local function got_signal(solver, sigfd)
  if not solver.interrupted then
    local ready = sys.poll({ sigfd }, 0)
    if ready and ready[sigfd] and sys.read_signal(sigfd) > 0 then
      solver.interrupted = true
    end
  end
  return solver.interrupted
end

-- Drive the running step: stream its output, watch for Ctrl-C, return its exit status.  The
-- wait yields to the solver's scheduler, so steps of independent stages run side by side.
local function supervise(solver, proc, rfd, sigfd, on_output, on_tick)
  local open = true
  while open do
    local ready = errors.need("wait for RUN", sched.poll({ rfd, sigfd }, 200))
    if on_tick then
      on_tick()
    end
    if got_signal(solver, sigfd) then
      proc:kill "KILL"
      proc:wait()
      errors.raise "interrupted"
    end
    if ready[rfd] then
      local data = errors.need("read RUN output", sys.read(rfd))
      if data == "" then
        open = false
      else
        on_output(data)
      end
    end
  end
  return errors.need("wait for RUN", proc:wait())
end

--- Cgroup limits of a build's --memory, --memory-swap, --cpus, --cpu-shares and --pids-limit
--- (strings as given, docker's units and rules); returns a cbuild.core.cgroup limits table or nil.
--- Raises a user error for a bad value.
function M.limits(opts)
  local config = require "cbuild.container.config"
  local function bad(fmt, ...)
    errors.raise(fmt, ...)
  end
  local memory = 0
  if opts.memory then
    memory = config.parse_bytes(opts.memory) or bad("invalid --memory '%s'", opts.memory)
    if memory > 0 and memory < 6 * 1024 * 1024 then
      bad "Minimum memory limit allowed is 6MB"
    end
  end
  local swap = 0
  if opts.memory_swap then
    swap = opts.memory_swap == "-1" and -1 or config.parse_bytes(opts.memory_swap)
      or bad("invalid --memory-swap '%s'", opts.memory_swap)
    if memory == 0 then
      bad "You should always set the Memory limit when using Memoryswap limit, see usage"
    end
    if swap > 0 and swap < memory then
      bad "Minimum memoryswap limit should be larger than memory limit, see usage"
    end
  elseif memory > 0 then
    swap = 2 * memory -- docker's default: as much swap as memory
  end
  local nano = 0
  if opts.cpus then
    local n = tonumber(opts.cpus)
    if not n or n <= 0 then
      bad("invalid argument \"%s\" for \"--cpus\" flag", opts.cpus)
    end
    nano = math.tointeger(math.floor(n * 1e9 + 0.5))
  end
  local shares = opts.cpu_shares and math.tointeger(tonumber(opts.cpu_shares))
  if opts.cpu_shares and not shares then
    bad("invalid argument \"%s\" for \"--cpu-shares\" flag", opts.cpu_shares)
  end
  local pids = opts.pids_limit and math.tointeger(tonumber(opts.pids_limit))
  if opts.pids_limit and not pids then
    bad("invalid argument \"%s\" for \"--pids-limit\" flag", opts.pids_limit)
  end
  return config.limits { Memory = memory, MemorySwap = swap, NanoCpus = nano, CpuShares = shares or 0,
    PidsLimit = pids or 0 }
end

local step_seq = 0

-- The step's cgroup (cbuild/build-<pid>-<n>), with the build's limits; nil when cgroups cannot
-- be made and no limit was asked for (the step then runs in cbuild's own cgroup).
local function step_cgroup(limits)
  step_seq = step_seq + 1
  local name = string.format("cbuild/build-%d-%d", sys.getpid(), step_seq)
  local cg, msg = cgroup.create(name, limits)
  if not cg and limits then
    errors.raise("cgroup for the RUN step's limits: %s", msg)
  end
  return cg
end

local function human_bytes(n)
  local units = { "B", "KiB", "MiB", "GiB", "TiB" }
  local i = 1
  while n >= 1024 and i < #units and n % 1024 == 0 do
    n = n // 1024
    i = i + 1
  end
  return string.format("%d%s", n, units[i])
end

-- Raise "interrupted" when a Ctrl-C (or TERM) reached the build.
local function interrupted(solver, sigfd)
  if got_signal(solver, sigfd) then
    errors.raise "interrupted"
  end
end

-- The signalfd for Ctrl-C: the build's own when the solver holds one (blocked for the whole
-- build, so a step ending never unblocks them under another that still runs), else one for
-- this step.  Returns the fd and a function that gives it back.
local function signals(solver)
  if solver.sigfd then
    return solver.sigfd, function() end
  end
  local fd = errors.need("RUN signals", sys.signalfd { "INT", "TERM" })
  return fd, function()
    sys.close(fd)
    sys.unblock_signals { "INT", "TERM" }
  end
end

local function dead(pid)
  return pid ~= sys.getpid() and not fs.exists("/proc/" .. pid)
end

-- Remove what RUN steps of dead cbuild processes left: tmp/run-<pid>-* and cgroups
-- cbuild/build-<pid>-<n> (a kill -9 of cbuild cannot clean up after itself).
local function clean_stale(root)
  for _, name in ipairs(fs.readdir(root .. "/tmp") or {}) do
    local pid = tonumber(name:match "^run%-(%d+)%-")
    if pid and dead(pid) then
      fs.rm_rf(root .. "/tmp/" .. name)
    end
  end
  local layout = cgroup.layout()
  local seen = {}
  for _, hier in ipairs(layout and layout.hierarchies or {}) do
    for _, name in ipairs(hier.path and fs.readdir(hier.path .. "/cbuild") or {}) do
      local pid = tonumber(name:match "^build%-(%d+)%-%d+$")
      if pid and not seen[name] and dead(pid) then
        seen[name] = true
        local cg = cgroup.open("cbuild/" .. name)
        if cg then
          cg:remove()
          cg:close()
        end
      end
    end
  end
end

--- Execute the run state st on parent (a solver result); returns the layer descriptor.
--- solver gives images, opts (progress, epoch, driver) and the step's loc.
function M.execute(solver, st, parent)
  local a = st.args
  local images = solver.images
  local cfg = parent.config.config or {}
  -- Ctrl-C from here on is read from sigfd, so that every mount and dir below is cleaned up;
  -- the signals are unblocked only once all of it is gone
  local sigfd, give_back = signals(solver)
  local _ <close> = setmetatable({}, { __close = give_back })
  clean_stale(images.root)
  local scratch = errors.need("RUN scratch dir", fs.mkdtemp(images.root .. "/tmp/run-" .. sys.getpid() .. "-"))
  local _ <close> = setmetatable({}, { __close = function()
    fs.rm_rf(scratch)
  end })
  local snap <close> = snapshot.mount(images, parent.layers, { driver = solver.opts.driver })
  local who, uerr = user.resolve(snap.rootfs, cfg.User)
  if not who then
    errors.raise_at(st.loc, "%s", uerr)
  end
  local rfd, wfd = errors.need("RUN output pipe", sys.pipe())
  local progress = solver.opts.progress
  local log = new_log(function(path)
    if progress and progress.spilled then
      progress:spilled(st, path, M.LOG_LIMIT)
    end
  end)
  local env = M.environment(cfg.Env, a.build_args, who.home)
  for k, v in pairs(a.proxy or {}) do -- usable in RUN, never in the key or the history
    env[#env + 1] = k .. "=" .. v
  end
  local views = {} -- snapshot mounts of from= sources and cache locks, released after the step
  local _ <close> = setmetatable({}, { __close = function()
    for i = #views, 1, -1 do
      views[i]:release()
    end
  end })
  local mounts = sandbox_mounts(solver, st, env, views)
  local times = dir_times(snap.rootfs, mounts)
  local limits = solver.opts.limits
  local cg
  local _ <close> = setmetatable({}, { __close = function()
    if cg then -- kills whatever the step left running, then removes the cgroup
      cg:remove()
      cg:close()
    end
  end })
  local oom_killed = false
  local ok, result = pcall(function()
    local release_slot = sched.slot() -- at most --jobs sandboxed steps at once
    local _ <close> = setmetatable({}, { __close = release_slot })
    cg = step_cgroup(limits)
    local proc = errors.need("RUN", sandbox.spawn {
      rootfs = snap.rootfs,
      argv = heredoc_argv(a),
      env = env,
      cwd = cfg.WorkingDir ~= "" and cfg.WorkingDir or "/",
      uid = who.uid,
      gid = who.gid,
      groups = who.groups,
      hostname = M.HOSTNAME,
      network = (a.network == nil or a.network == "default") and (solver.opts.network or "host") or a.network,
      etc_files = etc_files(scratch, solver.opts.extra_hosts),
      shm_size = solver.opts.shm_size,
      stdout = wfd,
      stderr = wfd,
      mounts = mounts,
      cgroup_procs = cg and cg:procs_paths() or nil,
      -- docker's default seccomp profile, as BuildKit gives RUN; --security=insecure goes without
      seccomp = a.security == "insecure" and "unconfined" or nil,
      seccomp_cache = images.root .. "/cache/seccomp",
    })
    sys.close(wfd)
    wfd = nil
    local status = supervise(solver, proc, rfd, sigfd, function(data)
      log:add(data)
      if progress then
        progress:log(st, data)
      end
    end, progress and progress.tick and function()
      progress:tick()
    end)
    oom_killed = cg ~= nil and (cg:oom_killed() or 0) > 0
    proc:remove_stubs()
    restore_times(times)
    return status
  end)
  if wfd then
    sys.close(wfd)
  end
  sys.close(rfd)
  log:close()
  if not ok then
    error(result, 0)
  end
  local shown = a.shown or (a.instr and a.instr.prepend_shell and a.instr.cmd) or table.concat(a.cmd, " ")
  if result.exec_error then
    errors.raise_at(st.loc, "RUN %s: %s (exit code %d)", shown, result.exec_error, result.code)
  end
  if result.code ~= 0 then
    local msg = string.format("RUN %s exited with code %d", shown, result.code)
    if oom_killed then
      msg = msg .. " (killed by the kernel's OOM killer: out of memory"
        .. (limits and limits.memory and (" under --memory=" .. human_bytes(limits.memory)) or "") .. ")"
    end
    if log.path then
      msg = msg .. " (full output: " .. log.path .. ")"
    end
    errors.raise_at(st.loc, "%s", msg)
  end
  local layer = snap:commit(images.blobs, { clamp_mtime = solver.opts.epoch })
  interrupted(solver, sigfd)
  return layer
end

return M
