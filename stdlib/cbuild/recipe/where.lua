-- Where a recipe is: the user's file and line for a call into the recipe API, found by walking
-- the Lua stack past cbuild's own stdlib frames, so an error points at `recipe.lua:LINE` and
-- never at stdlib internals.
local errors = require "cbuild.errors"

local M = {}

-- <prefix>/cbuild/recipe/where.lua -> <prefix>/cbuild/
local STDLIB = (debug.getinfo(1, "S").source:match "^@(.*/)recipe/where%.lua$")

--- True when a chunk source ("@path", "=name") is one of cbuild's own stdlib files.
function M.is_stdlib(source)
  if not STDLIB or source:sub(1, 1) ~= "@" then
    return false
  end
  return source:sub(2, #STDLIB + 1) == STDLIB
end

-- The last line a recipe chunk ran, kept by a line hook while a recipe is evaluated: a call
-- in tail position (`return cb.from(42)`) leaves no frame of the recipe on the stack.
local last
local user_sources = {}

local function hook(_, line)
  local src = debug.getinfo(2, "S").source
  if user_sources[src] then
    last = { file = user_sources[src], line = line }
  end
end

--- Track the lines of chunks with the given source ("@recipe.lua") while fn(...) runs;
--- returns what fn returns.  Nested calls keep the outer hook.
function M.track(source, fn, ...)
  user_sources[source] = source:gsub("^[@=]", "")
  local old = table.pack(debug.gethook())
  debug.sethook(hook, "l")
  local r = table.pack(pcall(fn, ...))
  debug.sethook(table.unpack(old, 1, old.n))
  if not r[1] then
    error(r[2], 0)
  end
  return table.unpack(r, 2, r.n)
end

--- Run fn(...) without the line hook (a build: many lines, none of them the recipe's).
function M.untracked(fn, ...)
  local old = table.pack(debug.gethook())
  debug.sethook()
  local r = table.pack(pcall(fn, ...))
  if old[1] then
    debug.sethook(table.unpack(old, 1, old.n))
  end
  if not r[1] then
    error(r[2], 0)
  end
  return table.unpack(r, 2, r.n)
end

--- Mark a chunk source as the user's (a module the recipe required).
function M.add_source(source)
  user_sources[source] = source:gsub("^[@=]", "")
end

--- The location {file =, line =} of the innermost Lua frame that is not cbuild's stdlib,
--- starting at stack level `level` (default: the caller of the caller); when a tail call hid
--- the recipe's frame, the last line the recipe ran; nil when there is none.
function M.user(level)
  level = level or 3
  while true do
    local info = debug.getinfo(level, "Slt")
    if not info then
      return last
    end
    if info.what ~= "C" and info.currentline and info.currentline > 0 and not M.is_stdlib(info.source) then
      return { file = info.short_src, line = info.currentline }
    end
    if info.istailcall and last then
      return last
    end
    level = level + 1
  end
end

--- Raise a misuse error (string.format(fmt, ...)) at the recipe's line (M.user).
function M.fail(fmt, ...)
  errors.raise_at(M.user(), fmt, ...)
end

return M
