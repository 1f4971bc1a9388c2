-- RUN: execute a command in the sandbox on top of the parent's layers and capture what it
-- changed as a layer.  The rootfs is an overlay of the parent's snapshots (build/snapshot.lua);
-- the command's output streams to the progress view; Ctrl-C kills the step and cleans up.
local fs = require "cbuild.core.fs"
local sandbox = require "cbuild.core.sandbox"
local sys = require "cbuild.core.sys"
local errors = require "cbuild.errors"
local imgconfig = require "cbuild.image.config"
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

-- /etc/resolv.conf, /etc/hosts and /etc/hostname for the step, in a scratch dir of the store.
local function etc_files(dir)
  local resolv = fs.read_file "/etc/resolv.conf" or ""
  local files = {
    resolv_conf = dir .. "/resolv.conf",
    hosts = dir .. "/hosts",
    hostname = dir .. "/hostname",
  }
  errors.need("write resolv.conf", fs.write_file(files.resolv_conf, resolv, { mode = 420 }))
  errors.need("write hosts", fs.write_file(files.hosts,
    "127.0.0.1\tlocalhost " .. M.HOSTNAME .. "\n::1\tlocalhost ip6-localhost ip6-loopback\n", { mode = 420 }))
  errors.need("write hostname", fs.write_file(files.hostname, M.HOSTNAME .. "\n", { mode = 420 }))
  return files
end

-- A log that keeps the first LOG_LIMIT bytes in memory and spills all of it to a file (kept
-- after the build, its path printed) once it grows past that.
local function new_log()
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

-- Drive the running step: stream its output, watch for Ctrl-C, return its exit status.
local function supervise(proc, rfd, sigfd, on_output)
  local open = true
  while open do
    local ready = errors.need("wait for RUN", sys.poll({ rfd, sigfd }, -1))
    if ready[sigfd] and sys.read_signal(sigfd) > 0 then
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

--- Execute the run state st on parent (a solver result); returns the layer descriptor.
--- solver gives images, opts (progress, epoch, driver) and the step's loc.
function M.execute(solver, st, parent)
  local a = st.args
  local images = solver.images
  local cfg = parent.config.config or {}
  local scratch = errors.need("RUN scratch dir", fs.mkdtemp(images.root .. "/tmp/run-"))
  local _ <close> = setmetatable({}, { __close = function()
    fs.rm_rf(scratch)
  end })
  local snap <close> = snapshot.mount(images, parent.layers, { driver = solver.opts.driver })
  local who, uerr = user.resolve(snap.rootfs, cfg.User)
  if not who then
    errors.raise_at(st.loc, "%s", uerr)
  end
  local rfd, wfd = errors.need("RUN output pipe", sys.pipe())
  local sigfd = errors.need("RUN signals", sys.signalfd { "INT", "TERM" })
  local log = new_log()
  local times = dir_times(snap.rootfs, a.mounts)
  local ok, result = pcall(function()
    local proc = errors.need("RUN", sandbox.spawn {
      rootfs = snap.rootfs,
      argv = a.cmd,
      env = M.environment(cfg.Env, a.build_args, who.home),
      cwd = cfg.WorkingDir ~= "" and cfg.WorkingDir or "/",
      uid = who.uid,
      gid = who.gid,
      groups = who.groups,
      hostname = M.HOSTNAME,
      network = a.network or "host",
      etc_files = etc_files(scratch),
      stdout = wfd,
      stderr = wfd,
      mounts = a.mounts,
    })
    sys.close(wfd)
    wfd = nil
    local status = supervise(proc, rfd, sigfd, function(data)
      log:add(data)
      if solver.opts.progress then
        solver.opts.progress:log(st, data)
      end
    end)
    proc:remove_stubs()
    restore_times(times)
    return status
  end)
  if wfd then
    sys.close(wfd)
  end
  sys.close(rfd)
  sys.close(sigfd)
  sys.unblock_signals { "INT", "TERM" }
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
    if log.path then
      msg = msg .. " (full output: " .. log.path .. ")"
    end
    errors.raise_at(st.loc, "%s", msg)
  end
  return snap:commit(images.blobs, { clamp_mtime = solver.opts.epoch })
end

return M
