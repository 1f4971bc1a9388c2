-- docker's json-file log: one JSON object per line of output,
-- {"log":"text\n","stream":"stdout"|"stderr","time":"<RFC 3339 nanos>"}, appended by the monitor
-- and read back by `cbuild logs` (tail, since, timestamps, follow).
local json = require "cbuild.core.json"
local state = require "cbuild.container.state"

local M = {}

M.MAX_LINE = 16 * 1024 -- docker's json-file splits longer lines

local Writer = {}
Writer.__index = Writer

--- Open (append) the log at path.
function M.writer(path)
  local f = assert(io.open(path, "ab"))
  f:setvbuf "no"
  return setmetatable({ f = f, partial = {} }, Writer)
end

function Writer:entry(stream, text)
  self.f:write(json.encode { log = text, stream = stream, time = state.now() }, "\n")
end

--- Add a chunk of output of stream ("stdout" or "stderr"): whole lines are written now, a
--- trailing partial line waits for its newline (or flush).
function Writer:add(stream, data)
  local buf = (self.partial[stream] or "") .. data
  local pos = 1
  while true do
    local nl = buf:find("\n", pos, true)
    if not nl then
      break
    end
    self:entry(stream, buf:sub(pos, nl))
    pos = nl + 1
  end
  buf = buf:sub(pos)
  while #buf >= M.MAX_LINE do
    self:entry(stream, buf:sub(1, M.MAX_LINE))
    buf = buf:sub(M.MAX_LINE + 1)
  end
  self.partial[stream] = buf
end

--- Whether a partial line waits for its newline.
function Writer:pending()
  for _, buf in pairs(self.partial) do
    if buf ~= "" then
      return true
    end
  end
  return false
end

--- Write what is left of partial lines (the supervisor does when no more output came for a
--- moment, so a prompt without a newline reaches `attach` and `logs -f`).
function Writer:flush()
  for stream, buf in pairs(self.partial) do
    if buf ~= "" then
      self:entry(stream, buf)
    end
    self.partial[stream] = ""
  end
end

function Writer:close()
  self:flush()
  self.f:close()
end

--- The entries written to the log at path after byte offset: list, new offset.  Only whole
--- lines count; a line still being written is left for the next call.
function M.read_from(path, offset)
  local f = io.open(path, "rb")
  if not f then
    return {}, offset
  end
  f:seek("set", offset)
  local text = f:read "a" or ""
  f:close()
  local complete = text:match "^(.*\n)" or ""
  return M.parse(complete), offset + #complete
end

--- The size of the log at path (0 when absent).
function M.size(path)
  local f = io.open(path, "rb")
  if not f then
    return 0
  end
  local n = f:seek "end"
  f:close()
  return n
end

--- Follow the log at path from offset: emit(entry) for each new entry until done() says the
--- writer is finished (checked between reads; one last read after it says so).
function M.follow(path, offset, emit, done, interval)
  local sys = require "cbuild.core.sys"
  while true do
    local finished = done()
    local entries
    entries, offset = M.read_from(path, offset)
    for _, e in ipairs(entries) do
      emit(e)
    end
    if finished then
      return offset
    end
    if #entries == 0 then
      sys.poll({}, interval or 100)
    end
  end
end

--- Parse the entries of a log text: list of {log, stream, time}.
function M.parse(text)
  local out = {}
  for line in text:gmatch "[^\n]+" do
    local ok, e = pcall(json.decode, line)
    if ok and type(e) == "table" and e.log then
      out[#out + 1] = e
    end
  end
  return out
end

--- "--since" value: RFC 3339, unix seconds, or a relative duration (10m, 1h30m, 45s).
function M.parse_since(s, now)
  now = now or os.time()
  if s:match "^%d+%.?%d*$" then
    return tonumber(s)
  end
  local t = require("cbuild.image.config").parse_timestamp(s)
  if t then
    return t
  end
  local total = 0
  for n, unit in s:gmatch "(%d+%.?%d*)([hms])" do
    total = total + tonumber(n) * ({ h = 3600, m = 60, s = 1 })[unit]
  end
  local rest = s:gsub("%d+%.?%d*[hms]", "")
  if rest ~= "" or total == 0 then
    return nil
  end
  return now - total
end

--- Seconds (with fraction) of an entry's time.
function M.entry_time(e)
  local base = require("cbuild.image.config").parse_timestamp(e.time) or 0
  local frac = e.time:match "%.(%d+)Z$"
  return base + (frac and tonumber("0." .. frac) or 0)
end

return M
