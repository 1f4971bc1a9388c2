-- Build checks: docker's Dockerfile lint rules (BuildKit's frontend/dockerfile/linter), with
-- BuildKit's rule names and messages, honouring the `# check=skip=...;error=true` directive.
--
--   r = lint.run(text, {file=, build_args=, predefined=, resolve_image=})
--   r = {warnings = {{rule=, msg=, description=, loc={file, line, col, len, text}}...},
--        error = bool (check=error=true), skip_all = bool, failure = <cbuild error> | nil}
-- failure: the error compiling the Dockerfile would raise (a build would stop there).
--
-- Parse and semantic errors are raised as usual (cbuild.errors objects).
local errors = require "cbuild.errors"
local parser = require "cbuild.dockerfile.parser"
local instructions = require "cbuild.dockerfile.instructions"
local shell = require "cbuild.dockerfile.shell"

local M = {}

--- Rule name -> one-line description (BuildKit's Description, without the URL).
M.RULES = {
  StageNameCasing = "Stage names should be lowercase",
  FromAsCasing = "The 'as' keyword should match the case of the 'from' keyword",
  NoEmptyContinuation = "Empty continuation lines will become errors in a future release",
  ConsistentInstructionCasing = "All commands within the Dockerfile should use the same casing "
    .. "(either upper or lower)",
  DuplicateStageName = "Stage names should be unique",
  ReservedStageName = "Reserved words should not be used as stage names",
  JSONArgsRecommended = "JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior "
    .. "related to OS signals",
  MaintainerDeprecated = "The MAINTAINER instruction is deprecated, use a label instead to define an image author",
  UndefinedArgInFrom = "FROM command must use declared ARGs",
  WorkdirRelativePath = "Relative workdir without an absolute workdir declared within the build can have "
    .. "unexpected results if the base image changes",
  UndefinedVar = "Variables should be defined before their use",
  MultipleInstructionsDisallowed = "Multiple instructions of the same type should not be used in the same stage",
  LegacyKeyValueFormat = "Legacy key/value format with whitespace separator should not be used",
  RedundantTargetPlatform = "Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the "
    .. "default behavior",
  SecretsUsedInArgOrEnv = "Sensitive data should not be used in the ARG or ENV commands",
  InvalidDefaultArgInFrom = "Default value for global ARG results in an empty or invalid base image name",
  FromPlatformFlagConstDisallowed = "FROM --platform flag should not use a constant value",
  ExposeProtoCasing = "Protocol in EXPOSE instruction should be lowercase",
}

--- Parse a `# check=` directive value (BuildKit's ParseLintOptions): returns {skip = {rule=true},
-- skip_all, error}, or nil, msg.
function M.parse_check(s)
  local cfg = { skip = {}, skip_all = false, error = false }
  s = (s or ""):match "^%s*(.-)%s*$"
  if s == "" then
    return cfg
  end
  local parts
  local semi = s:find(";", 1, true)
  if semi then
    parts = { s:sub(1, semi - 1), s:sub(semi + 1) }
  else
    parts = { s }
  end
  for _, p in ipairs(parts) do
    local k, v = p:match "^([^=]*)=(.*)$"
    if not k then
      return nil, string.format("invalid check option %q", p)
    end
    k, v = k:match "^%s*(.-)%s*$", v:match "^%s*(.-)%s*$"
    if k == "skip" then
      if v == "all" then
        cfg.skip_all = true
      else
        for rule in (v .. ","):gmatch "([^,]*)," do
          cfg.skip[rule:match "^%s*(.-)%s*$"] = true
        end
      end
    elseif k == "error" then
      local b = ({ ["1"] = true, t = true, T = true, TRUE = true, ["true"] = true, True = true,
        ["0"] = false, f = false, F = false, FALSE = false, ["false"] = false, False = false })[v]
      if b == nil then
        return nil, string.format('failed to parse check option "%s": strconv.ParseBool: parsing "%s": invalid syntax',
          p, v)
      end
      cfg.error = b
    else
      return nil, string.format("invalid check option %q", k)
    end
  end
  return cfg
end

local function self_consistent(s)
  return s == s:lower() or s == s:upper()
end

-- The secret-looking names BuildKit flags (its secretsRegexp, and the allow list).
local SECRET_WORDS = {
  apikey = true, auth = true, credential = true, credentials = true, key = true, password = true,
  pass = true, pword = true, passwd = true, secret = true, token = true,
}
local function looks_secret(name)
  local lname = name:lower()
  for w in lname:gmatch "[^_]+" do
    if w == "public" then
      return false
    end
  end
  for w in lname:gmatch "[^_]+" do
    if SECRET_WORDS[w] then
      return true
    end
  end
  return false
end

local function keys_of(t)
  local out = {}
  for k in pairs(t) do
    out[#out + 1] = k
  end
  table.sort(out)
  return out
end

-- The static rules, on the parsed Dockerfile.
local function static_rules(ast, parsed, warn, opts)
  for _, w in ipairs(ast.warnings or {}) do
    warn("NoEmptyContinuation", "Empty continuation line", { file = opts.file, line = w.line })
  end

  -- ConsistentInstructionCasing, over the stages' instructions (the meta ARGs do not count)
  local lower, upper = 0, 0
  local function count(word)
    if self_consistent(word) then
      if word == word:lower() then
        lower = lower + 1
      else
        upper = upper + 1
      end
    end
  end
  for _, st in ipairs(parsed.stages) do
    count(st.node.value)
    for _, c in ipairs(st.commands) do
      count(c.node.value)
    end
  end
  local majority_lower = lower > upper
  local function casing(word, loc)
    local want
    if majority_lower and word:lower() ~= word then
      want = "lowercase"
    elseif not majority_lower and word:upper() ~= word then
      want = "uppercase"
    end
    if want then
      warn("ConsistentInstructionCasing",
        string.format("Command '%s' should match the case of the command majority (%s)", word, want), loc)
    end
  end

  local meta_declared = {}
  for k in pairs(opts.predefined or {}) do
    meta_declared[k] = ""
  end
  for _, a in ipairs(parsed.meta_args) do
    for _, kv in ipairs(a.args) do
      meta_declared[kv.key] = kv.value or meta_declared[kv.key] or false
    end
  end

  local seen_names = {}
  for _, st in ipairs(parsed.stages) do
    local from = st.from
    local loc = st.loc
    casing(st.node.value, loc)
    local as_word = from.as_keyword
    if as_word then
      local fw = st.node.value
      if (fw == fw:upper() and as_word ~= as_word:upper()) or (fw == fw:lower() and as_word ~= as_word:lower()) then
        warn("FromAsCasing", string.format("'%s' and '%s' keywords' casing do not match", as_word, fw), loc)
      end
      local raw = st.node.args[3]
      if raw ~= raw:lower() then
        warn("StageNameCasing", string.format("Stage name '%s' should be lowercase", raw), loc)
      end
      if seen_names[st.name] then
        warn("DuplicateStageName", string.format("Duplicate stage name %q, stage names should be unique", st.name),
          loc)
      end
      seen_names[st.name] = true
      if st.name == "scratch" or st.name == "context" then
        warn("ReservedStageName",
          string.format("Stage name should not use the same name as reserved stage %q", st.name), loc)
      end
    end
    -- FROM: undeclared args, empty defaults, --platform
    local env = {}
    for k, v in pairs(meta_declared) do
      env[k] = v or ""
    end
    local ok, _, unmatched = pcall(shell.process_word, st.base, env, { escape = ast.escape })
    if ok and type(unmatched) == "table" then
      for _, name in ipairs(keys_of(unmatched)) do
        local hint = instructions.suggest(name, keys_of(meta_declared))
        warn("UndefinedArgInFrom", string.format("FROM argument '%s' is not declared%s", name,
          hint and (" (did you mean " .. hint .. "?)") or ""), loc)
      end
    end
    if st.base:find("$", 1, true) then
      local defaults = {}
      for k, v in pairs(meta_declared) do
        defaults[k] = v or ""
      end
      local ok2, value = pcall(shell.process_word, st.base, defaults, { escape = ast.escape })
      if ok2 and value and (value == "" or value:match "^:" or value:match ":$" or value:match "^@") then
        warn("InvalidDefaultArgInFrom",
          string.format("Default value for ARG %s results in empty or invalid base image name", st.base), loc)
      end
    end
    local platform = from.platform
    if platform then
      if platform == "$TARGETPLATFORM" or platform == "${TARGETPLATFORM}" then
        warn("RedundantTargetPlatform", string.format("Setting platform to predefined %s in FROM is redundant "
          .. "as this is the default behavior", platform), loc)
      elseif not platform:find("$", 1, true) and not (st.name and st.name:find(platform:gsub("/", "-"), 1, true)) then
        warn("FromPlatformFlagConstDisallowed",
          string.format("FROM --platform flag should not use constant value %q", platform), loc)
      end
    end

    local abs_workdir, has_shell = false, false
    local last = {}
    for _, c in ipairs(st.commands) do
      local kind, cloc = c.kind, c.loc
      casing(c.node.value, cloc)
      if kind == "MAINTAINER" then
        warn("MaintainerDeprecated", "Maintainer instruction is deprecated in favor of using label", cloc)
      elseif kind == "SHELL" then
        has_shell = true
      elseif (kind == "CMD" or kind == "ENTRYPOINT") and c.prepend_shell and not has_shell then
        warn("JSONArgsRecommended", string.format("JSON arguments recommended for %s to prevent unintended "
          .. "behavior related to OS signals", kind), cloc)
      elseif kind == "WORKDIR" then
        if c.path:sub(1, 1) == "/" or c.path:match "^%$" then
          abs_workdir = true
        elseif not abs_workdir then
          warn("WorkdirRelativePath",
            string.format("Relative workdir %q can have unexpected results if the base image changes", c.path), cloc)
        end
      elseif kind == "ENV" or kind == "LABEL" then
        for _, p in ipairs(c.pairs) do
          if p.no_delim then
            warn("LegacyKeyValueFormat", string.format('"%s key=value" should be used instead of legacy '
              .. '"%s key value" format', kind, kind), cloc)
            break
          end
        end
      elseif kind == "EXPOSE" then
        for _, p in ipairs(c.ports) do
          local proto = p:match "/(.*)$"
          if proto and proto ~= proto:lower() then
            warn("ExposeProtoCasing",
              string.format("Defined protocol '%s' in EXPOSE instruction should be lowercase", p), cloc)
          end
        end
      end
      if kind == "ENV" then
        for _, p in ipairs(c.pairs) do
          if looks_secret(p.key) then
            warn("SecretsUsedInArgOrEnv", string.format("Do not use ARG or ENV instructions for sensitive data "
              .. "(ENV %q)", p.key), cloc)
          end
        end
      elseif kind == "ARG" then
        for _, a in ipairs(c.args) do
          if looks_secret(a.key) then
            warn("SecretsUsedInArgOrEnv", string.format("Do not use ARG or ENV instructions for sensitive data "
              .. "(ARG %q)", a.key), cloc)
          end
        end
      end
      if kind == "CMD" or kind == "ENTRYPOINT" or kind == "HEALTHCHECK" then
        if last[kind] then
          warn("MultipleInstructionsDisallowed", string.format("Multiple %s instructions should not be used in "
            .. "the same stage because only the last one will be used", kind), last[kind])
        end
        last[kind] = cloc
      end
    end
  end
end

--- Lint Dockerfile text; see the top of this file.  opts.resolve_image(name, loc) returns
--- entry, config or nil (an image that is not at hand: UndefinedVar is not checked in
--- stages built on it).
function M.run(text, opts)
  opts = opts or {}
  local file = opts.file or "Dockerfile"
  local ast = parser.parse(text, { file = file })
  local cfg, cerr = M.parse_check(ast.directives and ast.directives.check)
  if not cfg then
    errors.raise_at({ file = file, line = 1 }, "%s", cerr)
  end
  local parsed = instructions.parse(ast, { file = file })
  local out = {}
  local seen = {}
  local function warn(rule, msg, loc)
    if cfg.skip_all or cfg.skip[rule] then
      return
    end
    local key = rule .. "\0" .. msg .. "\0" .. tostring(loc and loc.line)
    if seen[key] then
      return
    end
    seen[key] = true
    out[#out + 1] = { rule = rule, msg = msg, description = M.RULES[rule], loc = loc }
  end
  static_rules(ast, parsed, warn, { file = file, predefined = opts.predefined })

  -- UndefinedVar needs the ARG/ENV state: compile every stage, building nothing.
  local frontend = require "cbuild.dockerfile.frontend"
  local ok, failure = pcall(frontend.compile, parsed, {
    file = file, escape = ast.escape, all_stages = true, build_args = opts.build_args or {},
    platform = opts.platform, predefined = opts.predefined,
    resolve_image = function(name, loc)
      local entry, config
      if opts.resolve_image then
        entry, config = opts.resolve_image(name, loc)
      end
      if not entry then
        return { ref_display = name, unknown = true }, { config = {} }
      end
      return entry, config
    end,
    on_undefined = function(name, loc, known)
      local hint = instructions.suggest(name, keys_of(known))
      warn("UndefinedVar", string.format("Usage of undefined variable '$%s'%s", name,
        hint and (" (did you mean $" .. hint .. "?)") or ""), loc)
    end,
  })
  if not ok and not errors.is(failure) then
    error(failure, 0)
  end

  table.sort(out, function(a, b)
    local la, lb = a.loc and a.loc.line or 0, b.loc and b.loc.line or 0
    if la ~= lb then
      return la < lb
    end
    return a.rule < b.rule
  end)
  return { warnings = out, error = cfg.error, skip_all = cfg.skip_all, failure = not ok and failure or nil }
end

--- Print warnings (two lines each: "FILE:LINE: Rule: message" and the description) to f;
--- returns the count.
function M.report(result, f)
  for _, w in ipairs(result.warnings) do
    local where = w.loc and w.loc.line and string.format("%s:%d", w.loc.file, w.loc.line) or (w.loc and w.loc.file)
    f:write(string.format("%s: %s: %s\n  %s\n", where or "Dockerfile", w.rule, w.msg, w.description or ""))
  end
  return #result.warnings
end

return M
