-- Docker's word processing and variable expansion (BuildKit's frontend/dockerfile/shell.Lex):
-- quote removal, escapes, $v / ${v} / ${v:-w} ${v-w} ${v:+w} ${v+w} ${v:?m} ${v?m}
-- ${v#p} ${v##p} ${v%p} ${v%%p} ${v/p/r} ${v//p/r}, and word splitting after expansion.
--
-- Errors are returned, not raised: process_word and process_words return nil, msg on a bad
-- word (the frontend attaches the Dockerfile location).  On success they return the result,
-- then the set of referenced variables that were unset ({NAME = true}), then the set of
-- referenced variables that were set.
--
-- env is a table NAME -> value (a NAME mapped to "" is set but empty) or a function
-- NAME -> value|nil.  opts: escape ("\\" or "`", default "\\"), skip_unset (leave
-- references to unset variables as written), raw_quotes (keep quote characters),
-- raw_escapes (keep escape characters), skip_quotes (quotes are ordinary characters).
local text = require "cbuild.dockerfile.text"

local M = {}

local byte, sub, concat = string.byte, string.sub, table.concat
local decode, is_space, quote = text.decode, text.is_space, text.quote
local uchar = utf8.char

local EOF = -1

-- A lexer state over one word.  Runes are decoded lazily; invalid UTF-8 bytes read as U+FFFD,
-- as Go's text/scanner does.
local Lexer = {}
Lexer.__index = Lexer

function Lexer:peek()
  local i = self.i
  if i > self.n then
    return EOF
  end
  local c = byte(self.s, i)
  if c < 0x80 then
    return c
  end
  return (decode(self.s, i))
end

function Lexer:next()
  local i = self.i
  if i > self.n then
    return EOF
  end
  local c = byte(self.s, i)
  if c < 0x80 then
    self.i = i + 1
    return c
  end
  local r, w = decode(self.s, i)
  self.i = i + w
  return r
end

local function fail(msg)
  error({ shell_error = msg }, 0)
end

-- Words accumulate into a buffer; splitting happens on unquoted white space and on white
-- space that came out of an expansion.
local function new_words()
  return { buf = {}, words = {}, in_word = false }
end

local function words_flush(w)
  if #w.buf > 0 then
    w.words[#w.words + 1] = concat(w.buf)
    w.buf = {}
    w.in_word = false
  end
end

local function words_add_raw_char(w, ch)
  w.buf[#w.buf + 1] = uchar(ch)
  w.in_word = true
end

local function words_add_char(w, ch)
  if is_space(ch) then
    if w.in_word and #w.buf > 0 then
      words_flush(w)
    end
  else
    words_add_raw_char(w, ch)
  end
end

local function words_add_string(w, s)
  local i, n = 1, #s
  while i <= n do
    local r, width = decode(s, i)
    words_add_char(w, r)
    i = i + width
  end
end

local function words_add_raw_string(w, s)
  w.buf[#w.buf + 1] = s
  w.in_word = true
end

local function words_get(w)
  words_flush(w)
  return w.words
end

local process_dollar

-- Process until stop (a rune) or the end; returns the word and the split words.
local function process_stop_on(lx, stop, raw_escapes)
  local result = {}
  local words = new_words()
  local saved = lx.raw_escapes
  lx.raw_escapes = raw_escapes
  local esc = lx.escape
  while true do
    local ch = lx:peek()
    if ch == EOF then
      break
    end
    if stop ~= EOF and ch == stop then
      lx:next()
      lx.raw_escapes = saved
      return concat(result), words_get(words)
    end
    if ch == 36 then -- $
      local tmp = process_dollar(lx)
      result[#result + 1] = tmp
      words_add_string(words, tmp)
    elseif (ch == 39 or ch == 34) and not lx.skip_quotes then
      local tmp = ch == 39 and lx:single_quote() or lx:double_quote()
      result[#result + 1] = tmp
      words_add_raw_string(words, tmp)
    else
      ch = lx:next()
      if ch == esc then
        if lx.raw_escapes then
          words_add_raw_char(words, ch)
          result[#result + 1] = uchar(ch)
        end
        ch = lx:next()
        if ch == EOF then
          break
        end
        words_add_raw_char(words, ch)
      else
        words_add_char(words, ch)
      end
      result[#result + 1] = uchar(ch)
    end
  end
  lx.raw_escapes = saved
  if stop ~= EOF then
    fail("unexpected end of statement while looking for matching " .. uchar(stop))
  end
  return concat(result), words_get(words)
end

function Lexer:single_quote()
  local result = {}
  local ch = self:next()
  if self.raw_quotes then
    result[#result + 1] = uchar(ch)
  end
  while true do
    ch = self:next()
    if ch == EOF then
      fail "unexpected end of statement while looking for matching single-quote"
    elseif ch == 39 then
      if self.raw_quotes then
        result[#result + 1] = "'"
      end
      return concat(result)
    end
    result[#result + 1] = uchar(ch)
  end
end

function Lexer:double_quote()
  local result = {}
  local ch = self:next()
  if self.raw_quotes then
    result[#result + 1] = uchar(ch)
  end
  local esc = self.escape
  while true do
    local p = self:peek()
    if p == EOF then
      fail "unexpected end of statement while looking for matching double-quote"
    elseif p == 34 then
      self:next()
      if self.raw_quotes then
        result[#result + 1] = '"'
      end
      return concat(result)
    elseif p == 36 then
      result[#result + 1] = process_dollar(self)
    else
      ch = self:next()
      local skip = false
      if ch == esc then
        if self.raw_escapes then
          result[#result + 1] = uchar(ch)
        end
        local q = self:peek()
        if q == EOF then
          skip = true -- ignore an escape at the end of the word
        elseif q == 34 or q == 36 or q == esc then
          ch = self:next()
        end
      end
      if not skip then
        result[#result + 1] = uchar(ch)
      end
    end
  end
end

local special_params = {
  [64] = true, [42] = true, [35] = true, [63] = true, [45] = true, [36] = true, [33] = true,
  [48] = true,
}

local function is_digit(r)
  return r >= 48 and r <= 57
end

-- unicode.IsLetter, approximated: ASCII letters, and every non-ASCII rune that is not space,
-- punctuation of the Latin-1 block or U+FFFD.
local function is_letter(r)
  if r < 0x80 then
    return (r >= 65 and r <= 90) or (r >= 97 and r <= 122)
  end
  if r < 0xC0 then
    return r == 0xAA or r == 0xB5 or r == 0xBA
  end
  return r ~= 0xD7 and r ~= 0xF7 and r ~= 0xFFFD and not is_space(r)
    and not (r >= 0x2000 and r <= 0x2BFF) and not (r >= 0x3000 and r <= 0x303F)
end

local function process_name(lx)
  local name = {}
  while true do
    local ch = lx:peek()
    if ch == EOF then
      break
    end
    if #name == 0 and is_digit(ch) then
      while lx:peek() ~= EOF and is_digit(lx:peek()) do
        name[#name + 1] = uchar(lx:next())
      end
      return concat(name)
    end
    if #name == 0 and special_params[ch] then
      return uchar(lx:next())
    end
    if not is_letter(ch) and not is_digit(ch) and ch ~= 95 then
      break
    end
    name[#name + 1] = uchar(lx:next())
  end
  return concat(name)
end

local function get_env(lx, name)
  local v
  if type(lx.env) == "function" then
    v = lx.env(name)
  else
    v = lx.env[name]
  end
  if v ~= nil then
    lx.matched[name] = true
    return v, true
  end
  lx.unmatched[name] = true
  return "", false
end

-- Shell patterns (* ? and escapes, no brackets) as token lists: {kind, rune}.
local STAR, ANY, LIT = 1, 2, 3

local function compile_pattern(pattern)
  local toks = {}
  local i, n = 1, #pattern
  while i <= n do
    local r, w = decode(pattern, i)
    i = i + w
    if r == 42 then
      toks[#toks + 1] = { STAR }
    elseif r == 63 then
      toks[#toks + 1] = { ANY }
    elseif r == 92 then
      local nxt = i <= n and (decode(pattern, i)) or EOF
      if nxt == 125 or nxt == 47 then -- \} and \/: the escape is not part of the pattern
        goto continue
      end
      if nxt ~= 42 and nxt ~= 63 and nxt ~= 92 then
        if nxt == EOF then
          return nil, "invalid escape '\\'"
        end
        return nil, "invalid escape '\\" .. uchar(nxt) .. "'"
      end
      local _, w2 = decode(pattern, i)
      i = i + w2
      toks[#toks + 1] = { LIT, nxt }
    else
      toks[#toks + 1] = { LIT, r }
    end
    ::continue::
  end
  return toks
end

local function runes_of(s)
  local out, i, n = {}, 1, #s
  while i <= n do
    local r, w = decode(s, i)
    out[#out + 1] = r
    i = i + w
  end
  return out
end

-- Match tokens against runes from position p, with Go regexp's leftmost-first preference
-- (greedy stars try the longest run first, lazy ones the shortest).  `.` never matches a
-- newline, as in Go.  Returns the end position (exclusive) of the preferred match or nil.
local function match_at(toks, runes, p, greedy)
  local nt, nr = #toks, #runes
  local failed = {}
  local function m(ti, pos)
    if ti > nt then
      return pos
    end
    local key = ti * (nr + 2) + pos
    if failed[key] then
      return nil
    end
    local t = toks[ti]
    local res
    if t[1] == LIT then
      if pos <= nr and runes[pos] == t[2] then
        res = m(ti + 1, pos + 1)
      end
    elseif t[1] == ANY then
      if pos <= nr and runes[pos] ~= 10 then
        res = m(ti + 1, pos + 1)
      end
    else
      local maxp = pos
      while maxp <= nr and runes[maxp] ~= 10 do
        maxp = maxp + 1
      end
      if greedy then
        for q = maxp, pos, -1 do
          res = m(ti + 1, q)
          if res then
            break
          end
        end
      else
        for q = pos, maxp do
          res = m(ti + 1, q)
          if res then
            break
          end
        end
      end
    end
    if not res then
      failed[key] = true
    end
    return res
  end
  return m(1, p)
end

local function runes_to_string(runes, from, to)
  local out = {}
  for k = from, to do
    out[#out + 1] = uchar(runes[k])
  end
  return concat(out)
end

local function reverse(list)
  local out, n = {}, #list
  for k = 1, n do
    out[k] = list[n - k + 1]
  end
  return out
end

-- Go's Regexp.ReplaceAllString template: $name / ${name} expand to capture groups; there are
-- none except $0 (the match).  $$ is a literal dollar.
local function expand_template(tpl, matched)
  if not tpl:find("$", 1, true) then
    return tpl
  end
  local out, i, n = {}, 1, #tpl
  while i <= n do
    local c = sub(tpl, i, i)
    if c ~= "$" then
      out[#out + 1] = c
      i = i + 1
    elseif sub(tpl, i + 1, i + 1) == "$" then
      out[#out + 1] = "$"
      i = i + 2
    else
      local name, e
      if sub(tpl, i + 1, i + 1) == "{" then
        name, e = tpl:match("^([%w_]+)}()", i + 2)
      else
        name, e = tpl:match("^([%w_]+)()", i + 1)
      end
      if not name then
        out[#out + 1] = "$"
        i = i + 1
      else
        if name:match "^%d+$" and tonumber(name) == 0 then
          out[#out + 1] = matched
        end
        i = e
      end
    end
  end
  return concat(out)
end

local function replace(value, pattern, replacement, all)
  local toks, err = compile_pattern(pattern)
  if not toks then
    fail(string.format("invalid pattern (%s) in substitution: %s", pattern, err))
  end
  local runes = runes_of(value)
  local nr = #runes
  local out, last, pos = {}, 1, 1
  local prev_end
  while pos <= nr + 1 do
    local e = match_at(toks, runes, pos, true)
    if e and not (e == pos and prev_end == pos) then
      out[#out + 1] = runes_to_string(runes, last, pos - 1)
      if all then
        out[#out + 1] = expand_template(replacement, runes_to_string(runes, pos, e - 1))
      else
        out[#out + 1] = replacement
      end
      last = e
      prev_end = e
      if not all then
        break
      end
      if e > pos then
        pos = e
      else
        pos = pos + 1
      end
    else
      pos = pos + 1
    end
  end
  out[#out + 1] = runes_to_string(runes, last, nr)
  return concat(out)
end

function process_dollar(lx)
  lx:next()
  if lx:peek() ~= 123 then -- not {
    local name = process_name(lx)
    if name == "" then
      return "$"
    end
    local value, found = get_env(lx, name)
    if not found and lx.skip_unset then
      return "$" .. name
    end
    return value
  end
  lx:next()
  local p = lx:peek()
  if p == EOF then
    fail "syntax error: missing '}'"
  elseif p == 123 or p == 125 or p == 58 then
    fail "syntax error: bad substitution"
  end
  local name = process_name(lx)
  local ch = lx:next()
  if ch == EOF then
    fail "syntax error: missing '}'"
  end
  local chs = uchar(ch)
  local null_is_unset = false
  if ch == 125 then -- }
    local value, set = get_env(lx, name)
    if not set and lx.skip_unset then
      return "${" .. name .. "}"
    end
    return value
  end
  if ch == 58 then -- :
    null_is_unset = true
    ch = lx:next()
    chs = chs .. (ch == EOF and "" or uchar(ch))
  end
  if null_is_unset or ch == 43 or ch == 45 or ch == 63 or ch == 35 or ch == 37 then
    local raw = ch == 35 or ch == 37
    if null_is_unset and raw then
      fail(string.format("unsupported modifier (%s) in substitution", chs))
    end
    local ok, word = pcall(process_stop_on, lx, 125, raw)
    if not ok then
      if lx:peek() == EOF then
        fail "syntax error: missing '}'"
      end
      error(word, 0)
    end
    local value, set = get_env(lx, name)
    if lx.skip_unset and not set then
      return "${" .. name .. chs .. word .. "}"
    end
    if ch == 45 then -- -
      if not set or (null_is_unset and value == "") then
        return word
      end
      return value
    elseif ch == 43 then -- +
      if not set or (null_is_unset and value == "") then
        return ""
      end
      return word
    elseif ch == 63 then -- ?
      if not set then
        fail(name .. ": " .. (word ~= "" and word or "is not allowed to be unset"))
      end
      if null_is_unset and value == "" then
        fail(name .. ": " .. (word ~= "" and word or "is not allowed to be empty"))
      end
      return value
    elseif ch == 35 or ch == 37 then -- # %
      local greedy = false
      if byte(word, 1) == ch then
        greedy = true
        word = sub(word, 2)
      end
      local toks, err = compile_pattern(word)
      if not toks then
        fail(string.format("invalid pattern (%s) in substitution: %s", word, err))
      end
      local runes = runes_of(value)
      local nr = #runes
      if ch == 37 then
        -- shortest/longest suffix: reverse pattern and value, and match a prefix
        local e = match_at(reverse(toks), reverse(runes), 1, greedy)
        return runes_to_string(runes, 1, e and nr - e + 1 or nr)
      end
      local e = match_at(toks, runes, 1, greedy)
      return runes_to_string(runes, e or 1, nr)
    end
    fail(string.format("unsupported modifier (%s) in substitution", chs))
  end
  if ch == 47 then -- /
    local all = lx:peek() == 47
    if all then
      lx:next()
    end
    local ok, pattern = pcall(process_stop_on, lx, 47, true)
    if not ok then
      if lx:peek() == EOF then
        fail "syntax error: missing '/' in ${}"
      end
      error(pattern, 0)
    end
    local ok2, replacement = pcall(process_stop_on, lx, 125, true)
    if not ok2 then
      if lx:peek() == EOF then
        fail "syntax error: missing '}'"
      end
      error(replacement, 0)
    end
    local value, set = get_env(lx, name)
    if lx.skip_unset and not set then
      return "${" .. name .. "/" .. pattern .. "/" .. replacement .. "}"
    end
    return replace(value, pattern, replacement, all)
  end
  fail(string.format("unsupported modifier (%s) in substitution", chs))
end

local function run(word, env, opts)
  opts = opts or {}
  local esc = opts.escape or "\\"
  local lx = setmetatable({
    s = word, i = 1, n = #word, env = env or {}, escape = byte(esc),
    raw_quotes = opts.raw_quotes or false, raw_escapes = opts.raw_escapes or false,
    skip_unset = opts.skip_unset or false, skip_quotes = opts.skip_quotes or false,
    matched = {}, unmatched = {},
  }, Lexer)
  local ok, result, words = pcall(process_stop_on, lx, EOF, lx.raw_escapes)
  if not ok then
    if type(result) == "table" and result.shell_error then
      return nil, string.format("failed to process %s: %s", quote(word), result.shell_error)
    end
    error(result, 0)
  end
  return result, words, lx.unmatched, lx.matched
end

--- Expand variables and remove quotes in word; returns the string, the set of unset names
-- referenced and the set of set names referenced, or nil, msg.
function M.process_word(word, env, opts)
  local result, _, unmatched, matched = run(word, env, opts)
  if result == nil then
    return nil, _
  end
  return result, unmatched, matched
end

--- Like process_word, but split the result into words (splitting happens after expansion;
-- quoted white space does not split).  Returns the list, the unset set, the set set.
function M.process_words(word, env, opts)
  local result, words, unmatched, matched = run(word, env, opts)
  if result == nil then
    return nil, words
  end
  return words, unmatched, matched
end

return M
