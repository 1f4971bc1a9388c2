-- .dockerignore: docker's reader (moby/patternmatcher/ignorefile) and matcher
-- (patternmatcher.MatchesOrParentMatches) with the same results, plus Go's filepath.Match
-- for one path segment (COPY sources use it).
--
-- Reading: a line that starts with "#" is a comment (before trimming, as docker does); lines
-- are trimmed; "!" marks an exception; the rest is cleaned like Go's filepath.Clean and a
-- leading "/" is dropped.  Matching: patterns are tried in order and the last one that matches
-- the path or one of its parent directories decides.  A pattern compiles the way
-- patternmatcher compiles it to a regexp: "*" is [^/]*, "?" is [^/], "**" is (.*/)? (".*" at
-- the end), "[...]" a character class, "\x" a literal x.
local errors = require "cbuild.errors"

local M = {}

--- Go's path.Clean: collapse "//", ".", "x/.."; "" becomes "."; keeps a leading "/".
function M.clean(p)
  if p == "" then
    return "."
  end
  local rooted = p:sub(1, 1) == "/"
  local out = {}
  for seg in p:gmatch "[^/]+" do
    if seg == ".." then
      if #out > 0 and out[#out] ~= ".." then
        out[#out] = nil
      elseif not rooted then
        out[#out + 1] = ".."
      end
    elseif seg ~= "." then
      out[#out + 1] = seg
    end
  end
  local s = table.concat(out, "/")
  if rooted then
    return "/" .. s
  end
  return s == "" and "." or s
end

-- One character (a whole UTF-8 sequence) of s at byte i: returns its last byte index.
local function char_end(s, i)
  local b = s:byte(i)
  if b == nil or b < 0xC0 then
    return i
  elseif b < 0xE0 then
    return math.min(i + 1, #s)
  elseif b < 0xF0 then
    return math.min(i + 2, #s)
  end
  return math.min(i + 3, #s)
end

local function codepoint(c)
  local ok, cp = pcall(utf8.codepoint, c)
  return ok and cp or c:byte(1)
end

-- Parse a character class starting after "[" at byte i of pat (Go's filepath.Match rules:
-- optional "^", then ranges lo or lo-hi, each side maybe "\"-escaped, closed by "]" once at
-- least one range was read).  Returns the token and the index after "]", or nil on bad syntax.
local function parse_class(pat, i)
  local tok = { kind = "class", neg = false, ranges = {} }
  if pat:sub(i, i) == "^" then
    tok.neg = true
    i = i + 1
  end
  local function esc()
    local c = pat:sub(i, i)
    if c == "" or c == "-" or c == "]" then
      return nil
    end
    if c == "\\" then
      i = i + 1
      if i > #pat then
        return nil
      end
    end
    local e = char_end(pat, i)
    local ch = pat:sub(i, e)
    i = e + 1
    if i > #pat then -- Go: a class must be closed
      return nil
    end
    return codepoint(ch)
  end
  while true do
    if pat:sub(i, i) == "]" and #tok.ranges > 0 then
      return tok, i + 1
    end
    local lo = esc()
    if lo == nil then
      return nil
    end
    local hi = lo
    if pat:sub(i, i) == "-" then
      i = i + 1
      hi = esc()
      if hi == nil then
        return nil
      end
    end
    tok.ranges[#tok.ranges + 1] = { lo, hi }
  end
end

-- Tokens for the matcher: {kind = "lit", s}, "any" (?), "star" (*), "dstar" ((.*/)?),
-- "rest" (.*) and "class".  With doublestar false, "**" is two stars (filepath.Match).
-- Returns tokens, or nil when the pattern is malformed for filepath.Match.
local function tokenize(pat, doublestar)
  local toks = {}
  local i, n = 1, #pat
  local function lit(s)
    local last = toks[#toks]
    if last and last.kind == "lit" then
      last.s = last.s .. s
    else
      toks[#toks + 1] = { kind = "lit", s = s }
    end
  end
  while i <= n do
    local c = pat:sub(i, i)
    if c == "*" then
      if doublestar and pat:sub(i + 1, i + 1) == "*" then
        i = i + 2
        if pat:sub(i, i) == "/" then
          i = i + 1
        end
        toks[#toks + 1] = { kind = i > n and "rest" or "dstar" }
      else
        toks[#toks + 1] = { kind = "star" }
        i = i + 1
      end
    elseif c == "?" then
      toks[#toks + 1] = { kind = "any" }
      i = i + 1
    elseif c == "[" then
      local tok, j = parse_class(pat, i + 1)
      if tok == nil then
        return nil
      end
      toks[#toks + 1] = tok
      i = j
    elseif c == "\\" then
      if i == n then
        return nil -- Go's filepath.Match rejects a trailing backslash
      end
      local e = char_end(pat, i + 1)
      lit(pat:sub(i + 1, e))
      i = e + 1
    else
      local e = char_end(pat, i)
      lit(pat:sub(i, e))
      i = e + 1
    end
  end
  return toks
end

local function class_has(tok, cp)
  local hit = false
  for _, r in ipairs(tok.ranges) do
    if r[1] <= cp and cp <= r[2] then
      hit = true
      break
    end
  end
  return hit ~= tok.neg
end

-- Backtracking match of tokens from t against s from byte i, to the end of s.
local function match_at(toks, t, s, i)
  while true do
    local tok = toks[t]
    if tok == nil then
      return i > #s
    end
    local k = tok.kind
    if k == "lit" then
      if s:sub(i, i + #tok.s - 1) ~= tok.s then
        return false
      end
      i = i + #tok.s
    elseif k == "any" or k == "class" then
      if i > #s or (k == "any" and s:sub(i, i) == "/") then
        return false -- "?" is [^/]; a class is a regexp class and may match "/"
      end
      local e = char_end(s, i)
      if k == "class" and not class_has(tok, codepoint(s:sub(i, e))) then
        return false
      end
      i = e + 1
    elseif k == "star" then
      local j = i
      while true do -- try every length of a run without "/" (the tail decides)
        if match_at(toks, t + 1, s, j) then
          return true
        end
        if j > #s or s:sub(j, j) == "/" then
          return false
        end
        j = char_end(s, j) + 1
      end
    elseif k == "dstar" then
      if match_at(toks, t + 1, s, i) then
        return true
      end
      local j = i
      while true do
        local slash = s:find("/", j, true)
        if slash == nil then
          return false
        end
        if match_at(toks, t + 1, s, slash + 1) then
          return true
        end
        j = slash + 1
      end
    else -- "rest"
      return true
    end
    t = t + 1
  end
end

--- Go's filepath.Match(pattern, name) on "/"-separated names: returns matched, or nil and
--- "syntax error in pattern" when the pattern is malformed.
function M.match(pattern, name)
  local toks = tokenize(pattern, false)
  if toks == nil then
    return nil, "syntax error in pattern"
  end
  return match_at(toks, 1, name, 1)
end

--- True when name holds an unescaped "*", "?" or "[" (BuildKit's containsWildcards).
function M.has_wildcards(name)
  local i = 1
  while i <= #name do
    local c = name:sub(i, i)
    if c == "\\" then
      i = i + 1
    elseif c == "*" or c == "?" or c == "[" then
      return true
    end
    i = i + 1
  end
  return false
end

-- The match type, as patternmatcher's compile decides it: exact, prefix ("x/**"), suffix
-- ("**/x") or a general token match (the last assignment wins, as there).
local function match_type(p)
  local kind = "exact"
  local i, n = 1, #p
  local first = true
  while i <= n do
    local c = p:sub(i, i)
    if c == "*" then
      if p:sub(i + 1, i + 1) == "*" then
        i = i + 2
        if p:sub(i, i) == "/" then
          i = i + 1
        end
        if i > n then
          kind = kind == "exact" and "prefix" or "regexp"
        else
          kind = "regexp"
        end
        if first then
          kind = "suffix"
        end
      else
        kind = "regexp"
        i = i + 1
      end
    elseif c == "?" or c == "[" or c == "]" then
      kind = "regexp"
      i = i + 1
    elseif c == "\\" then
      if i < n then
        kind = "regexp"
        i = char_end(p, i + 1) + 1
      else
        i = i + 1
      end
    else
      i = char_end(p, i) + 1
    end
    first = false
  end
  return kind
end

local Pattern = {}
Pattern.__index = Pattern

function Pattern:__tostring()
  return (self.exclusion and "!" or "") .. self.pattern
end

local function make_pattern(p, line, file)
  local exclusion = false
  p = M.clean(p)
  if p:sub(1, 1) == "!" then
    if #p == 1 then
      return nil, 'illegal exclusion pattern: "!"'
    end
    exclusion = true
    p = p:sub(2)
  end
  local toks = tokenize(p, false)
  if toks == nil then -- filepath.Match(p, ".") in patternmatcher.New
    return nil, "syntax error in pattern"
  end
  local pat = setmetatable({
    pattern = p,
    exclusion = exclusion,
    line = line,
    file = file,
    kind = match_type(p),
    dirs = select(2, p:gsub("/", "/")) + 1,
  }, Pattern)
  if pat.kind == "regexp" then
    pat.toks = tokenize(p, true)
    if pat.toks == nil then
      return nil, "syntax error in pattern"
    end
    local last = pat.toks[#pat.toks]
    if last.kind == "lit" then
      pat.tail = last.s -- quick reject: a match must end with this literal
    end
  end
  return pat
end

--- Does this pattern match the slash-separated path exactly (no parent matching)?
function Pattern:match(path)
  local k = self.kind
  if k == "exact" then
    return path == self.pattern
  elseif k == "prefix" then
    local pre = self.pattern:sub(1, -3)
    return path:sub(1, #pre) == pre
  elseif k == "suffix" then
    local suffix = self.pattern:sub(3)
    if suffix == "" or path:sub(-#suffix) == suffix then
      return true
    end
    return suffix:sub(1, 1) == "/" and path == suffix:sub(2)
  end
  local tail = self.tail
  if tail and path:sub(-#tail) ~= tail then
    return false
  end
  return match_at(self.toks, 1, path, 1)
end

--- docker's ignorefile.ReadAll: the pattern strings of .dockerignore text (not yet checked)
--- and, beside them, the line number each came from.
function M.read_all(text)
  local out, lines = {}, {}
  local lineno = 0
  text = text:gsub("^\239\187\191", "") -- UTF-8 BOM
  for line in (text .. "\n"):gmatch "([^\n]*)\n" do
    lineno = lineno + 1
    line = line:gsub("\r$", "")
    if line:sub(1, 1) ~= "#" then -- a comment only when "#" is the very first byte
      local p = line:match "^%s*(.-)%s*$"
      if p ~= "" then
        local invert = p:sub(1, 1) == "!"
        if invert then
          p = p:sub(2):match "^%s*(.-)%s*$"
        end
        if #p > 0 then
          p = M.clean(p)
          if #p > 1 and p:sub(1, 1) == "/" then
            p = p:sub(2)
          end
        end
        out[#out + 1] = invert and ("!" .. p) or p
        lines[#out] = lineno
      end
    end
  end
  return out, lines
end

--- Read .dockerignore text into pattern objects ({pattern=, exclusion=, line=, file=}).
--- Raises a cbuild error at file:line for an invalid pattern.  opts: file (for messages).
function M.parse(text, opts)
  local file = (opts and opts.file) or ".dockerignore"
  local strs, lines = M.read_all(text)
  local out = {}
  for i, p in ipairs(strs) do
    local pat, msg = make_pattern(p, lines[i], file)
    if pat == nil then
      errors.raise_at({ file = file, line = lines[i] }, "invalid pattern %q: %s", p, msg)
    end
    out[#out + 1] = pat
  end
  return out
end

local Matcher = {}
Matcher.__index = Matcher

--- A matcher over patterns from parse (or plain strings, read as patternmatcher.New does).
function M.new(patterns)
  local list, exclusions = {}, false
  for i, p in ipairs(patterns or {}) do
    if type(p) == "string" then
      local trimmed = p:match "^%s*(.-)%s*$"
      if trimmed ~= "" then
        local pat, msg = make_pattern(trimmed, nil, nil)
        if pat == nil then
          errors.raise("invalid .dockerignore pattern %q (#%d): %s", trimmed, i, msg)
        end
        list[#list + 1] = pat
      end
    else
      list[#list + 1] = p
    end
  end
  for _, p in ipairs(list) do
    exclusions = exclusions or p.exclusion
  end
  return setmetatable({ patterns = list, exclusions = exclusions }, Matcher)
end

--- Is relpath excluded?  Returns excluded, and the pattern that decided (nil when none did).
--- A pattern matches a path when it matches the path itself or any of its parent directories.
function Matcher:matches(relpath)
  local file = M.clean(relpath)
  if file == "." or #self.patterns == 0 then
    return false, nil
  end
  local parents = {}
  do
    local pos = 1
    while true do
      local s = file:find("/", pos, true)
      if s == nil then
        break
      end
      parents[#parents + 1] = file:sub(1, s - 1)
      pos = s + 1
    end
  end
  local matched, decider = false, nil
  for _, pat in ipairs(self.patterns) do
    if pat.exclusion == matched then
      local m = pat:match(file)
      if not m then
        for _, parent in ipairs(parents) do
          if pat:match(parent) then
            m = true
            break
          end
        end
      end
      if m then
        matched = not pat.exclusion
        decider = pat
      end
    end
  end
  return matched, matched and decider or nil
end

--- matches() for a walk (patternmatcher.MatchesUsingParentResults): info is what this call
--- returned for the parent directory (nil at the top), so parents are not matched again.
--- Returns excluded, the deciding pattern, and the info to pass for this path's children.
function Matcher:matches_walk(relpath, parent_info)
  local info, matched, decider = {}, false, nil
  for i, p in ipairs(self.patterns) do
    local m = parent_info ~= nil and parent_info[i]
    if not m and p.exclusion == matched then
      m = p:match(relpath)
      if not m and parent_info == nil then -- no parent results: try every parent (Go does too)
        local pos = 1
        while true do
          local sl = relpath:find("/", pos, true)
          if sl == nil then
            break
          end
          if p:match(relpath:sub(1, sl - 1)) then
            m = true
            break
          end
          pos = sl + 1
        end
      end
    end
    info[i] = m and true or false
    if m then
      matched = not p.exclusion
      decider = p
    end
  end
  return matched, matched and decider or nil, info
end

-- Could the exception pattern match something below dir?  Literal leading segments must
-- equal dir's segments; a wildcard segment must match its counterpart; "**" matches anything.
local function could_match_below(pat, dir)
  local p = pat.pattern
  if pat.kind ~= "regexp" and pat.kind ~= "suffix" then
    -- docker's rule for literal patterns: pattern + "/" starts with dir + "/"
    local pre = pat.kind == "prefix" and p:sub(1, -3) or (p .. "/")
    local d = dir .. "/"
    return pre:sub(1, #d) == d or (pat.kind == "prefix" and d:sub(1, #pre) == pre)
  end
  if pat.kind == "suffix" then
    return true
  end
  local psegs, dsegs = {}, {}
  for s in p:gmatch "[^/]+" do
    psegs[#psegs + 1] = s
  end
  for s in dir:gmatch "[^/]+" do
    dsegs[#dsegs + 1] = s
  end
  for i, d in ipairs(dsegs) do
    local ps = psegs[i]
    if ps == nil then
      return false -- the pattern names dir or an ancestor, nothing below it
    end
    if ps:find("**", 1, true) then
      return true
    end
    if not M.match(ps, d) then
      return false
    end
  end
  return #psegs > #dsegs
end

--- Could any pattern match a path strictly below the directory reldir?  When none can, every
--- path below it is decided as reldir itself is (a pattern matching reldir or a parent of it
--- matches them all alike), so a walk need not ask.  Errs on the side of true.
function Matcher:may_match_below(reldir)
  local dir = M.clean(reldir):gsub("^/", "")
  for _, pat in ipairs(self.patterns) do
    -- a class or an escape could stand for "/" itself: segment matching cannot tell
    if pat.pattern:find("[[\\]") or could_match_below(pat, dir) then
      return true
    end
  end
  return false
end

--- Must a walk descend into the excluded directory reldir?  True when an exception ("!")
--- pattern could match a path inside it (docker skips the directory otherwise).
function Matcher:may_match_inside(reldir)
  if not self.exclusions then
    return false
  end
  local dir = M.clean(reldir):gsub("^/", "")
  for _, pat in ipairs(self.patterns) do
    if pat.exclusion and could_match_below(pat, dir) then
      return true
    end
  end
  return false
end

return M
