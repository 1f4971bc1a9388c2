-- Per-layer progress for pull and push, in docker's words.  On a terminal, one line per layer
-- ("f7c966bbeb0a: Downloading [=====>     ]  12.3MB/45.6MB"), redrawn in place; otherwise
-- plain lines for the state changes only ("f7c966bbeb0a: Pull complete"), as docker prints
-- when its output is not a terminal.
local M = {}

local BAR = 50

--- Docker's human size (units.HumanSize): 3 significant digits, decimal units.
function M.human(n)
  local units = { "B", "kB", "MB", "GB", "TB" }
  local i = 1
  while n >= 1000 and i < #units do
    n = n / 1000
    i = i + 1
  end
  return string.format("%.3g%s", n, units[i])
end

--- The progress part of a line: "[====>    ]  1.2MB/3.4MB", or "1.2MB" when total is unknown.
function M.bar(done, total)
  if not total or total <= 0 then
    return M.human(done)
  end
  local filled = math.floor(BAR * math.min(done, total) / total)
  return string.format("[%s>%s] %8s/%s", string.rep("=", filled), string.rep(" ", BAR - filled),
    M.human(done), M.human(total))
end

local Board = {}
Board.__index = Board

--- A progress board.  opts.write(s) writes text (default io.stdout); opts.tty chooses the
--- redrawn view.  Methods: status(id, text), bytes(id, verb, done, total), note(line).
function M.new(opts)
  opts = opts or {}
  local write = opts.write or function(s)
    io.stdout:write(s)
    io.stdout:flush()
  end
  return setmetatable({ write = write, tty = opts.tty, rows = {}, lines = {}, drawn = 0 }, Board)
end

--- A board that prints plain lines through out(line) (nil: prints nothing).
function M.plain(out)
  if not out then
    return M.new { write = function() end }
  end
  return M.new { write = function(s)
    out((s:gsub("\n$", "")))
  end }
end

function Board:redraw()
  local parts = {}
  if self.drawn > 0 then
    parts[1] = string.format("\27[%dA", self.drawn)
  end
  for _, id in ipairs(self.rows) do
    parts[#parts + 1] = "\27[2K" .. id .. ": " .. self.lines[id] .. "\n"
  end
  self.drawn = #self.rows
  self.write(table.concat(parts))
end

local function set(self, id, text, changed)
  if self.lines[id] == text then
    return
  end
  if not self.lines[id] then
    self.rows[#self.rows + 1] = id
  end
  self.lines[id] = text
  if self.tty then
    self:redraw()
  elseif changed then
    self.write(id .. ": " .. text .. "\n")
  end
end

--- A layer's state: "Waiting", "Pull complete", "Layer already exists"...
function Board:status(id, text)
  set(self, id, text, self.lines[id] ~= text)
end

--- Bytes moved for a layer; shown only on a terminal.
function Board:bytes(id, verb, done, total)
  if self.tty then
    set(self, id, verb .. " " .. M.bar(done, total), false)
  end
end

--- A line outside the board (before it, or after every layer is settled).
function Board:note(line)
  self.write(line .. "\n")
  self.rows, self.lines, self.drawn = {}, {}, 0
end

return M
