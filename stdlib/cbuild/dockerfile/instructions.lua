-- The typed instruction layer (BuildKit's frontend/dockerfile/instructions): AST -> stages of
-- instructions with validated flags.  Strings stay raw (unexpanded, quotes kept where BuildKit
-- keeps them): the frontend expands them, since only it knows the ARG/ENV state.
--
--   r = instructions.parse(ast, {file=})
--   r = {meta_args = {<ARG>...}, stages = {{name=, base=, platform=, loc=, node=,
--        commands = {instr...}}...}}
--   instr = {kind = "RUN", loc = {file, line, col, len, text}, node = <parser node>, ...}
--
-- Errors are raised as cbuild.errors objects located at the instruction (the caret under the
-- keyword, or under the offending flag).
local errors = require "cbuild.errors"
local parser = require "cbuild.dockerfile.parser"

local M = {}

local concat, find, sub, format = table.concat, string.find, string.sub, string.format

M.names = {
  "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
  "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
}

---------------------------------------------------------------------------------------------
-- Suggestions (BuildKit's util/suggest): the nearest candidate by edit distance.

local function levenshtein(a, b)
  local la, lb = #a, #b
  if la == 0 then
    return lb
  elseif lb == 0 then
    return la
  end
  local prev, cur = {}, {}
  for j = 0, lb do
    prev[j] = j
  end
  for i = 1, la do
    cur[0] = i
    local ca = a:byte(i)
    for j = 1, lb do
      local cost = ca == b:byte(j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev, cur = cur, prev
  end
  return prev[lb]
end

--- The candidate nearest to word (case-insensitive), or nil when nothing is close enough.
-- candidates defaults to the instruction names.
function M.suggest(word, candidates)
  candidates = candidates or M.names
  if not word or word == "" then
    return nil
  end
  local lw = word:lower()
  local best, best_d
  for _, c in ipairs(candidates) do
    local d = levenshtein(lw, c:lower())
    if d > 0 and (not best_d or d < best_d) then
      best, best_d = c, d
    end
  end
  if best and best_d <= math.max(2, #word // 3) then
    return best
  end
  return nil
end

local function with_suggestion(msg, word, candidates)
  local s = M.suggest(word, candidates)
  if s then
    return format("%s (did you mean %s?)", msg, s)
  end
  return msg
end

---------------------------------------------------------------------------------------------
-- Go's time.ParseDuration, to nanoseconds.

local units = {
  ns = 1, us = 1000, ["\194\181s"] = 1000, ["\206\188s"] = 1000, ms = 1000000,
  s = 1000000000, m = 60 * 1000000000, h = 3600 * 1000000000,
}

--- Parse a Go duration ("1h2m3.5s", "300ms", "0") to integer nanoseconds, or nil, msg.
function M.parse_duration(s)
  local orig = s
  local function bad()
    return nil, format('time: invalid duration "%s"', orig)
  end
  local neg = false
  local c = sub(s, 1, 1)
  if c == "-" or c == "+" then
    neg = c == "-"
    s = sub(s, 2)
  end
  if s == "0" then
    return 0
  end
  if s == "" then
    return bad()
  end
  local total = 0
  while s ~= "" do
    local int, frac, rest = s:match "^(%d*)%.?(%d*)(.*)$"
    local has_dot = s:match "^%d*%." ~= nil
    if int == "" and frac == "" then
      return bad()
    end
    if not has_dot then
      frac = ""
    end
    local unit = rest:match "^([^%d%.]+)"
    if not unit then
      return nil, format('time: missing unit in duration "%s"', orig)
    end
    local mult = units[unit]
    if not mult then
      return nil, format('time: unknown unit "%s" in duration "%s"', unit, orig)
    end
    if #int > 18 then
      return bad()
    end
    local v = (tonumber(int) or 0) * mult
    if frac ~= "" then
      frac = frac:sub(1, 18)
      v = v + (tonumber(frac) * mult) // (10 ^ #frac // 1)
    end
    total = total + v
    if total > math.maxinteger // 2 or total < 0 then
      return bad()
    end
    s = sub(rest, #unit + 1)
  end
  return neg and -total or total
end

local MIN_DURATION = 1000000 -- container.MinimumDuration: 1ms

---------------------------------------------------------------------------------------------
-- Flags (bflag.go).  spec: name -> "string" | "bool" | "strings".

local function flag_error(node, i, msg, ...)
  local off = node.flag_offsets and node.flag_offsets[i]
  local loc = off and parser.locate(node, off, #node.flags[i]) or node.loc
  errors.raise_at(loc, msg, ...)
end

local function parse_flags(node, spec)
  local values, used = {}, {}
  local names = {}
  for name in pairs(spec) do
    names[#names + 1] = "--" .. name
  end
  table.sort(names)
  for i, arg in ipairs(node.flags) do
    if sub(arg, 1, 2) ~= "--" then
      flag_error(node, i, "Arg should start with -- : %s", arg)
    end
    if arg == "--" then
      break
    end
    local name, value = sub(arg, 3), ""
    local eq = find(name, "=", 1, true)
    if eq then
      value = sub(name, eq + 1)
      name = sub(name, 1, eq - 1)
    end
    local kind = spec[name]
    if not kind then
      flag_error(node, i, "%s", with_suggestion("unknown flag: --" .. name, "--" .. name, names))
    end
    if used[name] and kind ~= "strings" then
      flag_error(node, i, "duplicate flag specified: --%s", name)
    end
    used[name] = true
    if kind == "bool" then
      if eq and value == "" then
        flag_error(node, i, "missing a value on flag: --%s", name)
      end
      local l = value:lower()
      if l == "" then
        values[name] = true
      elseif l == "true" or l == "false" then
        values[name] = l == "true"
      else
        flag_error(node, i, "expecting boolean value for flag --%s, not: %s", name, value)
      end
    else
      if not eq then
        flag_error(node, i, "missing a value on flag: --%s", name)
      end
      if kind == "strings" then
        values[name] = values[name] or {}
        table.insert(values[name], value)
      else
        values[name] = value
      end
    end
  end
  return values, used
end

-- The index of the first use of flag `name` in node.flags (for error carets).
local function flag_index(node, name)
  for i, f in ipairs(node.flags) do
    if f == "--" .. name or sub(f, 1, #name + 3) == "--" .. name .. "=" then
      return i
    end
  end
end

---------------------------------------------------------------------------------------------
-- RUN --mount (commands_runmount.go).

local mount_types = { bind = true, cache = true, tmpfs = true, secret = true, ssh = true }
local mount_type_list = { "bind", "cache", "tmpfs", "secret", "ssh" }
local mount_keys = {
  "type", "from", "source", "src", "target", "dst", "destination", "readonly", "ro", "readwrite",
  "rw", "required", "id", "sharing", "mode", "uid", "gid", "env", "size",
}

-- encoding/csv fields of one line
local function csv_fields(s)
  local fields, i, n = {}, 1, #s
  if s == "" then
    return fields
  end
  while true do
    if sub(s, i, i) == '"' then
      local buf = {}
      local j = i + 1
      while true do
        local q = find(s, '"', j, true)
        if not q then
          return nil, format('parse error on line 1, column %d: extraneous or missing " in quoted-field', n)
        end
        buf[#buf + 1] = sub(s, j, q - 1)
        if sub(s, q + 1, q + 1) == '"' then
          buf[#buf + 1] = '"'
          j = q + 2
        else
          i = q + 1
          break
        end
      end
      local rest_end = find(s, ",", i, true)
      local tail = sub(s, i, (rest_end or n + 1) - 1)
      if tail ~= "" then
        return nil, format('parse error on line 1, column %d: extraneous or missing " in quoted-field', i)
      end
      fields[#fields + 1] = concat(buf)
      if not rest_end then
        break
      end
      i = rest_end + 1
    else
      local c = find(s, ",", i, true)
      local f = sub(s, i, (c or n + 1) - 1)
      if find(f, '"', 1, true) then
        return nil, format('parse error on line 1, column %d: bare " in non-quoted-field', i)
      end
      fields[#fields + 1] = f
      if not c then
        break
      end
      i = c + 1
    end
  end
  return fields
end

local function parse_bool(v)
  local t = {
    ["1"] = true, t = true, T = true, TRUE = true, ["true"] = true, True = true,
    ["0"] = false, f = false, F = false, FALSE = false, ["false"] = false, False = false,
  }
  return t[v]
end

local function parse_uint(v, base)
  if v == "" or not v:match(base == 8 and "^[0-7]+$" or "^%d+$") then
    return nil
  end
  local n = tonumber(v, base)
  if not n or n > 0xFFFFFFFF then
    return nil
  end
  return n
end

--- Parse one --mount value ("type=cache,target=/x,...") like BuildKit; expand (optional) is
-- applied to each value first.  Values holding a `$` are not checked when expand is nil (the
-- frontend re-parses after expansion).  Returns the mount table or nil, msg.
function M.parse_mount(val, expand)
  local fields, cerr = csv_fields(val)
  if not fields then
    return nil, cerr
  end
  local m = { type = "bind", readonly = false, required = false }
  local ro_auto = true
  for _, field in ipairs(fields) do
    local eq = find(field, "=", 1, true)
    local key = (eq and sub(field, 1, eq - 1) or field):lower()
    local value = eq and sub(field, eq + 1) or nil
    if not eq then
      if key == "readonly" or key == "ro" then
        m.readonly, ro_auto = true, false
      elseif key == "readwrite" or key == "rw" then
        m.readonly, ro_auto = false, false
      elseif key == "required" then
        if m.type ~= "secret" and m.type ~= "ssh" then
          return nil, format("unexpected key '%s' for mount type '%s'", key, m.type)
        end
        m.required = true
      else
        return nil, format("invalid field '%s' must be a key=value pair", field)
      end
      goto continue
    end
    if expand then
      local ev, err = expand(value)
      if ev == nil then
        return nil, err
      end
      value = ev
    end
    do
      local deferred = not expand and find(value, "$", 1, true) ~= nil
      if key == "type" then
        local t = value:lower()
        if not mount_types[t] and not deferred then
          return nil, with_suggestion(format("unsupported mount type %q", value), value, mount_type_list)
        end
        m.type = t
      elseif key == "from" then
        m.from = value
      elseif key == "source" or key == "src" then
        m.source = value
      elseif key == "target" or key == "dst" or key == "destination" then
        m.target = value
      elseif key == "readonly" or key == "ro" or key == "readwrite" or key == "rw" then
        local b = parse_bool(value)
        if b == nil and not deferred then
          return nil, format("invalid value for %s: %s", key, value)
        end
        if b ~= nil then
          m.readonly = (key == "readonly" or key == "ro") == b
        end
        ro_auto = false
      elseif key == "required" then
        if m.type ~= "secret" and m.type ~= "ssh" then
          return nil, format("unexpected key '%s' for mount type '%s'", key, m.type)
        end
        local b = parse_bool(value)
        if b == nil and not deferred then
          return nil, format("invalid value for %s: %s", key, value)
        end
        m.required = b or false
      elseif key == "id" then
        m.id = value
      elseif key == "sharing" then
        local s = value:lower()
        if value ~= "" and s ~= "shared" and s ~= "private" and s ~= "locked" and not deferred then
          return nil, format("unsupported sharing value %q", value)
        end
        m.sharing = s
      elseif key == "mode" or key == "uid" or key == "gid" then
        local v = parse_uint(value, key == "mode" and 8 or 10)
        if not v and not deferred then
          return nil, format("invalid value %s for %s", value, key)
        end
        m[key] = v or value
      elseif key == "env" then
        if m.type ~= "secret" then
          return nil, format("unexpected key '%s' for mount type '%s'", key, m.type)
        end
        m.env = value
      elseif key == "size" then
        if m.type ~= "tmpfs" then
          return nil, format("unexpected key '%s' for mount type '%s'", key, m.type)
        end
        m.size = value
      else
        return nil, with_suggestion(format("unexpected key '%s' in '%s'", key, field), key, mount_keys)
      end
    end
    ::continue::
  end
  local file_info = m.type == "secret" or m.type == "ssh" or m.type == "cache"
  if not file_info then
    for _, k in ipairs { "mode", "uid", "gid" } do
      if m[k] ~= nil then
        return nil, format("%s not allowed for %q type mounts", k, m.type)
      end
    end
  end
  if ro_auto then
    m.readonly = not (m.type == "cache" or m.type == "tmpfs")
  end
  if m.sharing and m.sharing ~= "" and m.type ~= "cache" then
    return nil, format("invalid cache sharing set for %s mount", m.type)
  end
  if m.type == "secret" then
    if m.from then
      return nil, "secret mount should not have a from"
    end
    if not m.source and not m.target and not m.id and not m.env then
      return nil, "invalid secret mount. one of source, target required"
    end
    if m.source and m.id then
      return nil, "both source and id can't be set"
    end
  end
  if m.type == "cache" and (m.sharing == nil or m.sharing == "") then
    m.sharing = "shared"
  end
  if m.type ~= "secret" and m.type ~= "ssh" and (m.target == nil or m.target == "") then
    return nil, "mount target is required"
  end
  m.spec = val
  return m
end

---------------------------------------------------------------------------------------------
-- Instructions (parse.go).

local function fail_at(node, fmt, ...)
  errors.raise_at(node.loc, fmt, ...)
end

local function new_instr(node, kind)
  return { kind = kind, loc = node.loc, node = node, flags = node.flags }
end

local function no_flags(node)
  return parse_flags(node, {})
end

-- handleJSONArgs: exec form keeps the list, shell form is one string
local function shell_dependent(node, empty_as_nil)
  local args = node.args
  if node.json then
    if empty_as_nil and #args == 0 then
      return nil, false
    end
    return args, false
  end
  if #args == 0 then
    return empty_as_nil and nil or {}, not node.json
  end
  return concat(args, " "), true
end

local function kvps(node, kind)
  local args = node.args
  if #args == 0 then
    fail_at(node, "%s requires at least one argument", kind)
  end
  local pairs_ = {}
  for j = 1, #args, 3 do
    if args[j] == "" then
      fail_at(node, "%s names can not be blank", kind)
    end
    pairs_[#pairs_ + 1] = { key = args[j], value = args[j + 1], no_delim = args[j + 2] == "" }
  end
  return pairs_
end

-- MustParseHeredoc: the heredoc a COPY/ADD word names ({name, chomp, expand}) or nil
local function heredoc_word(word)
  local ok, h = pcall(parser.parse_heredoc, word)
  return ok and h or nil
end

local function sources_and_dest(node, kind, instr)
  local args = node.args
  local dest = args[#args]
  if heredoc_word(dest) then
    fail_at(node, "%s cannot accept a heredoc as a destination", kind)
  end
  local lookup = {}
  for _, h in ipairs(node.heredocs) do
    lookup[h.name] = h
  end
  instr.sources, instr.heredocs = {}, {}
  for k = 1, #args - 1 do
    local src = args[k]
    local h = heredoc_word(src)
    if h then
      local content = lookup[h.name] and lookup[h.name].content or ""
      if h.chomp then
        content = content:gsub("^\t+", ""):gsub("\n\t+", "\n")
      end
      instr.heredocs[#instr.heredocs + 1] = {
        name = h.name, content = content, expand = h.expand, chomp = h.chomp,
      }
    else
      instr.sources[#instr.sources + 1] = src
    end
  end
  instr.dest = dest
end

local parse_node

local builders = {}

function builders.from(node, instr)
  local args = node.args
  local name
  if #args == 3 and args[2]:lower() == "as" then
    name = args[3]:lower()
    if not name:match "^[a-z][a-z0-9%-_%.]*$" then
      fail_at(node, "invalid name for build stage: %s, name can't start with a number or contain symbols",
        require("cbuild.dockerfile.text").quote(args[3]))
    end
  elseif #args ~= 1 then
    fail_at(node, "FROM requires either one or three arguments")
  end
  local f = parse_flags(node, { platform = "string" })
  instr.image, instr.base, instr.name, instr.platform = args[1], args[1], name, f.platform
  instr.as_keyword = args[2]
end

function builders.run(node, instr)
  local f = parse_flags(node, {
    mount = "strings", network = "string", security = "string", device = "strings",
  })
  if #node.args == 0 and #node.heredocs == 0 then
    fail_at(node, "RUN requires at least one argument")
  end
  instr.cmd, instr.prepend_shell = shell_dependent(node, false)
  instr.mounts = {}
  for _, spec in ipairs(f.mount or {}) do
    local m, err = M.parse_mount(spec)
    if not m then
      local i = flag_index(node, "mount")
      for k, fl in ipairs(node.flags) do
        if fl == "--mount=" .. spec then
          i = k
        end
      end
      flag_error(node, i or 1, "%s", err)
    end
    instr.mounts[#instr.mounts + 1] = m
  end
  if f.network and not f.network:find("$", 1, true) and f.network ~= "default"
    and f.network ~= "none" and f.network ~= "host" then
    flag_error(node, flag_index(node, "network"), "unsupported network mode %q", f.network)
  end
  if f.security and not f.security:find("$", 1, true) and f.security ~= "sandbox"
    and f.security ~= "insecure" then
    flag_error(node, flag_index(node, "security"), "unsupported security mode %q", f.security)
  end
  instr.network, instr.security, instr.devices = f.network, f.security, f.device
  instr.heredocs = {}
  for _, h in ipairs(node.heredocs) do
    instr.heredocs[#instr.heredocs + 1] = {
      name = h.name, content = h.content, expand = h.expand, chomp = h.chomp, fd = h.fd,
    }
  end
end

local function copy_like(node, instr, kind, spec)
  if #node.args < 2 then
    fail_at(node, "%s requires at least two arguments, but only one was provided. "
      .. "Destination could not be determined", kind)
  end
  local f = parse_flags(node, spec)
  sources_and_dest(node, kind, instr)
  instr.chown, instr.chmod = f.chown, f.chmod
  instr.link = f.link == true
  instr.exclude = f.exclude or {}
  return f
end

function builders.copy(node, instr)
  local f = copy_like(node, instr, "COPY", {
    from = "string", chown = "string", chmod = "string", link = "bool", parents = "bool",
    exclude = "strings",
  })
  instr.from = f.from
  instr.parents = f.parents == true
end

function builders.add(node, instr)
  local f = copy_like(node, instr, "ADD", {
    chown = "string", chmod = "string", link = "bool", ["keep-git-dir"] = "bool",
    checksum = "string", unpack = "bool", exclude = "strings",
  })
  instr.checksum = f.checksum
  instr.keep_git_dir = f["keep-git-dir"] == true
  instr.unpack = f.unpack -- nil when not given
end

local function name_val(kind)
  return function(node, instr)
    no_flags(node)
    instr.pairs = kvps(node, kind)
  end
end
builders.env = name_val "ENV"
builders.label = name_val "LABEL"

function builders.arg(node, instr)
  -- BuildKit does not check ARG flags
  if #node.args == 0 then
    fail_at(node, "ARG requires at least one argument")
  end
  instr.args = {}
  for _, a in ipairs(node.args) do
    local eq = find(a, "=", 1, true)
    local key, value = a, nil
    if eq then
      key, value = sub(a, 1, eq - 1), sub(a, eq + 1)
      if key == "" then
        fail_at(node, "ARG names can not be blank")
      end
    end
    instr.args[#instr.args + 1] = { key = key, value = value }
  end
end

local function cmd_like(empty_as_nil)
  return function(node, instr)
    no_flags(node)
    instr.cmd, instr.prepend_shell = shell_dependent(node, empty_as_nil)
  end
end
builders.cmd = cmd_like(false)
builders.entrypoint = cmd_like(true)

function builders.shell(node, instr)
  no_flags(node)
  if #node.args == 0 then
    fail_at(node, "SHELL requires at least one argument")
  end
  if not node.json then
    fail_at(node, "SHELL requires the arguments to be in JSON form")
  end
  instr.cmd, instr.prepend_shell = node.args, false
end

local function exactly_one(field, kind)
  return function(node, instr)
    if #node.args ~= 1 then
      fail_at(node, "%s requires exactly one argument", kind)
    end
    no_flags(node)
    instr[field] = node.args[1]
  end
end
builders.workdir = exactly_one("path", "WORKDIR")
builders.user = exactly_one("user", "USER")
builders.maintainer = exactly_one("maintainer", "MAINTAINER")

function builders.stopsignal(node, instr)
  -- BuildKit does not check STOPSIGNAL flags
  if #node.args ~= 1 then
    fail_at(node, "STOPSIGNAL requires exactly one argument")
  end
  instr.signal = node.args[1]
end

function builders.expose(node, instr)
  if #node.args == 0 then
    fail_at(node, "EXPOSE requires at least one argument")
  end
  no_flags(node)
  local ports = {}
  for i, p in ipairs(node.args) do
    ports[i] = p
  end
  table.sort(ports)
  instr.ports = ports
end

function builders.volume(node, instr)
  if #node.args == 0 then
    fail_at(node, "VOLUME requires at least one argument")
  end
  no_flags(node)
  instr.volumes = {}
  for _, v in ipairs(node.args) do
    v = v:match "^%s*(.-)%s*$"
    if v == "" then
      fail_at(node, "VOLUME specified can not be an empty string")
    end
    instr.volumes[#instr.volumes + 1] = v
  end
end

function builders.healthcheck(node, instr)
  local args = node.args
  if #args == 0 then
    fail_at(node, "HEALTHCHECK requires at least one argument")
  end
  local typ = args[1]:upper()
  local rest = { table.unpack(args, 2) }
  if typ == "NONE" then
    -- BuildKit does not look at the flags of HEALTHCHECK NONE
    if #rest ~= 0 then
      fail_at(node, "HEALTHCHECK NONE takes no arguments")
    end
    instr.test = { "NONE" }
    return
  end
  local f = parse_flags(node, {
    interval = "string", timeout = "string", ["start-period"] = "string",
    ["start-interval"] = "string", retries = "string",
  })
  if typ ~= "CMD" then
    fail_at(node, 'Unknown type "%s" in HEALTHCHECK (try CMD)', typ)
  end
  local cmd
  if node.json then
    cmd = rest
  elseif #rest > 0 then
    cmd = { concat(rest, " ") }
  else
    cmd = {}
  end
  if #cmd == 0 then
    fail_at(node, "Missing command after HEALTHCHECK CMD")
  end
  instr.test = { node.json and "CMD" or "CMD-SHELL", table.unpack(cmd) }
  local function interval(name, field)
    local s = f[name]
    if s == nil or s == "" then
      instr[field] = 0
      return
    end
    local d, err = M.parse_duration(s)
    if not d then
      flag_error(node, flag_index(node, name), "%s", err)
    end
    if d ~= 0 and d < MIN_DURATION then
      flag_error(node, flag_index(node, name), 'Interval "%s" cannot be less than 1ms', name)
    end
    instr[field] = d
  end
  interval("interval", "interval")
  interval("timeout", "timeout")
  interval("start-period", "start_period")
  interval("start-interval", "start_interval")
  instr.retries = 0
  if f.retries and f.retries ~= "" then
    local r = f.retries:match "^[+-]?%d+$" and tonumber(f.retries)
    if not r or r > 2147483647 or r < -2147483648 then
      flag_error(node, flag_index(node, "retries"), 'strconv.ParseInt: parsing "%s": %s', f.retries,
        r and "value out of range" or "invalid syntax")
    end
    if r < 0 then
      flag_error(node, flag_index(node, "retries"), "--retries cannot be negative (%d)", r)
    end
    instr.retries = r
  end
end

function builders.onbuild(node, instr)
  if not node.sub then
    fail_at(node, "ONBUILD requires at least one argument")
  end
  no_flags(node)
  local trigger = node.sub.value:upper()
  if trigger == "ONBUILD" then
    fail_at(node.sub, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
  elseif trigger == "MAINTAINER" or trigger == "FROM" then
    fail_at(node.sub, "%s isn't allowed as an ONBUILD trigger", trigger)
  end
  instr.expression = node.original:gsub("^%s*[Oo][Nn][Bb][Uu][Ii][Ll][Dd]%s*", "")
  instr.sub = parse_node(node.sub)
end

--- Convert one parser node to a typed instruction (raises on errors).
function parse_node(node)
  local b = builders[node.cmd]
  if not b then
    local word = node.value
    if word:find "[%c\127]" or not utf8.len(word) then
      -- binary garbage: show it quoted (Go's %q) and short, never raw bytes
      local text = require "cbuild.dockerfile.text"
      word = text.quote(word:sub(1, 40)) .. (#word > 40 and "..." or "")
      errors.raise_at(node.loc, "unknown instruction: %s (is this a Dockerfile?)", word)
    end
    errors.raise_at(node.loc, "%s", with_suggestion("unknown instruction: " .. word, word))
  end
  local instr = new_instr(node, node.cmd:upper())
  b(node, instr)
  return instr
end
M.parse_instruction = parse_node

--- Parse an AST (from parser.parse) into {meta_args = {...}, stages = {...}}.
function M.parse(ast, opts)
  opts = opts or {}
  local meta_args, stages = {}, {}
  for _, node in ipairs(ast.children) do
    if opts.file and node.loc then
      node.loc.file = opts.file
    end
    local instr = parse_node(node)
    if instr.kind == "FROM" then
      stages[#stages + 1] = {
        name = instr.name, base = instr.image, platform = instr.platform, loc = instr.loc,
        node = node, from = instr, commands = {},
      }
    elseif #stages == 0 then
      if instr.kind ~= "ARG" then
        errors.raise_at(node.loc, "no build stage in current context")
      end
      meta_args[#meta_args + 1] = instr
    else
      local cmds = stages[#stages].commands
      cmds[#cmds + 1] = instr
    end
  end
  return { meta_args = meta_args, stages = stages }
end

return M
