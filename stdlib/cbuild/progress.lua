-- Build progress, BuildKit's plain style: "#N [2/3] COPY a /b", then "#N DONE 0.1s" or
-- "#N CACHED".  Written to stderr so stdout stays for results (-q prints only the image ID).
local sys = require "cbuild.core.sys"

local M = {}

local Plain = {}
Plain.__index = Plain

--- A progress printer writing to `out` (default io.stderr); quiet = print nothing.
function M.new(opts)
  opts = opts or {}
  return setmetatable({ out = opts.out or io.stderr, quiet = opts.quiet, n = 0, steps = {} }, Plain)
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

return M
