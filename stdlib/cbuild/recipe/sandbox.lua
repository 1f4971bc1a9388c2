-- The environment a recipe runs in.  By default a recipe cannot read outside its build context
-- or run host commands: it gets Lua's pure libraries (string, table, math, utf8, coroutine),
-- io.open/io.lines/dofile/loadfile/require limited to reading files of the context, os.time/
-- clock/date/getenv, print (to stderr) and require "cbuild".  No io.popen, os.execute,
-- os.remove, os.rename, os.exit, debug, package, binary chunks, or the cbuild.core bindings.
--
-- With --allow host-exec (opts.allow_host_exec) the recipe gets the full standard library
-- instead: host commands, any file, any module.
local fs = require "cbuild.core.fs"
local where = require "cbuild.recipe.where"
local session = require "cbuild.recipe.session"

local M = {}

local SAFE = {
  "assert", "error", "ipairs", "next", "pairs", "pcall", "rawequal", "rawlen", "rawget", "rawset",
  "select", "tonumber", "tostring", "type", "xpcall", "setmetatable", "collectgarbage", "_VERSION",
}
local LIBS = { "string", "table", "math", "utf8", "coroutine" }

local fail = where.fail

-- What a recipe may not call without --allow host-exec: a clear error instead of "nil value".
local function denied(name)
  return function()
    fail("%s: a recipe cannot run host commands or change host files (cbuild build --allow host-exec)", name)
  end
end

local function shallow(t)
  local out = {}
  for k, v in pairs(t) do
    out[k] = v
  end
  return out
end

-- A path of the context, for reading only.
local function context_file(path, what)
  if type(path) ~= "string" then
    fail("%s: expected a path, got %s", what, type(path))
  end
  local ctxmod = require "cbuild.recipe.context"
  return ctxmod.host_path(path, what)
end

--- The user chunks loaded so far: their names as error messages print them.
M.user_files = {}

--- Load a chunk of the context (or, with host_exec, any file) in env.
local function load_file(path, env, what)
  local host = context_file(path, what)
  local text, msg = fs.read_file(host)
  if not text then
    return nil, string.format("cannot open %s: %s", path, (msg or ""):gsub("^.-: ", ""))
  end
  local name = path:gsub("^/+", "")
  M.user_files[name] = true
  where.add_source("@" .. name)
  return load(text, "@" .. name, "t", env)
end

--- A fresh environment for a recipe.  opts: allow_host_exec, cb (the cbuild module), host
--- (extra globals, e.g. the functions a C embedder registered).
function M.env(opts)
  opts = opts or {}
  local env
  if opts.allow_host_exec then
    env = setmetatable({}, { __index = _G })
    for k, v in pairs(opts.host or {}) do
      env[k] = v
    end
    return env
  end
  env = {}
  for _, k in ipairs(SAFE) do
    env[k] = _G[k]
  end
  local loaded = {}
  for _, lib in ipairs(LIBS) do
    env[lib] = shallow(_G[lib])
    loaded[lib] = env[lib]
  end
  env.string.dump = nil
  env._G = env
  -- a string's metatable is shared with cbuild itself: keep it out of reach
  env.getmetatable = function(v)
    if type(v) ~= "table" then
      return nil
    end
    return getmetatable(v)
  end
  env.os = { time = os.time, clock = os.clock, date = os.date, difftime = os.difftime, getenv = os.getenv }
  for _, name in ipairs { "execute", "remove", "rename", "exit", "tmpname", "setlocale" } do
    env.os[name] = denied("os." .. name)
  end
  loaded.os = env.os
  env.print = function(...)
    local n = select("#", ...)
    local parts = {}
    for i = 1, n do
      parts[i] = tostring((select(i, ...)))
    end
    io.stderr:write(table.concat(parts, "\t"), "\n")
  end
  env.io = {
    open = function(path, mode)
      if mode ~= nil and mode ~= "r" and mode ~= "rb" then
        fail("io.open: a recipe can only read files (mode %q needs --allow host-exec)", tostring(mode))
      end
      local host = context_file(path, "io.open")
      local f, msg = io.open(host, mode or "r")
      if not f then
        return nil, path .. ": " .. (msg or ""):gsub("^.-: ", "")
      end
      return f
    end,
    lines = function(path, ...)
      if path == nil then
        fail "io.lines: a recipe cannot read standard input"
      end
      return io.lines(context_file(path, "io.lines"), ...)
    end,
    write = function(...)
      return io.stderr:write(...)
    end,
    popen = denied "io.popen",
    output = denied "io.output",
    input = denied "io.input",
    tmpfile = denied "io.tmpfile",
  }
  loaded.io = env.io
  env.load = function(chunk, name, mode, e)
    if mode ~= nil and mode ~= "t" then
      fail "load: a recipe can only load text chunks"
    end
    return load(chunk, name, "t", e or env)
  end
  env.loadfile = function(path, mode, e)
    if mode ~= nil and mode ~= "t" then
      fail "loadfile: a recipe can only load text chunks"
    end
    return load_file(path, e or env, "loadfile")
  end
  env.dofile = function(path)
    local fn, msg = load_file(path, env, "dofile")
    if not fn then
      error(msg, 2)
    end
    return fn()
  end
  env.require = function(name)
    if type(name) ~= "string" then
      fail("require: expected a module name, got %s", type(name))
    end
    if loaded[name] ~= nil then
      return loaded[name]
    end
    if name == "cbuild" then
      -- the recipe's own view: what it assigns stays in it, not in the next recipe's cbuild
      loaded[name] = setmetatable({}, { __index = opts.cb or require "cbuild" })
      return loaded[name]
    end
    local rel = name:gsub("%.", "/")
    local s = session.get()
    local bctx = s:context()
    local path
    if bctx and not name:match "^cbuild%." then
      for _, cand in ipairs { rel .. ".lua", rel .. "/init.lua" } do
        local host = fs.resolve_in_root(bctx.root, cand)
        if host and fs.exists(host) then
          path = cand
          break
        end
      end
    end
    if not path then
      fail("module '%s' not found: a recipe can require \"cbuild\" and Lua files of its build context%s",
        name, name:match "^cbuild%." and " (cbuild's internal modules need --allow host-exec)" or "")
    end
    local fn, msg = load_file(path, env, "require")
    if not fn then
      error(msg, 2)
    end
    local r = fn(name, path)
    loaded[name] = r == nil and true or r
    return loaded[name]
  end
  for k, v in pairs(opts.host or {}) do
    env[k] = v
  end
  return env
end

return M
