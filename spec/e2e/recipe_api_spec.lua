-- End to end: Lua recipes built by the real cbuild binary on a busybox image (fast), the same
-- image from a Dockerfile and from its recipe, recipe errors, the sandbox, several outputs,
-- require "cbuild" from a stock lua5.4, and the C embedding API after `cmake --install`.
local h = require "spec.helpers"
local json = require "cbuild.core.json"
local q = h.quote

local root

local function cb(args, opts)
  return h.cbuild(root, args, opts)
end

local function ok(args, opts)
  local status, out, err = cb(args, opts)
  assert.are.equal(0, status, out .. err)
  return out, err
end

local function inspect(name, what)
  return json.decode(ok("inspect --format '{{json ." .. what .. "}}' " .. name))
end

local function image_id(name)
  return (ok("inspect --format '{{.Id}}' " .. name):gsub("%s+$", ""))
end

local function layer_files(name)
  local out = {}
  for _, l in ipairs(inspect(name, "RootFS.Layers")) do
    out[#out + 1] = h.ok("tar -tvf " .. q(root .. "/blobs/sha256/" .. l:gsub("^sha256:", "")) ..
      " | awk '{print $1, $2, $6}'")
  end
  return table.concat(out, "--\n")
end

-- The RUN/COPY/ADD steps of a plain progress log, and how many of them were CACHED.
local function count_steps(err)
  local steps, cached = 0, 0
  for line in err:gmatch "[^\n]+" do
    if line:match "^#%d+ %[.-%] RUN " or line:match "^#%d+ %[.-%] COPY " or line:match "^#%d+ %[.-%] ADD " then
      steps = steps + 1
    elseif line:match "^#%d+ CACHED" then
      cached = cached + 1
    end
  end
  return steps, cached
end

setup(function()
  root = h.tmpdir "recipe-root"
  h.import_busybox(root)
end)
teardown(h.cleanup)

describe("a recipe and the equivalent Dockerfile", function()
  local ctx
  setup(function()
    ctx = h.tmpdir "recipe-ctx"
    h.write(ctx .. "/hello.txt", "hello\n")
    h.write(ctx .. "/Dockerfile", [[
FROM busybox AS build
ARG GREETING=hi
WORKDIR /src
COPY hello.txt ./
RUN cat hello.txt > /out.txt && echo "$GREETING" >> /out.txt

FROM scratch
COPY --from=build /out.txt /srv/
LABEL org.example.kind=demo
ENV MODE=prod
ENTRYPOINT ["/srv/out.txt"]
CMD ["x"]
]])
    h.write(ctx .. "/recipe.lua", [[
local cb = require "cbuild"
local build = cb.from("busybox", { as = "build" })
  :arg("GREETING", "hi")
  :workdir "/src"
  :copy("hello.txt", "./")
  :run 'cat hello.txt > /out.txt && echo "$GREETING" >> /out.txt'
return cb.from("scratch")
  :copy { from = build, src = "/out.txt", dest = "/srv/" }
  :label { ["org.example.kind"] = "demo" }
  :env { MODE = "prod" }
  :entrypoint { "/srv/out.txt" }
  :cmd { "x" }
]])
  end)

  it("give the same image, and the second build is fully CACHED", function()
    ok("build --progress plain -t from-dockerfile " .. q(ctx))
    local _, err = ok("build --progress plain -f " .. q(ctx .. "/recipe.lua") .. " -t from-recipe " .. q(ctx))
    local steps, cached = count_steps(err)
    assert.are.equal(3, steps, err)
    assert.are.equal(3, cached, err)
    assert.are.equal(image_id("from-dockerfile"), image_id("from-recipe"))
    assert.are.same(inspect("from-dockerfile", "Config"), inspect("from-recipe", "Config"))
    assert.are.equal(layer_files "from-dockerfile", layer_files "from-recipe")
    assert.are.same({ "/srv/out.txt" }, inspect("from-recipe", "Config").Entrypoint)
  end)

  it("share the cache the other way round too, with --build-arg", function()
    ok("build -q --build-arg GREETING=yo -f " .. q(ctx .. "/recipe.lua") .. " -t r2 " .. q(ctx))
    local _, err = ok("build --progress plain --build-arg GREETING=yo -t d2 " .. q(ctx))
    local steps, cached = count_steps(err)
    assert.are.equal(3, steps, err)
    assert.are.equal(3, cached, err)
    assert.are.equal(image_id("r2"), image_id("d2"))
  end)
end)

