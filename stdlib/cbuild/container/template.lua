-- Go's text/template, the part docker's --format strings use: {{.A.B}}, {{json .X}},
-- {{.X | json}}, {{index .M "key"}}, {{join .L ","}}, {{upper}}/{{lower}}/{{title}},
-- {{split}}, {{len}}, {{printf}}, {{println}}, {{if}}/{{else}}/{{end}}, {{range}}, {{with}},
-- eq/ne/lt/gt/not/and/or, string and number literals, and {{- -}} trimming.  Values print as
-- Go's %v does: [a b] for lists, map[k:v] for objects, <no value> for a missing key.
--
-- Engine module: a malformed template or a call of an unknown function raises cbuild.errors.
local json = require "cbuild.core.json"
local errors = require "cbuild.errors"

local M = {}

local ARRAY = getmetatable(json.array {})
local OBJECT = getmetatable(json.object {})
local NOVALUE = setmetatable({}, { __name = "novalue" })

local function is_array(v)
  if type(v) ~= "table" or v == NOVALUE then
    return false
  end
  local mt = getmetatable(v)
  if mt == ARRAY then
    return true
  elseif mt == OBJECT then
    return false
  end
  return next(v) == nil or v[1] ~= nil
end

local function fail(fmt, ...)
  errors.raise("template: " .. fmt, ...)
end

-- ---- printing ---------------------------------------------------------------------------------

