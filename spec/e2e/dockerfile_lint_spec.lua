-- End to end: `cbuild lint` and `cbuild build --check` (docker's build checks), and a build
-- that fails on warnings with `# check=error=true`.
local h = require "spec.helpers"
local q = h.quote

describe("build checks", function()
  local root, ctx
  setup(function()
    root = h.tmpdir "lint-root"
    ctx = h.tmpdir "lint"
    h.write(ctx .. "/Dockerfile", "FROM scratch as build\nCMD echo hi\n")
  end)
  teardown(h.cleanup)

  it("cbuild lint prints FILE:LINE: Rule: message and a description, exit 1", function()
    local status, out = h.cbuild(root, "lint " .. q(ctx .. "/Dockerfile"))
    assert.are.equal(1, status)
    assert.are.equal(table.concat({
      "Dockerfile:1: FromAsCasing: 'as' and 'FROM' keywords' casing do not match",
      "  The 'as' keyword should match the case of the 'from' keyword",
      "Dockerfile:2: JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior "
        .. "related to OS signals",
      "  JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior related to OS signals",
      "Check complete, 2 warnings have been found!",
    }, "\n") .. "\n", out)
  end)

  it("cbuild lint - reads stdin; a clean file exits 0", function()
    local status, out = h.cbuild(root, "lint -", { stdin = 'FROM scratch\nCMD ["x"]\n' })
    assert.are.equal(0, status)
    assert.are.equal("Check complete, no warnings found.\n", out)
  end)

  it("build --check reports without building", function()
    local status, out = h.cbuild(root, "build --check -t nope " .. q(ctx))
    assert.are.equal(1, status)
    assert.matches("FromAsCasing", out, 1, true)
    local istatus = h.cbuild(root, "inspect nope")
    assert.are.equal(1, istatus)
  end)

  it("a build lists the warnings, and fails on them with check=error=true", function()
    local status, _, err = h.cbuild(root, "build " .. q(ctx))
    assert.are.equal(0, status, err)
    assert.matches(" - FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1)", err, 1, true)
    local strict = h.tmpdir "strict"
    h.write(strict .. "/Dockerfile", "# check=error=true;skip=JSONArgsRecommended\nFROM scratch as build\nCMD x\n")
    status, _, err = h.cbuild(root, "build " .. q(strict))
    assert.are.equal(1, status)
    assert.matches("lint violation found for rules: FromAsCasing", err, 1, true)
  end)
end)
