-- The frontend: parsed Dockerfile -> build states.  Base images come from a table of configs
-- (what the image store would hand back); nothing is built here.
local frontend = require "cbuild.dockerfile.frontend"
local parser = require "cbuild.dockerfile.parser"
local instructions = require "cbuild.dockerfile.instructions"
local errors = require "cbuild.errors"
local json = require "cbuild.core.json"

local IMAGES = {
  base = { config = { Env = { "PATH=/bin" }, OnBuild = { "ENV A=1", "LABEL x=$A", "COPY f /g" } } },
  plain = { config = { Env = { "PATH=/bin" }, Cmd = { "sh" } } },
  nopath = { config = { User = "nobody" } },
}

local function compile(text, opts)
  opts = opts or {}
  local ast = parser.parse(text, { file = "Dockerfile" })
  local parsed = instructions.parse(ast, { file = "Dockerfile" })
  local looked = {}
  opts.file = "Dockerfile"
  opts.escape = ast.escape
  opts.platform = { os = "linux", architecture = "amd64" }
  opts.resolve_image = function(name, loc)
    looked[#looked + 1] = name
    local img = IMAGES[name]
    if not img then
      errors.raise_at(loc, "FROM: image %q not found", name)
    end
    return { ref_display = name }, json.decode(json.encode(img))
  end
  local st, unused = frontend.compile(parsed, opts)
  return st, unused, looked
end

-- The config an image built from state would have (config ops applied in order).
local function config_of(st)
  local cfg = {}
  for _, s in ipairs(st:chain()) do
    for k, v in pairs(s.args.set or {}) do
      cfg[k] = v ~= json.null and v or nil
    end
  end
  return cfg
end

local function find_op(st, op)
  local out = {}
  for _, s in ipairs(st:chain()) do
    if s.op == op then
      out[#out + 1] = s
    end
  end
  return out
end

local function fails(text, pattern, opts)
  local ok, e = pcall(compile, text, opts)
  assert.is_false(ok)
  assert.is_true(errors.is(e), tostring(e))
  assert.matches(pattern, tostring(e), 1, true)
  return e
end

describe("frontend", function()
  it("runs the base image's ONBUILD triggers after FROM and clears OnBuild", function()
    local st = compile "FROM base\nLABEL y=2\n"
    local cfg = config_of(st)
    assert.are.same({ "PATH=/bin", "A=1" }, cfg.Env)
    assert.are.same({ x = "1", y = "2" }, cfg.Labels)
    assert.is_nil(cfg.OnBuild)
    local copies = find_op(st, "copy")
    assert.are.equal(1, #copies)
    assert.are.same({ "f" }, copies[1].args.sources)
    assert.are.equal(json.null, st:chain()[1].args.set.OnBuild)
  end)

  it("always sets PATH after FROM", function()
    local st = compile "FROM nopath\nCOPY a /b\n"
    local from = st:chain()[1]
    assert.are.same({ "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" }, from.args.set.Env)
  end)

  it("gives COPY heredocs as files, expanded unless the delimiter is quoted", function()
    local st = compile "FROM scratch\nARG V=x\nCOPY <<EOF <<'RAW' /etc/\nv=$V \"q\"\nEOF\nv=$V\nRAW\n"
    local a = st.args
    assert.are.same({}, a.sources)
    assert.are.same({
      { name = "EOF", content = 'v=x "q"\n', dest = "/etc/EOF" },
      { name = "RAW", content = "v=$V\n", dest = "/etc/RAW" },
    }, a.heredocs)
    assert.matches("COPY <<EOF <<RAW /etc/ # buildkit", a.history, 1, true)
    st = compile "FROM scratch\nWORKDIR /w\nCOPY --chmod=755 <<-EOF run.sh\n\techo hi\n\tEOF\n"
    assert.are.same({ { name = "EOF", content = "echo hi\n", dest = "/w/run.sh" } }, st.args.heredocs)
    assert.are.equal(493, st.args.chmod)
  end)

  it("passes RUN heredocs, the stage ARGs in history and the proxy args", function()
    local st = compile("FROM scratch\nARG A=1\nENV A=2\nARG B\nRUN <<EOF\necho $HTTP_PROXY\nEOF\n",
      { build_args = { HTTP_PROXY = "http://p:3128", B = "b" } })
    assert.are.equal("run", st.op)
    assert.are.same({ HTTP_PROXY = "http://p:3128" }, st.args.proxy)
    assert.are.equal("echo $HTTP_PROXY\n", st.args.heredocs[1].content)
    assert.are.equal("RUN |2 A=2 B=b /bin/sh -c <<EOF # buildkit", st.args.history:gsub("\n.*EOF", ""))
    assert.not_matches("PROXY", st.args.history)
  end)

  it("compiles COPY --from a stage by name or index, or names an image", function()
    local text = "FROM scratch AS one\nCOPY a /a\nFROM plain AS two\nCOPY b /b\nFROM scratch\n"
      .. "COPY --from=one /a /x\nCOPY --from=1 /b /y\nCOPY --from=plain /etc /z\n"
    local st = compile(text)
    local copies = find_op(st, "copy")
    assert.are.equal(3, #copies)
    assert.are.same({ "a" }, copies[1].args.from.args.sources)
    assert.are.same({ "b" }, copies[2].args.from.args.sources)
    assert.are.equal("plain", copies[3].args.from_image)
    assert.matches("COPY --from=one /a /x # buildkit", copies[1].args.history, 1, true)
  end)

  it("compiles only the stages the target needs", function()
    local text = "FROM missing-image AS unused\nFROM scratch AS a\nLABEL a=1\nFROM a AS b\nLABEL b=1\n"
      .. "FROM missing-too\n"
    local st, _, looked = compile(text, { target = "b" })
    assert.are.same({ a = "1", b = "1" }, config_of(st).Labels)
    assert.are.same({}, looked)
    fails(text, 'FROM: image "missing-too" not found')
    fails(text, 'target stage "c" could not be found', { target = "c" })
    fails(text, "(did you mean a?)", { target = "A1" })
  end)

  it("reports a cycle of stages", function()
    fails("FROM scratch AS a\nCOPY --from=b /x /x\nFROM scratch AS b\nCOPY --from=a /y /y\n",
      "circular dependency detected on stage: b")
    fails("FROM scratch\nCOPY --from=0 /x /x\n", "circular dependency detected on stage: 0")
  end)

  it("warns about unused build args but never about the proxy args", function()
    local _, unused = compile("ARG G\nFROM scratch\nARG USED\n",
      { build_args = { USED = "1", G = "2", NOPE = "3", HTTPS_PROXY = "x" } })
    assert.are.same({ "NOPE" }, unused)
  end)

  it("scopes TARGET*/BUILD* args like BuildKit: global, and in a stage once declared", function()
    local st = compile("FROM scratch\nLABEL a=x$TARGETARCH\nARG TARGETARCH\nLABEL b=$TARGETARCH\n",
      { predefined = { TARGETARCH = "amd64" } })
    assert.are.same({ a = "x", b = "amd64" }, config_of(st).Labels)
  end)

  it("applies one typed instruction to a stage; a literal stage (recipes) takes values as written", function()
    local loc = { file = "recipe.lua", line = 3 }
    local root = require("cbuild.build.state").new("from", nil, { image = "scratch" }, loc)
    local st = frontend.stage { state = root, cfg = { Env = json.array { "A=1" } }, args = {}, arg_order = {},
      declared = {}, meta = {}, build_args = {}, used_args = {}, cmd_set = false, step = 1, escape = "\\" }
    frontend.apply(st, { kind = "ENV", loc = loc, pairs = { { key = "B", value = "$A" } } })
    assert.are.same({ "A=1", "B=1" }, st.cfg.Env)
    assert.are.equal(root, st.state.parent)
    assert.are.equal("ENV B=1", st.state.args.history)
    st.literal = true
    frontend.apply(st, { kind = "ENV", loc = loc, pairs = { { key = "C", value = "$A" } } })
    assert.are.same({ "A=1", "B=1", "C=$A" }, st.cfg.Env)
    local ok, e = pcall(frontend.apply, st, { kind = "EXPOSE", loc = loc, ports = { "eighty" } })
    assert.is_false(ok)
    assert.are.equal("recipe.lua:3: invalid containerPort: eighty", tostring(e))
  end)

  it("sets a stage on its base: PATH always set, ONBUILD triggers taken out", function()
    local root = require("cbuild.build.state").new("from", nil, { image = "base" }, nil)
    local st = { state = root, cfg = { OnBuild = { "RUN x" } } }
    assert.are.same({ "RUN x" }, frontend.on_base(st, false))
    assert.is_nil(st.cfg.OnBuild)
    assert.matches("^PATH=", st.cfg.Env[1])
    assert.are.same({ Env = st.cfg.Env, OnBuild = json.null }, st.base_set)
    assert.are.same(st.base_set, root.args.set)
    st = { state = root, cfg = { Env = { "PATH=/bin" } } }
    assert.is_nil(frontend.on_base(st, true))
    assert.is_nil(st.base_set)
  end)
end)
