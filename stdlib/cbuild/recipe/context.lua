-- cb.context(dir, {ignore = {...}}): a directory of the build context as a value a recipe can
-- copy from (img:copy{from = ctx, ...}) and read (ctx:read, ctx:exists, ctx:list).  dir is
-- taken inside the main context ("/x" and "../x" both stay in it) unless the recipe runs with
-- --allow host-exec.  Without ignore, the directory's own .dockerignore applies.
local fs = require "cbuild.core.fs"
local errors = require "cbuild.errors"
local where = require "cbuild.recipe.where"
local session = require "cbuild.recipe.session"

local M = {}

local Ctx = {}
local methods = {}
Ctx.__index = methods
Ctx.__name = "cbuild.context"
Ctx.__metatable = "cbuild.context"
Ctx.__newindex = function()
  errors.raise_at(where.user(), "contexts are read-only")
end

local priv = setmetatable({}, { __mode = "k" })

local fail = where.fail

--- True for a cb.context value.
function M.is(v)
  return priv[v] ~= nil
end

--- The build context (build/context.lua) behind a cb.context value.
function M.build_context(v)
  return priv[v].bctx
end

local function wrap(bctx)
  local v = setmetatable({}, Ctx)
  priv[v] = { bctx = bctx }
  return v
end

--- The host path of rel inside the main context; raises at the user's line when there is no
--- context or rel cannot be resolved.  With --allow host-exec an absolute path is a host path.
function M.host_path(rel, what, missing_ok)
  local s = session.get()
  if s.allow_host_exec and rel:sub(1, 1) == "/" then
    return rel
  end
  local bctx = s:context()
  if not bctx then
    fail("%s: there is no build context", what)
  end
  local host, msg, code = fs.resolve_in_root(bctx.root, rel, { missing_ok = missing_ok })
  if not host and code == "ENOENT" then
    fail("%s: %q not found in the build context", what, rel)
  elseif not host then
    fail("%s: %q: %s", what, rel, (msg or "not found"):gsub("^.-: ", ""))
  end
  if not missing_ok and not fs.exists(host) then
    fail("%s: %q not found in the build context", what, rel)
  end
  return host
end

--- cb.context([dir [, {ignore = {patterns}}]]): the main context, or a directory inside it.
function M.open(dir, opts)
  if dir ~= nil and type(dir) ~= "string" then
    fail("cb.context: expected a directory (string), got %s", type(dir))
  end
  if opts ~= nil and type(opts) ~= "table" then
    fail("cb.context: options must be a table, got %s", type(opts))
  end
  opts = opts or {}
  local s = session.get()
  if (dir == nil or dir == "." or dir == "") and opts.ignore == nil then
    local bctx = s:context()
    if not bctx then
      fail "cb.context: there is no build context"
    end
    return wrap(bctx)
  end
  local host = M.host_path(dir or ".", "cb.context")
  local st = fs.stat(host)
  if not st or st.type ~= "dir" then
    fail("cb.context: %q is not a directory of the build context", dir)
  end
  local copts = {}
  if opts.ignore ~= nil then
    local ig = type(opts.ignore) == "string" and { opts.ignore } or opts.ignore
    if type(ig) ~= "table" then
      fail "cb.context: ignore must be a list of .dockerignore patterns"
    end
    for i, pat in ipairs(ig) do
      if type(pat) ~= "string" then
        fail("cb.context: ignore pattern %d is not a string", i)
      end
    end
    copts.dockerignore_text = table.concat(ig, "\n")
    copts.dockerignore_name = "ignore"
  end
  local context = require "cbuild.build.context"
  local ok, bctx = pcall(context.open, host, copts)
  if not ok then
    error(errors.is(bctx) and errors.new(bctx.msg, { loc = where.user() }) or bctx, 0)
  end
  s.extra_contexts[#s.extra_contexts + 1] = bctx
  return wrap(bctx)
end

--- ctx:read(path): the bytes of a file of the context (ignored files are invisible).
function methods:read(path)
  local p = priv[self]
  if not p then
    fail "read: call it with ':' on a context (ctx:read(path))"
  end
  if type(path) ~= "string" then
    fail("read: expected a path, got %s", type(path))
  end
  local found = p.bctx:select(path, where.user(), "read")
  if #found ~= 1 or found[1].type ~= "file" then
    fail("read: %q is not a file", path)
  end
  return errors.need("read " .. path, fs.read_file(p.bctx:host(found[1].rel)))
end

--- ctx:exists(path): whether the context has path (and it is not ignored).
function methods:exists(path)
  local p = priv[self]
  local ok = pcall(p.bctx.select, p.bctx, path, nil, "exists")
  return ok
end

--- ctx:list([dir]): the paths below dir (default the whole context), sorted, ignored ones left
--- out; directories end with "/".
function methods:list(dir)
  local p = priv[self]
  local out = {}
  local root = dir or "."
  for _, item in ipairs(p.bctx:walk(root)) do
    if item.rel ~= root and item.rel ~= "." then
      out[#out + 1] = item.rel .. (item.type == "dir" and "/" or "")
    end
  end
  return out
end

M.wrap = wrap
return M
