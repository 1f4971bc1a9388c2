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

local M = {}

local function expand(word, env, loc, escape)
  local ok, r, err = pcall(shell.process_word, word, env, { escape = escape })
  if not ok or r == nil then
    errors.raise_at(loc, "%s", tostring(ok and err or r):gsub("^.-:%d+: ", ""))
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

local function json_list(list)
  return json.encode(json.array(list))
end

local Stage = {}
Stage.__index = Stage

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

function Stage:push(op, args, instr, label)
  self.state = state.new(op, self.state, args, instr.loc)
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
  local vars = self:vars()
  local env = self.cfg.Env
  local words = {}
  for _, p in ipairs(instr.pairs) do
    local k = expand(p.key, vars, instr.loc, self.escape)
    local v = expand(p.value, vars, instr.loc, self.escape)
    env = imgconfig.env_set(env, k, v)
    words[#words + 1] = k .. "=" .. v
  end
  self:set(instr, { Env = env }, "ENV " .. table.concat(words, " "))
end

function dispatch.LABEL(self, instr)
  local vars = self:vars()
  local labels = imgconfig.copy(self.cfg.Labels) or {}
  local words = {}
  for _, p in ipairs(instr.pairs) do
    local k = expand(p.key, vars, instr.loc, self.escape)
    local v = expand(p.value, vars, instr.loc, self.escape)
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
      value = expand(a.value, self:vars(), instr.loc, self.escape)
    elseif self.meta[key] ~= nil then
      value = self.meta[key] -- a global ARG redeclared without a value takes its value
    end
    self.args[key] = value or ""
    if value == nil then
      self.args[key] = nil
      self.declared[key] = true
    end
  end
end

function dispatch.CMD(self, instr)
  local cmd = shell_cmd(self, instr)
  self.cmd_set = true
  local text = instr.prepend_shell and go_list(cmd) or go_list(cmd)
  self:set(instr, { Cmd = cmd }, "CMD " .. text)
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
  local path = expand(instr.path, self:vars(), instr.loc, self.escape)
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
  local user = expand(instr.user, self:vars(), instr.loc, self.escape)
  self:set(instr, { User = user }, "USER " .. user)
end

local function expand_ports(instr, spec)
  local port, proto = spec:match "^([^/]+)/?(.*)$"
  proto = (proto == "" and "tcp" or proto):lower()
  if proto ~= "tcp" and proto ~= "udp" and proto ~= "sctp" then
    errors.raise_at(instr.loc, "invalid proto: %s", proto)
  end
  local lo, hi = port:match "^(%d+)%-(%d+)$"
  if not lo then
    lo = port:match "^(%d+)$"
    hi = lo
  end
  lo, hi = tonumber(lo), tonumber(hi)
  if not lo or lo < 1 or hi > 65535 or hi < lo then
    errors.raise_at(instr.loc, "invalid containerPort: %s", port)
  end
  local out = {}
  for p = lo, hi do
    out[#out + 1] = p .. "/" .. proto
  end
  return out
end

function dispatch.EXPOSE(self, instr)
  local vars = self:vars()
  local ports = imgconfig.copy(self.cfg.ExposedPorts) or {}
  local words = {}
  for _, raw in ipairs(instr.ports) do
    local spec = expand(raw, vars, instr.loc, self.escape)
    for _, p in ipairs(expand_ports(instr, spec)) do
      ports[p] = json.object {}
      words[#words + 1] = p
    end
  end
  self:set(instr, { ExposedPorts = json.object(ports) }, "EXPOSE " .. go_list(words):gsub('"', ""))
end

function dispatch.VOLUME(self, instr)
  local vars = self:vars()
  local vols = imgconfig.copy(self.cfg.Volumes) or {}
  local words = {}
  for _, raw in ipairs(instr.volumes) do
    local v = expand(raw, vars, instr.loc, self.escape)
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
  local sig = expand(instr.signal, self:vars(), instr.loc, self.escape)
  if not valid_signal(sig) then
    errors.raise_at(instr.loc, "invalid signal: %s", sig)
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
  local who = expand(instr.maintainer, self:vars(), instr.loc, self.escape)
  self.author = who
  self:push("config", { set = {}, author = who, history = "MAINTAINER " .. who }, instr)
end

local function parse_chown(self, instr, raw)
  local spec = expand(raw, self:vars(), instr.loc, self.escape)
  local u, g = spec:match "^([^:]*):?(.*)$"
  local uid, gid = tonumber(u), tonumber(g ~= "" and g or u)
  if uid and gid and uid == math.floor(uid) and gid == math.floor(gid) then
    return { uid = math.tointeger(uid), gid = math.tointeger(gid) }
  end
  -- names need the image's /etc/passwd and /etc/group, which only the snapshot can read
  return { user = u, group = g ~= "" and g or nil, spec = spec }
end

local function copy_like(self, instr, add)
  local vars = self:vars()
  if instr.from then
    errors.raise_at(instr.loc, "%s --from is not supported yet (it needs the snapshotter)",
      add and "ADD" or "COPY")
  end
  if instr.heredocs and #instr.heredocs > 0 then
    errors.raise_at(instr.loc, "%s with a heredoc source is not supported yet", add and "ADD" or "COPY")
  end
  local sources = {}
  for i, s in ipairs(instr.sources) do
    sources[i] = expand(s, vars, instr.loc, self.escape)
    if add and sources[i]:match "^%a[%w+.-]*://" then
      errors.raise_at(instr.loc, "ADD from a URL is not supported yet: '%s'", sources[i])
    end
  end
  local dest = expand(instr.dest, vars, instr.loc, self.escape)
  local trailing = dest:match "/%.?$" or dest == "." or dest == ""
  if dest:sub(1, 1) ~= "/" then
    dest = (self.cfg.WorkingDir or "/") .. "/" .. dest
  end
  if trailing and not dest:match "/$" then
    dest = dest .. "/"
  end
  local args = { sources = sources, dest = dest, add = add }
  if instr.chown and instr.chown ~= "" then
    args.chown = parse_chown(self, instr, instr.chown)
    if not args.chown.uid then
      errors.raise_at(instr.loc, "unable to convert uid/gid chown string to host mapping: " ..
        "user names in --chown are not supported yet (%s)", args.chown.spec)
    end
  end
  if instr.chmod and instr.chmod ~= "" then
    local m = expand(instr.chmod, vars, instr.loc, self.escape)
    if not m:match "^[0-7]+$" or #m > 4 then
      errors.raise_at(instr.loc, "invalid chmod parameter: '%s'", m)
    end
    args.chmod = tonumber(m, 8)
  end
  local verb = add and "ADD" or "COPY"
  local flags = {}
  if instr.chown and instr.chown ~= "" then
    flags[#flags + 1] = "--chown=" .. instr.chown .. " "
  end
  if instr.chmod and instr.chmod ~= "" then
    flags[#flags + 1] = "--chmod=" .. instr.chmod .. " "
  end
  args.history = string.format("%s %s%s %s # buildkit", verb, table.concat(flags),
    table.concat(sources, " "), instr.dest)
  self:push("copy", args, instr, string.format("%s %s %s", verb, table.concat(instr.sources, " "), instr.dest))
end

function dispatch.COPY(self, instr)
  copy_like(self, instr, false)
end

function dispatch.ADD(self, instr)
  copy_like(self, instr, true)
end

function dispatch.RUN(self, instr)
  local cmd = shell_cmd(self, instr)
  self:push("run", { cmd = cmd, instr = instr, env = self.cfg.Env, args = self.args,
    history = "RUN " .. table.concat(cmd, " ") .. " # buildkit" }, instr,
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
        v = expand(a.value, meta, instr.loc, self.escape)
      end
      meta[a.key] = v
    end
  end
  return meta
end

local function find_stage(self, name)
  local lname = name:lower()
  for i, st in ipairs(self.stages) do
    if st.name == lname then
      return i
    end
  end
  local n = tonumber(name)
  if n and self.stages[n + 1] then
    return n + 1
  end
  return nil
end

local function compile_stage(self, idx)
  if self.compiled[idx] then
    return self.compiled[idx]
  end
  if self.visiting[idx] then
    errors.raise_at(self.stages[idx].loc, "circular dependency detected on stage: %s",
      self.stages[idx].name or tostring(idx - 1))
  end
  self.visiting[idx] = true
  local decl = self.stages[idx]
  local base = expand(decl.base, self.meta, decl.loc, self.escape)
  local st = setmetatable({ args = {}, declared = {}, meta = self.meta, build_args = self.build_args,
    used_args = self.used_args, escape = self.escape, step = 0, cmd_set = false }, Stage)
  local from_label = "FROM " .. base
  local parent_idx = find_stage(self, base)
  if parent_idx and parent_idx < idx and self.stages[parent_idx].name == base:lower() then
    local parent = compile_stage(self, parent_idx)
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
    from_label = "FROM " .. found.ref_display
  end
  st.state.label = st.state.label or from_label
  st.cfg.Env = st.cfg.Env or json.array {}
  if imgconfig.env_map(st.cfg.Env).PATH == nil then
    -- BuildKit: "make sure that PATH is always set", without a history entry
    st.cfg.Env = imgconfig.env_set(st.cfg.Env, "PATH", imgconfig.DEFAULT_PATH)
    st.state.args.set = { Env = st.cfg.Env }
    st.base_set = { Env = st.cfg.Env }
  end
  local total = 1
  for _, instr in ipairs(decl.commands) do
    if instr.kind == "RUN" or instr.kind == "COPY" or instr.kind == "ADD" then
      total = total + 1
    end
  end
  local prefix = #self.stages > 1 and ((decl.name or ("stage-" .. (idx - 1))) .. " ") or ""
  st.state.label = string.format("[%s1/%d] %s", prefix, total, from_label)
  st.step = 1
  for _, instr in ipairs(decl.commands) do
    local f = dispatch[instr.kind]
    if not f then
      errors.raise_at(instr.loc, "%s is not supported yet", instr.kind)
    end
    f(st, instr)
    if st.state.label and not st.state.label:match "^%[" then
      st.state.label = string.format("[%s%d/%d] %s", prefix, st.step, total, st.state.label)
    end
  end
  self.visiting[idx] = nil
  self.compiled[idx] = st
  return st
end

--- Compile parsed instructions ({meta_args, stages}) to a state.
--- opts: build_args (name -> value), target (stage name), platform, predefined (args),
--- resolve_image(name, loc) -> entry, config, escape.
--- Returns the target's state and the list of build args that nothing used.
function M.compile(parsed, opts)
  local self = setmetatable({ opts = opts, stages = parsed.stages, compiled = {}, visiting = {},
    build_args = opts.build_args or {}, used_args = {}, escape = opts.escape or "\\" }, Compiler)
  if #self.stages == 0 then
    errors.raise_at({ file = opts.file }, "the Dockerfile has no FROM instruction")
  end
  self.meta = meta_args(self, parsed)
  local idx = #self.stages
  if opts.target then
    idx = find_stage(self, opts.target)
    if not idx or self.stages[idx].name ~= opts.target:lower() then
      errors.raise("target stage %q could not be found", opts.target)
    end
  end
  local st = compile_stage(self, idx)
  -- the image's own author line comes from the last MAINTAINER
  st.state.author = st.author
  local unused = {}
  for k in pairs(self.build_args) do
    if not self.used_args[k] then
      unused[#unused + 1] = k
    end
  end
  table.sort(unused)
  return st.state, unused
end

return M
