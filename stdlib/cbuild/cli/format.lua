-- Output helpers shared by the verbs: docker's table layout (tabwriter, min width 10,
-- padding 3), human sizes (decimal units, 3 significant digits) and durations.
local M = {}

--- Render rows (lists of strings) under headers, as docker's formatter does.
function M.table(headers, rows, out)
  out = out or io.stdout
  local widths = {}
  for i, h in ipairs(headers) do
    widths[i] = utf8.len(h) or #h
  end
  for _, r in ipairs(rows) do
    for i, cell in ipairs(r) do
      widths[i] = math.max(widths[i] or 0, utf8.len(cell) or #cell)
    end
  end
  local function line(cells)
    local parts = {}
    for i, cell in ipairs(cells) do
      if i < #headers then
        local w = math.max(10, widths[i] + 3)
        parts[i] = cell .. string.rep(" ", w - (utf8.len(cell) or #cell))
      else
        parts[i] = cell
      end
    end
    out:write((table.concat(parts):gsub("%s+$", "")), "\n")
  end
  line(headers)
  for _, r in ipairs(rows) do
    line(r)
  end
end

--- -f/--filter KEY=VALUE flags as {key = {values...}}; known: the set of keys the verb takes
--- (docker's messages for a malformed or unknown one).
function M.filters(list, known)
  local errors = require "cbuild.errors"
  local out = {}
  for _, f in ipairs(list or {}) do
    local k, v = f:match "^([%w.-]+)=(.*)$"
    if not k then
      errors.raise "bad format of filter (expected name=value)"
    end
    k = k:lower()
    if not known[k] then
      errors.raise("invalid filter '%s'", k)
    end
    out[k] = out[k] or {}
    table.insert(out[k], v)
  end
  return out
end

--- Does a {key = value} label table hold every wanted "KEY" or "KEY=VALUE"?
function M.has_labels(labels, wanted)
  labels = labels or {}
  for _, w in ipairs(wanted or {}) do
    local k, v = w:match "^([^=]+)=(.*)$"
    if k then
      if labels[k] ~= v then
        return false
      end
    elseif labels[w] == nil then
      return false
    end
  end
  return true
end

--- Print items ({Field = value} tables) as docker's --format asks: "table" (default_table),
--- "table TEMPLATE" (a header row from headers[Field]), "json" (one object per line) or a bare Go
--- template (one line per item).
function M.print(items, fmt, default_table, headers)
  local template = require "cbuild.container.template"
  fmt = fmt or "table"
  if fmt == "table" then
    fmt = default_table
  end
  fmt = fmt:gsub("\\t", "\t"):gsub("\\n", "\n")
  if fmt == "json" then
    local json = require "cbuild.core.json"
    for _, item in ipairs(items) do
      io.stdout:write(json.encode(item), "\n")
    end
    return
  end
  local is_table = fmt:match "^table%s" ~= nil
  local tree = template.parse(is_table and fmt:gsub("^table%s+", "") or fmt)
  if not is_table then
    for _, item in ipairs(items) do
      io.stdout:write(template.render(tree, item), "\n")
    end
    return
  end
  local function cells(text)
    local out = {}
    for cell in (text .. "\t"):gmatch "([^\t]*)\t" do
      out[#out + 1] = cell
    end
    return out
  end
  local rows = {}
  for i, item in ipairs(items) do
    rows[i] = cells(template.render(tree, item))
  end
  M.table(cells(template.render(tree, headers)), rows)
end

--- 851kB, 1.23MB, 0B (docker's units.HumanSize).
function M.size(n)
  local units = { "B", "kB", "MB", "GB", "TB", "PB" }
  local i = 1
  n = n or 0
  while n >= 1000 and i < #units do
    n = n / 1000
    i = i + 1
  end
  local s = string.format("%.3g", n)
  if s:find "e" then
    s = string.format("%.0f", n)
  end
  return s .. units[i]
end

--- docker's units.HumanDuration.
function M.duration(seconds)
  local s = math.floor(seconds)
  if s < 1 then
    return "Less than a second"
  elseif s == 1 then
    return "1 second"
  elseif s < 60 then
    return s .. " seconds"
  end
  local minutes = s // 60
  if minutes == 1 then
    return "About a minute"
  elseif minutes < 60 then
    return minutes .. " minutes"
  end
  local hours = math.floor(seconds / 3600 + 0.5)
  if hours == 1 then
    return "About an hour"
  elseif hours < 48 then
    return hours .. " hours"
  elseif hours < 24 * 7 * 2 then
    return (hours // 24) .. " days"
  elseif hours < 24 * 30 * 2 then
    return (hours // 24 // 7) .. " weeks"
  elseif hours < 24 * 365 * 2 then
    return (hours // 24 // 30) .. " months"
  end
  return (math.floor(seconds / 3600) // 24 // 365) .. " years"
end

--- "2 minutes ago" for an RFC 3339 timestamp.
function M.ago(ts)
  local t = require("cbuild.image.config").parse_timestamp(ts)
  if not t then
    return "N/A"
  end
  return M.duration(os.time() - t) .. " ago"
end

--- First 12 hex digits of a digest.
function M.short_id(digest)
  return (digest or ""):gsub("^sha256:", ""):sub(1, 12)
end

--- Truncate to n characters with an ellipsis, as docker does.
function M.trunc(s, n)
  if (utf8.len(s) or #s) <= n then
    return s
  end
  return s:sub(1, utf8.offset(s, n) - 1) .. "…"
end

return M
