-- Where a recipe is: the user's file and line for a call into the recipe API, found by walking
-- the Lua stack past cbuild's own stdlib frames, so an error points at `recipe.lua:LINE` and
-- never at stdlib internals.
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

--- The location {file =, line =} of the innermost Lua frame that is not cbuild's stdlib,
--- starting at stack level `level` (default: the caller of the caller); nil when there is none.
function M.user(level)
  level = level or 3
  while true do
    local info = debug.getinfo(level, "Sl")
    if not info then
      return nil
    end
    if info.what ~= "C" and info.currentline and info.currentline > 0 and not M.is_stdlib(info.source) then
      return { file = info.short_src, line = info.currentline }
    end
    level = level + 1
  end
end

return M
