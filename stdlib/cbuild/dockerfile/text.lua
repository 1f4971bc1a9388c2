-- Text helpers that reproduce the Go standard library behaviour the Dockerfile frontend relies on:
-- UTF-8 decoding (utf8.DecodeRuneInString), unicode.IsSpace, strings.TrimSpace, strings.ToLower
-- and strconv.Quote.  BuildKit's output is defined in those terms, so matching it byte for byte
-- means matching them, including their treatment of invalid UTF-8.
local M = {}

local byte, char, sub, format = string.byte, string.char, string.sub, string.format
local concat = table.concat

M.RUNE_ERROR = 0xFFFD

--- Decode one rune at byte index i of s like Go's utf8.DecodeRuneInString.
-- Returns rune, width; an invalid or truncated sequence gives RUNE_ERROR, 1 and true.
function M.decode(s, i)
  local c = byte(s, i)
  if c == nil then
    return nil, 0
  end
  if c < 0x80 then
    return c, 1
  end
  local c1 = byte(s, i + 1)
  if c >= 0xC2 and c <= 0xDF then
    if c1 and c1 >= 0x80 and c1 <= 0xBF then
      return ((c & 0x1F) << 6) | (c1 & 0x3F), 2
    end
  elseif c >= 0xE0 and c <= 0xEF then
    local lo, hi = 0x80, 0xBF
    if c == 0xE0 then
      lo = 0xA0
    elseif c == 0xED then
      hi = 0x9F
    end
    local c2 = byte(s, i + 2)
    if c1 and c1 >= lo and c1 <= hi and c2 and c2 >= 0x80 and c2 <= 0xBF then
      return ((c & 0x0F) << 12) | ((c1 & 0x3F) << 6) | (c2 & 0x3F), 3
    end
  elseif c >= 0xF0 and c <= 0xF4 then
    local lo, hi = 0x80, 0xBF
    if c == 0xF0 then
      lo = 0x90
    elseif c == 0xF4 then
      hi = 0x8F
    end
    local c2, c3 = byte(s, i + 2, i + 3)
    if c1 and c1 >= lo and c1 <= hi and c2 and c2 >= 0x80 and c2 <= 0xBF and c3 and c3 >= 0x80
      and c3 <= 0xBF then
      return ((c & 0x07) << 18) | ((c1 & 0x3F) << 12) | ((c2 & 0x3F) << 6) | (c3 & 0x3F), 4
    end
  end
  return M.RUNE_ERROR, 1, true
end

