-- Bad input gets one clear line (and the Dockerfile line with a caret), exit status 1, and
-- never a Lua traceback.
local h = require "spec.helpers"
local q = h.quote

local function build(root, dockerfile, files)
  local ctx = h.tmpdir "ctx"
  if dockerfile then
    h.write(ctx .. "/Dockerfile", dockerfile)
  end
  for name, content in pairs(files or {}) do
    h.write(ctx .. "/" .. name, content)
  end
  return h.cbuild(root, "build " .. q(ctx))
end

local function no_traceback(err)
  assert.not_matches("traceback", err)
  assert.not_matches("%.lua:%d+:", err)
end

describe("build errors", function()
  local root
  setup(function()
    root = h.tmpdir "root"
  end)
  teardown(h.cleanup)

  it("names a missing COPY source with the Dockerfile line", function()
    local status, _, err = build(root, "FROM scratch\nCOPY nothere /\n")
    assert.are.equal(1, status)
    assert.matches('Dockerfile:2: COPY: "nothere" not found in build context', err, 1, true)
    no_traceback(err)
  end)

  it("says which .dockerignore line excluded a COPY source", function()
    local status, _, err = build(root, "FROM scratch\nCOPY secret.txt /\n",
      { ["secret.txt"] = "x", [".dockerignore"] = "# comment\n*.txt\n" })
    assert.are.equal(1, status)
    assert.matches('Dockerfile:2: COPY: "secret.txt" not found in build context', err, 1, true)
    assert.matches(".dockerignore:2", err, 1, true)
  end)

  it("shows an unknown instruction with a caret and a suggestion", function()
    local status, _, err = build(root, "FROM scratch\nCOPPY a /\n", { a = "a" })
    assert.are.equal(1, status)
    local first, src, caret = err:match "^([^\n]*)\n([^\n]*)\n([^\n]*)"
    assert.matches("Dockerfile:2: unknown instruction: COPPY", first, 1, true)
    assert.matches("COPY", first, 1, true)
    assert.matches("COPPY a /", src, 1, true)
    assert.matches("%^", caret)
    assert.are.equal(src:find("COPPY", 1, true), caret:find("^", 1, true))
    no_traceback(err)
  end)

  it("reports a missing Dockerfile", function()
    local status, _, err = build(root, nil)
    assert.are.equal(1, status)
    assert.matches("Dockerfile", err, 1, true)
    assert.matches("no such file or directory", err:lower(), 1, true)
    no_traceback(err)
  end)

  it("reports unknown images in rmi and history", function()
    for _, verb in ipairs { "rmi", "history", "inspect" } do
      local status, _, err = h.cbuild(root, verb .. " nosuchimage")
      assert.are.equal(1, status, verb)
      assert.matches("No such image: nosuchimage", err, 1, true)
      no_traceback(err)
    end
  end)

  it("rejects a bad tag", function()
    local status, _, err = build(root, "FROM scratch\n")
    assert.are.equal(0, status, err)
    local ctx = h.tmpdir "ctx"
    h.write(ctx .. "/Dockerfile", "FROM scratch\n")
    status, _, err = h.cbuild(root, "build -t MyImage " .. q(ctx))
    assert.are.equal(1, status)
    assert.matches("must be lowercase", err, 1, true)
  end)
end)