describe("cbuild build with a recipe", function()
  local ctx
  before_each(function()
    ctx = h.tmpdir "recipe-ctx"
  end)

  it("picks build.lua when the context has no Dockerfile; --frontend forces one", function()
    h.write(ctx .. "/build.lua", 'return require("cbuild").from("busybox"):env("PICKED", "build.lua")\n')
    ok("build -q -t picked " .. q(ctx))
    assert.are.equal("PICKED=build.lua", inspect("picked", "Config").Env[2])
    h.write(ctx .. "/my-recipe", 'return require("cbuild").from("busybox"):env("PICKED", "forced")\n')
    ok("build -q --frontend lua -f " .. q(ctx .. "/my-recipe") .. " -t forced " .. q(ctx))
    assert.are.equal("PICKED=forced", inspect("forced", "Config").Env[2])
  end)

  it("writes files with :write (content, mode) and templates", function()
    h.write(ctx .. "/app.conf.in", "port=${port}\n")
    h.write(ctx .. "/build.lua", [[
local cb = require "cbuild"
return cb.from("busybox")
  :write("/etc/app.conf", cb.template(cb.read "app.conf.in", { port = cb.args.PORT }), { mode = "0600" })
  :run "cat /etc/app.conf > /copy && stat -c %a /etc/app.conf >> /copy"
]])
    ok("build -q --build-arg PORT=8080 -t written " .. q(ctx))
    assert.are.equal("port=8080\n600\n", h.ok("CBUILD_ROOT=" .. q(root) .. " " .. q(h.bin) ..
      " run --rm written cat /copy"))
  end)

  it("builds several named outputs, tags results, picks one with --target", function()
    h.write(ctx .. "/build.lua", [[
local cb = require "cbuild"
local base = cb.from("busybox"):env("COMMON", "1")
local results = cb.build { a = base:env("WHICH", "a"), b = base:env("WHICH", "b") }
results.a:tag "multi:a"
results.b:tag "multi:b"
return { c = base:env("WHICH", "c") }
]])
    local out = ok("build -q " .. q(ctx))
    assert.matches("^sha256:%x+\n$", out)
    for _, n in ipairs { "a", "b" } do
      assert.are.equal("WHICH=" .. n, inspect("multi:" .. n, "Config").Env[3])
    end
    h.write(ctx .. "/build.lua", [[
local cb = require "cbuild"
local base = cb.from("busybox")
return { one = base:env("N", "1"), two = base:env("N", "2") }
]])
    local status, _, err = cb("build -t both " .. q(ctx))
    assert.are.equal(1, status)
    assert.matches("-t names one image, and the recipe has 2 outputs", err, 1, true)
    ok("build -q --target two -t two " .. q(ctx))
    assert.are.equal("N=2", inspect("two", "Config").Env[2])
  end)

  it("extends a Dockerfile (cb.dockerfile) and copies from another context (cb.context)", function()
    h.write(ctx .. "/base/Dockerfile", "FROM busybox\nENV FROM_DOCKERFILE=1\nCMD [\"sh\"]\n")
    h.write(ctx .. "/assets/a.txt", "a\n")
    h.write(ctx .. "/assets/b.log", "b\n")
    h.write(ctx .. "/build.lua", [[
local cb = require "cbuild"
local assets = cb.context("assets", { ignore = { "*.log" } })
return cb.dockerfile("base/Dockerfile")
  :copy { from = assets, src = ".", dest = "/assets/" }
  :entrypoint { "/bin/sh", "-c" }
]])
    ok("build -q -t extended " .. q(ctx))
    local cfg = inspect("extended", "Config")
    assert.are.equal("FROM_DOCKERFILE=1", cfg.Env[2])
    assert.are.same({ "sh" }, cfg.Cmd) -- CMD was set in the Dockerfile: ENTRYPOINT keeps it
    assert.matches("assets/a.txt", layer_files "extended", 1, true)
    assert.is_nil(layer_files("extended"):find("b.log", 1, true))
  end)

  it("reports recipe errors at the recipe's line", function()
    local cases = {
      { 'local cb = require "cbuild"\n\nreturn cb.from(42)\n',
        "recipe.lua:3: cb.from: expected an image reference (string) or an image state, got number" },
      { 'local cb = require "cbuild"\nlocal s = cb.from("busybox")\nlocal t = s:copy("missing.c", "/src/")\nreturn t\n',
        'recipe.lua:3: COPY: "missing.c" not found in build context' },
      { 'local cb = require "cbuild"\nlocal versions = nil\nfor _, v in ipairs(versions) do end\n',
        "recipe.lua:3: attempt to index a nil value" },
      { 'local cb = require "cbuild"\nreturn cb.from("busybox")\n  :run "exit 3"\n',
        "recipe.lua:2: RUN exit 3 exited with code 3" },
      { 'local p = io.popen("id")\n',
        "recipe.lua:1: io.popen: a recipe cannot run host commands or change host files (cbuild build --allow " ..
        "host-exec)" },
    }
    for _, c in ipairs(cases) do
      h.write(ctx .. "/recipe.lua", c[1])
      local status, out, err = cb("build --progress plain -f " .. q(ctx .. "/recipe.lua") .. " " .. q(ctx))
      assert.are.equal(1, status, out .. err)
      assert.matches("cbuild: error: " .. c[2], err, 1, true)
      assert.is_nil(err:find("stdlib/", 1, true), err)
      assert.is_nil(err:find("traceback", 1, true), err)
    end
  end)

  it("runs host commands only with --allow host-exec", function()
    h.write(ctx .. "/build.lua", [[
local p = io.popen "echo from-the-host"
local word = p:read "l"
p:close()
return require("cbuild").from("busybox"):env("HOST", word)
]])
    local status, _, err = cb("build -q " .. q(ctx))
    assert.are.equal(1, status)
    assert.matches("build.lua:1: io.popen", err, 1, true)
    ok("build -q --allow host-exec -t hostexec " .. q(ctx))
    assert.are.equal("HOST=from-the-host", inspect("hostexec", "Config").Env[2])
  end)
end)

