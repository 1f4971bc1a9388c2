-- Recipe image states: the values `require "cbuild"` gives recipes.  Each wraps a build state
-- (build/state.lua) plus what the Dockerfile frontend keeps for a stage (the config so far, the
-- declared ARGs, whether CMD was set), and every method returns a new value, so one state can
-- be the base of several branches.
--
-- The build states made here carry exactly the args dockerfile/frontend.lua gives the
-- equivalent instruction (same sets, same history lines), so a recipe and the equivalent
-- Dockerfile get the same cache keys and the same image.  Unlike a Dockerfile, values are
-- never $-expanded: a recipe builds its strings with Lua.
local json = require "cbuild.core.json"
local errors = require "cbuild.errors"
local state = require "cbuild.build.state"
local imgconfig = require "cbuild.image.config"
local copy = require "cbuild.build.copy"
local frontend = require "cbuild.dockerfile.frontend"
local instructions = require "cbuild.dockerfile.instructions"
local where = require "cbuild.recipe.where"
local session = require "cbuild.recipe.session"

local M = {}

local Image = {}
local methods = {}
Image.__index = methods
Image.__name = "cbuild.image"
Image.__metatable = "cbuild.image"
Image.__newindex = function()
  errors.raise_at(where.user(), "image states are immutable: use the value a method returns")
end
Image.__tostring = function(self)
  return "cbuild.image(" .. (M.priv(self).st.label or M.priv(self).st.op) .. ")"
end

-- The fields of each state, out of the recipe's reach.
local priv = setmetatable({}, { __mode = "k" })

--- The private fields of an image state (nil for anything else).
function M.priv(v)
  return priv[v]
end

--- True for an image state.
function M.is(v)
  return priv[v] ~= nil
end

-- Raise a misuse error at the user's line.
local function fail(fmt, ...)
  errors.raise_at(where.user(), fmt, ...)
end

local function check_self(self, method)
  local p = priv[self]
  if not p then
    fail("%s: call it with ':' on an image state (img:%s(...))", method, method)
  end
  return p
end

local function new(p)
  local v = setmetatable({}, Image)
  priv[v] = p
  return v
end

-- A new state from p with changes applied (fields set to false become nil).
local function derive(p, changes)
  local q = {}
  for k, v in pairs(p) do
    q[k] = v
  end
  for k, v in pairs(changes) do
    if v == false and k ~= "cmd_set" then
      q[k] = nil
    else
      q[k] = v
    end
  end
  return new(q)
end

-- Go's %q of a []string, as BuildKit writes history: ["a" "b"] (frontend.lua's go_list).
local function go_list(list)
  local out = {}
  for i, s in ipairs(list) do
    out[i] = string.format("%q", s):gsub("\\\n", "\\n")
  end
  return "[" .. table.concat(out, " ") .. "]"
end

local function json_list(list)
  return json.encode(json.array(list))
end

local function is_list_of_strings(t, min)
  if type(t) ~= "table" or #t < (min or 1) then
    return false
  end
  for i = 1, #t do
    if type(t[i]) ~= "string" then
      return false
    end
  end
  return true
end

local function copy_list(t)
  return { table.unpack(t) }
end

