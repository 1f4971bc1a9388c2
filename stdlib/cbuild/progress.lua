-- Build progress, in BuildKit's two styles, written to stderr so stdout stays for results (-q
-- prints only the image ID):
--   plain: "#N [2/3] COPY a /b", every output line as "#N 0.123 text", then "#N DONE 0.1s" or
--          "#N CACHED";
--   tty:   a live view redrawn in place: one line per running step with its elapsed time and the
--          last lines of its output; a finished step collapses to one line with DONE or CACHED; a
--          failed step prints all the output kept for it.
local sys = require "cbuild.core.sys"

local M = {}

local Plain = {}
Plain.__index = Plain

local Tty = {}
Tty.__index = Tty

M.TTY_LINES = 6 -- output lines shown under a running step

--- The printer mode for a --progress value: "tty" when "auto" and fd 2 is a terminal.
function M.mode(progress, quiet)
  if quiet or progress == "quiet" then
    return "quiet"
  end
  if progress == "tty" or progress == "plain" then
    return progress
  end
  return sys.isatty(2) and os.getenv "TERM" ~= "dumb" and "tty" or "plain"
end

--- A progress printer writing to `out` (default io.stderr).  opts: mode ("auto", "plain",
--- "tty", "quiet"; default plain), quiet (= mode quiet), width (tty columns).
function M.new(opts)
  opts = opts or {}
  local mode = opts.mode and M.mode(opts.mode, opts.quiet) or (opts.quiet and "quiet" or "plain")
  local p = { out = opts.out or io.stderr, quiet = mode == "quiet", n = 0, steps = {}, mode = mode }
  if mode == "tty" then
    p.width = opts.width
    if not p.width then
      local ok, pty = pcall(require, "cbuild.core.pty")
      local cols
      if ok then
        local rows, c = pty.winsize(2)
        cols = rows and c or nil
      end
      p.width = cols and cols > 0 and cols or tonumber(os.getenv "COLUMNS") or 80
    end
    p.running, p.drawn, p.last = {}, 0, 0
    return setmetatable(p, Tty)
  end
  return setmetatable(p, Plain)
end

local function now()
  local s, ns = sys.clock_gettime()
  return s + ns / 1e9
end

function Plain:start(st)
  self.n = self.n + 1
  self.steps[st] = { n = self.n, t = now() }
  if not self.quiet then
    self.out:write(string.format("#%d %s\n", self.n, st.label))
    self.out:flush()
  end
end

--- Output of a running step, prefixed with its number and elapsed time.
function Plain:log(st, text)
  local s = self.steps[st]
  if self.quiet or not s then
    return
  end
  for line in text:gmatch "[^\n]*\n?" do
    if line ~= "" then
      self.out:write(string.format("#%d %.3f %s", s.n, now() - s.t, line))
      if not line:match "\n$" then
        self.out:write "\n"
      end
    end
  end
  self.out:flush()
end

function Plain:done(st, cached)
  local s = self.steps[st]
  if self.quiet or not s then
    return
  end
  if cached then
    self.out:write(string.format("#%d CACHED\n", s.n))
  else
    self.out:write(string.format("#%d DONE %.1fs\n", s.n, now() - s.t))
  end
  self.out:flush()
end

function Plain:fail(st)
  local s = self.steps[st]
  if self.quiet or not s then
    return
  end
  self.out:write(string.format("#%d ERROR %.1fs\n", s.n, now() - s.t))
  self.out:flush()
end

--- A line of its own (e.g. "writing image sha256:... done").
function Plain:say(fmt, ...)
  if not self.quiet then
    self.out:write(string.format(fmt, ...), "\n")
    self.out:flush()
  end
end

--- The step's output passed the in-memory limit: say where all of it is.
function Plain:spilled(st, path, limit)
  local s = self.steps[st]
  if not self.quiet and s then
    self.out:write(string.format("#%d output passed %d bytes; the full log is in %s\n", s.n, limit, path))
    self.out:flush()
  end
end

-- tty ---------------------------------------------------------------------------------------

