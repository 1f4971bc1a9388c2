-- Recipe image states: the values `require "cbuild"` gives recipes.  Each wraps a build state
-- (build/state.lua) plus what the Dockerfile frontend keeps for a stage (the config so far, the
-- declared ARGs, whether CMD was set), and every method returns a new value, so one state can
-- be the base of several branches.
--
-- A method turns its Lua arguments into the typed instruction the Dockerfile parser would make
-- (dockerfile/instructions.lua) and lets the frontend apply it (frontend.apply), so a recipe
-- and the equivalent Dockerfile get the same states, cache keys and image.  Unlike a
-- Dockerfile, values are never $-expanded: a recipe builds its strings with Lua.
local json = require "cbuild.core.json"
local errors = require "cbuild.errors"
local state = require "cbuild.build.state"
local imgconfig = require "cbuild.image.config"
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

local fail = where.fail

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

-- ENV/LABEL pairs ({key =, value =}) from ("K", "V"), {K = "V", ...} (sorted by key) or
-- {{"K", "V"}, ...}.
local function pairs_arg(method, a, b)
  local out = {}
  if type(a) == "string" then
    if b == nil then
      fail("%s: %q needs a value", method, a)
    end
    out[1] = { key = a, value = tostring(b) }
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
      out[#out + 1] = { key = kv[1], value = tostring(kv[2]) }
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
    out[#out + 1] = { key = k, value = tostring(v) }
  end
  table.sort(out, function(x, y)
    return x.key < y.key
  end)
  return out
end

-- A command: a string is the shell form, a list of strings the exec form.  Returns the argv

-- A command: a string is the shell form, a list of strings the exec form.  Returns the
-- instruction's cmd and prepend_shell.
local function command(method, cmd)
  if type(cmd) == "string" then
    return cmd, true
  end
  if is_list_of_strings(cmd, 0) then
    return copy_list(cmd), false
  end
  fail("%s: expected a command string (shell form) or a list of strings (exec form), got %s", method, type(cmd))
end

-- The state after instr (a typed instruction, as the parser makes them) on p: the frontend
-- applies it to a stage made of p's fields, values as written.  from: the source args of a
-- COPY's from (copy_source); a RUN mount's from= stays as written.  Errors name the method
-- and point at the user's line.
local function apply(p, method, instr, from)
  local s = session.get()
  instr.loc = where.user()
  local args = {}
  for k, v in pairs(p.args) do
    args[k] = v
  end
  local st = frontend.stage { state = p.st, cfg = imgconfig.copy(p.cfg), args = args,
    arg_order = copy_list(p.arg_order), declared = {}, meta = {}, build_args = s.build_args,
    used_args = s.used_args, cmd_set = p.cmd_set, base_set = p.base_set, step = p.step,
    author = p.author, literal = true, from_source = function(_, _, _, raw)
      if raw == nil then
        return from
      end
    end }
  local ok, e = pcall(frontend.apply, st, instr)
  if not ok then
    if errors.is(e) then
      e.msg = method .. ": " .. e.msg
    end
    error(e, 0)
  end
  if st.state ~= p.st and st.state.label then
    st.state.label = string.format("[%s%d] %s", p.name and (p.name .. " ") or "", st.step, st.state.label)
  end
  return derive(p, { st = st.state, cfg = st.cfg, args = st.args, arg_order = st.arg_order,
    cmd_set = st.cmd_set, base_set = st.base_set or false, step = st.step, author = st.author or false })
end

-- The start of a stage: fresh ARG scope and CMD flag, the base config set up as the frontend
-- does (PATH always set); the base's ONBUILD triggers are dropped (recipes do not run them).
local function stage(st, cfg, name, from_stage)
  local base = { state = st, cfg = cfg }
  frontend.on_base(base, from_stage)
  return new { st = st, cfg = cfg, name = name, args = {}, arg_order = {}, cmd_set = false,
    base_set = base.base_set, step = 1 }
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
  local raw, shell_form = command("run", cmd)
  local mounts = {}
  if o.mounts ~= nil and type(o.mounts) ~= "table" then
    fail("run: mounts must be a list, got %s", type(o.mounts))
  end
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
  return apply(p, "run", { kind = "RUN", cmd = raw, prepend_shell = shell_form, heredocs = {}, mounts = mounts,
    network = network, security = security })
end

-- chown: "user[:group]" (names or ids), a number, or {uid =, gid =}: the --chown value (names
-- are looked up in the image by the solver).
local function chown_arg(method, v)
  if v == nil or type(v) == "string" then
    return v
  elseif type(v) == "number" then
    return tostring(math.tointeger(v) or v)
  elseif type(v) == "table" then
    return tostring(v.uid or v[1]) .. ((v.gid or v[2]) and (":" .. tostring(v.gid or v[2])) or "")
  end
  fail("%s: chown must be \"uid:gid\", a number or {uid =, gid =}", method)
end

-- chmod: an octal string ("755") or a number (the mode itself: tonumber("755", 8)): the
-- --chmod value.
local function chmod_arg(method, v)
  if v == nil or type(v) == "string" then
    return v
  elseif type(v) == "number" and math.tointeger(v) then
    return string.format("%o", v)
  end
  fail("%s: chmod must be an octal string (\"755\") or a number", method)
end

-- COPY's from: a state (another stage), a cb.context or an image name, as the source args
-- the frontend's from_source gives.
local function copy_source(method, from)
  local ctxmod = require "cbuild.recipe.context"
  if M.is(from) then
    local fp = priv[from]
    return { from = fp.st, from_name = fp.name or "stage" }
  elseif ctxmod.is(from) then
    return { context = ctxmod.build_context(from) }
  elseif type(from) == "string" then
    if from:lower() == "scratch" then
      fail("%s from scratch: scratch has no files to copy", method)
    end
    local entry = session.get():resolve_image(from, where.user())
    return { from_image = from, from_entry = entry, from_name = from }
  end
  fail("%s: from must be an image state, a cb.context or an image name, got %s", method, type(from))
end

-- COPY and ADD.
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
  local dest = o.dest or o[2]
  if type(dest) ~= "string" then
    fail("%s: dest must be a path, got %s", method, type(dest))
  end
  for _, s in ipairs(sources) do
    if add and s:match "^%a[%w+.-]*://" then
      fail("ADD from a URL is not supported yet: '%s'", s)
    end
  end
  local from = o.from ~= nil and copy_source(method, o.from) or nil
  local instr = { kind = verb, sources = sources, dest = dest, from = o.from, chown = chown_arg(method, o.chown),
    chmod = chmod_arg(method, o.chmod), link = o.link == true }
  if add then
    instr.checksum, instr.keep_git_dir = o.checksum, o.keep_git_dir == true
  else
    instr.parents = o.parents == true
  end
  if o.exclude ~= nil then
    local ex = type(o.exclude) == "string" and { o.exclude } or o.exclude
    if not is_list_of_strings(ex, 0) then
      fail("%s: exclude must be a pattern or a list of patterns", method)
    end
    instr.exclude = copy_list(ex)
  end
  return apply(p, method, instr, from)
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
  if path:match "/%.?$" or path == "." then
    fail("write: %q names a directory; give the file's path", path)
  end
  return apply(p, "write", { kind = "COPY", sources = {}, dest = path, chown = chown_arg("write", opts.chown),
    chmod = chmod_arg("write", opts.mode or opts.chmod), link = false, parents = false,
    heredocs = { { name = "EOF", content = content } } })
end

--- img:env("K", "V") | img:env{K = "V", ...} | img:env{{"K", "V"}, ...}
function methods:env(a, b)
  local p = check_self(self, "env")
  local list = pairs_arg("env", a, b)
  for _, kv in ipairs(list) do
    if kv.key == "" then
      fail "env: names can not be blank"
    end
  end
  return apply(p, "env", { kind = "ENV", pairs = list })
end

--- img:label("k", "v") | img:label{k = "v", ...}
function methods:label(a, b)
  local p = check_self(self, "label")
  return apply(p, "label", { kind = "LABEL", pairs = pairs_arg("label", a, b) })
end

--- img:arg("NAME" [, default]) | img:arg{NAME = default, ...}: declare a build arg; RUN sees
--- it (the --build-arg value, else the default) in its environment.
function methods:arg(a, b)
  local p = check_self(self, "arg")
  local list = {}
  if type(a) == "string" then
    list[1] = { key = a, value = b ~= nil and tostring(b) or nil }
  elseif type(a) == "table" then
    for k, v in pairs(a) do
      if type(k) == "number" and type(v) == "string" then
        list[#list + 1] = { key = v }
      elseif type(k) == "string" then
        list[#list + 1] = { key = k, value = tostring(v) }
      else
        fail "arg: expected names, or name = default pairs"
      end
    end
    table.sort(list, function(x, y)
      return x.key < y.key
    end)
  else
    fail("arg: expected a name, got %s", type(a))
  end
  for _, kv in ipairs(list) do
    if kv.key == "" then
      fail "arg: names can not be blank"
    end
  end
  return apply(p, "arg", { kind = "ARG", args = list })
end

--- img:cmd "shell form" | img:cmd {"exec", "form"}
function methods:cmd(c)
  local p = check_self(self, "cmd")
  local cmd, shell_form = command("cmd", c)
  return apply(p, "cmd", { kind = "CMD", cmd = cmd, prepend_shell = shell_form })
end

--- img:entrypoint "shell form" | img:entrypoint {"exec", "form"}; drops an inherited CMD.
function methods:entrypoint(c)
  local p = check_self(self, "entrypoint")
  local cmd, shell_form = command("entrypoint", c)
  return apply(p, "entrypoint", { kind = "ENTRYPOINT", cmd = cmd, prepend_shell = shell_form })
end

--- img:shell {"/bin/bash", "-c"}: the shell of later shell-form commands.
function methods:shell(list)
  local p = check_self(self, "shell")
  if not is_list_of_strings(list) then
    fail "shell: expected a list of strings ({\"/bin/bash\", \"-c\"})"
  end
  return apply(p, "shell", { kind = "SHELL", cmd = copy_list(list), prepend_shell = false })
end

--- img:workdir(path): relative paths are joined to the current one; the directory is made.
function methods:workdir(path)
  local p = check_self(self, "workdir")
  if type(path) ~= "string" or path == "" then
    fail("workdir: expected a path, got %s", type(path))
  end
  return apply(p, "workdir", { kind = "WORKDIR", path = path })
end

-- A number as a string (a uid, a signal); anything else as it is.
local function numeric(v)
  if type(v) == "number" then
    return tostring(math.tointeger(v) or v)
  end
  return v
end

--- img:user "name[:group]" (or a uid)
function methods:user(u)
  local p = check_self(self, "user")
  u = numeric(u)
  if type(u) ~= "string" then
    fail("user: expected a user name or uid, got %s", type(u))
  end
  return apply(p, "user", { kind = "USER", user = u })
end

-- The values of a method called with values or with one list of them.
local function varargs(...)
  local list = { ... }
  if type(list[1]) == "table" then
    return list[1]
  end
  return list
end

--- img:expose(80, "53/udp", "8000-8002") or img:expose{80, 443}
function methods:expose(...)
  local p = check_self(self, "expose")
  local ports = {}
  for i, v in ipairs(varargs(...)) do
    if type(v) ~= "string" and type(v) ~= "number" then
      fail("expose: port %d must be a number or a string", i)
    end
    ports[i] = tostring(v)
  end
  if #ports == 0 then
    fail "expose: no ports given"
  end
  table.sort(ports) -- as the parser does
  return apply(p, "expose", { kind = "EXPOSE", ports = ports })
end

--- img:volume("/data", ...) or img:volume{"/a", "/b"}
function methods:volume(...)
  local p = check_self(self, "volume")
  local list = varargs(...)
  if not is_list_of_strings(list) then
    fail "volume: expected paths"
  end
  local volumes = {}
  for i, v in ipairs(list) do
    volumes[i] = v:match "^%s*(.-)%s*$"
  end
  return apply(p, "volume", { kind = "VOLUME", volumes = volumes })
end

--- img:stopsignal "SIGTERM" (or a number)
function methods:stopsignal(sig)
  local p = check_self(self, "stopsignal")
  sig = numeric(sig)
  if type(sig) ~= "string" then
    fail("stopsignal: invalid signal: %s", tostring(sig))
  end
  return apply(p, "stopsignal", { kind = "STOPSIGNAL", signal = sig })
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
  local instr = { kind = "HEALTHCHECK", test = test }
  if test[1] ~= "NONE" then
    instr.interval = duration("interval", o.interval)
    instr.timeout = duration("timeout", o.timeout)
    instr.start_period = duration("start_period", o.start_period)
    instr.start_interval = duration("start_interval", o.start_interval)
    local r = o.retries or 0
    if type(r) ~= "number" or r < 0 or not math.tointeger(r) then
      fail("healthcheck: retries must be a non-negative integer")
    end
    instr.retries = math.tointeger(r)
  end
  return apply(p, "healthcheck", instr)
end

--- img:onbuild "RUN make": a trigger for images built FROM this one.
function methods:onbuild(expr)
  local p = check_self(self, "onbuild")
  if type(expr) ~= "string" or expr == "" then
    fail("onbuild: expected an instruction (string), got %s", type(expr))
  end
  return apply(p, "onbuild", { kind = "ONBUILD", expression = expr })
end

--- img:maintainer "name": the image's author (deprecated MAINTAINER).
function methods:maintainer(who)
  local p = check_self(self, "maintainer")
  if type(who) ~= "string" then
    fail("maintainer: expected a string, got %s", type(who))
  end
  return apply(p, "maintainer", { kind = "MAINTAINER", maintainer = who })
end


--- img:build(): build this state now; returns its result (see cb.build).
function methods:build()
  check_self(self, "build")
  return require("cbuild.recipe.result").build_one(self)
end

M.methods = methods
return M
