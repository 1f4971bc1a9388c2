-- Run a recipe: load its text in the sandbox (recipe/sandbox.lua), call it, and turn whatever
-- goes wrong into a user error at the recipe's line ("recipe.lua:7: message"), never a
-- stdlib traceback (that stays on the error, for --debug).
local errors = require "cbuild.errors"
local where = require "cbuild.recipe.where"
local sandbox = require "cbuild.recipe.sandbox"

local M = {}

-- A Lua error message "file:line: msg" from a user chunk: its location and message.
local function user_position(msg)
  local file, line, rest = msg:match "^(.-):(%d+): (.*)$"
  if file and sandbox.user_files[file] then
    return { file = file, line = tonumber(line) }, rest
  end
  return nil
end

-- The message handler: runs on top of the failing stack, so where.user() still sees the
-- recipe's frame.
local function handler(e)
  local tb = debug.traceback(tostring(e), 2)
  if errors.is(e) then
    if not e.loc then
      e.loc = where.user(3)
    end
    e.traceback = e.traceback or tb
    return e
  end
  local msg = type(e) == "string" and e or string.format("(error object is a %s value)", type(e))
  if type(e) == "table" and getmetatable(e) and getmetatable(e).__tostring then
    msg = tostring(e)
  end
  local loc, rest = user_position(msg)
  if not loc then
    loc = where.user(3)
    rest = msg:gsub("^[^\n]-%.lua:%d+: ", "")
  end
  local err = errors.new(rest, { loc = loc })
  err.traceback = tb
  return err
end

--- Run recipe text (chunkname as Lua shows it, e.g. "recipe.lua").  opts: allow_host_exec,
--- host (extra globals), cb (the module).  Returns the recipe's return values (packed, with n).
function M.run(text, name, opts)
  opts = opts or {}
  name = name or "recipe.lua"
  sandbox.user_files[name] = true
  local env = sandbox.env(opts)
  local fn, msg = load(text, "@" .. name, "t", env)
  if not fn then
    local loc, rest = user_position(msg)
    errors.raise_at(loc or { file = name }, "%s", rest or msg)
  end
  local r = table.pack(where.track("@" .. name, xpcall, fn, handler))
  if not r[1] then
    error(r[2], 0)
  end
  return table.pack(table.unpack(r, 2, r.n))
end

return M