local function clip(line, width)
  line = line:gsub("\r", ""):gsub("[%z\1-\8\11-\31\127]", "")
  if utf8.len(line) and utf8.len(line) > width then
    return line:sub(1, utf8.offset(line, width) - 1)
  end
  if #line > width then
    return line:sub(1, width)
  end
  return line
end

-- Erase what the live area drew last time (cursor up, clear to the end of the screen).
function Tty:erase()
  if self.drawn > 0 then
    self.out:write(string.format("\27[%dA\r\27[J", self.drawn))
    self.drawn = 0
  end
end

-- Draw the running steps: a header with the elapsed time, then the last lines of output.
function Tty:draw()
  local lines = {}
  local t = now()
  for _, st in ipairs(self.running) do
    local s = self.steps[st]
    local head = string.format("=> %s", st.label)
    local time = string.format(" %.1fs", t - s.t)
    lines[#lines + 1] = clip(head, self.width - #time - 1) .. time
    local from = math.max(1, #s.tail - M.TTY_LINES + 1)
    for i = from, #s.tail do
      lines[#lines + 1] = clip("=> > " .. s.tail[i], self.width - 1)
    end
  end
  if #lines > 0 then
    self.out:write(table.concat(lines, "\n"), "\n")
  end
  self.drawn = #lines
  self.last = t
  self.out:flush()
end

-- Print lines above the live area, then redraw it.
function Tty:print(text)
  self:erase()
  if text then
    self.out:write(text)
  end
  self:draw()
end

function Tty:start(st)
  self.n = self.n + 1
  self.steps[st] = { n = self.n, t = now(), tail = {}, out = {}, size = 0, partial = "" }
  self.running[#self.running + 1] = st
  self:print()
end

function Tty:log(st, text)
  local s = self.steps[st]
  if not s then
    return
  end
  if s.size < (self.keep or 4 * 1024 * 1024) then -- kept for an error report
    s.out[#s.out + 1] = text
    s.size = s.size + #text
  else
    s.clipped = true
  end
  local buf = s.partial .. text
  for line in buf:gmatch "([^\n]*)\n" do
    s.tail[#s.tail + 1] = line
    if #s.tail > M.TTY_LINES then
      table.remove(s.tail, 1)
    end
  end
  s.partial = buf:match "[^\n]*$"
  if now() - self.last >= 0.1 then
    self:print()
  end
end

--- Redraw when due (elapsed times move on without output); the solver may call it any time.
function Tty:tick()
  if now() - self.last >= 0.1 then
    self:print()
  end
end

local function finish(self, st)
  for i, x in ipairs(self.running) do
    if x == st then
      table.remove(self.running, i)
      break
    end
  end
end

function Tty:done(st, cached)
  local s = self.steps[st]
  if not s then
    return
  end
  finish(self, st)
  local tail = cached and " CACHED" or string.format(" DONE %.1fs", now() - s.t)
  self:print(clip("=> " .. st.label, self.width - #tail - 1) .. tail .. "\n")
end

function Tty:fail(st)
  local s = self.steps[st]
  if not s then
    return
  end
  finish(self, st)
  local out = { string.format("=> ERROR %s %.1fs\n", st.label, now() - s.t) }
  local text = table.concat(s.out)
  if text ~= "" then
    out[#out + 1] = "------\n"
    out[#out + 1] = " > " .. st.label .. ":\n"
    for line in text:gmatch "([^\n]*)\n?" do
      if line ~= "" then
        out[#out + 1] = line .. "\n"
      end
    end
    if s.clipped or s.log_path then
      out[#out + 1] = string.format("(output continues: the full log is in %s)\n", s.log_path or "memory only")
    end
    out[#out + 1] = "------\n"
  end
  self:print(table.concat(out))
end

function Tty:say(fmt, ...)
  self:print(string.format(fmt, ...) .. "\n")
end

function Tty:spilled(st, path, limit)
  local s = self.steps[st]
  if s then
    s.log_path = path
    self:print(string.format("=> %s: output passed %d bytes; the full log is in %s\n", st.label, limit, path))
  end
end

return M
