-- The Dockerfile parser: text -> AST, with BuildKit's exact rules (frontend/dockerfile/parser):
-- parser directives at the top, comments and blank lines inside continuations, the escape
-- character and its trailing white space, flags, JSON (exec) vs shell form, heredocs, ONBUILD.
--
--   ast = parser.parse(text, {file = "Dockerfile"})
--   ast = {directives = {escape=, syntax=, check=}, escape = "\\" | "`",
--          children = {node...}, warnings = {{line=, msg=}...}, start_line=, end_line=}
--   node = {cmd = "copy" (lower case), value = "COPY" (as written), original = <the logical
--           line, continuations joined>, flags = {"--from=a"...}, args = {...} (BuildKit's Next
--           chain), json = bool, heredocs = {{name=, content=, expand=, chomp=, fd=}...},
--           sub = <node> (ONBUILD), start_line=, end_line=, comments = {...},
--           loc = {file=, line=, col=, len=, text=}}
--
-- Errors are raised as cbuild.errors objects with loc = {file, line, col, len, text}.
-- parser.locate(node, offset, len) maps a byte offset in node.original to such a loc, so later
-- stages can put the caret under a flag or a word even on a continuation line.
local errors = require "cbuild.errors"
local text = require "cbuild.dockerfile.text"
local shell = require "cbuild.dockerfile.shell"

local M = {}

