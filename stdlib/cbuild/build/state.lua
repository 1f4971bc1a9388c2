-- Image states: the build graph both frontends (Dockerfile, Lua recipes) produce.
-- A state is immutable: its parent plus one operation (DESIGN.md "Build graph"):
--   from   {image = <full reference> | "scratch", platform = {...}}
--   config {set = {Field = value | json.null}, history = "CMD [...]"}
--   copy   {sources = {...}, dest = "/abs", from = <state> | nil, chown, chmod, add = bool,
--           history = "COPY a /b"}
--   run    {...} (the sandbox issue)
-- Nothing here touches the store; build/solver.lua does.
local M = {}

local State = {}
State.__index = State
M.State = State

--- Make a state.  loc = {file, line, text} for error messages.
function M.new(op, parent, args, loc)
  return setmetatable({ op = op, parent = parent, args = args or {}, loc = loc }, State)
end

--- True for a state value.
function M.is(v)
  return getmetatable(v) == State
end

--- The chain from the root to this state, root first.
function State:chain()
  local out = {}
  local s = self
  while s do
    table.insert(out, 1, s)
    s = s.parent
  end
  return out
end

return M
