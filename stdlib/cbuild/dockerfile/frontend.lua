-- The Dockerfile frontend's back half: from typed instructions (dockerfile/instructions.lua)
-- to build states (build/state.lua), with docker's semantics for ARG scoping, ENV, variable
-- expansion, WORKDIR, the config-only instructions and multi-stage selection.  It runs
-- nothing: base images are only looked up (for their config), never built.
local json = require "cbuild.core.json"
local errors = require "cbuild.errors"
local shell = require "cbuild.dockerfile.shell"
local state = require "cbuild.build.state"
local imgconfig = require "cbuild.image.config"
local copy = require "cbuild.build.copy"
local parser = require "cbuild.dockerfile.parser"
local instructions = require "cbuild.dockerfile.instructions"

local M = {}

--- The proxy args docker predefines: usable in RUN without an ARG, never in history.
M.PROXY_ARGS = {
  "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
  "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
}
local is_proxy = {}
for _, k in ipairs(M.PROXY_ARGS) do
  is_proxy[k] = true
end
local function is_proxy_name(k)
  return is_proxy[k] == true
end

-- Build checks: while compiling for `lint`, the stage being compiled and the UndefinedVar sink.
local lint = { stage = nil, on_undefined = nil }

-- The location of word in an instruction's source (the caret goes under it), or the
-- instruction's own location.
local function at_word(instr, word)
  local node = instr.node
  if node and node.original and word and word ~= "" then
    local off = node.original:find(word, 1, true)
    if off then
      local ok, l = pcall(parser.locate, node, off, #word)
      if ok and l and l.line then
        return l
      end
    end
  end
  return instr.loc
end
M.at_word = at_word

-- Expand word for instr (an instruction, or a bare location).
local function expand(word, env, instr, escape)
  local loc = instr.kind and instr.loc or instr
  local ok, r, err = pcall(shell.process_word, word, env, { escape = escape })
  if not ok or r == nil then
    errors.raise_at(instr.kind and at_word(instr, word) or loc, "%s", tostring(ok and err or r):gsub("^.-:%d+: ", ""))
  end
  local st = lint.stage
  if lint.on_undefined and st and not st.unknown_base and type(err) == "table" then
    for name in pairs(err) do
      if not st.declared[name] and not is_proxy_name(name) then
        lint.on_undefined(name, loc, env)
      end
    end
  end
  return r
end

-- Go's %q of a []string, as BuildKit writes history: ["a" "b"]
local function go_list(list)
  local out = {}
  for i, s in ipairs(list) do
    out[i] = string.format("%q", s):gsub("\\\n", "\\n")
  end
  return "[" .. table.concat(out, " ") .. "]"
end

-- Heredoc bodies of COPY/ADD: expanded without quote removal (BuildKit's ExpandRaw).
local function expand_raw(text, env, loc)
  local ok, r, err = pcall(shell.process_word, text, env, { escape = "\\", skip_quotes = true })
  if not ok or r == nil then
    errors.raise_at(loc, "%s", tostring(ok and err or r):gsub("^.-:%d+: ", ""))
  end
  return r
end

local function json_list(list)
  return json.encode(json.array(list))
end

-- A stage being compiled: the state so far and what the next instruction reads (the config,
-- the ARGs...).  M.apply moves it on by one instruction.
local Stage = {}
Stage.__index = Stage

--- A stage from fields: state (the build state so far), cfg (its image config, changed in
--- place), args and arg_order (the ARGs declared so far), declared (ARGs without a value),
--- meta (the global ARGs), build_args and used_args (the --build-arg values, and the names an
--- ARG took), cmd_set, base_set (see M.on_base), step (labelled steps so far) and escape.
--- Recipes set literal (values are used as written, never $-expanded) and from_source
--- (see Stage:from_source).
function M.stage(fields)
  return setmetatable(fields, Stage)
end

-- The expansion environment: declared ARGs, overridden by ENV (docker's rule).
function Stage:vars()
  local env = {}
  for k, v in pairs(self.args) do
    env[k] = v
  end
  local map = imgconfig.env_map(self.cfg.Env)
  for k, v in pairs(map) do
    env[k] = v
  end
  return env
end

-- A function that expands the words of instr against the variables as they are now: an
-- instruction never sees its own assignments (ENV A=1 B=$A takes the old A).
function Stage:expander(instr)
  if self.literal then
    return function(word)
      return word
    end
  end
  local vars = self:vars()
  return function(word)
    return expand(word, vars, instr, self.escape)
  end
end

function Stage:push(op, args, instr, label)
  self.state = state.new(op, self.state, args, instr.loc)
  self.state.no_cache = self.no_cache -- build --no-cache-filter named this stage
  if label then
    self.step = self.step + 1
    self.state.label = label
  end
  return self.state
end

-- A config op that sets fields (value json.null deletes) and records the history line.
function Stage:set(instr, fields, history)
  if self.base_set then
    -- what FROM added to the base config rides on the first config change
    for k, v in pairs(self.base_set) do
      if fields[k] == nil then
        fields[k] = v
      end
    end
    self.base_set = nil
  end
  for k, v in pairs(fields) do
    if v == json.null then
      self.cfg[k] = nil
    else
      self.cfg[k] = v
    end
  end
  self:push("config", { set = fields, history = history }, instr)
end

local function shell_cmd(self, instr)
  if instr.prepend_shell then
    local sh = self.cfg.Shell or { "/bin/sh", "-c" }
    local cmd = json.array { table.unpack(sh) }
    cmd[#cmd + 1] = instr.cmd
    return cmd
  end
  return json.array { table.unpack(instr.cmd) }
end

local dispatch = {}

function dispatch.ENV(self, instr)
  local ex = self:expander(instr)
  local env = self.cfg.Env
  local words = {}
  for _, p in ipairs(instr.pairs) do
    local k, v = ex(p.key), ex(p.value)
    env = imgconfig.env_set(env, k, v)
    words[#words + 1] = k .. "=" .. v
  end
  self:set(instr, { Env = env }, "ENV " .. table.concat(words, " "))
end

function dispatch.LABEL(self, instr)
  local ex = self:expander(instr)
  local labels = imgconfig.copy(self.cfg.Labels) or {}
  local words = {}
  for _, p in ipairs(instr.pairs) do
    local k, v = ex(p.key), ex(p.value)
    labels[k] = v
    words[#words + 1] = k .. "=" .. v
  end
  self:set(instr, { Labels = json.object(labels) }, "LABEL " .. table.concat(words, " "))
end

function dispatch.ARG(self, instr)
  for _, a in ipairs(instr.args) do
    local key = a.key
    local value
    if self.build_args[key] ~= nil then
      value = self.build_args[key]
      self.used_args[key] = true
    elseif a.value ~= nil then
      value = self:expander(instr)(a.value) -- sees the ARGs before it in the same line
    elseif self.meta[key] ~= nil then
      value = self.meta[key] -- a global ARG redeclared without a value takes its value
    end
    self.args[key] = value or ""
    self.arg_order[#self.arg_order + 1] = key
    if value == nil then
      self.args[key] = nil
      self.declared[key] = true
    end
  end
end

function dispatch.CMD(self, instr)
  local cmd = shell_cmd(self, instr)
  self.cmd_set = true
  self:set(instr, { Cmd = cmd }, "CMD " .. go_list(cmd))
end

function dispatch.ENTRYPOINT(self, instr)
  local ep = shell_cmd(self, instr)
  local fields = { Entrypoint = ep }
  if not self.cmd_set then
    fields.Cmd = json.null -- docker: a new ENTRYPOINT drops the CMD inherited from the base
  end
  self:set(instr, fields, "ENTRYPOINT " .. go_list(ep))
end

function dispatch.SHELL(self, instr)
  if instr.prepend_shell then
    errors.raise_at(instr.loc, "SHELL requires the arguments to be in JSON form")
  end
  self:set(instr, { Shell = json.array { table.unpack(instr.cmd) } }, "SHELL " .. go_list(instr.cmd))
end

function dispatch.WORKDIR(self, instr)
  local path = self:expander(instr)(instr.path)
  if path:sub(1, 1) ~= "/" then
    path = (self.cfg.WorkingDir or "/") .. "/" .. path
  end
  path = copy.clean(path)
  self:set(instr, { WorkingDir = path }, "WORKDIR " .. path)
  if path ~= "/" then
    -- BuildKit makes the directory (and its parents, 0755, owned by USER) as a layer
    self.state.args.mkdir = { path = path, mode = 493, user = self.cfg.User }
  end
end

function dispatch.USER(self, instr)
  local user = self:expander(instr)(instr.user)
  self:set(instr, { User = user }, "USER " .. user)
end

local function expand_ports(instr, spec, raw)
  local port, proto = spec:match "^([^/]*)/?(.*)$"
  proto = (proto == "" and "tcp" or proto):lower()
  if proto ~= "tcp" and proto ~= "udp" and proto ~= "sctp" then
    errors.raise_at(at_word(instr, raw), "invalid proto: %s", proto)
  end
  local lo, hi = port:match "^(%d+)%-(%d+)$"
  if not lo then
    lo = port:match "^(%d+)$"
    hi = lo
  end
  lo, hi = tonumber(lo), tonumber(hi)
  if not lo or lo < 1 or hi > 65535 or hi < lo then
    errors.raise_at(at_word(instr, raw), "invalid containerPort: %s", port)
  end
  local out = {}
  for p = lo, hi do
    out[#out + 1] = p .. "/" .. proto
  end
  return out
end

function dispatch.EXPOSE(self, instr)
  local ex = self:expander(instr)
  local ports = imgconfig.copy(self.cfg.ExposedPorts) or {}
  local words = {}
  for _, raw in ipairs(instr.ports) do
    for _, p in ipairs(expand_ports(instr, ex(raw), raw)) do
      ports[p] = json.object {}
      words[#words + 1] = p
    end
  end
  self:set(instr, { ExposedPorts = json.object(ports) }, "EXPOSE " .. go_list(words):gsub('"', ""))
end

function dispatch.VOLUME(self, instr)
  local ex = self:expander(instr)
  local vols = imgconfig.copy(self.cfg.Volumes) or {}
  local words = {}
  for _, raw in ipairs(instr.volumes) do
    local v = ex(raw)
    if v == "" then
      errors.raise_at(instr.loc, "VOLUME specified can not be an empty string")
    end
    vols[v] = json.object {}
    words[#words + 1] = v
  end
  self:set(instr, { Volumes = json.object(vols) }, "VOLUME " .. go_list(words):gsub('"', ""))
end

local SIGNALS = {
  HUP = 1, INT = 2, QUIT = 3, ILL = 4, TRAP = 5, ABRT = 6, IOT = 6, BUS = 7, FPE = 8, KILL = 9,
  USR1 = 10, SEGV = 11, USR2 = 12, PIPE = 13, ALRM = 14, TERM = 15, STKFLT = 16, CHLD = 17,
  CONT = 18, STOP = 19, TSTP = 20, TTIN = 21, TTOU = 22, URG = 23, XCPU = 24, XFSZ = 25,
  VTALRM = 26, PROF = 27, WINCH = 28, IO = 29, POLL = 29, PWR = 30, SYS = 31,
}
M.SIGNALS = SIGNALS

local function valid_signal(s)
  local n = tonumber(s)
  if n then
    return n >= 1 and n <= 64
  end
  local name = s:upper():gsub("^SIG", "")
  if SIGNALS[name] then
    return true
  end
  local rt = name:match "^RTMIN%+(%d+)$" or name:match "^RTMAX%-(%d+)$"
  return rt ~= nil or name == "RTMIN" or name == "RTMAX"
end

function dispatch.STOPSIGNAL(self, instr)
  local sig = self:expander(instr)(instr.signal)
  if not valid_signal(sig) then
    errors.raise_at(at_word(instr, instr.signal), "invalid signal: %s", sig)
  end
  self:set(instr, { StopSignal = sig }, "STOPSIGNAL " .. sig)
end

function dispatch.HEALTHCHECK(self, instr)
  local hc = { Test = json.array { table.unpack(instr.test) } }
  if instr.test[1] ~= "NONE" then
    hc.Interval = instr.interval
    hc.Timeout = instr.timeout
    hc.StartPeriod = instr.start_period
    hc.StartInterval = instr.start_interval
    hc.Retries = instr.retries
  end
  for k, v in pairs(hc) do
    if v == 0 then
      hc[k] = nil
    end
  end
  self:set(instr, { Healthcheck = hc }, "HEALTHCHECK " .. go_list(instr.test))
end

function dispatch.ONBUILD(self, instr)
  local list = json.array { table.unpack(self.cfg.OnBuild or {}) }
  list[#list + 1] = instr.expression
  self:set(instr, { OnBuild = list }, "ONBUILD " .. instr.expression)
end

function dispatch.MAINTAINER(self, instr)
  local who = self:expander(instr)(instr.maintainer)
  self.author = who
  self:push("config", { set = {}, author = who, history = "MAINTAINER " .. who }, instr)
end

local function parse_chown(spec)
  local u, g = spec:match "^([^:]*):?(.*)$"
  local uid, gid = tonumber(u), tonumber(g ~= "" and g or u)
  if uid and gid and uid == math.floor(uid) and gid == math.floor(gid) then
    return { uid = math.tointeger(uid), gid = math.tointeger(gid) }
  end
  -- names need the image's /etc/passwd and /etc/group, which only the snapshot can read
  return { user = u, group = g ~= "" and g or nil, spec = spec }
end

--- COPY --from=<stage name | stage index | image>: the args that name the source, {from =
--- the stage's state, from_name} or {from_image, from_entry, from_name}.  ex: the expander;
--- raw: a RUN --mount's from= as written (nil for COPY --from).  A recipe's stage has its
--- own, which may return nil for a mount (its from= stays as written).
function Stage:from_source(instr, ex, raw)
  raw = raw or instr.from
  local flag = instr.from == raw and ("--from=" .. raw) or ("from=" .. raw)
  local name = ex(raw)
  local c = self.compiler
  local named = c and c:named_context(name)
  if named and named.context then -- a --build-context directory: its files, like the main context's
    return { context = named.context, from_name = name }
  elseif named then
    return { from_image = named.image, from_entry = c:named_image(named, instr.loc), from_name = name }
  end
  local idx = c and c:find_stage(name)
  if idx then
    return { from = c:compile_stage(idx, at_word(instr, flag)).state, from_name = name }
  end
  if name:lower() == "scratch" then
    errors.raise_at(instr.loc, "%s --from=scratch: scratch has no files to copy", instr.kind)
  end
  local ok, entry = pcall(c.opts.resolve_image, name, instr.loc)
  if not ok or not entry then
    local stages = {}
    for i, st in ipairs(c.stages) do
      stages[#stages + 1] = st.name or tostring(i - 1)
    end
    local hint = instructions.suggest(name, stages)
    errors.raise_at(at_word(instr, flag), "%s %s: no build stage or image named %q%s",
      instr.kind, flag, name, hint and (" (did you mean " .. hint .. "?)") or "")
  end
  return { from_image = name, from_entry = entry, from_name = name }
end

local function copy_like(self, instr, add)
  local ex = self:expander(instr)
  local verb = add and "ADD" or "COPY"
  local sources = {}
  for i, s in ipairs(instr.sources) do
    sources[i] = ex(s)
    if add and sources[i]:match "^%a[%w+.-]*://" and not sources[i]:match "^https?://" then
      errors.raise_at(instr.loc, "ADD from a %s URL is not supported (http and https are): '%s'",
        sources[i]:match "^(%a[%w+.-]*)://", sources[i])
    end
  end
  local dest = ex(instr.dest)
  local trailing = dest:match "/%.?$" or dest == "." or dest == ""
  if dest:sub(1, 1) ~= "/" then
    dest = (self.cfg.WorkingDir or "/") .. "/" .. dest
  end
  if trailing and not dest:match "/$" then
    dest = dest .. "/"
  end
  local args = { sources = sources, dest = dest, add = add }
  if instr.from then
    for k, v in pairs(self:from_source(instr, ex)) do
      args[k] = v
    end
  end
  local nsrc = #sources + #(instr.heredocs or {})
  local heredoc_words = {}
  if instr.heredocs and #instr.heredocs > 0 then
    -- each heredoc is a file named after its delimiter, 0644 unless --chmod says otherwise
    args.heredocs = {}
    for _, hd in ipairs(instr.heredocs) do
      local content = hd.content
      if hd.expand then
        content = expand_raw(content, self:vars(), instr.loc)
      end
      local file = (dest:match "/$" or nsrc > 1) and copy.clean(dest .. "/" .. hd.name) or copy.clean(dest)
      args.heredocs[#args.heredocs + 1] = { name = hd.name, content = content, dest = file }
      heredoc_words[#heredoc_words + 1] = "<<" .. hd.name
    end
  end
  if instr.chown and instr.chown ~= "" then
    args.chown = parse_chown(ex(instr.chown)) -- names: resolved in the image by the solver
  end
  if instr.chmod and instr.chmod ~= "" then
    local m = ex(instr.chmod)
    if not m:match "^[0-7]+$" or #m > 4 then
      errors.raise_at(at_word(instr, "--chmod=" .. instr.chmod), "invalid chmod parameter: '%s'", m)
    end
    args.chmod = tonumber(m, 8)
  end
  args.link, args.parents, args.checksum, args.keep_git_dir = instr.link, instr.parents, instr.checksum,
    instr.keep_git_dir
  if instr.exclude and #instr.exclude > 0 then
    args.exclude = {}
    for i, e in ipairs(instr.exclude) do
      args.exclude[i] = ex(e)
    end
  end
  local flags = {}
  if args.from_name then
    flags[#flags + 1] = "--from=" .. args.from_name .. " "
  end
  if instr.chown and instr.chown ~= "" then
    flags[#flags + 1] = "--chown=" .. instr.chown .. " "
  end
  if instr.chmod and instr.chmod ~= "" then
    flags[#flags + 1] = "--chmod=" .. instr.chmod .. " "
  end
  local words = { table.unpack(sources) }
  for _, w in ipairs(heredoc_words) do
    words[#words + 1] = w
  end
  args.history = string.format("%s %s%s %s # buildkit", verb, table.concat(flags), table.concat(words, " "),
    instr.dest)
  local shown = { table.unpack(instr.sources) }
  for _, w in ipairs(heredoc_words) do
    shown[#shown + 1] = w
  end
  self:push("copy", args, instr, string.format("%s %s%s %s", verb, table.concat(flags),
    table.concat(shown, " "), instr.dest))
end

function dispatch.COPY(self, instr)
  copy_like(self, instr, false)
end

function dispatch.ADD(self, instr)
  copy_like(self, instr, true)
end

function dispatch.RUN(self, instr)
  local cmd = shell_cmd(self, instr)
  -- BuildKit's runCommandString: the stage's ARGs (ENV wins) prefix the history line
  local env = imgconfig.env_map(self.cfg.Env)
  local argv = {}
  for _, k in ipairs(self.arg_order) do
    argv[#argv + 1] = k .. "=" .. (env[k] or self.args[k] or "")
  end
  local prefix = #argv > 0 and ("|" .. #argv .. " " .. table.concat(argv, " ") .. " ") or ""
  local proxy = {}
  for _, k in ipairs(M.PROXY_ARGS) do
    if self.build_args[k] ~= nil and self.args[k] == nil then
      proxy[k] = self.build_args[k]
    end
  end
  local heredocs = {}
  for i, hd in ipairs(instr.heredocs or {}) do
    heredocs[i] = { name = hd.name, content = hd.content, expand = hd.expand, chomp = hd.chomp, fd = hd.fd }
  end
  local args = {} -- the ARGs declared so far: later ones must not reach this step
  for k, v in pairs(self.args) do
    args[k] = v
  end
  -- RUN --mount=...,from=<stage|image>: the stage's state (built first) or the image
  local mounts, mount_states = {}, {}
  for i, m in ipairs(instr.mounts or {}) do
    local src = m.from and m.from ~= "" and not m.from_state
      and self:from_source(instr, self:expander(instr), m.from)
    if src then
      local copy_m = {}
      for k, v in pairs(m) do
        copy_m[k] = v
      end
      copy_m.from_state, copy_m.from_image, copy_m.from_entry = src.from, src.from_image, src.from_entry
      if src.context then -- a named local context is bound like the build context
        copy_m.from, copy_m.context = nil, src.context
      end
      m = copy_m
    end
    mounts[i] = m
    if m.from_state then
      mount_states[#mount_states + 1] = m.from_state
    end
  end
  self:push("run", { cmd = cmd, instr = instr, env = self.cfg.Env, args = args, proxy = proxy,
    heredocs = heredocs, mounts = mounts, mount_states = mount_states, network = instr.network,
    security = instr.security,
    user = self.cfg.User, workdir = self.cfg.WorkingDir,
    history = "RUN " .. prefix .. table.concat(cmd, " ") .. " # buildkit" }, instr,
    "RUN " .. (instr.prepend_shell and instr.cmd or json_list(instr.cmd)))
end

local Compiler = {}
Compiler.__index = Compiler

-- Meta ARGs (before the first FROM): usable in FROM lines only.
local function meta_args(self, parsed)
  local meta = {}
  for k, v in pairs(self.opts.predefined or {}) do
    meta[k] = v
  end
  for _, instr in ipairs(parsed.meta_args or {}) do
    for _, a in ipairs(instr.args) do
      local v
      if self.build_args[a.key] ~= nil then
        v = self.build_args[a.key]
        self.used_args[a.key] = true
      elseif a.value ~= nil then
        v = expand(a.value, meta, instr, self.escape)
      end
      meta[a.key] = v
    end
  end
  return meta
end

--- The index of the stage called name (case-insensitive) or numbered name, or nil.
--- The --build-context named name ({image = ref} or {context = <build context>}), or nil.
function Compiler:named_context(name)
  return (self.opts.named_contexts or {})[name:lower()]
end

--- The store entry of a named image context (resolved once).
function Compiler:named_image(named, loc)
  if not named.entry then
    named.entry, named.config = self.opts.resolve_image(named.image, loc)
  end
  return named.entry, named.config
end

-- A stage that a --build-context replaces: the image, or the directory's files on scratch.
function Compiler:named_base(st, named, decl)
  if named.image then
    local found, cfg = self:named_image(named, decl.loc)
    st.state = state.new("from", nil, { image = named.image, entry = found, platform = self.opts.platform },
      decl.loc)
    st.cfg = imgconfig.copy((cfg or {}).config or {})
    return "FROM " .. (found.ref_display or named.image)
  end
  st.state = state.new("from", nil, { image = "scratch", platform = self.opts.platform }, decl.loc)
  st.state = state.new("copy", st.state, { sources = { "." }, dest = "/", context = named.context,
    history = "COPY . /" }, decl.loc)
  st.state.label = "[context " .. named.name .. "] COPY . /"
  st.cfg = imgconfig.scratch(self.opts.platform).config
  return nil
end

function Compiler:find_stage(name)
  local lname = name:lower()
  for i, st in ipairs(self.stages) do
    if st.name == lname then
      return i
    end
  end
  local n = name:match "^%d+$" and tonumber(name)
  if n and self.stages[n + 1] then
    return n + 1
  end
  return nil
end

--- Move stage st (M.stage) on by one typed instruction (dockerfile/instructions.lua's shape,
--- with loc): st.state becomes the instruction's state, and st's config and ARGs follow.
--- Errors are raised at instr.loc, or at the offending word of a parsed instruction.
function M.apply(st, instr)
  local f = dispatch[instr.kind]
  if not f then
    errors.raise_at(instr.loc, "%s is not supported yet", instr.kind)
  end
  f(st, instr)
end

-- Dispatch one instruction of a stage and label its step for the progress output.
local function run_instr(st, instr)
  local before = st.state
  M.apply(st, instr)
  if st.state ~= before and st.state.label and not st.state.label:match "^%[" then
    st.state.label = string.format("[%s%d/%d] %s", st.prefix, st.step, st.total, st.state.label)
  end
end

-- The base image's ONBUILD triggers run right after FROM, each parsed as an instruction
-- (BuildKit); the new image does not inherit them.
local function run_triggers(st, decl, triggers)
  for _, text in ipairs(triggers) do
    local ok, ast = pcall(parser.parse, text, { file = decl.loc.file, escape = st.escape })
    if not ok then
      errors.raise_at(decl.loc, "failed to parse ONBUILD trigger %q of the base image: %s", text,
        errors.is(ast) and ast.msg or tostring(ast))
    end
    for _, node in ipairs(ast.children) do
      node.loc = decl.loc -- errors point at the FROM line that pulled the trigger in
      local instr = instructions.parse_instruction(node)
      if instr.kind == "FROM" or instr.kind == "ONBUILD" or instr.kind == "MAINTAINER" then
        errors.raise_at(decl.loc, "%s isn't allowed as an ONBUILD trigger", instr.kind)
      end
      st.total = st.total + ((instr.kind == "RUN" or instr.kind == "COPY" or instr.kind == "ADD") and 1 or 0)
      run_instr(st, instr)
    end
  end
end

--- Set up a new stage st (st.state its first state, st.cfg its base config, changed in place)
--- as BuildKit does: PATH is always set, and the base's ONBUILD triggers are taken out (and
--- returned, for the caller to run or not).  st.base_set is what that added (nil when nothing):
--- the first config change carries it, and on an image base (not from_stage) the solver
--- applies it to the base config, without history.
function M.on_base(st, from_stage)
  local cfg = st.cfg
  local set = {}
  cfg.Env = cfg.Env or json.array {}
  if imgconfig.env_map(cfg.Env).PATH == nil then
    -- BuildKit: "make sure that PATH is always set", without a history entry
    cfg.Env = imgconfig.env_set(cfg.Env, "PATH", imgconfig.DEFAULT_PATH)
    set.Env = cfg.Env
  end
  local triggers = cfg.OnBuild
  if triggers and #triggers > 0 then
    cfg.OnBuild = nil
    set.OnBuild = json.null
  end
  if not from_stage and next(set) then
    st.state.args.set = imgconfig.copy(set)
  end
  st.base_set = next(set) and set or nil
  return triggers
end

--- Compile stage idx (once; its dependencies first).  loc: where it is needed from (for cycles).
function Compiler:compile_stage(idx, loc)
  if self.compiled[idx] then
    return self.compiled[idx]
  end
  local decl = self.stages[idx]
  if self.visiting[idx] then
    errors.raise_at(loc or decl.loc, "circular dependency detected on stage: %s",
      decl.name or tostring(idx - 1))
  end
  self.visiting[idx] = true
  local outer = lint.stage
  lint.stage = nil -- FROM lines have their own check (UndefinedArgInFrom)
  local base = expand(decl.base, self.meta, decl.from, self.escape)
  if base == "" then
    errors.raise_at(decl.loc, "base name (%s) should not be blank", decl.base)
  end
  if decl.platform and decl.platform ~= "" and self.opts.platform then
    -- builds run on this machine's kernel without emulation: only its platform can be built
    local want = expand(decl.platform, self.meta, decl.from, self.escape)
    local p, perr = imgconfig.parse_platform(want)
    if not p then
      errors.raise_at(at_word(decl.from, "--platform=" .. decl.platform), "%s", perr)
    end
    local host = imgconfig.platform_string(self.opts.platform)
    if imgconfig.platform_string(p) ~= host and not (p.architecture == self.opts.platform.architecture
        and p.os == self.opts.platform.os and p.variant == nil) then
      errors.raise_at(at_word(decl.from, "--platform=" .. decl.platform),
        "FROM --platform=%s: only the host platform (%s) can be built here (no emulation)", want, host)
    end
  end
  local st = M.stage { args = {}, arg_order = {}, declared = {}, meta = self.meta,
    build_args = self.build_args, used_args = self.used_args, escape = self.escape, step = 0,
    cmd_set = false, compiler = self }
  local from_label = "FROM " .. base
  local parent_idx = self:find_stage(base)
  local from_stage = parent_idx and self.stages[parent_idx].name == base:lower()
  if from_stage and parent_idx >= idx then
    from_stage = false -- a later stage's name is an image name here, as in BuildKit
  end
  -- --build-context NAME=...: replaces the stage named NAME, or the base image named NAME
  local named = (decl.name and self:named_context(decl.name)) or (not from_stage and self:named_context(base))
  if named then
    from_stage = false
    from_label = self:named_base(st, named, decl)
    if decl.name and named == self:named_context(decl.name) then
      self.visiting[idx] = nil
      st.total, st.step, st.prefix = 1, 1, ""
      self.compiled[idx] = st
      lint.stage = outer
      return st -- the stage's own instructions are not run, as BuildKit
    end
  elseif from_stage then
    local parent = self:compile_stage(parent_idx, decl.loc)
    st.state = parent.state
    st.cfg = imgconfig.copy(parent.cfg)
  elseif base:lower() == "scratch" then
    st.state = state.new("from", nil, { image = "scratch", platform = self.opts.platform }, decl.loc)
    st.cfg = imgconfig.scratch(self.opts.platform).config
  else
    local found, cfg = self.opts.resolve_image(base, decl.loc)
    st.state = state.new("from", nil, { image = base, entry = found, platform = self.opts.platform },
      decl.loc)
    st.cfg = imgconfig.copy((cfg or {}).config or {})
    from_label = "FROM " .. (found.ref_display or base)
    st.unknown_base = found.unknown
  end
  lint.stage = st
  local triggers = M.on_base(st, from_stage)
  st.total = 1
  for _, instr in ipairs(decl.commands) do
    if instr.kind == "RUN" or instr.kind == "COPY" or instr.kind == "ADD" then
      st.total = st.total + 1
    end
  end
  st.prefix = #self.stages > 1 and ((decl.name or ("stage-" .. (idx - 1))) .. " ") or ""
  local nocache = self.opts.no_cache_filter
  st.no_cache = nocache and (nocache[decl.name or ""] or nocache[tostring(idx - 1)]) or nil
  if not from_stage and from_label then
    st.state.label = string.format("[%s1/%d] %s", st.prefix, st.total, from_label)
  end
  st.step = 1
  if triggers and #triggers > 0 then
    run_triggers(st, decl, triggers)
  end
  for _, instr in ipairs(decl.commands) do
    run_instr(st, instr)
  end
  self.visiting[idx] = nil
  self.compiled[idx] = st
  lint.stage = outer
  return st
end

--- Compile parsed instructions ({meta_args, stages}) to a state.
--- opts: build_args (name -> value), target (stage name), platform, predefined (args),
--- resolve_image(name, loc) -> entry, config, escape, file; named_contexts (build
--- --build-context), no_cache_filter ({stage name or index = true}: its steps skip the cache).
--- Returns the target's state and the sorted list of build args nothing used (docker's
--- warning; the predefined proxy args are never reported).
function M.compile(parsed, opts)
  local self = setmetatable({ opts = opts, stages = parsed.stages, compiled = {}, visiting = {},
    build_args = opts.build_args or {}, used_args = {}, escape = opts.escape or "\\" }, Compiler)
  if #self.stages == 0 then
    errors.raise_at({ file = opts.file }, "the Dockerfile has no FROM instruction")
  end
  self.meta = meta_args(self, parsed)
  local idx = #self.stages
  if opts.target then
    idx = nil
    for i, s in ipairs(self.stages) do
      if s.name and s.name == opts.target:lower() then
        idx = i
      end
    end
    if not idx then
      local names = {}
      for _, s in ipairs(self.stages) do
        names[#names + 1] = s.name
      end
      local hint = instructions.suggest(opts.target, names)
      errors.raise("target stage %q could not be found%s", opts.target,
        hint and (" (did you mean " .. hint .. "?)") or "")
    end
  end
  lint.on_undefined, lint.stage = opts.on_undefined, nil
  local ok, st = pcall(function()
    if opts.all_stages then
      for i = 1, #self.stages do
        self:compile_stage(i)
      end
    end
    return self:compile_stage(idx)
  end)
  lint.on_undefined, lint.stage = nil, nil
  if not ok then
    error(st, 0)
  end
  -- the image's own author line comes from the last MAINTAINER
  st.state.author = st.author
  local unused = {}
  for k in pairs(self.build_args) do
    if not self.used_args[k] and not is_proxy[k] and not (opts.predefined or {})[k] then
      unused[#unused + 1] = k
    end
  end
  table.sort(unused)
  return st.state, unused
end

return M
