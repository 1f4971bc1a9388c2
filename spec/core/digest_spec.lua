-- spec/core/digest_spec.lua: the C binding of core/src/digest.c
local digest = require "cbuild.core.digest"

local ABC = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
local EMPTY = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

local function tmpfile(content)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(content)
  f:close()
  return path
end

describe("cbuild.core.digest", function()
  it("hashes known vectors", function()
    assert.are.equal(ABC, digest.sha256 "abc")
    assert.are.equal(EMPTY, digest.sha256 "")
    assert.are.equal(digest.sha256 "a\0b", digest.new():update("a\0"):update("b"):final())
  end)

  it("streams in odd chunk sizes to the same digest", function()
    local data = string.rep("0123456789", 101)
    local want = digest.sha256(data)
    for _, n in ipairs { 1, 3, 63, 64, 65, 1000 } do
      local h = digest.new()
      for i = 1, #data, n do
        assert.are.equal(h, h:update(data:sub(i, i + n - 1)))
      end
      assert.are.equal(want, h:final())
    end
  end)

  it("hashes a file and reports its size", function()
    local path = tmpfile "abc"
    local d, size = digest.file(path)
    os.remove(path)
    assert.are.equal(ABC, d)
    assert.are.equal(3, size)
  end)

  it("returns nil, msg, code for a missing file", function()
    local d, msg, code = digest.file "/nonexistent/cbuild-digest"
    assert.is_nil(d)
    assert.matches("cbuild-digest", msg, 1, true)
    assert.are.equal("ENOENT", code)
  end)

  it("validates the text form", function()
    assert.is_true(digest.valid(ABC))
    assert.is_false(digest.valid(ABC:upper()))
    assert.is_false(digest.valid(ABC:sub(1, -2)))
    assert.is_false(digest.valid(ABC:sub(8)))
    assert.is_false(digest.valid("sha512:" .. ABC:sub(8)))
    assert.is_false(digest.valid(ABC .. "0"))
    assert.is_false(digest.valid(nil))
    assert.is_false(digest.valid(42))
  end)

  it("raises on misuse", function()
    assert.error_matches(function()
      digest.sha256 {}
    end, "string expected")
    assert.error_matches(function()
      digest.file()
    end, "string expected")
    local h = digest.new()
    assert.error_matches(function()
      h:update {}
    end, "string expected")
    assert.error_matches(function()
      h.update({}, "x")
    end, "cbuild.core.digest.hasher expected", 1, true)
    h:final()
    assert.error_matches(function()
      h:update "x"
    end, "attempt to use a finished hasher", 1, true)
    assert.error_matches(function()
      h:final()
    end, "attempt to use a finished hasher", 1, true)
  end)

  it("finishes a hasher on __close, and __gc after that is harmless", function()
    local h2
    do
      local h <close> = digest.new()
      h:update "x"
      h2 = h
    end
    assert.error_matches(function()
      h2:final()
    end, "finished hasher", 1, true)
    h2 = nil -- luacheck: ignore
    collectgarbage()
    collectgarbage()
  end)
end)