-- key/value pairs from ("K", "V"), {K = "V", ...} (sorted by key) or {{"K", "V"}, ...}.
local function pairs_arg(method, a, b)
  local out = {}
  if type(a) == "string" then
    if b == nil then
      fail("%s: %q needs a value", method, a)
    end
    out[1] = { a, tostring(b) }
    return out
  end
  if type(a) ~= "table" then
    fail("%s: expected a name and a value, or a table of them, got %s", method, type(a))
  end
  if #a > 0 then
    for i, kv in ipairs(a) do
      if type(kv) ~= "table" or type(kv[1]) ~= "string" or kv[2] == nil then
        fail("%s: entry %d: expected {name, value}", method, i)
      end
      out[#out + 1] = { kv[1], tostring(kv[2]) }
    end
    return out
  end
  for k, v in pairs(a) do
    if type(k) ~= "string" then
      fail("%s: names must be strings", method)
    end
    local tv = type(v)
    if tv ~= "string" and tv ~= "number" and tv ~= "boolean" then
      fail("%s: the value of %q must be a string or a number, got %s", method, k, tv)
    end
    out[#out + 1] = { k, tostring(v) }
  end
  table.sort(out, function(x, y)
    return x[1] < y[1]
  end)
  return out
end

-- A command: a string is the shell form, a list of strings the exec form.  Returns the argv
-- (the shell prepended for the shell form), the command as given and whether it was shell form.
local function command(p, method, cmd)
  if type(cmd) == "string" then
    local sh = p.cfg.Shell or { "/bin/sh", "-c" }
    local argv = json.array { table.unpack(sh) }
    argv[#argv + 1] = cmd
    return argv, cmd, true
  end
  if is_list_of_strings(cmd, 0) then
    return json.array(copy_list(cmd)), copy_list(cmd), false
  end
  fail("%s: expected a command string (shell form) or a list of strings (exec form), got %s", method, type(cmd))
end

-- The next labelled step (RUN, COPY, ADD): its label as the progress view shows it.
local function label(p, text)
  local step = p.step + 1
  return step, string.format("[%s%d] %s", p.name and (p.name .. " ") or "", step, text)
end

-- Push a state of op with args at the user's line; changes as for derive.
local function push(p, op, args, changes, text)
  local st = state.new(op, p.st, args, where.user())
  changes = changes or {}
  changes.st = st
  if text then
    changes.step, st.label = label(p, text)
  end
  return derive(p, changes)
end

-- A config op: fields set (json.null deletes) with a history line (frontend.lua's Stage:set).
-- What FROM added to the base config (PATH...) rides on the first one.
local function set(p, fields, history, extra)
  if p.base_set then
    for k, v in pairs(p.base_set) do
      if fields[k] == nil then
        fields[k] = v
      end
    end
  end
  local cfg = imgconfig.copy(p.cfg)
  for k, v in pairs(fields) do
    if v == json.null then
      cfg[k] = nil
    else
      cfg[k] = v
    end
  end
  local args = { set = fields, history = history }
  for k, v in pairs(extra or {}) do
    args[k] = v
  end
  local changes = extra and extra.changes or {}
  args.changes = nil
  changes.cfg, changes.base_set = cfg, false
  return push(p, "config", args, changes)
end

-- The start of a stage: fresh ARG scope and CMD flag; PATH always set (BuildKit), the base's
-- ONBUILD triggers dropped (recipes do not run them).
local function stage(st, cfg, name, from_stage)
  cfg.Env = cfg.Env or json.array {}
  local base_set = {}
  if imgconfig.env_map(cfg.Env).PATH == nil then
    cfg.Env = imgconfig.env_set(cfg.Env, "PATH", imgconfig.DEFAULT_PATH)
    base_set.Env = cfg.Env
  end
  if cfg.OnBuild and #cfg.OnBuild > 0 then
    cfg.OnBuild = nil
    base_set.OnBuild = json.null
  end
  if not from_stage and next(base_set) then
    st.args.set = imgconfig.copy(base_set)
  end
  return new { st = st, cfg = cfg, name = name, args = {}, arg_order = {}, cmd_set = false,
    base_set = next(base_set) and base_set or nil, step = 1 }
end

-- The state of a Dockerfile that is only "FROM ref" (to run a base image's ONBUILD triggers
-- exactly as the frontend does), at loc.
local function from_dockerfile(ref, loc)
  local parser = require "cbuild.dockerfile.parser"
  local s = session.get()
  local file = loc and loc.file or "recipe"
  local ast = parser.parse("FROM " .. ref .. "\n", { file = file })
  local parsed = instructions.parse(ast, { file = file })
  for _, stg in ipairs(parsed.stages) do
    stg.loc = loc
  end
  return (frontend.compile(parsed, { file = file, escape = ast.escape, platform = s.platform,
    build_args = s.build_args, resolve_image = function(name, l)
      return s:resolve_image(name, l or loc)
    end }))
end

--- cb.from(ref | state, {as = name, platform = ...}): a new stage.  ref "scratch" is the empty
--- image; any other name is looked up in the local store.
function M.from(ref, opts)
  opts = opts or {}
  if type(opts) ~= "table" then
    fail("cb.from: options must be a table, got %s", type(opts))
  end
  local name = opts.as
  if name ~= nil and type(name) ~= "string" then
    fail("cb.from: 'as' must be a string")
  end
  local s = session.get()
  local loc = where.user()
  local platform = s.platform
  if M.is(ref) then
    local p = priv[ref]
    local v = stage(p.st, imgconfig.copy(p.cfg), name, true)
    return v
  end
  if type(ref) ~= "string" then
    fail("cb.from: expected an image reference (string) or an image state, got %s", type(ref))
  end
  if ref == "" then
    fail "cb.from: the image reference is empty"
  end
  local st, cfg, shown
  if ref:lower() == "scratch" then
    st = state.new("from", nil, { image = "scratch", platform = platform }, loc)
    cfg = imgconfig.scratch(platform).config
    shown = "scratch"
  else
    local entry, config = s:resolve_image(ref, loc)
    local triggers = ((config or {}).config or {}).OnBuild
    if triggers and #triggers > 0 then
      -- the base's ONBUILD triggers run right after FROM: the Dockerfile frontend runs them
      return M.wrap(from_dockerfile(ref, loc), { name = name, pending = true })
    end
    st = state.new("from", nil, { image = ref, entry = entry, platform = platform }, loc)
    cfg = imgconfig.copy((config or {}).config or {})
    shown = entry.ref_display or ref
  end
  local v = stage(st, cfg, name, false)
  st.label = string.format("[%s1] FROM %s", name and (name .. " ") or "", shown)
  return v
end

--- A state from an existing build state (cb.dockerfile): the config is replayed from its chain.
function M.wrap(st, opts)
  opts = opts or {}
  local s = session.get()
  local cfg, cmd_set, steps = {}, false, 0
  for _, x in ipairs(st:chain()) do
    if x.op == "from" then
      if x.args.image == "scratch" then
        cfg = imgconfig.scratch(x.args.platform or s.platform).config
      else
        local entry = x.args.entry or s:images():must_lookup(x.args.image)
        cfg = imgconfig.copy(s:images():image(entry.digest).config.config or {})
      end
      cmd_set = false
    end
    for k, v in pairs(x.args.set or {}) do
      if v == json.null then
        cfg[k] = nil
      else
        cfg[k] = imgconfig.copy(v)
      end
      if k == "Cmd" and x.op ~= "from" and v ~= json.null then
        cmd_set = true
      end
    end
    if x.label then
      steps = steps + 1
    end
  end
  local base_set
  local root = st:chain()[1]
  if opts.pending and root.args.set then
    -- what FROM added to the base config rides on the first config change, unless one came
    base_set = imgconfig.copy(root.args.set)
    for _, x in ipairs(st:chain()) do
      if x.op == "config" and next(x.args.set or {}) then
        base_set = nil
      end
    end
  end
  return new { st = st, cfg = cfg, name = opts.name, args = {}, arg_order = {}, cmd_set = cmd_set, step = steps,
    base_set = base_set }
end

--- img:as(name): the same state, named (COPY --from history and progress labels use the name).
function methods:as(name)
  local p = check_self(self, "as")
  if type(name) ~= "string" or name == "" then
    fail("as: expected a stage name (string), got %s", type(name))
  end
  return derive(p, { name = name })
end

--- img:config(): a copy of the image config so far (Env, Cmd, WorkingDir, User...).
function methods:config()
  local p = check_self(self, "config")
  return imgconfig.copy(p.cfg)
end

--- img:run(cmd | {cmd, mounts =, network =, security =})
function methods:run(spec)
  local p = check_self(self, "run")
  local o = {}
  local cmd = spec
  if type(spec) == "table" and not is_list_of_strings(spec, 2) then
    o = spec
    cmd = spec.cmd or spec[1]
    if cmd == nil then
      fail "run: no command given"
    end
  end
  local argv, raw, shell_form = command(p, "run", cmd)
  local mounts = {}
  if o.mounts ~= nil and type(o.mounts) ~= "table" then
    fail("run: mounts must be a list, got %s", type(o.mounts))
  end
  local mount_states = {}
  for i, m in ipairs(o.mounts or {}) do
    local text = m
    local from_state
    if type(m) == "table" and type(m.from) == "table" then
      from_state = m.from.state or m.from -- mount another state's files (as from=<stage>)
      if not require("cbuild.build.state").is(from_state) then
        fail("run: mount %d: from must be an image state or a name", i)
      end
    end
    if type(m) == "table" then
      local parts = { "type=" .. tostring(m.type or "bind") }
      local keys = {}
      for k in pairs(m) do
        if k ~= "type" and not (k == "from" and from_state) then
          keys[#keys + 1] = k
        end
      end
      table.sort(keys)
      for _, k in ipairs(keys) do
        local v = m[k]
        if v == true then
          parts[#parts + 1] = k
        elseif v ~= false then
          local text_v = k == "mode" and type(v) == "number" and string.format("%o", v) or tostring(v)
          parts[#parts + 1] = k .. "=" .. text_v
        end
      end
      text = table.concat(parts, ",")
    elseif type(m) ~= "string" then
      fail("run: mount %d: expected a string (\"type=cache,target=/x\") or a table", i)
    end
    local parsed, err = instructions.parse_mount(text)
    if not parsed then
      fail("run: mount %d: %s", i, err)
    end
    if from_state then
      parsed.from, parsed.from_state = "<state>", from_state
      mount_states[#mount_states + 1] = from_state
    end
    mounts[i] = parsed
  end
  local network = o.network
  if network ~= nil and network ~= "default" and network ~= "none" and network ~= "host" then
    fail("run: unsupported network mode %q", tostring(network))
  end
  local security = o.security
  if security ~= nil and security ~= "sandbox" and security ~= "insecure" then
    fail("run: unsupported security mode %q", tostring(security))
  end
  -- BuildKit's runCommandString: the stage's ARGs (ENV wins) prefix the history line
  local env = imgconfig.env_map(p.cfg.Env)
  local argl = {}
  for _, k in ipairs(p.arg_order) do
    argl[#argl + 1] = k .. "=" .. (env[k] or p.args[k] or "")
  end
  local prefix = #argl > 0 and ("|" .. #argl .. " " .. table.concat(argl, " ") .. " ") or ""
  local build_args = session.get().build_args
  local proxy = {}
  for _, k in ipairs(frontend.PROXY_ARGS) do
    if build_args[k] ~= nil and p.args[k] == nil then
      proxy[k] = build_args[k]
    end
  end
  local args = {}
  for k, v in pairs(p.args) do
    args[k] = v
  end
  local instr = { kind = "RUN", cmd = raw, prepend_shell = shell_form, heredocs = {}, mounts = mounts,
    network = network, security = security }
  return push(p, "run", { cmd = argv, instr = instr, env = p.cfg.Env, args = args, proxy = proxy,
    heredocs = {}, mounts = mounts, mount_states = mount_states, network = network, security = security,
    user = p.cfg.User,
    workdir = p.cfg.WorkingDir,
    history = "RUN " .. prefix .. table.concat(argv, " ") .. " # buildkit" }, nil,
    "RUN " .. (shell_form and raw or json_list(raw)))
end

-- chown: "user[:group]" (names or ids), a number, or {uid =, gid =}; names are looked up in
-- the image by the solver (as the frontend's).
local function chown_arg(method, v)
  if v == nil then
    return nil, nil
  end
  local raw
  if type(v) == "number" then
    raw = tostring(math.tointeger(v) or v)
  elseif type(v) == "table" then
    raw = tostring(v.uid or v[1]) .. ((v.gid or v[2]) and (":" .. tostring(v.gid or v[2])) or "")
  elseif type(v) == "string" then
    raw = v
  else
    fail("%s: chown must be \"uid:gid\", a number or {uid =, gid =}", method)
  end
  local u, g = raw:match "^([^:]*):?(.*)$"
  local uid, gid = tonumber(u), tonumber(g ~= "" and g or u)
  if uid and gid and uid == math.floor(uid) and gid == math.floor(gid) then
    return { uid = math.tointeger(uid), gid = math.tointeger(gid) }, raw
  end
  return { user = u, group = g ~= "" and g or nil, spec = raw }, raw
end

-- chmod: an octal string ("755") or a number (the mode itself: tonumber("755", 8)).
local function chmod_arg(method, v)
  if v == nil then
    return nil, nil
  end
  local raw
  if type(v) == "number" and math.tointeger(v) then
    raw = string.format("%o", v)
  elseif type(v) == "string" then
    raw = v
  else
    fail("%s: chmod must be an octal string (\"755\") or a number", method)
  end
  if not raw:match "^[0-7]+$" or #raw > 4 then
    fail("%s: invalid chmod parameter: '%s'", method, raw)
  end
  return tonumber(raw, 8), raw
end

-- COPY and ADD, with the frontend's args (frontend.lua's copy_like).
local function copy_like(self, add, a, b)
  local verb = add and "ADD" or "COPY"
  local method = verb:lower()
  local p = check_self(self, method)
  local o
  if type(a) == "table" and not is_list_of_strings(a) then
    o = a
  else
    o = { src = a, dest = b }
  end
  local src = o.src or o.source or o[1]
  local sources
  if type(src) == "string" then
    sources = { src }
  elseif is_list_of_strings(src) then
    sources = copy_list(src)
  else
    fail("%s: src must be a path or a list of paths, got %s", method, type(src))
  end
  local dest_raw = o.dest or o[2]
  if type(dest_raw) ~= "string" then
    fail("%s: dest must be a path, got %s", method, type(dest_raw))
  end
  for _, s in ipairs(sources) do
    if add and s:match "^%a[%w+.-]*://" then
      fail("ADD from a URL is not supported yet: '%s'", s)
    end
  end
  local dest = dest_raw
  local trailing = dest:match "/%.?$" or dest == "." or dest == ""
  if dest:sub(1, 1) ~= "/" then
    dest = (p.cfg.WorkingDir or "/") .. "/" .. dest
  end
  if trailing and not dest:match "/$" then
    dest = dest .. "/"
  end
  local args = { sources = sources, dest = dest, add = add }
  local from = o.from
  local ctxmod = require "cbuild.recipe.context"
  if from ~= nil then
    if M.is(from) then
      local fp = priv[from]
      args.from, args.from_name = fp.st, fp.name or "stage"
    elseif ctxmod.is(from) then
      args.context = ctxmod.build_context(from)
    elseif type(from) == "string" then
      if from:lower() == "scratch" then
        fail("%s from scratch: scratch has no files to copy", method)
      end
      local entry = session.get():resolve_image(from, where.user())
      args.from_image, args.from_entry, args.from_name = from, entry, from
    else
      fail("%s: from must be an image state, a cb.context or an image name, got %s", method, type(from))
    end
  end
  local chown_raw, chmod_raw
  args.chown, chown_raw = chown_arg(method, o.chown)
  args.chmod, chmod_raw = chmod_arg(method, o.chmod)
  if add then
    args.link, args.checksum, args.keep_git_dir = o.link == true, o.checksum, o.keep_git_dir == true
  else
    args.link, args.parents = o.link == true, o.parents == true
  end
  if o.exclude ~= nil then
    local ex = type(o.exclude) == "string" and { o.exclude } or o.exclude
    if not is_list_of_strings(ex, 0) then
      fail("%s: exclude must be a pattern or a list of patterns", method)
    end
    if #ex > 0 then
      args.exclude = copy_list(ex)
    end
  end
  local flags = {}
  if args.from_name then
    flags[#flags + 1] = "--from=" .. args.from_name .. " "
  end
  if chown_raw then
    flags[#flags + 1] = "--chown=" .. chown_raw .. " "
  end
  if chmod_raw then
    flags[#flags + 1] = "--chmod=" .. chmod_raw .. " "
  end
  local words = table.concat(sources, " ")
  args.history = string.format("%s %s%s %s # buildkit", verb, table.concat(flags), words, dest_raw)
  return push(p, "copy", args, nil, string.format("%s %s%s %s", verb, table.concat(flags), words, dest_raw))
end

--- img:copy(src, dest) or img:copy{src =, dest =, from =, chown =, chmod =, exclude =, link =,
--- parents =}
function methods:copy(a, b)
  return copy_like(self, false, a, b)
end

--- img:add(src, dest) or img:add{src =, dest =, chown =, chmod =, exclude =, checksum =, ...}:
--- COPY that also extracts local tar archives.
function methods:add(a, b)
  return copy_like(self, true, a, b)
end

--- img:write(path, content, {mode =, chown =}): a file with content (a COPY heredoc).
function methods:write(path, content, opts)
  local p = check_self(self, "write")
  opts = opts or {}
  if type(path) ~= "string" or path == "" then
    fail("write: expected a path in the image, got %s", type(path))
  end
  if type(content) ~= "string" then
    fail("write: content must be a string, got %s", type(content))
  end
  if type(opts) ~= "table" then
    fail("write: options must be a table, got %s", type(opts))
  end
  local dest = path
  if dest:sub(1, 1) ~= "/" then
    dest = (p.cfg.WorkingDir or "/") .. "/" .. dest
  end
  if dest:match "/$" then
    fail("write: %q names a directory; give the file's path", path)
  end
  local args = { sources = {}, dest = dest, add = false }
  local chown_raw, chmod_raw
  args.chown, chown_raw = chown_arg("write", opts.chown)
  args.chmod, chmod_raw = chmod_arg("write", opts.mode or opts.chmod)
  args.link, args.parents = false, false
  args.heredocs = { { name = "EOF", content = content, dest = copy.clean(dest) } }
  local flags = {}
  if chown_raw then
    flags[#flags + 1] = "--chown=" .. chown_raw .. " "
  end
  if chmod_raw then
    flags[#flags + 1] = "--chmod=" .. chmod_raw .. " "
  end
  args.history = string.format("COPY %s<<EOF %s # buildkit", table.concat(flags), path)
  return push(p, "copy", args, nil, string.format("COPY %s<<EOF %s", table.concat(flags), path))
end

--- img:env("K", "V") | img:env{K = "V", ...} | img:env{{"K", "V"}, ...}
function methods:env(a, b)
  local p = check_self(self, "env")
  local env = p.cfg.Env
  local words = {}
  for _, kv in ipairs(pairs_arg("env", a, b)) do
    if kv[1] == "" then
      fail "env: names can not be blank"
    end
    env = imgconfig.env_set(env, kv[1], kv[2])
    words[#words + 1] = kv[1] .. "=" .. kv[2]
  end
  return set(p, { Env = env }, "ENV " .. table.concat(words, " "))
end

--- img:label("k", "v") | img:label{k = "v", ...}
function methods:label(a, b)
  local p = check_self(self, "label")
  local labels = imgconfig.copy(p.cfg.Labels) or {}
  local words = {}
  for _, kv in ipairs(pairs_arg("label", a, b)) do
    labels[kv[1]] = kv[2]
    words[#words + 1] = kv[1] .. "=" .. kv[2]
  end
  return set(p, { Labels = json.object(labels) }, "LABEL " .. table.concat(words, " "))
end

--- img:arg("NAME" [, default]) | img:arg{NAME = default, ...}: declare a build arg; RUN sees
--- it (the --build-arg value, else the default) in its environment.
function methods:arg(a, b)
  local p = check_self(self, "arg")
  local list = {}
  if type(a) == "string" then
    list[1] = { a, b ~= nil and tostring(b) or nil }
  elseif type(a) == "table" then
    for k, v in pairs(a) do
      if type(k) == "number" and type(v) == "string" then
        list[#list + 1] = { v }
      elseif type(k) == "string" then
        list[#list + 1] = { k, tostring(v) }
      else
        fail "arg: expected names, or name = default pairs"
      end
    end
    table.sort(list, function(x, y)
      return x[1] < y[1]
    end)
  else
    fail("arg: expected a name, got %s", type(a))
  end
  local s = session.get()
  local args, order = {}, copy_list(p.arg_order)
  for k, v in pairs(p.args) do
    args[k] = v
  end
  for _, kv in ipairs(list) do
    local key, value = kv[1], kv[2]
    if key == "" then
      fail "arg: names can not be blank"
    end
    if s.build_args[key] ~= nil then
      value = s.build_args[key]
      s.used_args[key] = true
    end
    args[key] = value
    order[#order + 1] = key
  end
  return derive(p, { args = args, arg_order = order })
end

--- img:cmd "shell form" | img:cmd {"exec", "form"}
function methods:cmd(c)
  local p = check_self(self, "cmd")
  local argv = command(p, "cmd", c)
  return set(p, { Cmd = argv }, "CMD " .. go_list(argv), { changes = { cmd_set = true } })
end

--- img:entrypoint "shell form" | img:entrypoint {"exec", "form"}; drops an inherited CMD.
function methods:entrypoint(c)
  local p = check_self(self, "entrypoint")
  local argv = command(p, "entrypoint", c)
  local fields = { Entrypoint = argv }
  if not p.cmd_set then
    fields.Cmd = json.null -- docker: a new ENTRYPOINT drops the CMD inherited from the base
  end
  return set(p, fields, "ENTRYPOINT " .. go_list(argv))
end

--- img:shell {"/bin/bash", "-c"}: the shell of later shell-form commands.
function methods:shell(list)
  local p = check_self(self, "shell")
  if not is_list_of_strings(list) then
    fail "shell: expected a list of strings ({\"/bin/bash\", \"-c\"})"
  end
  return set(p, { Shell = json.array(copy_list(list)) }, "SHELL " .. go_list(list))
end

--- img:workdir(path): relative paths are joined to the current one; the directory is made.
function methods:workdir(path)
  local p = check_self(self, "workdir")
  if type(path) ~= "string" or path == "" then
    fail("workdir: expected a path, got %s", type(path))
  end
  if path:sub(1, 1) ~= "/" then
    path = (p.cfg.WorkingDir or "/") .. "/" .. path
  end
  path = copy.clean(path)
  local extra
  if path ~= "/" then
    -- BuildKit makes the directory (and its parents, 0755, owned by USER) as a layer
    extra = { mkdir = { path = path, mode = 493, user = p.cfg.User } }
  end
  return set(p, { WorkingDir = path }, "WORKDIR " .. path, extra)
end

--- img:user "name[:group]" (or a uid)
function methods:user(u)
  local p = check_self(self, "user")
  if type(u) == "number" then
    u = tostring(math.tointeger(u) or u)
  end
  if type(u) ~= "string" then
    fail("user: expected a user name or uid, got %s", type(u))
  end
  return set(p, { User = u }, "USER " .. u)
end

--- img:expose(80, "53/udp", "8000-8002") or img:expose{80, 443}
function methods:expose(...)
  local p = check_self(self, "expose")
  local list = { ... }
  if type(list[1]) == "table" then
    list = list[1]
  end
  local raw = {}
  for i, v in ipairs(list) do
    if type(v) ~= "string" and type(v) ~= "number" then
      fail("expose: port %d must be a number or a string", i)
    end
    raw[i] = tostring(v)
  end
  if #raw == 0 then
    fail "expose: no ports given"
  end
  table.sort(raw)
  local ports = imgconfig.copy(p.cfg.ExposedPorts) or {}
  local words = {}
  for _, spec in ipairs(raw) do
    local port, proto = spec:match "^([^/]+)/?(.*)$"
    proto = ((proto or "") == "" and "tcp" or proto):lower()
    if proto ~= "tcp" and proto ~= "udp" and proto ~= "sctp" then
      fail("expose: invalid proto: %s", proto)
    end
    local lo, hi = (port or ""):match "^(%d+)%-(%d+)$"
    if not lo then
      lo = (port or ""):match "^(%d+)$"
      hi = lo
    end
    lo, hi = tonumber(lo), tonumber(hi)
    if not lo or lo < 1 or hi > 65535 or hi < lo then
      fail("expose: invalid containerPort: %s", tostring(port))
    end
    for n = lo, hi do
      ports[n .. "/" .. proto] = json.object {}
      words[#words + 1] = n .. "/" .. proto
    end
  end
  return set(p, { ExposedPorts = json.object(ports) }, "EXPOSE " .. (go_list(words):gsub('"', "")))
end

--- img:volume("/data", ...) or img:volume{"/a", "/b"}
function methods:volume(...)
  local p = check_self(self, "volume")
  local list = { ... }
  if type(list[1]) == "table" then
    list = list[1]
  end
  if not is_list_of_strings(list) then
    fail "volume: expected paths"
  end
  local vols = imgconfig.copy(p.cfg.Volumes) or {}
  local words = {}
  for _, v in ipairs(list) do
    v = v:match "^%s*(.-)%s*$"
    if v == "" then
      fail "volume: VOLUME specified can not be an empty string"
    end
    vols[v] = json.object {}
    words[#words + 1] = v
  end
  return set(p, { Volumes = json.object(vols) }, "VOLUME " .. (go_list(words):gsub('"', "")))
end

local function valid_signal(s)
  local n = tonumber(s)
  if n then
    return n >= 1 and n <= 64
  end
  local name = s:upper():gsub("^SIG", "")
  if frontend.SIGNALS[name] then
    return true
  end
  local rt = name:match "^RTMIN%+(%d+)$" or name:match "^RTMAX%-(%d+)$"
  return rt ~= nil or name == "RTMIN" or name == "RTMAX"
end

--- img:stopsignal "SIGTERM" (or a number)
function methods:stopsignal(sig)
  local p = check_self(self, "stopsignal")
  if type(sig) == "number" then
    sig = tostring(math.tointeger(sig) or sig)
  end
  if type(sig) ~= "string" or not valid_signal(sig) then
    fail("stopsignal: invalid signal: %s", tostring(sig))
  end
  return set(p, { StopSignal = sig }, "STOPSIGNAL " .. sig)
end

local function duration(name, v)
  if v == nil or v == "" then
    return 0
  end
  local d
  if type(v) == "number" then
    d = math.floor(v * 1e9)
  elseif type(v) == "string" then
    local err
    d, err = instructions.parse_duration(v)
    if not d then
      fail("healthcheck: %s: %s", name, err)
    end
  else
    fail("healthcheck: %s must be a duration (\"30s\") or seconds", name)
  end
  if d ~= 0 and d < 1000000 then
    fail('healthcheck: Interval "%s" cannot be less than 1ms', name)
  end
  return math.tointeger(d)
end

--- img:healthcheck{cmd, interval =, timeout =, start_period =, start_interval =, retries =}
--- (cmd: a string runs in the shell, a list is exec form) | img:healthcheck "NONE"
function methods:healthcheck(o)
  local p = check_self(self, "healthcheck")
  local test
  if o == "NONE" or o == false then
    test = { "NONE" }
    o = {}
  else
    if type(o) == "string" or is_list_of_strings(o, 2) then
      o = { cmd = o }
    end
    if type(o) ~= "table" then
      fail("healthcheck: expected {cmd, interval = ...} or \"NONE\", got %s", type(o))
    end
    local c = o.cmd or o[1]
    if type(c) == "string" then
      test = { "CMD-SHELL", c }
    elseif is_list_of_strings(c) then
      test = { "CMD", table.unpack(c) }
    else
      fail "healthcheck: missing command"
    end
  end
  local hc = { Test = json.array(copy_list(test)) }
  if test[1] ~= "NONE" then
    hc.Interval = duration("interval", o.interval)
    hc.Timeout = duration("timeout", o.timeout)
    hc.StartPeriod = duration("start_period", o.start_period)
    hc.StartInterval = duration("start_interval", o.start_interval)
    local r = o.retries or 0
    if type(r) ~= "number" or r < 0 or not math.tointeger(r) then
      fail("healthcheck: retries must be a non-negative integer")
    end
    hc.Retries = math.tointeger(r)
  end
  for k, v in pairs(hc) do
    if v == 0 then
      hc[k] = nil
    end
  end
  return set(p, { Healthcheck = hc }, "HEALTHCHECK " .. go_list(test))
end

--- img:onbuild "RUN make": a trigger for images built FROM this one.
function methods:onbuild(expr)
  local p = check_self(self, "onbuild")
  if type(expr) ~= "string" or expr == "" then
    fail("onbuild: expected an instruction (string), got %s", type(expr))
  end
  local list = json.array { table.unpack(p.cfg.OnBuild or {}) }
  list[#list + 1] = expr
  return set(p, { OnBuild = list }, "ONBUILD " .. expr)
end

--- img:maintainer "name": the image's author (deprecated MAINTAINER).
function methods:maintainer(who)
  local p = check_self(self, "maintainer")
  if type(who) ~= "string" then
    fail("maintainer: expected a string, got %s", type(who))
  end
  return push(p, "config", { set = {}, author = who, history = "MAINTAINER " .. who }, { author = who })
end

--- img:build(): build this state now; returns its result (see cb.build).
function methods:build()
  check_self(self, "build")
  return require("cbuild.recipe.result").build_one(self)
end

M.methods = methods
return M
