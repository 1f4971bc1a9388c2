-- Recipe states against the Dockerfile frontend: for each instruction, the recipe method must
-- make the very state (op and args) the frontend makes, so both share cache keys.  Base images
-- come from a fake store; nothing is built here.
local frontend = require "cbuild.dockerfile.frontend"
local parser = require "cbuild.dockerfile.parser"
local instructions = require "cbuild.dockerfile.instructions"
local errors = require "cbuild.errors"
local json = require "cbuild.core.json"
local session = require "cbuild.recipe.session"
local image = require "cbuild.recipe.image"
local cb = require "cbuild"

local PLATFORM = { os = "linux", architecture = "amd64" }

local IMAGES = {
  plain = { config = { Env = { "PATH=/bin" }, Cmd = { "sh" } } },
  nopath = { config = { User = "nobody" } },
  triggers = { config = { Env = { "PATH=/bin" }, OnBuild = { "RUN true" } } },
}

local fake_store = {
  lookup = function(_, name)
    if IMAGES[name] then
      return { digest = "sha256:" .. name }
    end
    return nil, "No such image: " .. name
  end,
  image = function(_, digest)
    local name = digest:gsub("^sha256:", "")
    return { digest = digest, config = json.decode(json.encode(IMAGES[name])) }
  end,
}

local function configure(build_args)
  session.configure { images = fake_store, context = false, platform = PLATFORM, build_args = build_args or {} }
end

local function compile(text, build_args)
  local ast = parser.parse(text, { file = "Dockerfile" })
  local parsed = instructions.parse(ast, { file = "Dockerfile" })
  return (frontend.compile(parsed, {
    file = "Dockerfile", escape = ast.escape, platform = PLATFORM, build_args = build_args or {},
    resolve_image = function(name, loc)
      return session.get():resolve_image(name, loc)
    end,
  }))
end

-- A state's args without what only one side carries (locations, the parsed instruction,
-- store entries): canonical JSON, states copied from replaced by their own description.
local describe_state
local function comparable(args)
  local out = {}
  for k, v in pairs(args) do
    if k == "from" then
      out[k] = describe_state(v)
    elseif k ~= "instr" and k ~= "entry" and k ~= "from_entry" and k ~= "args" and k ~= "build_args" then
      out[k] = v
    end
  end
  -- a mount's spec text is not part of the key
  if args.mounts then
    out.mounts = {}
    for i, m in ipairs(args.mounts) do
      out.mounts[i] = {}
      for k, v in pairs(m) do
        out.mounts[i][k] = k ~= "spec" and v or nil
      end
    end
  end
  -- RUN's ARG map: compare its content (the frontend shares one table per stage)
  if args.args then
    out.args_ = json.object(args.args)
  end
  return out
end