--- Longest physical line BuildKit accepts (bufio.Scanner's token limit, minus the newline).
M.MAX_LINE = 65535

local byte, sub, find, concat = string.byte, string.sub, string.find, table.concat
local is_space_byte, skip_space, trim_space = text.is_space_byte, text.skip_space, text.trim_space
local decode, is_space = text.decode, text.is_space

-- A parse failure inside a line parser: carries the message; parse() adds the location.
local function fail(msg, offset, len)
  error({ parse_error = msg, offset = offset, len = len }, 0)
end

---------------------------------------------------------------------------------------------
-- JSON: a strict validator/decoder matching Go's encoding/json for `[]any`.

local json_ws = { [0x20] = true, [0x09] = true, [0x0A] = true, [0x0D] = true }
local json_esc = {
  [0x22] = '"', [0x5C] = "\\", [0x2F] = "/", [0x62] = "\b", [0x66] = "\f", [0x6E] = "\n",
  [0x72] = "\r", [0x74] = "\t",
}
local MAX_DEPTH = 10000

local function json_skip(s, i)
  while json_ws[byte(s, i)] do
    i = i + 1
  end
  return i
end

local function hex4(s, i)
  local h = sub(s, i, i + 3)
  if #h == 4 and h:match "^%x%x%x%x$" then
    return tonumber(h, 16)
  end
end

-- Decode a JSON string starting at the opening quote; returns next index and the value, or nil.
local function json_string(s, i)
  i = i + 1
  local out = {}
  local n = #s
  while true do
    -- fast run of plain bytes
    local j = find(s, '["\\%c]', i)
    if not j then
      return nil
    end
    if j > i then
      local chunk = sub(s, i, j - 1)
      if chunk:find "[\128-\255]" then
        -- replace invalid UTF-8 with U+FFFD as Go does
        local k, parts = 1, {}
        while k <= #chunk do
          local r, w, bad = decode(chunk, k)
          parts[#parts + 1] = bad and "\239\191\189" or sub(chunk, k, k + w - 1)
          k = k + w
          if r == nil then
            break
          end
        end
        chunk = concat(parts)
      end
      out[#out + 1] = chunk
    end
    local c = byte(s, j)
    if c == 0x22 then
      return j + 1, concat(out)
    elseif c == 0x5C then
      local e = byte(s, j + 1)
      if e == nil then
        return nil
      end
      if json_esc[e] then
        out[#out + 1] = json_esc[e]
        i = j + 2
      elseif e == 0x75 then -- \u
        local r = hex4(s, j + 2)
        if not r then
          return nil
        end
        i = j + 6
        if r >= 0xD800 and r < 0xDC00 then
          local r2 = sub(s, i, i + 1) == "\\u" and hex4(s, i + 2)
          if r2 and r2 >= 0xDC00 and r2 < 0xE000 then
            r = 0x10000 + ((r - 0xD800) << 10) + (r2 - 0xDC00)
            i = i + 6
          else
            r = 0xFFFD
          end
        elseif r >= 0xDC00 and r < 0xE000 then
          r = 0xFFFD
        end
        out[#out + 1] = utf8.char(r)
      else
        return nil
      end
    else
      -- a control character (< 0x20) or DEL: DEL is allowed, controls are not
      if c == 0x7F then
        out[#out + 1] = "\127"
        i = j + 1
      else
        return nil
      end
    end
    if i > n then
      return nil
    end
  end
end

local json_value

local function json_number(s, i)
  local j = s:match("^%-?()", i)
  if byte(s, j) == 0x30 then
    j = j + 1
  else
    local k = s:match("^[1-9]%d*()", j)
    if not k then
      return nil
    end
    j = k
  end
  if byte(s, j) == 0x2E then
    local k = s:match("^%d+()", j + 1)
    if not k then
      return nil
    end
    j = k
  end
  local c = byte(s, j)
  if c == 0x65 or c == 0x45 then
    local k = s:match("^[%+%-]?%d+()", j + 1)
    if not k then
      return nil
    end
    j = k
  end
  return j
end

-- Validate one value at i (after white space); returns next index and kind ("string" with the
-- decoded value, or "other"), or nil on a syntax error.
function json_value(s, i, depth)
  local c = byte(s, i)
  if c == 0x22 then
    local j, v = json_string(s, i)
    return j, "string", v
  elseif c == 0x5B or c == 0x7B then
    if depth >= MAX_DEPTH then
      return nil
    end
    local close = c == 0x5B and 0x5D or 0x7D
    i = json_skip(s, i + 1)
    if byte(s, i) == close then
      return i + 1, "other"
    end
    while true do
      if close == 0x7D then
        if byte(s, i) ~= 0x22 then
          return nil
        end
        i = json_string(s, i)
        if not i then
          return nil
        end
        i = json_skip(s, i)
        if byte(s, i) ~= 0x3A then
          return nil
        end
        i = json_skip(s, i + 1)
      end
      i = json_value(s, i, depth + 1)
      if not i then
        return nil
      end
      i = json_skip(s, i)
      local d = byte(s, i)
      if d == close then
        return i + 1, "other"
      elseif d ~= 0x2C then
        return nil
      end
      i = json_skip(s, i + 1)
    end
  elseif c == 0x74 then
    return sub(s, i, i + 3) == "true" and i + 4 or nil, "other"
  elseif c == 0x66 then
    return sub(s, i, i + 4) == "false" and i + 5 or nil, "other"
  elseif c == 0x6E then
    return sub(s, i, i + 3) == "null" and i + 4 or nil, "other"
  elseif c == 0x2D or (c and c >= 0x30 and c <= 0x39) then
    return json_number(s, i), "other"
  end
  return nil
end

local NOT_STRINGS = "when using JSON array syntax, arrays must be comprised of strings only"

-- parseJSON: the list of strings, or nil when rest is not a JSON array (raises when it is a
-- valid JSON array holding something other than strings).
local function parse_json(rest)
  local i = skip_space(rest, 1)
  if byte(rest, i) ~= 0x5B then
    return nil
  end
  local s = rest
  local elems, bad = {}, false
  i = json_skip(s, i + 1)
  if byte(s, i) == 0x5D then
    i = i + 1
  else
    while true do
      local j, kind, v = json_value(s, i, 1)
      if not j then
        return nil
      end
      if kind == "string" then
        elems[#elems + 1] = v
      else
        bad = true
      end
      i = json_skip(s, j)
      local d = byte(s, i)
      if d == 0x5D then
        i = i + 1
        break
      elseif d ~= 0x2C then
        return nil
      end
      i = json_skip(s, i + 1)
    end
  end
  if json_skip(s, i) <= #s then
    return nil
  end
  if bad then
    fail(NOT_STRINGS)
  end
  return elems
end

---------------------------------------------------------------------------------------------
-- Line parsers (line_parsers.go).  Each gets the rest of the line after the keyword and the
-- flags, and returns the argument list and whether it was JSON.

-- reWhitespace.Split(rest, -1) with reWhitespace = [\t\v\f\r ]+
local function split_ws(rest)
  local out = {}
  local i, n = 1, #rest
  while true do
    local a, b = find(rest, "[\t\v\f\r ]+", i)
    if not a then
      out[#out + 1] = sub(rest, i, n)
      return out
    end
    out[#out + 1] = sub(rest, i, a - 1)
    i = b + 1
  end
end

local function parse_strings_ws(rest)
  if rest == "" then
    return {}
  end
  return split_ws(rest)
end

local function parse_string(rest)
  if rest == "" then
    return {}
  end
  return { rest }
end

local function parse_maybe_json(rest)
  if rest == "" then
    return {}
  end
  local list = parse_json(rest)
  if list then
    return list, true
  end
  return { rest }
end

local function parse_maybe_json_to_list(rest)
  local list = parse_json(rest)
  if list then
    return list, true
  end
  return parse_strings_ws(rest)
end

-- parseWords: split on white space, keeping quotes and escapes (they are removed later).
local function parse_words(rest, esc)
  local words = {}
  local IN_SPACES, IN_WORD, IN_QUOTE = 0, 1, 2
  local phase, quote, blank_ok = IN_SPACES, 0, false
  local word = {}
  local pos, n = 1, #rest
  local ch, w = 0, 0
  local uchar = utf8.char
  while true do
    if pos <= n then
      ch, w = decode(rest, pos)
    end
    if phase == IN_SPACES then
      if pos > n then
        break
      end
      if is_space(ch) then
        goto continue
      end
      phase = IN_WORD
    end
    if pos > n then
      if blank_ok or #word > 0 then
        words[#words + 1] = concat(word)
      end
      break
    end
    if phase == IN_WORD then
      if is_space(ch) then
        phase = IN_SPACES
        if blank_ok or #word > 0 then
          words[#words + 1] = concat(word)
        end
        word = {}
        blank_ok = false
        goto continue
      end
      if ch == 0x27 or ch == 0x22 then
        quote = ch
        blank_ok = true
        phase = IN_QUOTE
      end
      if ch == esc then
        if pos + w > n then
          goto continue -- skip an escape at the end of the line
        end
        word[#word + 1] = uchar(ch)
        pos = pos + w
        ch, w = decode(rest, pos)
      end
      word[#word + 1] = uchar(ch)
      goto continue
    end
    -- IN_QUOTE
    if ch == quote then
      phase = IN_WORD
    end
    if ch == esc and quote ~= 0x27 then
      if pos + w > n then
        phase = IN_WORD
        goto continue
      end
      pos = pos + w
      word[#word + 1] = uchar(ch)
      ch, w = decode(rest, pos)
    end
    word[#word + 1] = uchar(ch)
    ::continue::
    if pos > n then
      break
    end
    pos = pos + w
  end
  return words
end

local function parse_name_val(rest, key, d)
  local words = parse_words(rest, d.escape_byte)
  if #words == 0 then
    return {}
  end
  if not find(words[1], "=", 1, true) then
    local a, b = find(rest, "[\t\v\f\r ]+")
    if not a then
      fail(key .. " must have two arguments")
    end
    return { sub(rest, 1, a - 1), sub(rest, b + 1), "" }
  end
  local args = {}
  for _, word in ipairs(words) do
    local eq = find(word, "=", 1, true)
    if not eq then
      fail(string.format("Syntax error - can't find = in %s. Must be of the form: name=value",
        text.quote(word)))
    end
    args[#args + 1] = sub(word, 1, eq - 1)
    args[#args + 1] = sub(word, eq + 1)
    args[#args + 1] = "="
  end
  return args
end

local function parse_name_or_name_val(rest, d)
  return parse_words(rest, d.escape_byte)
end

local function parse_health(rest)
  local n = #rest
  local sep = 1
  while sep <= n and not is_space_byte(byte(rest, sep)) do
    sep = sep + 1
  end
  local nxt = sep
  while nxt <= n and is_space_byte(byte(rest, nxt)) do
    nxt = nxt + 1
  end
  if sep == 1 then
    return {}
  end
  local args, json = parse_maybe_json(sub(rest, nxt))
  table.insert(args, 1, sub(rest, 1, sep - 1))
  return args, json
end

local new_node

local dispatch = {
  add = parse_maybe_json_to_list,
  arg = parse_name_or_name_val,
  cmd = parse_maybe_json,
  copy = parse_maybe_json_to_list,
  entrypoint = parse_maybe_json,
  env = function(rest, d)
    return parse_name_val(rest, "ENV", d)
  end,
  expose = parse_strings_ws,
  from = parse_strings_ws,
  healthcheck = parse_health,
  label = function(rest, d)
    return parse_name_val(rest, "LABEL", d)
  end,
  maintainer = parse_string,
  onbuild = true, -- handled in new_node
  run = parse_maybe_json,
  shell = parse_maybe_json,
  stopsignal = parse_string,
  user = parse_string,
  volume = parse_maybe_json_to_list,
  workdir = parse_string,
}

--- The instructions the parser knows, lower case.
M.known = {}
for k in pairs(dispatch) do
  M.known[k] = true
end

---------------------------------------------------------------------------------------------
-- splitCommand and extractBuilderFlags (split_command.go).  Offsets are byte indexes into the
-- logical line, kept so errors can point at a flag.

-- Go's `string(rune(b))` for a byte: bytes >= 0x80 become two-byte UTF-8 (Latin-1 reading).
local latin1 = {}
for b = 0, 255 do
  latin1[b] = utf8.char(b)
end

local function extract_flags(line, from)
  local flags, offsets = {}, {}
  local IN_SPACES, IN_WORD, IN_QUOTE = 0, 1, 2
  local phase, quote, blank_ok = IN_SPACES, 0, false
  local word, wstart = {}, nil
  local n = #line
  local pos = from
  while pos <= n + 1 do
    local ch = pos <= n and byte(line, pos) or -1
    if phase == IN_SPACES then
      if pos > n then
        break
      end
      if is_space_byte(ch) then
        goto continue
      end
      if ch ~= 0x2D or pos + 1 > n or byte(line, pos + 1) ~= 0x2D then
        return pos, flags, offsets
      end
      phase = IN_WORD
      wstart = pos
    end
    if pos > n then
      local s = concat(word)
      if s ~= "--" and (blank_ok or #word > 0) then
        flags[#flags + 1] = s
        offsets[#offsets + 1] = wstart
      end
      break
    end
    if phase == IN_WORD then
      if is_space_byte(ch) then
        phase = IN_SPACES
        local s = concat(word)
        if s == "--" then
          return pos, flags, offsets
        end
        if blank_ok or #word > 0 then
          flags[#flags + 1] = s
          offsets[#offsets + 1] = wstart
        end
        word = {}
        blank_ok = false
        goto continue
      end
      if ch == 0x27 or ch == 0x22 then
        quote = ch
        blank_ok = true
        phase = IN_QUOTE
        goto continue
      end
      if ch == 0x5C then
        if pos + 1 > n then
          goto continue
        end
        pos = pos + 1
        ch = byte(line, pos)
      end
      word[#word + 1] = latin1[ch]
      goto continue
    end
    -- IN_QUOTE
    if ch == quote then
      phase = IN_WORD
      goto continue
    end
    if ch == 0x5C then
      if pos + 1 > n then
        phase = IN_WORD
        goto continue
      end
      pos = pos + 1
      ch = byte(line, pos)
    end
    word[#word + 1] = latin1[ch]
    ::continue::
    pos = pos + 1
  end
  return n + 1, flags, offsets
end

-- Returns keyword, keyword offset, flags, flag offsets, rest (trimmed), rest offset.
local function split_command(line)
  local t, ts = trim_space(line)
  local a, b = find(t, "[\t\v\f\r ]+")
  if not a then
    return t, ts, {}, {}, "", ts + #t
  end
  local kw = sub(t, 1, a - 1)
  local rest_from = ts + b -- index in line of the first byte after the white space run
  local stop = ts + #t - 1 -- TrimSpace(line) ends here
  local seg = sub(line, 1, stop)
  local apos, flags, offsets = extract_flags(seg, rest_from)
  local args_raw = sub(seg, apos)
  local args, as = trim_space(args_raw)
  return kw, ts, flags, offsets, args, apos + as - 1
end

-- Build a node from a logical line; `base` is the offset of line within the top node's line.
function new_node(line, d, base)
  local kw, kwpos, flags, flag_offsets, rest, rest_pos = split_command(line)
  local cmd = kw:lower()
  local node = {
    cmd = cmd, value = kw, original = line, flags = flags, flag_offsets = flag_offsets,
    args = {}, json = false, heredocs = {}, base = base, kw_offset = kwpos, args_offset = rest_pos,
  }
  local fn = dispatch[cmd]
  if fn == true then -- ONBUILD: the rest is an instruction of its own
    if rest ~= "" then
      node.sub = new_node(rest, d, base + rest_pos - 1)
    end
  elseif fn then
    local ok, args, json = pcall(fn, rest, d)
    if not ok then
      if type(args) == "table" and args.parse_error then
        args.offset = args.offset or rest_pos
        args.len = args.len or #rest
        args.base = base
      end
      error(args, 0)
    end
    node.args, node.json = args, json or false
  end
  return node
end

---------------------------------------------------------------------------------------------
-- Heredocs (parser.go: heredocsFromLine, heredocFromMatch).

local heredoc_cmds = { add = true, copy = true, run = true }

local function can_contain_heredoc(node)
  if node.cmd == "onbuild" and node.sub then
    node = node.sub
  end
  return heredoc_cmds[node.cmd] and not node.json
end

local function heredoc_from_word(word)
  -- ^(\d*)<<(-?)([^<]*)$
  local fd, dash, rest = word:match "^(%d*)<<(%-?)([^<]*)$"
  if not fd or rest == "" then
    return nil
  end
  local words, err = shell.process_words(rest, {}, { skip_unset = true })
  if not words then
    fail(err)
  end
  if #words ~= 1 then
    return nil
  end
  local raw = shell.process_words(rest, {}, { skip_unset = true, raw_quotes = true })
  if not raw or #raw ~= 1 then
    fail("internal lexing of heredoc produced inconsistent results: " .. rest)
  end
  local function quotes(s)
    local _, a = s:gsub("'", "")
    local _, b = s:gsub('"', "")
    return a + b
  end
  return {
    name = words[1], expand = quotes(words[1]) == quotes(raw[1]), chomp = dash == "-",
    fd = tonumber(fd) or 0,
  }
end

local function heredocs_from_line(line)
  local words = shell.process_words(line, {},
    { raw_quotes = true, raw_escapes = true, skip_unset = true })
  local docs = {}
  for _, w in ipairs(words or {}) do
    local h = heredoc_from_word(w)
    if h then
      docs[#docs + 1] = h
    end
  end
  return docs
end

---------------------------------------------------------------------------------------------
-- Directives (directives.go).

local valid_directives = { syntax = true, escape = true, check = true }

-- Returns name, value for a directive line, nil otherwise (and marks the parser done).
local function parse_directive(dp, line)
  if dp.done then
    return nil
  end
  if byte(line, 1) ~= 0x23 then
    dp.done = true
    return nil
  end
  local s = sub(line, skip_space(line, 2))
  local name, after = s:match "^([%a][%w]*)[\t\n\f\r ]*=()"
  if not name then
    dp.done = true
    return nil
  end
  -- (.+?)\s*$ : the value, at least one character, without trailing \s
  local v = sub(s, after)
  local vs = v:match "^[\t\n\f\r ]*()"
  local value
  if vs > #v then
    if #v == 0 then
      dp.done = true
      return nil
    end
    value = sub(v, #v) -- only white space: the regexp keeps its last character
  else
    value = sub(v, vs):gsub("[\t\n\f\r ]+$", "")
  end
  local k = name:lower()
  if not valid_directives[k] then
    dp.done = true
    return nil
  end
  if dp.seen[k] then
    fail(string.format("only one %s parser directive can be used", k))
  end
  dp.seen[k] = true
  return k, value
end

---------------------------------------------------------------------------------------------
-- The main loop (parser.go: Parse).

local function trim_newline(s)
  local j = #s
  while j > 0 do
    local c = byte(s, j)
    if c ~= 10 and c ~= 13 then
      break
    end
    j = j - 1
  end
  if j == #s then
    return s
  end
  return sub(s, 1, j)
end

local function is_comment(s)
  return byte(s, skip_space(s, 1)) == 0x23
end

-- The escape character at the end of a line (optionally followed by blanks) continues it,
-- unless the escape character itself is escaped.  Returns the line without it, and whether
-- the logical line ends here.
local function trim_continuation(s, e)
  local j = #s
  while j > 0 do
    local c = byte(s, j)
    if c ~= 0x20 and c ~= 0x09 then
      break
    end
    j = j - 1
  end
  if j > 0 and byte(s, j) == e and (j == 1 or byte(s, j - 1) ~= e) then
    return sub(s, 1, j - 1), false
  end
  return s, true
end

local function loc_for(file, lineno, ltext, col, len)
  return { file = file, line = lineno, col = col, len = len, text = ltext }
end

--- Map a byte offset (and length) in node.original to a location {file, line, col, len, text}.
function M.locate(node, offset, len)
  local segs = node.segments
  if not segs then
    return node.loc
  end
  local abs = (node.base or 1) + (offset or 1) - 1
  local seg = segs[1]
  for k = 2, #segs do
    if segs[k].off <= abs then
      seg = segs[k]
    else
      break
    end
  end
  local col = seg.col + (abs - seg.off)
  local file = node.loc and node.loc.file or node.file
  return { file = file, line = seg.line, col = col, len = len or 1, text = seg.text }
end

--- Parse Dockerfile text into an AST (see the top of this file); raises cbuild errors.
function M.parse(src, opts)
  opts = opts or {}
  local file = opts.file or "Dockerfile"
  assert(type(src) == "string", "parser.parse: text expected")

  local pos, n = 1, #src
  local lineno = 0 -- number of physical lines consumed
  local function next_line()
    if pos > n then
      return nil
    end
    local e = find(src, "\n", pos, true)
    local raw
    if e then
      raw = sub(src, pos, e)
      pos = e + 1
    else
      raw = sub(src, pos)
      pos = n + 1
    end
    local len = #raw - (e and 1 or 0)
    if len > M.MAX_LINE then
      errors.raise_at(loc_for(file, lineno + 1, sub(raw, 1, 200), 1, 1),
        "dockerfile line greater than max allowed size of %d", M.MAX_LINE)
    end
    return raw
  end

  local d = { escape = "\\", escape_byte = 0x5C }
  local dp = { done = false, seen = {} }
  local ast = {
    directives = {}, escape = "\\", children = {}, warnings = {}, start_line = nil, end_line = nil,
  }
  local comments = {}

  local function directive(line, at)
    local ok, k, v = pcall(parse_directive, dp, line)
    if not ok then
      errors.raise_at(loc_for(file, at, line, 1, #line), "%s", k.parse_error)
    end
    if k then
      if k == "escape" then
        if v ~= "`" and v ~= "\\" then
          local col = (find(line, v, 1, true) or 1)
          errors.raise_at(loc_for(file, at, line, col, #v),
            "invalid escape token '%s' does not match ` or \\", v)
        end
        d.escape, d.escape_byte = v, byte(v)
        ast.escape = v
      end
      ast.directives[k] = v
      ast.directive_lines = ast.directive_lines or {}
      ast.directive_lines[k] = at
    end
    return k ~= nil
  end

  while true do
    local raw = next_line()
    if raw == nil then
      break
    end
    if lineno == 0 and sub(raw, 1, 3) == "\239\187\191" then
      raw = sub(raw, 4)
    end
    local phys = trim_newline(raw)
    local first = skip_space(phys, 1)
    local token = first == 1 and phys or sub(phys, first)
    local is_dir = directive(token, lineno + 1)
    if is_comment(token) then
      if not is_dir then
        local c = trim_space(sub(token, 2))
        if c == "" then
          comments = {}
        else
          comments[#comments + 1] = c
        end
      end
      token = ""
    end
    lineno = lineno + 1
    local start_line = lineno
    local piece, eol = trim_continuation(token, d.escape_byte)
    if eol and piece == "" then
      goto next_instruction
    end
    do
      local buf = { piece }
      local total = #piece
      local segments = { { off = 1, line = lineno, col = first, text = phys } }
      local has_empty = false
      while not eol do
        local craw = next_line()
        if craw == nil then
          break
        end
        local cphys = trim_newline(craw)
        directive(cphys, lineno + 1)
        lineno = lineno + 1
        if is_comment(craw) then
          goto next_continuation
        end
        if skip_space(cphys, 1) > #cphys then
          has_empty = true
          goto next_continuation
        end
        piece, eol = trim_continuation(cphys, d.escape_byte)
        segments[#segments + 1] = { off = total + 1, line = lineno, col = 1, text = cphys }
        buf[#buf + 1] = piece
        total = total + #piece
        ::next_continuation::
      end
      local line = concat(buf)
      if has_empty then
        ast.warnings[#ast.warnings + 1] = {
          line = lineno, msg = "Empty continuation line found in: " .. line,
          url = "https://docs.docker.com/go/dockerfile/rule/no-empty-continuation/",
        }
      end

      local ok, node = pcall(new_node, line, d, 1)
      if not ok then
        if type(node) == "table" and node.parse_error then
          local fake = { segments = segments, base = node.base or 1, loc = { file = file } }
          local loc = M.locate(fake, node.offset or 1, node.len)
          loc.end_line = lineno
          errors.raise_at(loc, "%s", node.parse_error)
        end
        error(node, 0)
      end
      node.loc = loc_for(file, start_line, phys, first, #node.value)
      node.segments = segments
      node.comments = comments
      node.start_line = start_line
      if node.sub then
        local s = node.sub
        s.segments = segments
        s.file = file
        s.loc = M.locate(s, s.kw_offset, #s.value)
      end

      if can_contain_heredoc(node) and find(line, "<<", 1, true) then
        local hok, docs = pcall(heredocs_from_line, line)
        if not hok then
          if type(docs) == "table" and docs.parse_error then
            errors.raise_at(node.loc, "%s", docs.parse_error)
          end
          error(docs, 0)
        end
        for _, h in ipairs(docs) do
          local content = {}
          local terminated = false
          while true do
            local hraw = next_line()
            if hraw == nil then
              break
            end
            lineno = lineno + 1
            local cand = trim_newline(hraw)
            if h.chomp then
              cand = cand:gsub("^\t+", "")
            end
            if cand == h.name then
              terminated = true
              break
            end
            content[#content + 1] = hraw
          end
          if not terminated then
            local loc = loc_for(file, start_line, phys, first, #node.value)
            loc.end_line = lineno
            errors.raise_at(loc, "unterminated heredoc")
          end
          h.content = concat(content)
          node.heredocs[#node.heredocs + 1] = h
        end
        if node.sub then
          node.sub.heredocs = node.heredocs
        end
      end

      node.end_line = lineno
      if node.sub then
        node.sub.start_line, node.sub.end_line = node.start_line, lineno
      end
      ast.children[#ast.children + 1] = node
      ast.start_line = ast.start_line or start_line
      ast.end_line = lineno
      comments = {}
    end
    ::next_instruction::
  end

  if #ast.children == 0 then
    errors.raise_at({ file = file, line = lineno > 0 and lineno or nil },
      "file with no instructions")
  end
  return ast
end

--- The heredoc a word like "<<-'EOF'" opens ({name, expand, chomp, fd}), or nil
-- (BuildKit's ParseHeredoc); raises on a word the shell lexer rejects.
M.parse_heredoc = heredoc_from_word

return M