describe("recipe outputs and stages", function()
  it("build independent stages side by side: two RUN sleep 2 take about 2 s", function()
    local ctx = h.tmpdir "recipe-par"
    h.write(ctx .. "/build.lua", [[
local cb = require "cbuild"
local stamp = cb.args.STAMP
local a = cb.from("busybox", { as = "a" }):run("sleep 2; echo " .. stamp .. " > /a")
local b = cb.from("busybox", { as = "b" }):run("sleep 2; echo " .. stamp .. " > /b")
return cb.scratch():copy { from = a, src = "/a", dest = "/" }:copy { from = b, src = "/b", dest = "/" }
]])
    local t0 = os.time()
    ok("build -q --build-arg STAMP=" .. tostring(os.time()) .. tostring(math.random(1e6)) .. " " .. q(ctx))
    assert.is_true(os.time() - t0 <= 3, "took " .. (os.time() - t0) .. " s")
  end)
end)

describe("cbuild as a library", function()
  it("require 'cbuild' from a stock lua5.4 prints the version #noasan", function()
    local out = h.ok(string.format([[cd %s && lua5.4 -e 'package.cpath=%s.."/?.so;"..package.cpath; ]] ..
      [[package.path="stdlib/?.lua;stdlib/?/init.lua;"..package.path; print(require("cbuild").version)']],
      q(h.src), "\"" .. h.build .. "\""))
    assert.matches("^%d+%.%d+%.%d+\n$", out)
    -- with the module only on package.cpath, luaopen_cbuild finds the stdlib itself
    out = h.ok(string.format([[cd /tmp && lua5.4 -e 'package.cpath=%s; print(require("cbuild").version)']],
      q(h.src .. "/" .. h.build .. "/?.so"):gsub("'", "\"")))
    assert.matches("^%d+%.%d+%.%d+\n$", out)
  end)

  it("examples/embed compiles against the installed library and builds an image #noasan", function()
    local prefix = h.tmpdir "prefix"
    h.ok(string.format("cmake --install %s --prefix %s >/dev/null", q(h.src .. "/" .. h.build), q(prefix)))
    local env = "PKG_CONFIG_PATH=" .. q(prefix .. "/lib/pkgconfig")
    local exe = prefix .. "/embed"
    h.ok(string.format("%s cc %s/examples/embed/embed.c $(%s pkg-config --cflags --libs cbuild) -o %s", env,
      q(h.src), env, q(exe)))
    local id = h.ok(string.format("cd / && LD_LIBRARY_PATH=%s %s %s embedded:1", q(prefix .. "/lib"), q(exe),
      q(root)))
    assert.matches("^sha256:%x+\n$", id)
    assert.are.equal(id:gsub("\n", ""), image_id("embedded:1"))
    assert.are.equal("embed.c", inspect("embedded:1", "Config").Labels["org.example.built-by"])
    local layer = inspect("embedded:1", "RootFS.Layers")[1]:gsub("^sha256:", "")
    assert.are.equal("hello, embedded, from C\n", h.ok("tar -xOf " .. q(root .. "/blobs/sha256/" .. layer) ..
      " etc/greeting"))
    if h.sh "command -v valgrind >/dev/null" == 0 then
      h.ok(string.format("cd / && LD_LIBRARY_PATH=%s valgrind -q --leak-check=full --error-exitcode=1 %s %s " ..
        "embedded:2", q(prefix .. "/lib"), q(exe), q(root)))
    end

    -- a recipe's mistake comes back as a cb_error with the recipe's line
    h.write(prefix .. "/bad.c", [[
#include <cbuild.h>
#include <stdio.h>
int
main(int argc, char **argv)
{
  struct cb_embed_options o = { .root = argv[1], .quiet = 1 };
  struct cb_error *err = NULL;
  struct cb_embed *e = cb_embed_new(&o, &err);
  (void)argc;
  if (e == NULL || cb_embed_set_arg(e, "N", "42", &err) < 0)
    return 2;
  if (cb_embed_run_string(e, "local cb = require 'cbuild'\nlocal n = cb.args.N\nreturn cb.from(tonumber(n))\n",
                          "app.lua", NULL, NULL, &err) == 0)
    return 3;
  printf("%s|%s\n", cb_version(), err->msg);
  cb_error_free(&err);
  cb_embed_free(e);
  return 0;
}
]])
    h.ok(string.format("%s cc %s $(%s pkg-config --cflags --libs cbuild) -o %s", env, q(prefix .. "/bad.c"), env,
      q(prefix .. "/bad")))
    local out = h.ok(string.format("LD_LIBRARY_PATH=%s %s %s", q(prefix .. "/lib"), q(prefix .. "/bad"), q(root)))
    assert.matches("^%d+%.%d+%.%d+|app.lua:3: cb.from: expected an image reference %(string%) or an image state, " ..
      "got number\n$", out)
  end)
end)
