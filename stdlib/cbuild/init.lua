-- require "cbuild": the public recipe API.  A recipe is a Lua program that describes images as
-- immutable states and returns what to build:
--
--   local cb = require "cbuild"
--   local dev = cb.from("debian:bookworm", { as = "build" })
--     :run "apt-get update && apt-get install -y gcc libc6-dev"
--     :copy("hello.c", "/src/")
--     :run "gcc -static -O2 -o /hello /src/hello.c"
--   return cb.from "scratch"
--     :copy { from = dev, src = "/hello", dest = "/" }
--     :cmd { "/hello" }
--
-- Every method returns a new state and leaves its receiver alone.  The states are the same
-- build graph the Dockerfile frontend makes, so both share the cache.  docs/lua-api.md lists
-- every function with an example.
local where = require "cbuild.recipe.where"
local session = require "cbuild.recipe.session"
local image = require "cbuild.recipe.image"
local context = require "cbuild.recipe.context"
local result = require "cbuild.recipe.result"

local cb = {}

local fail = where.fail

local function core_version()
  local ok, core = pcall(require, "cbuild.core")
  return ok and core.version or "unknown"
end

--- The cbuild version ("0.1.0").
cb.version = core_version()

--- cb.from(ref | state [, {as = name}]): a new stage from an image of the local store,
--- "scratch", or another state.
cb.from = image.from

--- cb.scratch(): the empty image (cb.from "scratch").
function cb.scratch(opts)
  return image.from("scratch", opts)
end

--- cb.context([dir [, {ignore = {patterns}}]]): the build context, or a directory of it.
cb.context = context.open

--- cb.build(state | {name = state, ...}): build now; returns the result(s).
cb.build = result.build

--- cb.read(path): the text of a file of the build context.
function cb.read(path)
  return context.open():read(path)
end

--- cb.template(text, vars): text with each ${name} replaced by tostring(vars.name); an
--- unknown name is an error ("$${" writes a literal "${").
function cb.template(text, vars)
  if type(text) ~= "string" then
    fail("cb.template: expected a string, got %s", type(text))
  end
  vars = vars or {}
  if type(vars) ~= "table" then
    fail("cb.template: vars must be a table, got %s", type(vars))
  end
  local out = text:gsub("(%$?)%${([%w_%.]+)}", function(esc, name)
    if esc == "$" then
      return "${" .. name .. "}"
    end
    local v = vars
    for part in name:gmatch "[^%.]+" do
      v = type(v) == "table" and v[part] or nil
    end
    if v == nil then
      fail("cb.template: no value for ${%s}", name)
    end
    return tostring(v)
  end)
  return out
end

--- cb.dockerfile(path [, {target =, build_args = {K = V}}]): the state a Dockerfile of the
--- build context builds, to extend with methods.
function cb.dockerfile(path, opts)
  if type(path) ~= "string" then
    fail("cb.dockerfile: expected a path, got %s", type(path))
  end
  opts = opts or {}
  local s = session.get()
  local fs = require "cbuild.core.fs"
  local host = context.host_path(path, "cb.dockerfile")
  local text, msg = fs.read_file(host)
  if not text then
    fail("cb.dockerfile: %s: %s", path, (msg or ""):gsub("^.-: ", ""))
  end
  local parser = require "cbuild.dockerfile.parser"
  local instructions = require "cbuild.dockerfile.instructions"
  local frontend = require "cbuild.dockerfile.frontend"
  local imgconfig = require "cbuild.image.config"
  local name = path:match "([^/]+)$"
  local bargs = {}
  for k, v in pairs(s.build_args) do
    bargs[k] = v
  end
  for k, v in pairs(opts.build_args or {}) do
    bargs[k] = tostring(v)
  end
  local pstr = imgconfig.platform_string(s.platform)
  local predefined = {
    TARGETPLATFORM = pstr, TARGETOS = s.platform.os, TARGETARCH = s.platform.architecture,
    TARGETVARIANT = s.platform.variant or "", BUILDPLATFORM = pstr, BUILDOS = s.platform.os,
    BUILDARCH = s.platform.architecture, BUILDVARIANT = s.platform.variant or "",
  }
  local ast = parser.parse(text, { file = name })
  local parsed = instructions.parse(ast, { file = name })
  local st = frontend.compile(parsed, { build_args = bargs, platform = s.platform, predefined = predefined,
    file = name, target = opts.target, escape = ast.escape, resolve_image = function(ref, loc)
      return s:resolve_image(ref, loc)
    end })
  return image.wrap(st, { name = opts.target })
end

--- cb.args: the --build-arg values ({NAME = "value"}), read-only.
--- cb.env: the host's environment variables, read-only.
--- cb.platform: the platform built for ({os =, architecture =, variant =}).
--- cb.host: the functions a C embedder registered (cbuild_register).
local dynamic = {
  args = function()
    local t = {}
    for k, v in pairs(session.get().build_args) do
      t[k] = v
    end
    return setmetatable({}, { __index = t, __newindex = function()
      fail "cb.args is read-only"
    end, __pairs = function()
      return next, t, nil
    end })
  end,
  env = function()
    return setmetatable({}, { __index = function(_, k)
      return type(k) == "string" and os.getenv(k) or nil
    end, __newindex = function()
      fail "cb.env is read-only"
    end })
  end,
  platform = function()
    local p = session.get().platform
    return { os = p.os, architecture = p.architecture, variant = p.variant }
  end,
  host = function()
    local t = {}
    for k, v in pairs(session.get().host) do
      t[k] = v
    end
    return t
  end,
}

return setmetatable(cb, { __index = function(_, k)
  local f = dynamic[k]
  return f and f() or nil
end })
