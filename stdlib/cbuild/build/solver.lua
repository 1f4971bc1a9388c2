-- The solver: turns a state (build/state.lua) into an image by walking its chain, computing a
-- cache key for every operation, reusing recorded results on a hit and executing misses.
--
-- A result is {key, config (decoded OCI config), layers = {{digest, size, mediaType, diff_id}}}.
local json = require "cbuild.core.json"
local errors = require "cbuild.errors"
local cache = require "cbuild.build.cache"
local imgconfig = require "cbuild.image.config"
local copy = require "cbuild.build.copy"
local sched = require "cbuild.build.sched"

local M = {}

local Solver = {}
Solver.__index = Solver

--- opts: images (image store), context (build context or nil), progress, no_cache,
--- epoch (SOURCE_DATE_EPOCH seconds or nil), platform, driver ("overlay" | "vfs"), jobs,
--- network, secrets ({id = path}), limits (cgroup limits of RUN steps).
function M.new(opts)
  return setmetatable({ opts = opts, images = opts.images, blobs = opts.images.blobs, memo = {}, in_flight = {},
    done_keys = {} }, Solver)
end

local function created_now(self)
  local epoch = self.opts.epoch
  if epoch then
    return imgconfig.timestamp(epoch)
  end
  local sys = require "cbuild.core.sys"
  local sec, nsec = sys.clock_gettime()
  return imgconfig.timestamp(sec, nsec)
end

