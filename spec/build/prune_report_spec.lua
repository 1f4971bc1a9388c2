-- The prune report (cli/system.lua) prints what gc removed as docker prints its counts.
local system = require "cbuild.cli.system"

local function report(rep)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  local saved = io.stdout
  local ok, err = pcall(function()
    io.stdout = f -- luacheck: ignore
    system.report(rep)
  end)
  io.stdout = saved -- luacheck: ignore
  f:close()
  assert(ok, err)
  local text = assert(io.open(path)):read "a"
  os.remove(path)
  return text
end

describe("system.report", function()
  it("counts the COPY indexes it deleted", function()
    local text = report { records = 2, indexes = 3, reclaimed = 0 }
    assert.are.equal("Deleted build cache objects: 2\n\nDeleted COPY indexes: 3\n\n"
      .. "Total reclaimed space: 0B\n", text)
  end)

  it("says nothing of indexes when none went", function()
    assert.are.equal("Total reclaimed space: 0B\n", report { indexes = 0, reclaimed = 0 })
  end)
end)