--- Go's %v of a value.
function M.tostring(v)
  if v == nil or v == NOVALUE then
    return "<no value>"
  elseif v == json.null then
    return "<nil>"
  elseif type(v) == "number" then
    if math.type(v) == "integer" then
      return tostring(v)
    elseif v == math.floor(v) and math.abs(v) < 1e21 then
      return string.format("%d", math.tointeger(v) or v)
    end
    return string.format("%.14g", v)
  elseif type(v) == "boolean" then
    return tostring(v)
  elseif type(v) == "string" then
    return v
  elseif type(v) ~= "table" then
    return tostring(v)
  elseif is_array(v) then
    local parts = {}
    for i, x in ipairs(v) do
      parts[i] = M.tostring(x)
    end
    return "[" .. table.concat(parts, " ") .. "]"
  end
  local keys = {}
  for k in pairs(v) do
    keys[#keys + 1] = k
  end
  table.sort(keys)
  local parts = {}
  for i, k in ipairs(keys) do
    parts[i] = k .. ":" .. M.tostring(v[k])
  end
  return "map[" .. table.concat(parts, " ") .. "]"
end

local function truth(v)
  if v == nil or v == NOVALUE or v == json.null or v == false or v == "" or v == 0 then
    return false
  end
  if type(v) == "table" then
    return next(v) ~= nil
  end
  return true
end

-- ---- functions ---------------------------------------------------------------------------------

local function gofmt(fmtstr, ...)
  local args, i = { ... }, 0
  return (fmtstr:gsub("%%([%-%d%.]*)([vsdqt%%])", function(flags, verb)
    if verb == "%" then
      return "%"
    end
    i = i + 1
    local a = args[i]
    if verb == "d" then
      return string.format("%" .. flags .. "d", math.tointeger(tonumber(a) or 0) or 0)
    elseif verb == "q" then
      return string.format("%q", M.tostring(a))
    end
    return string.format("%" .. flags .. "s", M.tostring(a))
  end))
end

M.funcs = {
  json = function(v)
    if v == nil or v == NOVALUE then
      return "null"
    end
    return json.encode(v)
  end,
  index = function(v, ...)
    for _, k in ipairs { ... } do
      if type(v) ~= "table" then
        return NOVALUE
      end
      if is_array(v) then
        v = v[(math.tointeger(k) or -1) + 1]
      else
        v = v[k]
      end
      if v == nil then
        return NOVALUE
      end
    end
    return v
  end,
  join = function(v, sep)
    local parts = {}
    for i, x in ipairs(type(v) == "table" and v or {}) do
      parts[i] = M.tostring(x)
    end
    return table.concat(parts, sep)
  end,
  split = function(s, sep)
    local out = json.array {}
    local pos = 1
    s = M.tostring(s)
    while true do
      local a, b = s:find(sep, pos, true)
      if not a or sep == "" then
        out[#out + 1] = s:sub(pos)
        return out
      end
      out[#out + 1] = s:sub(pos, a - 1)
      pos = b + 1
    end
  end,
  upper = function(s)
    return M.tostring(s):upper()
  end,
  lower = function(s)
    return M.tostring(s):lower()
  end,
  title = function(s)
    return (M.tostring(s):gsub("(%a)(%w*)", function(a, b)
      return a:upper() .. b
    end))
  end,
  len = function(v)
    if type(v) == "string" then
      return #v
    end
    local n = 0
    for _ in pairs(type(v) == "table" and v or {}) do
      n = n + 1
    end
    return n
  end,
  printf = gofmt,
  print = function(...)
    local parts = {}
    for i, a in ipairs { ... } do
      parts[i] = M.tostring(a)
    end
    return table.concat(parts)
  end,
  println = function(...)
    local parts = {}
    for i, a in ipairs { ... } do
      parts[i] = M.tostring(a)
    end
    return table.concat(parts, " ") .. "\n"
  end,
  eq = function(a, ...)
    for _, b in ipairs { ... } do
      if a == b or M.tostring(a) == M.tostring(b) and type(a) == type(b) then
        return true
      end
    end
    return false
  end,
  ne = function(a, b)
    return not (a == b or M.tostring(a) == M.tostring(b) and type(a) == type(b))
  end,
  lt = function(a, b)
    return a < b
  end,
  le = function(a, b)
    return a <= b
  end,
  gt = function(a, b)
    return a > b
  end,
  ge = function(a, b)
    return a >= b
  end,
  ["not"] = function(a)
    return not truth(a)
  end,
  ["and"] = function(...)
    local args = table.pack(...)
    for i = 1, args.n do
      if not truth(args[i]) then
        return args[i]
      end
    end
    return args[args.n]
  end,
  ["or"] = function(...)
    local args = table.pack(...)
    for i = 1, args.n do
      if truth(args[i]) then
        return args[i]
      end
    end
    return args[args.n]
  end,
}

-- ---- parsing -----------------------------------------------------------------------------------

-- The words of an action: fields (.A.B), strings, numbers, identifiers, "|", "(" and ")".
local function lex(src)
  local toks, pos = {}, 1
  while pos <= #src do
    local c = src:sub(pos, pos)
    if c:match "%s" then
      pos = pos + 1
    elseif c == '"' then
      local j, s = pos + 1, {}
      while true do
        local d = src:sub(j, j)
        if d == "" then
          fail("unterminated quoted string in %q", src)
        elseif d == "\\" then
          local e = src:sub(j + 1, j + 1)
          s[#s + 1] = ({ n = "\n", t = "\t", ['"'] = '"', ["\\"] = "\\" })[e] or e
          j = j + 2
        elseif d == '"' then
          break
        else
          s[#s + 1] = d
          j = j + 1
        end
      end
      toks[#toks + 1] = { kind = "str", value = table.concat(s) }
      pos = j + 1
    elseif c == "`" then
      local j = src:find("`", pos + 1, true) or fail("unterminated raw string in %q", src)
      toks[#toks + 1] = { kind = "str", value = src:sub(pos + 1, j - 1) }
      pos = j + 1
    elseif c == "|" or c == "(" or c == ")" then
      toks[#toks + 1] = { kind = c }
      pos = pos + 1
    else
      local word = src:match("^[^%s|()]+", pos)
      pos = pos + #word
      if word:sub(1, 1) == "." then
        local path = {}
        for f in word:gmatch "[^.]+" do
          path[#path + 1] = f
        end
        toks[#toks + 1] = { kind = "field", path = path, text = word }
      elseif word:sub(1, 1) == "$" then
        local var, rest = word:match "^(%$%w*)(.*)$"
        local path = {}
        for f in rest:gmatch "[^.]+" do
          path[#path + 1] = f
        end
        toks[#toks + 1] = { kind = "var", name = var, path = path }
      elseif tonumber(word) then
        toks[#toks + 1] = { kind = "num", value = math.tointeger(tonumber(word)) or tonumber(word) }
      elseif word == "true" or word == "false" then
        toks[#toks + 1] = { kind = "bool", value = word == "true" }
      elseif word == "nil" then
        toks[#toks + 1] = { kind = "nil" }
      else
        toks[#toks + 1] = { kind = "ident", name = word }
      end
    end
  end
  return toks
end

-- A pipeline from tokens toks[i..j]: list of commands, each a list of operands.
local function pipeline(toks, i, j)
  local cmds, cur, depth, start = {}, {}, 0, nil
  local k = i
  while k <= j do
    local t = toks[k]
    if t.kind == "(" then
      depth = depth + 1
      if depth == 1 then
        start = k + 1
      end
    elseif t.kind == ")" then
      depth = depth - 1
      if depth < 0 then
        fail "unexpected )"
      elseif depth == 0 then
        cur[#cur + 1] = { kind = "pipe", pipe = pipeline(toks, start, k - 1) }
      end
    elseif depth == 0 then
      if t.kind == "|" then
        if #cur == 0 then
          fail "missing command before |"
        end
        cmds[#cmds + 1] = cur
        cur = {}
      else
        cur[#cur + 1] = t
      end
    end
    k = k + 1
  end
  if depth ~= 0 then
    fail "unclosed ("
  end
  if #cur == 0 then
    fail "missing value for command"
  end
  cmds[#cmds + 1] = cur
  return cmds
end

--- Parse a template into a tree (raises on a malformed one).
function M.parse(src)
  local nodes = {}
  local pos = 1
  local items = {}
  while pos <= #src do
    local a = src:find("{{", pos, true)
    if not a then
      items[#items + 1] = { text = src:sub(pos) }
      break
    end
    local b = src:find("}}", a + 2, true) or fail("unclosed action in %q", src)
    local text = src:sub(pos, a - 1)
    local inner = src:sub(a + 2, b - 1)
    local ltrim, rtrim = inner:match "^%-%s" ~= nil, inner:match "%s%-$" ~= nil
    if ltrim then
      inner = inner:sub(3)
      text = text:gsub("%s+$", "")
    end
    if rtrim then
      inner = inner:sub(1, -3)
    end
    items[#items + 1] = { text = text }
    items[#items + 1] = { action = inner, rtrim = rtrim }
    pos = b + 2
    if rtrim then
      pos = src:find("%S", pos) or #src + 1
    end
  end
  -- build the tree: each stack entry is a block node and the list its actions go to
  local stack = { { node = { kind = "list" }, into = nodes } }
  local function add(node)
    local into = stack[#stack].into
    into[#into + 1] = node
  end
  for _, it in ipairs(items) do
    if it.text then
      if it.text ~= "" then
        add { kind = "text", text = it.text }
      end
    else
      local toks = lex(it.action)
      local head = toks[1]
      local kw = head and head.kind == "ident" and head.name
      if not head then
        fail "missing value for command"
      elseif kw == "if" or kw == "range" or kw == "with" then
        local node = { kind = kw, body = {} }
        local a1, a2, rest = it.action:match "^%s*range%s+(%$%w+)%s*,%s*(%$%w+)%s*:=(.*)$"
        if not a1 then
          a2, rest = it.action:match "^%s*range%s+(%$%w+)%s*:=(.*)$"
        end
        if rest then -- range $k, $v := PIPE / range $v := PIPE
          node.key, node.var = a1, a2
          toks = lex(rest)
          node.pipe = pipeline(toks, 1, #toks)
        else
          node.pipe = pipeline(toks, 2, #toks)
        end
        add(node)
        stack[#stack + 1] = { node = node, into = node.body }
      elseif kw == "else" then
        local entry = stack[#stack]
        if entry.node.kind == "list" or entry.node.alt then
          fail "unexpected {{else}}"
        end
        entry.node.alt = {}
        entry.into = entry.node.alt
        if toks[2] and toks[2].kind == "ident" and toks[2].name == "if" then -- else if: one more level
          local inner = { kind = "if", body = {}, pipe = pipeline(toks, 3, #toks) }
          add(inner)
          stack[#stack + 1] = { node = inner, into = inner.body, chained = true }
        end
      elseif kw == "end" then
        repeat
          local entry = table.remove(stack)
          if entry.node.kind == "list" then
            fail "unexpected {{end}}"
          end
        until not entry.chained
      else
        add { kind = "action", pipe = pipeline(toks, 1, #toks) }
      end
    end
  end
  if #stack ~= 1 then
    fail("unexpected EOF: missing {{end}} in %q", src)
  end
  return nodes
end

-- ---- execution ---------------------------------------------------------------------------------

local function field(v, path)
  for _, f in ipairs(path) do
    if type(v) ~= "table" or v == NOVALUE or v == json.null then
      if v == nil or v == NOVALUE then
        return NOVALUE
      end
      fail("can't evaluate field %s in type %s", f, type(v))
    end
    v = v[f]
    if v == nil then
      return NOVALUE
    end
  end
  return v
end

local eval_pipe

local function operand(t, dot, vars)
  if t.kind == "field" then
    return field(dot, t.path)
  elseif t.kind == "var" then
    local v = vars[t.name]
    if v == nil then
      fail("undefined variable: %s", t.name)
    end
    return field(v, t.path)
  elseif t.kind == "str" or t.kind == "num" or t.kind == "bool" then
    return t.value
  elseif t.kind == "nil" then
    return nil
  elseif t.kind == "pipe" then
    return eval_pipe(t.pipe, dot, vars)
  elseif t.kind == "ident" then
    local f = M.funcs[t.name] or fail('function "%s" not defined', t.name)
    return f()
  end
  fail("unexpected %s", t.kind)
end

function eval_pipe(cmds, dot, vars)
  local value, have = nil, false
  for _, cmd in ipairs(cmds) do
    local head = cmd[1]
    if head.kind == "ident" then
      local f = M.funcs[head.name] or fail('function "%s" not defined', head.name)
      local args = {}
      for i = 2, #cmd do
        args[#args + 1] = operand(cmd[i], dot, vars)
      end
      if have then
        args[#args + 1] = value
      end
      value = f(table.unpack(args, 1, #cmd - 1 + (have and 1 or 0)))
    else
      local v = operand(head, dot, vars)
      if type(v) == "function" then -- a method such as docker's {{.Label "key"}}
        local args = {}
        for i = 2, #cmd do
          args[#args + 1] = operand(cmd[i], dot, vars)
        end
        v = v(table.unpack(args, 1, #cmd - 1))
      elseif #cmd > 1 then
        fail("can't give argument to non-function %s", head.text or head.kind)
      end
      value = v
    end
    have = true
  end
  return value
end

local function exec(nodes, dot, vars, out)
  for _, n in ipairs(nodes) do
    if n.kind == "text" then
      out[#out + 1] = n.text
    elseif n.kind == "action" then
      out[#out + 1] = M.tostring(eval_pipe(n.pipe, dot, vars))
    elseif n.kind == "if" or n.kind == "with" then
      local v = eval_pipe(n.pipe, dot, vars)
      if truth(v) then
        exec(n.body, n.kind == "with" and v or dot, vars, out)
      elseif n.alt then
        exec(n.alt, dot, vars, out)
      end
    elseif n.kind == "range" then
      local v = eval_pipe(n.pipe, dot, vars)
      local any = false
      if type(v) == "table" and v ~= NOVALUE and v ~= json.null then
        local keys = {}
        if is_array(v) then
          for i in ipairs(v) do
            keys[i] = i
          end
        else
          for k in pairs(v) do
            keys[#keys + 1] = k
          end
          table.sort(keys)
        end
        for _, k in ipairs(keys) do
          any = true
          if n.var then
            vars[n.var] = v[k]
          end
          if n.key then
            vars[n.key] = type(k) == "number" and k - 1 or k
          end
          exec(n.body, v[k], vars, out)
        end
      end
      if not any and n.alt then
        exec(n.alt, dot, vars, out)
      end
    end
  end
end

--- Render template src (or a parsed tree) against value dot.
function M.render(src, dot)
  local tree = type(src) == "string" and M.parse(src) or src
  local out = {}
  exec(tree, dot, { ["$"] = dot }, out)
  return table.concat(out)
end

return M
