-- The classic private-registry walkthrough (issue 6, "Done means"): build the hello world,
-- push it, see it in the catalog, remove it, pull it back and run it; FROM and run pull a
-- missing image by themselves.
local h = require "spec.helpers"
local registry = require "spec.fixtures.registry.registry"
local q = h.quote

describe("a private registry", function()
  local reg, root, ctx
  setup(function()
    reg = registry.start {}
    root = h.tmpdir "walkroot"
    ctx = h.helloworld_context()
  end)
  teardown(function()
    if reg then
      reg:stop()
    end
    h.cleanup()
  end)

  it("takes the hello world through build, push, catalog, rmi, pull and run", function()
    local name = reg.host .. "/helloworld"
    local status, out, err = h.cbuild(root, "build -t " .. name .. " " .. q(ctx))
    assert.are.equal(0, status, out .. err)
    status, out, err = h.cbuild(root, "push " .. name)
    assert.are.equal(0, status, out .. err)
    assert.matches("latest: digest: sha256:%x+ size: %d+", out)
    assert.matches('"repositories":%["helloworld"%]', h.ok("curl -s http://" .. reg.host .. "/v2/_catalog"))
    status, out, err = h.cbuild(root, "rmi " .. name)
    assert.are.equal(0, status, out .. err)
    status, out, err = h.cbuild(root, "pull " .. name)
    assert.are.equal(0, status, out .. err)
    status, out, err = h.cbuild(root, "run --rm " .. name)
    assert.are.equal(0, status, out .. err)
    assert.are.equal("hello world!\n", out)
  end)

  it("pulls a missing image for FROM and for run", function()
    local name = reg.host .. "/helloworld"
    local other = h.tmpdir "walkroot2"
    local status, out, err = h.cbuild(other, "run --rm " .. name)
    assert.are.equal(0, status, out .. err)
    assert.are.equal("hello world!\n", out)
    assert.matches("Unable to find image '" .. name:gsub("%p", "%%%0") .. "' locally", err)
    local third = h.tmpdir "walkroot3"
    local dir = h.tmpdir "walkctx"
    h.write(dir .. "/Dockerfile", "FROM " .. name .. "\nCMD [\"/helloworld\"]\n")
    status, out, err = h.cbuild(third, "build -t again " .. q(dir))
    assert.are.equal(0, status, out .. err)
    status, out, err = h.cbuild(third, "run --rm again")
    assert.are.equal(0, status, err)
    assert.are.equal("hello world!\n", out)
  end)

  it("pushes from a recipe with result:push", function()
    local dir = h.tmpdir "recipepush"
    h.ok("cp " .. q(ctx .. "/helloworld") .. " " .. q(dir .. "/helloworld"))
    h.write(dir .. "/recipe.lua", string.format([[
local cb = require "cbuild"
local r = cb.build(cb.scratch():copy("helloworld", "/"):cmd { "/helloworld" })
r:push("%s/fromrecipe:v1")
]], reg.host))
    local status, out, err = h.cbuild(root, "build -f " .. q(dir .. "/recipe.lua") .. " " .. q(dir))
    assert.are.equal(0, status, out .. err)
    local other = h.tmpdir "recipepull"
    status, out, err = h.cbuild(other, "run --rm " .. reg.host .. "/fromrecipe:v1")
    assert.are.equal(0, status, out .. err)
    assert.are.equal("hello world!\n", out)
  end)
end)
