-- The solver: turns a state (build/state.lua) into an image by walking its chain, computing a
-- cache key for every operation, reusing recorded results on a hit and executing misses.
--
-- A result is {key, config (decoded OCI config), layers = {{digest, size, mediaType}}}.
local json = require "cbuild.core.json"
local errors = require "cbuild.errors"
local cache = require "cbuild.build.cache"
local imgconfig = require "cbuild.image.config"
local copy = require "cbuild.build.copy"

local M = {}

local Solver = {}
Solver.__index = Solver

--- opts: images (image store), context (build context or nil), progress, no_cache,
--- epoch (SOURCE_DATE_EPOCH seconds or nil), now (seconds), platform.
function M.new(opts)
  return setmetatable({ opts = opts, images = opts.images, blobs = opts.images.blobs, memo = {} }, Solver)
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

-- A cache record for key, unless --no-cache.
local function lookup(self, key)
  if self.opts.no_cache then
    return nil
  end
  return cache.get(self.blobs, key)
end

local ops = {}

function ops.from(self, st)
  local a = st.args
  if a.image == "scratch" then
    local cfg = imgconfig.scratch(a.platform)
    return { key = cache.key(nil, "from", { image = "scratch", platform = imgconfig.platform_string(
      { os = cfg.os, architecture = cfg.architecture, variant = cfg.variant }) }),
      config = cfg, layers = {} }
  end
  local entry = a.entry or self.images:must_lookup(a.image)
  local img = self.images:image(entry.digest)
  local layers = {}
  local diff_ids = (img.config.rootfs or {}).diff_ids or {}
  for i, l in ipairs(img.manifest.layers) do
    layers[i] = { digest = l.digest, size = l.size, mediaType = l.mediaType, diff_id = diff_ids[i] }
  end
  return { key = cache.key(nil, "from", { image = img.config_digest }), config = img.config,
    layers = layers, base = entry }
end

function ops.config(self, st, parent)
  local a = st.args
  local key = cache.key(parent.key, "config", { set = a.set, history = a.history, author = a.author })
  local cfg = imgconfig.copy(parent.config)
  cfg.config = cfg.config or {}
  for field, value in pairs(a.set) do
    if value == json.null then
      cfg.config[field] = nil
    else
      cfg.config[field] = imgconfig.copy(value)
    end
  end
  local rec = lookup(self, key)
  local created = rec and rec.created or created_now(self)
  if not rec then
    cache.put(self.blobs, key, { created = created })
  end
  if a.author then
    cfg.author = a.author
  end
  imgconfig.add_history(cfg, a.history, created, false)
  cfg.created = created
  return { key = key, config = cfg, layers = parent.layers }
end

-- Shared tail of every layer-producing op: record, append the layer and its history.
local function with_layer(self, st, parent, key, produce)
  local rec = lookup(self, key)
  local cached = rec ~= nil
  if not rec then
    local layer = produce()
    rec = { created = created_now(self), layer = layer }
    cache.put(self.blobs, key, rec)
  end
  local cfg = imgconfig.copy(parent.config)
  cfg.rootfs = cfg.rootfs or { type = "layers" }
  cfg.rootfs.diff_ids = json.array(imgconfig.copy(cfg.rootfs.diff_ids) or {})
  cfg.rootfs.diff_ids[#cfg.rootfs.diff_ids + 1] = rec.layer.diff_id or rec.layer.digest
  imgconfig.add_history(cfg, st.args.history, rec.created, true)
  cfg.created = rec.created
  local layers = { table.unpack(parent.layers) }
  layers[#layers + 1] = rec.layer
  return { key = key, config = cfg, layers = layers }, cached
end

function ops.copy(self, st, parent)
  local plan = copy.plan(self, st, parent)
  local key = cache.key(parent.key, st.args.add and "add" or "copy", plan.key_parts)
  return with_layer(self, st, parent, key, function()
    return copy.write_layer(self, plan)
  end)
end

function ops.run(self, st, parent)
  local run = require "cbuild.build.run"
  local a = st.args
  local cfg = parent.config.config or {}
  a.build_args = a.build_args or a.args
  local key = cache.key(parent.key, "run", {
    cmd = a.cmd,
    env = run.environment(cfg.Env, a.build_args, nil),
    user = cfg.User or "",
    workdir = cfg.WorkingDir or "",
    network = a.network or "",
    mounts = a.mounts,
  })
  return with_layer(self, st, parent, key, function()
    return run.execute(self, st, parent)
  end)
end

--- Solve a state; returns its result.  Each distinct state is solved once.
function Solver:solve(st)
  if self.memo[st] then
    return self.memo[st]
  end
  local parent = st.parent and self:solve(st.parent)
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
  self.memo[st] = result
  return result
end

--- Store the result as an image; returns the manifest descriptor.
function Solver:commit(result)
  local cfg = imgconfig.copy(result.config)
  return self.images:put_image(cfg, result.layers)
end

return M
