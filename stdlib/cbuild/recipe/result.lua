-- cb.build: solve image states into images in the store, and the results a recipe gets back
-- (result.id, result.digest, result.config, result:tag(ref), result:push(ref, opts)).
--
-- Outputs are built one after the other for now, with one solver per session, so a state
-- shared by several outputs is solved once.  The states form a graph (parents, COPY --from
-- inputs) that a parallel solver can walk as it is.
local errors = require "cbuild.errors"
local imgconfig = require "cbuild.image.config"
local reference = require "cbuild.image.reference"
local where = require "cbuild.recipe.where"
local session = require "cbuild.recipe.session"
local image = require "cbuild.recipe.image"

local M = {}

local Result = {}
local methods = {}
Result.__index = methods
Result.__name = "cbuild.result"
Result.__metatable = "cbuild.result"

local priv = setmetatable({}, { __mode = "k" })

local fail = where.fail

--- True for a build result.
function M.is(v)
  return priv[v] ~= nil
end

--- The private fields of a result: {desc = manifest descriptor, name}.
function M.priv(v)
  return priv[v]
end

-- Re-raise e with the user's line when it has none.
local function rethrow(e)
  if errors.is(e) and not e.loc then
    e.loc = where.user()
  end
  error(e, 0)
end

local function new_result(name, desc, config)
  local v = setmetatable({ name = name, id = desc.config, digest = desc.digest, config = config }, Result)
  priv[v] = { desc = desc, name = name }
  return v
end

--- Build image states at once (independent ones in parallel): list of {img, name}; returns
--- their results in order.
function M.build_many(list)
  local states = {}
  for i, o in ipairs(list) do
    local p = image.priv(o.img)
    if not p then
      fail("cb.build: %s is not an image state", tostring(o.name or o.img))
    end
    states[i] = p.st
  end
  local s = session.get()
  local ok, r = pcall(where.untracked, function()
    local solved = s:solve(states)
    local out = {}
    for i, result in ipairs(solved) do
      local desc = s:solver():commit(result)
      s:images():add_unnamed(desc)
      s:progress():say("writing image %s done", desc.config)
      out[i] = new_result(list[i].name, desc, imgconfig.copy(result.config))
    end
    return out
  end)
  if not ok then
    rethrow(r)
  end
  for _, x in ipairs(r) do
    s.outputs[#s.outputs + 1] = x
  end
  return r
end

--- Build one state (a recipe image state); returns its result.
function M.build_one(img, name)
  return M.build_many { { img = img, name = name } }[1]
end

--- cb.build(state) -> result; cb.build{a = s1, b = s2} -> {a = r1, b = r2} (built in name
--- order); cb.build{s1, s2} -> {r1, r2}.
function M.build(outputs)
  if image.is(outputs) then
    return M.build_one(outputs)
  end
  if type(outputs) ~= "table" then
    fail("cb.build: expected an image state or a table of them, got %s", type(outputs))
  end
  local names = {}
  for k, v in pairs(outputs) do
    if not image.is(v) and not M.is(v) then
      fail("cb.build: output %s is not an image state (got %s)", tostring(k), type(v))
    end
    names[#names + 1] = k
  end
  table.sort(names, function(x, y)
    if type(x) == type(y) then
      return x < y
    end
    return type(x) == "number"
  end)
  local out, todo = {}, {}
  for _, k in ipairs(names) do
    local v = outputs[k]
    if M.is(v) then
      out[k] = v
    else
      todo[#todo + 1] = { img = v, name = type(k) == "string" and k or nil, key = k }
    end
  end
  for i, r in ipairs(M.build_many(todo)) do
    out[todo[i].key] = r
  end
  return out
end

--- result:tag(ref): name the image (e.g. "registry:5000/app:1.0"); returns the full reference.
function methods:tag(ref)
  local p = priv[self]
  if not p then
    fail "tag: call it with ':' on a build result (r:tag(name))"
  end
  if type(ref) ~= "string" then
    fail("tag: expected an image name, got %s", type(ref))
  end
  local r, msg = reference.parse(ref)
  if not r then
    fail("tag: %s", msg)
  end
  local s = session.get()
  local full = s:images():tag(p.desc, r)
  s:progress():say("naming to %s done", full)
  return full
end

--- result:push(ref [, {compression =, tls_verify =, authfile =}]): tag the image as ref and
--- push it to its registry; returns the pushed manifest's digest.
function methods:push(ref, opts)
  local p = priv[self]
  if not p then
    fail "push: call it with ':' on a build result (r:push(name))"
  end
  opts = opts or {}
  local full = self:tag(ref)
  local push = require "cbuild.registry.push"
  local s = session.get()
  local ok, r = pcall(push.push, s:images(), full, reference.must(full), { compression = opts.compression,
    tls_verify = opts.tls_verify, authfile = opts.authfile, out = function(line)
      s:progress():say("%s", line)
    end })
  if not ok then
    rethrow(r)
  end
  return r.digest
end

return M
