-- User-facing errors: an object that knows where it happened (file, line, column) and prints
-- as "Dockerfile:12: message".  The CLI prints these as one line (plus the source line and a
-- caret when known) and exits 1; anything else that is raised is a bug and gets a traceback.
local M = {}

local Error = {}
Error.__index = Error
Error.__name = "cbuild.error"

function Error:__tostring()
  local loc = self.loc
  if loc and loc.file and loc.line then
    return string.format("%s:%d: %s", loc.file, loc.line, self.msg)
  elseif loc and loc.file then
    return string.format("%s: %s", loc.file, self.msg)
  end
  return self.msg
end

--- Make an error object. opts: loc = {file, line, col, len, text}, code, exit (status).
function M.new(msg, opts)
  opts = opts or {}
  return setmetatable({ msg = msg, loc = opts.loc, code = opts.code, exit = opts.exit }, Error)
end

--- True when e is a cbuild error object (a user error, not a bug).
function M.is(e)
  return getmetatable(e) == Error
end

--- Raise a user error without a location.
function M.raise(fmt, ...)
  error(M.new(select("#", ...) > 0 and string.format(fmt, ...) or fmt), 0)
end

--- Raise a user error at loc ({file=, line=, col=, len=, text=}).
function M.raise_at(loc, fmt, ...)
  error(M.new(select("#", ...) > 0 and string.format(fmt, ...) or fmt, { loc = loc }), 0)
end

--- Turn a `nil, msg, code` result into a raised error with ctx in front; pass success through.
function M.need(ctx, ok, ...)
  if ok == nil or ok == false then
    local msg, code = ...
    msg = msg or "failed"
    error(M.new(ctx and (ctx .. ": " .. msg) or msg, { code = code }), 0)
  end
  return ok, ...
end

--- The text the CLI prints: "file:line: msg", then the source line and a caret when known.
function M.format(e)
  if not M.is(e) then
    return tostring(e)
  end
  local out = tostring(e)
  local loc = e.loc
  if loc and loc.text then
    local text = loc.text:gsub("[\r\n].*$", "")
    if #text > 200 then
      text = text:sub(1, 200) .. "…"
    end
    out = out .. "\n  " .. text
    if loc.col and loc.col >= 1 and loc.col <= #text + 1 then
      local lead = text:sub(1, loc.col - 1):gsub("[^\t]", " ")
      out = out .. "\n  " .. lead .. string.rep("^", math.max(1, math.min(loc.len or 1, #text - loc.col + 1)))
    end
  end
  return out
end

return M
