-- End to end: every example under examples/ that needs debian:bookworm (made by
-- examples/debian/make-debian.sh; apt reaches the mirror over the host network), built by the
-- real cbuild and run.  The slow part is apt: one store for all, so debian is imported once.
-- helloworld and embed have their own specs (helloworld_spec, recipe_api_spec).
local h = require "spec.helpers"
local json = require "cbuild.core.json"
local q = h.quote

local root

local function ok(args)
  local status, out, err = h.cbuild(root, args)
  assert.are.equal(0, status, out .. err)
  return out, err
end

local function inspect(name, what)
  return json.decode(ok("inspect --format '{{json ." .. what .. "}}' " .. name))
end

local function image_id(name)
  return (ok("inspect --format '{{.Id}}' " .. name):gsub("%s+$", ""))
end

local function ex(name)
  return q(h.src .. "/examples/" .. name)
end

setup(function()
  root = h.tmpdir "examples-root"
  h.ok(string.format("CBUILD_ROOT=%s %s/examples/debian/make-debian.sh %s debian:bookworm", q(root), q(h.src),
    q(h.bin)))
  h.import_busybox(root)
end)
teardown(h.cleanup)

describe("examples/multistage #debian", function()
  it("builds from the Dockerfile and from recipe.lua to the same image; the second is fully CACHED", function()
    ok("build --progress plain -t ms:dockerfile " .. ex "multistage")
    local _, err = ok("build --progress plain -f " .. ex "multistage/recipe.lua" .. " -t ms:recipe " .. ex "multistage")
    local steps, cached = 0, 0
    for line in err:gmatch "[^\n]+" do
      if line:match "^#%d+ %[.-%] RUN " or line:match "^#%d+ %[.-%] COPY " then
        steps = steps + 1
      elseif line:match "^#%d+ CACHED$" then
        cached = cached + 1
      end
    end
    assert.are.equal(4, steps, err)
    assert.are.equal(4, cached, err)
    assert.are.equal(image_id "ms:dockerfile", image_id "ms:recipe")
    assert.are.same(inspect("ms:dockerfile", "Config"), inspect("ms:recipe", "Config"))
    assert.are.same({ "/hello" }, inspect("ms:recipe", "Config").Entrypoint)
    -- one layer, one file: the static binary
    local layers = inspect("ms:recipe", "RootFS.Layers")
    assert.are.equal(1, #layers)
    assert.are.equal("hello\n", h.ok("tar -tf " .. q(root .. "/blobs/sha256/" .. layers[1]:gsub("^sha256:", ""))))
    assert.are.equal("hello, world!\n", ok "run --rm ms:recipe")
    assert.are.equal("hello, you!\n", ok "run --rm ms:dockerfile you")
  end)
end)

describe("examples/matrix #debian", function()
  it("builds one image per variant in one run, each runs", function()
    ok("build --progress plain " .. ex "matrix")
    for _, v in ipairs { "busybox", "debian", "scratch" } do
      assert.are.equal(v, inspect("matrix:" .. v, "Config").Labels["org.example.variant"])
      local out = ok("run --rm matrix:" .. v)
      assert.matches("hello from the " .. v .. " variant", out, 1, true)
      assert.matches("VARIANT=" .. v, out, 1, true)
    end
  end)
end)

describe("examples/stress #debian", function()
  it("builds: ENTRYPOINT stress, CMD its default arguments; runs them", function()
    ok("build -q -t stress-example " .. ex "stress")
    local cfg = inspect("stress-example", "Config")
    assert.are.same({ "/usr/bin/stress" }, cfg.Entrypoint)
    assert.are.same({ "--verbose", "--vm", "1", "--vm-bytes", "64M", "--timeout", "2s" }, cfg.Cmd)
    local status, out, err = h.cbuild(root, "run --rm stress-example")
    assert.are.equal(0, status, out .. err)
    assert.matches("successful run completed", out .. err, 1, true)
  end)
end)

describe("examples/debian-vim #debian", function()
  it("builds vim on Debian and runs it", function()
    ok("build -q -t debian-vim " .. ex "debian-vim")
    assert.matches("VIM %- Vi IMproved", ok "run --rm debian-vim vim.tiny --version")
    local hist = ok "history --no-trunc debian-vim"
    assert.matches("apt-get install", hist, 1, true)
  end)
end)
