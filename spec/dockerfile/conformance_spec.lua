-- BuildKit's own parser fixtures (../shared/conformance/dockerfile-parser, see its NOTICE.md):
-- every testfiles/* case must dump byte for byte as `result`, every testfiles-negative/* case
-- must fail, and testfile-line must give BuildKit's line spans.  Nothing is skipped.
local parser = require "cbuild.dockerfile.parser"
local dump = require "cbuild.dockerfile.dump"
local errors = require "cbuild.errors"
local pldir = require "pl.dir"
local plpath = require "pl.path"

-- The fixtures live beside the repository: <repo>/../shared/conformance.
local here = debug.getinfo(1, "S").source:match "^@(.*)/[^/]*$" or "."
local root = plpath.normpath(plpath.abspath(here .. "/../../../shared/conformance/dockerfile-parser"))

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read "a"
  f:close()
  return data
end

local function cases(dir)
  local list = pldir.getdirectories(root .. "/" .. dir)
  table.sort(list)
  return list
end

describe("BuildKit parser conformance", function()
  it("finds the fixtures", function()
    assert.is_true(plpath.isdir(root), root)
    assert.are.equal(33, #cases "testfiles")
    assert.are.equal(4, #cases "testfiles-negative")
  end)

  for _, dir in ipairs(cases "testfiles") do
    local name = plpath.basename(dir)
    it("dumps testfiles/" .. name .. " as BuildKit does", function()
      local ast = parser.parse(slurp(dir .. "/Dockerfile"), { file = "Dockerfile" })
      assert.are.equal(slurp(dir .. "/result"), dump.dump(ast))
    end)
  end

  for _, dir in ipairs(cases "testfiles-negative") do
    local name = plpath.basename(dir)
    it("rejects testfiles-negative/" .. name, function()
      local ok, e = pcall(parser.parse, slurp(dir .. "/Dockerfile"), { file = "Dockerfile" })
      assert.is_false(ok)
      assert.is_true(errors.is(e), tostring(e))
    end)
  end

  it("gives testfile-line BuildKit's line spans", function()
    local ast = parser.parse(slurp(root .. "/testfile-line/Dockerfile"))
    assert.are.equal(5, ast.start_line)
    assert.are.equal(31, ast.end_line)
    assert.are.equal(3, #ast.children)
    local spans = {}
    for i, node in ipairs(ast.children) do
      spans[i] = { node.start_line, node.end_line }
    end
    assert.are.same({ { 5, 5 }, { 11, 12 }, { 17, 31 } }, spans)
  end)

  describe("cbuild debug parse", function()
    local build = os.getenv "CBUILD_BUILD" or "build"
    local exe = plpath.abspath(build .. "/cbuild")
    local function run(cmd)
      local p = io.popen("CBUILD_ROOT=/tmp/cbuild-parser-spec " .. cmd .. " 2>/dev/null")
      local out = p:read "a"
      local _, _, code = p:close()
      return out, code
    end

    it("prints every fixture's dump, from a file and from stdin", function()
      if not plpath.isfile(exe) then
        pending("no " .. exe)
        return
      end
      for _, dir in ipairs(cases "testfiles") do
        local out, code = run(exe .. " debug parse '" .. dir .. "/Dockerfile'")
        assert.are.equal(0, code, dir)
        assert.are.equal(slurp(dir .. "/result"), out, dir)
      end
      local dir = root .. "/testfiles/env"
      local out = run(exe .. " debug parse - < '" .. dir .. "/Dockerfile'")
      assert.are.equal(slurp(dir .. "/result"), out)
    end)

    it("fails with status 1 on a bad Dockerfile", function()
      if not plpath.isfile(exe) then
        pending("no " .. exe)
        return
      end
      local _, code = run(exe .. " debug parse '" .. root .. "/testfiles-negative/env_no_value/Dockerfile'")
      assert.are.equal(1, code)
    end)
  end)
end)