-- A cache record for key, unless --no-cache (or --no-cache-filter names st's stage).
local function lookup(self, key, st)
  if self.opts.no_cache or st.no_cache then
    return nil
  end
  return cache.get(self.blobs, key)
end

local ops = {}

-- The digest of a tar with no entries (two zero blocks): a step that changed nothing adds no
-- layer, only a history line marked empty_layer, as BuildKit's exporter does.
M.EMPTY_LAYER = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"

-- Apply a config op's `set` ({Field = value | json.null}) to cfg.config.
local function apply_set(cfg, set)
  cfg.config = cfg.config or {}
  for field, value in pairs(set or {}) do
    if value == json.null then
      cfg.config[field] = nil
    else
      cfg.config[field] = imgconfig.copy(value)
    end
  end
end

function ops.from(self, st)
  local a = st.args
  local result
  if a.image == "scratch" then
    local cfg = imgconfig.scratch(a.platform)
    result = { key = cache.key(nil, "from", { image = "scratch", platform = imgconfig.platform_string(
      { os = cfg.os, architecture = cfg.architecture, variant = cfg.variant }) }),
      config = cfg, layers = {} }
  else
    local entry = a.entry or self.images:must_lookup(a.image)
    local img = self.images:image(entry.digest)
    local layers = {}
    local diff_ids = (img.config.rootfs or {}).diff_ids or {}
    for i, l in ipairs(img.manifest.layers) do
      layers[i] = { digest = l.digest, size = l.size, mediaType = l.mediaType, diff_id = diff_ids[i] }
    end
    result = { key = cache.key(nil, "from", { image = img.config_digest }), config = imgconfig.copy(img.config),
      layers = layers, base = entry }
  end
  if a.set then -- what the frontend fixes in the base config without a history entry (PATH...)
    apply_set(result.config, a.set)
    result.key = cache.key(result.key, "base-config", { set = a.set })
  end
  return result
end

-- The tail every op shares: look the key up; on a miss run produce() (which returns a layer
-- descriptor or nil) and record it; then the new config: `set` applied, the layer and a
-- history line appended.  Returns the result and whether it came from the cache.
local function step(self, st, parent, key, produce)
  local a = st.args
  -- identical subgraphs (equal keys reached through different states, e.g. two outputs of a
  -- recipe built the same way) run once: a branch finding the key in flight waits for it
  local flight = self.in_flight[key]
  if flight then
    sched.wait_until(function()
      return flight.done
    end)
  end
  local rec = self.done_keys[key] or lookup(self, key, st)
  local cached = rec ~= nil
  if not rec then
    flight = { done = false }
    self.in_flight[key] = flight
    local ok, layer = pcall(function()
      return produce and produce() or nil
    end)
    flight.done = true
    self.in_flight[key] = nil
    if not ok then
      error(layer, 0)
    end
    if layer and layer.digest == M.EMPTY_LAYER then
      layer = nil
    end
    rec = { created = created_now(self), layer = layer }
    cache.put(self.blobs, key, rec)
  end
  self.done_keys[key] = rec
  local cfg = imgconfig.copy(parent.config)
  apply_set(cfg, a.set)
  if a.author then
    cfg.author = a.author
  end
  local layers = parent.layers
  if rec.layer then
    cfg.rootfs = cfg.rootfs or { type = "layers" }
    cfg.rootfs.diff_ids = json.array(imgconfig.copy(cfg.rootfs.diff_ids) or {})
    cfg.rootfs.diff_ids[#cfg.rootfs.diff_ids + 1] = rec.layer.diff_id or rec.layer.digest
    layers = { table.unpack(parent.layers) }
    layers[#layers + 1] = rec.layer
  end
  imgconfig.add_history(cfg, a.history, rec.created, rec.layer ~= nil)
  cfg.created = rec.created
  return { key = key, config = cfg, layers = layers }, cached
end

function ops.config(self, st, parent)
  local a = st.args
  local key = cache.key(parent.key, "config", { set = a.set, history = a.history, author = a.author,
    mkdir = a.mkdir })
  local produce
  if a.mkdir then -- WORKDIR: the missing directories, as a layer (none when all exist)
    produce = function()
      return copy.mkdir_layer(self, a.mkdir, parent)
    end
  end
  return step(self, st, parent, key, produce)
end

function ops.copy(self, st, parent)
  local parts, plan = copy.key(self, st)
  local key = cache.key(parent.key, st.args.add and "add" or "copy", parts)
  return step(self, st, parent, key, function()
    return copy.write_layer(self, plan, parent)
  end)
end

function ops.run(self, st, parent)
  local run = require "cbuild.build.run"
  local a = st.args
  local cfg = parent.config.config or {}
  a.build_args = a.build_args or a.args
  local key = cache.key(parent.key, "run", {
    cmd = a.cmd,
    heredocs = a.heredocs,
    env = run.environment(cfg.Env, a.build_args, nil),
    user = cfg.User or "",
    workdir = cfg.WorkingDir or "",
    network = a.network or "",
    mounts = run.mounts_key(self, a.mounts, a.context),
    extra_hosts = self.opts.extra_hosts, -- BuildKit keys them too: they can change the result
  })
  return step(self, st, parent, key, function()
    return run.execute(self, st, parent)
  end)
end

-- The states st needs besides its parent (COPY --from stages), in a stable order.
local function inputs(st)
  local out = {}
  if st.args.from then
    out[#out + 1] = st.args.from
  end
  for _, m in ipairs(st.args.mount_states or {}) do
    out[#out + 1] = m
  end
  return out
end

local function solve_now(self, st)
  -- independent inputs build in their own branches while this one builds its parent
  for _, input in ipairs(inputs(st)) do
    if self.sched and not self.memo[input] then
      self.sched:spawn(function()
        self:solve(input)
      end)
    end
  end
  local parent = st.parent and self:solve(st.parent)
  for _, input in ipairs(inputs(st)) do
    self:solve(input)
  end
  local progress = self.opts.progress
  if st.label and progress then
    progress:start(st)
  end
  local op = ops[st.op]
  if not op then
    error("unknown state op " .. tostring(st.op))
  end
  local ok, result, cached = pcall(op, self, st, parent)
  if not ok then
    if st.label and progress then
      progress:fail(st)
    end
    if errors.is(result) and not result.loc then
      result.loc = st.loc -- the instruction that failed
    end
    error(result, 0)
  end
  if st.label and progress then
    progress:done(st, cached)
  end
  return result
end

--- Solve a state; returns its result.  Each distinct state is solved once: a branch that
--- needs a state another branch is building waits for it.
--- A key for the files of st's result (its layers' diff IDs), for steps that read them (COPY
--- --from, RUN --mount=from): they follow the content, so a stage rebuilt to other bytes
--- (--no-cache-filter) never leaves them cached on what it made before.
function Solver:files_key(st)
  local diff_ids = {}
  for i, l in ipairs(self:solve(st).layers) do
    diff_ids[i] = l.diff_id or l.digest
  end
  return cache.key(nil, "files", diff_ids)
end

function Solver:solve(st)
  local m = self.memo[st]
  if m then
    if not m.done then
      sched.wait_until(function()
        return m.done
      end)
    end
    if m.err then
      error(m.err, 0)
    end
    return m.result
  end
  m = {}
  self.memo[st] = m
  local ok, result = pcall(solve_now, self, st)
  m.done = true
  if not ok then
    m.err = result
    error(result, 0)
  end
  m.result = result
  return result
end

--- Solve several states at once, independent branches in parallel (opts.jobs sandboxed steps
--- at a time); returns their results in order.
function Solver:solve_all(states)
  local sys = require "cbuild.core.sys"
  self.sched = sched.new(self.opts.jobs or sys.nproc())
  -- Ctrl-C is read by the running steps, which clean up: blocked for the whole build so that
  -- one step ending never lets the signal kill us while another still runs
  self.sigfd = errors.need("block signals", sys.signalfd { "INT", "TERM" })
  local _ <close> = setmetatable({}, { __close = function()
    sys.close(self.sigfd)
    sys.unblock_signals { "INT", "TERM" }
    self.sigfd, self.sched = nil, nil
  end })
  local results = {}
  self.sched:run(function()
    local tasks = {}
    for i, st in ipairs(states) do
      tasks[i] = self.sched:spawn(function()
        results[i] = self:solve(st)
      end)
    end
    sched.wait_until(function()
      for _, t in ipairs(tasks) do
        if not t.done then
          return false
        end
      end
      return true
    end)
  end)
  if self.interrupted or sys.read_signal(self.sigfd) > 0 then -- also a Ctrl-C between RUN steps
    self.interrupted = true
    errors.raise "interrupted"
  end
  return results
end

--- Store the result as an image; returns the manifest descriptor.  opts.labels ({key = value},
--- build --label) are added to the config's Labels.
function Solver:commit(result, opts)
  local cfg = imgconfig.copy(result.config)
  if opts and opts.labels and next(opts.labels) then -- build --label: on the image, not a step
    cfg.config = cfg.config or {}
    local labels = cfg.config.Labels or {}
    for k, v in pairs(opts.labels) do
      labels[k] = v
    end
    cfg.config.Labels = labels
  end
  return self.images:put_image(cfg, result.layers)
end

return M