function describe_state(st)
  local out = {}
  for _, s in ipairs(st:chain()) do
    out[#out + 1] = s.op .. " " .. json.encode(comparable(s.args))
  end
  return table.concat(out, "\n")
end

local function same(dockerfile, recipe_state, build_args)
  configure(build_args)
  local want = describe_state(compile(dockerfile, build_args))
  local got = describe_state(image.priv(recipe_state()).st)
  assert.are.equal(want, got)
end

describe("recipe states", function()
  before_each(function()
    configure()
  end)
  after_each(session.reset)

  it("match the frontend's: FROM scratch and every config instruction", function()
    same([[
FROM scratch
ENV A=1 B="two words"
LABEL version=1.0 org.example.x=y
USER 1000:1000
WORKDIR /app
WORKDIR sub
EXPOSE 80 443/tcp 53/udp 8000-8002
VOLUME /data /cache
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=30s --timeout=5s --retries=3 CMD curl -f http://localhost/
ONBUILD RUN make
SHELL ["/bin/bash", "-c"]
ENTRYPOINT ["/bin/app"]
CMD ["--serve"]
MAINTAINER someone
]], function()
      return cb.from("scratch")
        :env { { "A", "1" }, { "B", "two words" } }
        :label { { "version", "1.0" }, { "org.example.x", "y" } }
        :user "1000:1000"
        :workdir "/app"
        :workdir "sub"
        :expose(80, "443/tcp", "53/udp", "8000-8002")
        :volume("/data", "/cache")
        :stopsignal "SIGQUIT"
        :healthcheck { "curl -f http://localhost/", interval = "30s", timeout = 5, retries = 3 }
        :onbuild "RUN make"
        :shell { "/bin/bash", "-c" }
        :entrypoint { "/bin/app" }
        :cmd { "--serve" }
        :maintainer "someone"
    end)
  end)

  it("match the frontend's: a base without PATH, ENTRYPOINT dropping the base's CMD, shell forms", function()
    same([[
FROM nopath
LABEL a=b
ENTRYPOINT exec app
CMD run it
HEALTHCHECK NONE
]], function()
      return cb.from("nopath"):label("a", "b"):entrypoint "exec app":cmd "run it":healthcheck "NONE"
    end)
    same("FROM plain\nENTRYPOINT [\"x\"]\n", function()
      return cb.from("plain"):entrypoint { "x" }
    end)
    same("FROM triggers\nCMD [\"x\"]\n", function()
      return cb.from("triggers"):cmd { "x" }
    end)
  end)

  it("match the frontend's: RUN (shell and exec form, mounts, network, ARGs in the history)", function()
    same([[
FROM plain
ARG VERSION=1.0
ARG FLAVOUR
RUN --mount=type=cache,target=/var/cache/apt --network=none echo $VERSION
RUN ["make", "install"]
]], function()
      return cb.from("plain")
        :arg("VERSION", "1.0")
        :arg "FLAVOUR"
        :run { "echo $VERSION", mounts = { "type=cache,target=/var/cache/apt" }, network = "none" }
        :run { "make", "install" }
    end, { FLAVOUR = "big", HTTP_PROXY = "http://proxy:3128" })
  end)

  it("match the frontend's: mounts given as tables", function()
    same("FROM plain\nRUN --mount=type=tmpfs,target=/tmp,size=64m true\n", function()
      return cb.from("plain"):run { "true", mounts = { { type = "tmpfs", target = "/tmp", size = "64m" } } }
    end)
  end)

  it("match the frontend's: COPY and ADD (options, relative dest, --from a stage)", function()
    same([[
FROM plain AS build
WORKDIR /src
COPY --chown=1000:1000 --chmod=755 a.c b.c ./
ADD --chmod=0644 data.tar.gz /data/
COPY --exclude=*.o src/ lib
COPY --chown=app:staff conf /etc/app/
FROM scratch
COPY --from=build /src/app /usr/bin/app
]], function()
      local build = cb.from("plain", { as = "build" })
        :workdir "/src"
        :copy { src = { "a.c", "b.c" }, dest = "./", chown = "1000:1000", chmod = "755" }
        :add { src = "data.tar.gz", dest = "/data/", chmod = "0644" }
        :copy { src = "src/", dest = "lib", exclude = { "*.o" } }
        :copy { src = "conf", dest = "/etc/app/", chown = "app:staff" }
      return cb.from("scratch"):copy { from = build, src = "/src/app", dest = "/usr/bin/app" }
    end)
  end)

  it("match the frontend's: :write is a COPY heredoc", function()
    same("FROM scratch\nCOPY --chmod=600 <<EOF /etc/app.conf\nport=80\nEOF\n", function()
      return cb.from("scratch"):write("/etc/app.conf", "port=80\n", { mode = "600" })
    end)
  end)

  it("are immutable: a state is the base of several branches", function()
    local base = cb.from("plain"):env("A", "1")
    local a = base:env("B", "2")
    local b = base:run "true"
    assert.are_not.equal(base, a)
    assert.are.equal(image.priv(base).st, image.priv(a).st.parent)
    assert.are.equal(image.priv(base).st, image.priv(b).st.parent)
    assert.are.same({ "PATH=/bin", "A=1" }, base:config().Env)
    assert.are.same({ "PATH=/bin", "A=1", "B=2" }, a:config().Env)
    local ok, e = pcall(function()
      base.x = 1
    end)
    assert.is_false(ok)
    assert.matches("immutable", tostring(e))
  end)

  it("raise misuse at the caller's line", function()
    local line = debug.getinfo(1, "l").currentline + 2
    local ok, e = pcall(function()
      local x = cb.from(42)
      return x
    end)
    assert.is_false(ok)
    assert.is_true(errors.is(e))
    assert.are.equal(line, e.loc.line)
    assert.matches("image_spec.lua$", e.loc.file)
    assert.matches("cb.from: expected an image reference", e.msg, 1, true)
    for _, f in ipairs {
      function() cb.from("plain"):run(42) end,
      function() cb.from("plain"):copy { src = "a" } end,
      function() cb.from("plain"):expose "eighty" end,
      function() cb.from("plain"):stopsignal "SIGNOPE" end,
      function() cb.from("plain"):copy { src = "a", dest = "/", chmod = "999" } end,
      function() cb.from("plain"):run { "x", mounts = { "type=nope,target=/x" } } end,
      function() cb.from("nothere") end,
    } do
      local ok2, e2 = pcall(f)
      assert.is_false(ok2)
      assert.is_true(errors.is(e2), tostring(e2))
      assert.matches("image_spec.lua$", e2.loc.file)
    end
  end)

  it("name the method in the frontend's errors, at the caller's line", function()
    for want, f in pairs {
      ["expose: invalid containerPort: eighty"] = function() cb.from("plain"):expose "eighty" end,
      ["expose: invalid proto: xyz"] = function() cb.from("plain"):expose "80/xyz" end,
      ["volume: VOLUME specified can not be an empty string"] = function() cb.from("plain"):volume " " end,
      ["stopsignal: invalid signal: SIGNOPE"] = function() cb.from("plain"):stopsignal "SIGNOPE" end,
      ["write: invalid chmod parameter: '999'"] = function() cb.from("plain"):write("/f", "", { mode = "999" }) end,
    } do
      local line = debug.getinfo(f, "S").linedefined
      local ok, e = pcall(f)
      assert.is_false(ok)
      assert.is_true(errors.is(e), tostring(e))
      assert.are.equal(want, e.msg)
      assert.matches("image_spec.lua$", e.loc.file)
      assert.are.equal(line, e.loc.line)
      assert.is_nil(e.loc.col) -- no caret: the recipe line is code, not a Dockerfile line
    end
  end)
end)

describe("cb helpers", function()
  after_each(session.reset)

  it("template fills ${name} and refuses unknown names", function()
    assert.are.equal("port=80 host=a.b ${x}", cb.template("port=${port} host=${h.name} $${x}", { port = 80,
      h = { name = "a.b" } }))
    local ok, e = pcall(cb.template, "${nope}", {})
    assert.is_false(ok)
    assert.matches("no value for ${nope}", tostring(e), 1, true)
  end)

  it("args are the build args, read-only", function()
    session.configure { images = fake_store, context = false, build_args = { V = "1" } }
    assert.are.equal("1", cb.args.V)
    assert.is_nil(cb.args.W)
    assert.has_error(function()
      cb.args.V = "2"
    end)
    assert.are.equal(os.getenv "HOME", cb.env.HOME)
  end)
end)