--- The UTF-8 encoding of rune r (Go's string(rune)); invalid runes encode as U+FFFD.
function M.encode(r)
  if r < 0 or r > 0x10FFFF or (r >= 0xD800 and r <= 0xDFFF) then
    r = M.RUNE_ERROR
  end
  return utf8.char(r)
end

--- unicode.IsSpace for a rune.
function M.is_space(r)
  if r <= 0xFF then
    return r == 0x20 or (r >= 0x09 and r <= 0x0D) or r == 0x85 or r == 0xA0
  end
  return r == 0x1680 or (r >= 0x2000 and r <= 0x200A) or r == 0x2028 or r == 0x2029
    or r == 0x202F or r == 0x205F or r == 0x3000
end
local is_space = M.is_space

--- unicode.IsSpace applied to a single byte converted to a rune (Go's `unicode.IsSpace(rune(b))`).
function M.is_space_byte(b)
  return b == 0x20 or (b >= 0x09 and b <= 0x0D) or b == 0x85 or b == 0xA0
end

--- Index of the first byte after the leading Unicode white space of s from byte i (default 1).
function M.skip_space(s, i)
  i = i or 1
  local n = #s
  while i <= n do
    local c = byte(s, i)
    if c < 0x80 then
      if not (c == 0x20 or (c >= 0x09 and c <= 0x0D)) then
        return i
      end
      i = i + 1
    else
      local r, w = M.decode(s, i)
      if not is_space(r) then
        return i
      end
      i = i + w
    end
  end
  return i
end

-- Index of the last byte before the trailing Unicode white space of s (0 when all space).
local function last_nonspace(s, first)
  local j = #s
  while j >= first do
    local c = byte(s, j)
    if c < 0x80 then
      if not (c == 0x20 or (c >= 0x09 and c <= 0x0D)) then
        return j
      end
      j = j - 1
    else
      -- walk back to the start of this UTF-8 sequence
      local k = j
      while k > first and k > j - 3 and (byte(s, k) & 0xC0) == 0x80 do
        k = k - 1
      end
      local r, w = M.decode(s, k)
      if k + w - 1 ~= j then
        return j -- not a complete rune ending here: invalid byte, not space
      end
      if not is_space(r) then
        return j
      end
      j = k - 1
    end
  end
  return first - 1
end

--- strings.TrimLeftFunc(s, unicode.IsSpace)
function M.trim_left(s)
  local i = M.skip_space(s, 1)
  if i == 1 then
    return s
  end
  return sub(s, i)
end

--- strings.TrimSpace(s); also returns the byte index where the result starts in s.
function M.trim_space(s)
  local i = M.skip_space(s, 1)
  local j = last_nonspace(s, i)
  if i == 1 and j == #s then
    return s, 1
  end
  return sub(s, i, j), i
end

-- Simple upper -> lower mappings for the scripts a Dockerfile keyword could plausibly be
-- written in; everything else maps to itself.
local function to_lower_rune(r)
  if r >= 0x41 and r <= 0x5A then
    return r + 32
  elseif r < 0xC0 then
    return r
  elseif r <= 0xDE and r ~= 0xD7 then
    return r + 32
  elseif r >= 0x100 and r <= 0x17F and r ~= 0x130 and r ~= 0x131 and r ~= 0x138 and r ~= 0x149
    and r ~= 0x17F then
    if (r >= 0x139 and r <= 0x148) or (r >= 0x179 and r <= 0x17E) then
      return (r % 2 == 1) and r + 1 or r
    end
    if r == 0x178 then
      return 0xFF
    end
    return (r % 2 == 0) and r + 1 or r
  elseif (r >= 0x391 and r <= 0x3A9 and r ~= 0x3A2) then
    return r + 32
  elseif r >= 0x410 and r <= 0x42F then
    return r + 32
  elseif r >= 0x400 and r <= 0x40F then
    return r + 80
  end
  return r
end

--- strings.ToLower: ASCII fast path; otherwise rune-wise, invalid bytes become U+FFFD.
function M.lower(s)
  if not s:find "[\128-\255]" then
    return s:lower()
  end
  local out, i, n = {}, 1, #s
  while i <= n do
    local r, w = M.decode(s, i)
    out[#out + 1] = utf8.char(to_lower_rune(r))
    i = i + w
  end
  return concat(out)
end

-- Runes >= 0xA0 that unicode.IsPrint rejects (spaces, format characters, private use,
-- non-characters).  Unassigned code points are treated as printable: an approximation.
local function is_print(r)
  if r < 0x20 then
    return false
  elseif r < 0x7F then
    return true
  elseif r < 0xA0 then
    return false
  end
  if r == 0xA0 or r == 0xAD or (r >= 0x600 and r <= 0x605) or r == 0x61C or r == 0x6DD
    or r == 0x70F or r == 0x180E or (r >= 0x200B and r <= 0x200F) or (r >= 0x2028 and r <= 0x202E)
    or (r >= 0x2060 and r <= 0x206F) or r == 0xFEFF or (r >= 0xFFF9 and r <= 0xFFFB)
    or r == 0x1680 or (r >= 0x2000 and r <= 0x200A) or r == 0x205F or r == 0x3000
    or (r >= 0xD800 and r <= 0xF8FF) or (r >= 0xF0000) or (r & 0xFFFE) == 0xFFFE
    or (r >= 0xFDD0 and r <= 0xFDEF) or (r >= 0xE0000 and r <= 0xE007F) then
    return false
  end
  return true
end

local short_escapes = {
  [7] = "\\a", [8] = "\\b", [12] = "\\f", [10] = "\\n", [13] = "\\r", [9] = "\\t", [11] = "\\v",
}

--- strconv.Quote(s): a Go double-quoted string literal.
function M.quote(s)
  -- fast path: printable ASCII without quote or backslash
  if not s:find '[%c"\\\128-\255]' then
    return '"' .. s .. '"'
  end
  local out, i, n = { '"' }, 1, #s
  while i <= n do
    local c = byte(s, i)
    if c < 0x80 then
      if c == 0x22 then
        out[#out + 1] = '\\"'
      elseif c == 0x5C then
        out[#out + 1] = "\\\\"
      elseif c >= 0x20 and c < 0x7F then
        out[#out + 1] = char(c)
      elseif short_escapes[c] then
        out[#out + 1] = short_escapes[c]
      else
        out[#out + 1] = format("\\x%02x", c)
      end
      i = i + 1
    else
      local r, w, bad = M.decode(s, i)
      if bad then
        out[#out + 1] = format("\\x%02x", c)
      elseif is_print(r) then
        out[#out + 1] = sub(s, i, i + w - 1)
      elseif r < 0x10000 then
        out[#out + 1] = format("\\u%04x", r)
      else
        out[#out + 1] = format("\\U%08x", r)
      end
      i = i + w
    end
  end
  out[#out + 1] = '"'
  return concat(out)
end

--- Go's fmt %q of a []string: ["a" "b"].
function M.quote_list(list)
  local parts = {}
  for i, s in ipairs(list) do
    parts[i] = M.quote(s)
  end
  return "[" .. concat(parts, " ") .. "]"
end

return M
