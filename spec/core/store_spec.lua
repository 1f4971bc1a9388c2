-- spec/core/store_spec.lua: the C binding of core/src/store.c, and its crash safety
local store = require "cbuild.core.store"
local digest = require "cbuild.core.digest"

local function sh(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read "a"
  p:close()
  return out
end

local dirs = {}
local function tmpdir()
  local d = sh("mktemp -d /tmp/cbuild-store-spec.XXXXXX"):gsub("%s+$", "")
  dirs[#dirs + 1] = d
  return d
end

local function listdir(dir)
  local names = {}
  for name in sh("ls -A '" .. dir .. "' 2>/dev/null"):gmatch "[^\n]+" do
    names[#names + 1] = name
  end
  table.sort(names)
  return names
end

local function readfile(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read "a"
  f:close()
  return s
end

local function writefile(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

-- every blob under blobs/sha256 holds the bytes of its name
local function assert_blobs_sound(root)
  local n = 0
  for _, hex in ipairs(listdir(root .. "/blobs/sha256")) do
    assert.are.equal("sha256:" .. hex, (digest.file(root .. "/blobs/sha256/" .. hex)))
    n = n + 1
  end
  return n
end

teardown(function()
  for _, d in ipairs(dirs) do
    os.execute("rm -rf '" .. d .. "'")
  end
end)

describe("cbuild.core.store", function()
  local root, s
  before_each(function()
    root = tmpdir() .. "/root"
    s = assert(store.open(root, { create = true }))
  end)
  after_each(function()
    s:close()
  end)

  it("creates an OCI layout", function()
    assert.are.equal('{"imageLayoutVersion":"1.0.0"}', readfile(root .. "/oci-layout"))
    assert.are.equal('{"schemaVersion":2,"manifests":[]}', readfile(root .. "/index.json"))
    assert.are.same({ "blobs", "cache", "containers", "index.json", "oci-layout", "snapshots", "tmp" },
      listdir(root))
    assert.are.same({ "sha256" }, listdir(root .. "/blobs"))
    assert.are.equal(root, s:root())
    assert(store.open(root)):close()
  end)

  it("returns nil, msg, code when there is no store", function()
    local none, msg, code = store.open "/nonexistent/cbuild-store"
    assert.is_nil(none)
    assert.matches("nonexistent", msg, 1, true)
    assert.are.equal("ENOENT", code)
    none, msg, code = store.open(tmpdir())
    assert.is_nil(none)
    assert.matches("oci-layout", msg, 1, true)
    assert.are.equal("ENOENT", code)
  end)

  it("puts, gets, verifies and removes blobs", function()
    local d, size = s:put "hello"
    assert.are.equal(digest.sha256 "hello", d)
    assert.are.equal(5, size)
    assert.are.same({ true, 5 }, { s:has(d) })
    assert.are.equal("hello", s:get(d))
    assert.are.equal(root .. "/blobs/sha256/" .. d:sub(8), s:path(d))
    assert.is_true(s:verify(d))
    writefile(s:path(d), "jello") -- corrupt it behind the store's back
    local ok, msg, code = s:verify(d)
    assert.is_nil(ok)
    assert.matches("corrupt", msg, 1, true)
    assert.are.equal("EDIGEST", code)
    assert.is_true(s:remove(d))
    assert.is_true(s:remove(d))
    assert.is_false(s:has(d))
    local v
    v, msg, code = s:get(d)
    assert.is_nil(v)
    assert.matches(d, msg, 1, true)
    assert.are.equal("ENOTFOUND", code)
    v, msg, code = s:verify(d)
    assert.is_nil(v)
    assert.is_string(msg)
    assert.are.equal("ENOTFOUND", code)
  end)

  it("ingests a file, checking the expected digest", function()
    local src = tmpdir() .. "/src"
    writefile(src, string.rep("layer", 20000))
    local want = digest.sha256(string.rep("layer", 20000))
    local d, size, code
    d, size, code = s:ingest_file(src, { expect = digest.sha256 "other" })
    assert.is_nil(d)
    assert.matches("digest mismatch", size, 1, true)
    assert.are.equal("EDIGEST", code)
    assert.are.same({}, listdir(root .. "/blobs/sha256"))
    assert.are.same({}, listdir(root .. "/tmp"))
    d, size = s:ingest_file(src, { expect = want })
    assert.are.equal(want, d)
    assert.are.equal(100000, size)
    assert.are.equal(want, (s:ingest_file(src)))
    assert.are.same({}, listdir(root .. "/tmp"))
    d, size, code = s:ingest_file "/nonexistent/f"
    assert.is_nil(d)
    assert.matches("/nonexistent/f", size, 1, true)
    assert.are.equal("ENOENT", code)
  end)

  it("streams blobs through a writer", function()
    local w = assert(s:writer())
    assert.are.equal(w, w:write "ab")
    assert.are.equal(w, w:write "c")
    assert.are.equal(3, w:size())
    assert.are.equal(1, #listdir(root .. "/tmp"))
    local d, size = w:commit { expect = digest.sha256 "abc" }
    assert.are.equal(digest.sha256 "abc", d)
    assert.are.equal(3, size)
    assert.are.same({}, listdir(root .. "/tmp"))

    w = assert(s:writer())
    w:write "abc"
    local ok, msg, code = w:commit { expect = digest.sha256 "abd" }
    assert.is_nil(ok)
    assert.matches("digest mismatch", msg, 1, true)
    assert.are.equal("EDIGEST", code)
    assert.is_false(s:has(digest.sha256 "abd"))
    assert.are.same({}, listdir(root .. "/tmp"))

    w = assert(s:writer())
    w:write "partial"
    w:abort()
    w:abort() -- idempotent
    assert.are.same({}, listdir(root .. "/tmp"))
    assert.are.equal(1, #listdir(root .. "/blobs/sha256"))
  end)

  it("aborts an uncommitted writer on __close and on __gc", function()
    do
      local w <close> = assert(s:writer())
      w:write "partial"
      assert.are.equal(1, #listdir(root .. "/tmp"))
    end
    assert.are.same({}, listdir(root .. "/tmp"))
    do
      local w = assert(s:writer()) -- luacheck: ignore
      w:write "partial"
      w = nil -- luacheck: ignore
    end
    collectgarbage()
    collectgarbage()
    assert.are.same({}, listdir(root .. "/tmp"))
    do
      local w <close> = assert(s:writer())
      w:write "x"
      w:commit()
    end -- __close after commit is harmless
    assert.is_true(s:has(digest.sha256 "x"))
  end)

  it("keeps its store alive while a writer lives", function()
    local w = assert(s:writer())
    s:close()
    assert.error_matches(function()
      s:put "x"
    end, "attempt to use a finished store", 1, true)
    w:write "still works"
    assert.are.equal(digest.sha256 "still works", (w:commit()))
    assert.are.equal("still works", readfile(root .. "/blobs/sha256/" .. digest.sha256("still works"):sub(8)))
    s = assert(store.open(root)) -- for after_each
  end)

  it("raises on misuse", function()
    assert.error_matches(function()
      store.open()
    end, "string expected")
    assert.error_matches(function()
      store.open(root, "create")
    end, "table expected")
    assert.error_matches(function()
      s:has "sha256:nothex"
    end, "invalid digest", 1, true)
    assert.error_matches(function()
      s:get(42)
    end, "invalid digest", 1, true)
    assert.error_matches(function()
      s:ingest_file(root .. "/oci-layout", { expect = "md5:x" })
    end, "field 'expect'", 1, true)
    assert.error_matches(function()
      s.put({}, "x")
    end, "cbuild.core.store expected", 1, true)
    assert.error_matches(function()
      s:unlock()
    end, "not locked", 1, true)
    assert.error_matches(function()
      s:locked "not a function"
    end, "function expected")
    local w = assert(s:writer())
    assert.error_matches(function()
      w.write({}, "x")
    end, "cbuild.core.store.writer expected", 1, true)
    assert.error_matches(function()
      w:write {}
    end, "string expected")
    assert(w:commit())
    for _, f in ipairs { "write", "size", "commit" } do
      assert.error_matches(function()
        w[f](w, "x")
      end, "attempt to use a finished blob writer", 1, true)
    end
    local t = assert(store.open(root))
    t:close()
    t:close()
    assert.error_matches(function()
      t:root()
    end, "attempt to use a finished store", 1, true)
  end)

  it("closes on __close", function()
    local outer
    do
      local t <close> = assert(store.open(root))
      outer = t
    end
    assert.error_matches(function()
      outer:root()
    end, "finished store", 1, true)
  end)

  it("reads and atomically writes files relative to the root", function()
    assert.is_true(s:write("containers/abc/state.json", '{"pid":1}'))
    assert.are.equal('{"pid":1}', s:read "containers/abc/state.json")
    assert.is_true(s:write("containers/abc/state.json", "{}"))
    assert.are.equal("{}", s:read "containers/abc/state.json")
    assert.are.same({ "state.json" }, listdir(root .. "/containers/abc"))
    assert.are.same({}, listdir(root .. "/tmp"))
    local v, msg, code = s:read "containers/none"
    assert.is_nil(v)
    assert.matches("none", msg, 1, true)
    assert.are.equal("ENOENT", code)
    v, msg, code = s:write("../escape", "x")
    assert.is_nil(v)
    assert.is_string(msg)
    assert.are.equal("EUNSAFE", code)
  end)

  it("locks, nests, and always unlocks around locked()", function()
    local function lock_is_free()
      return os.execute("flock -n '" .. root .. "/lock' true")
    end
    assert.is_true(s:lock())
    assert.is_true(s:lock())
    assert.is_falsy(lock_is_free())
    s:unlock()
    assert.is_falsy(lock_is_free())
    s:unlock()
    assert.is_truthy(lock_is_free())

    local a, b = s:locked(function(x, y)
      assert.is_falsy(lock_is_free())
      return x + 1, y
    end, 1, "two")
    assert.are.equal(2, a)
    assert.are.equal("two", b)
    assert.is_truthy(lock_is_free())

    local w = assert(s:writer())
    assert(s:lock())
    s:close() -- a live writer keeps the store, but the lock goes with close
    assert.is_truthy(lock_is_free())
    w:abort()
    s = assert(store.open(root))

    local err = {}
    local ok, e = pcall(s.locked, s, function()
      error(err)
    end)
    assert.is_false(ok)
    assert.are.equal(err, e) -- the very error object
    assert.is_truthy(lock_is_free())
  end)

  it("cleans stale temp files at open, but never a live writer's", function()
    local w = assert(s:writer())
    w:write "in progress"
    writefile(root .. "/tmp/stale", "junk")
    os.execute("mkdir '" .. root .. "/tmp/scratch'")
    local other = assert(store.open(root))
    other:close()
    assert.are.equal(2, #listdir(root .. "/tmp")) -- the writer's file and the directory
    assert.is_truthy(listdir(root .. "/tmp")[1]:match "^blob%-")
    assert.are.equal(digest.sha256 "in progress", (w:commit()))
    assert.are.same({ "scratch" }, listdir(root .. "/tmp"))
  end)
end)

describe("cbuild.core.store after SIGKILL", function()
  -- A child lua5.4 uses the module and is killed mid-way; the next open must clean up, and no
  -- blob may hold wrong bytes.
  local function spawn(root, body)
    local script = string.format(
      "package.cpath = %q\nlocal store = require 'cbuild.core.store'\n"
        .. "local s = assert(store.open(%q))\nlocal function started()\n"
        .. "io.stdout:write('started\\n') io.stdout:flush() end\n%s",
      package.cpath,
      root,
      body
    )
    local path = root .. "/../child.lua"
    writefile(path, script)
    local p = assert(io.popen("echo $$; exec lua5.4 '" .. path .. "'"))
    local pid = assert(tonumber(p:read "l"))
    assert.are.equal("started", p:read "l")
    return p, pid
  end

  local function kill(p, pid, after)
    if after then
      os.execute("sleep " .. after)
    end
    os.execute("kill -9 " .. pid)
    p:close()
  end

  it("leaves only a stale temp file when killed while writing a large blob", function()
    local root = tmpdir() .. "/root"
    assert(store.open(root, { create = true })):close()
    local p, pid = spawn(
      root,
      [[
local w = assert(s:writer())
local chunk = string.rep("x", 65536)
for i = 1, 512 do -- 32 MiB at most, slowly
  assert(w:write(chunk))
  if i == 16 then started() end
  local t = os.clock() while os.clock() - t < 0.002 do end
end
while true do end -- never commits
]]
    )
    kill(p, pid, 0.05)
    local tmp = listdir(root .. "/tmp")
    assert.are.equal(1, #tmp)
    assert.is_true(#readfile(root .. "/tmp/" .. tmp[1]) >= 16 * 65536)
    assert.are.same({}, listdir(root .. "/blobs/sha256"))
    local s = assert(store.open(root))
    assert.are.same({}, listdir(root .. "/tmp"))
    assert.are.same({}, listdir(root .. "/blobs/sha256"))
    s:close()
  end)

  it("never names wrong bytes when killed among many commits", function()
    local root = tmpdir() .. "/root"
    assert(store.open(root, { create = true })):close()
    local p, pid = spawn(
      root,
      [[
local i = 0
while true do
  i = i + 1
  local w = assert(s:writer())
  for j = 1, 8 do assert(w:write(string.rep(string.format("%d-%d;", i, j), 4000))) end
  assert(w:commit())
  assert(s:write("containers/c/state.json", string.format('{"n":%d}', i)))
  if i == 5 then started() end
end
]]
    )
    kill(p, pid, 0.2)
    local s = assert(store.open(root))
    assert.is_true(assert_blobs_sound(root) >= 5)
    assert.are.same({}, listdir(root .. "/tmp"))
    assert.matches('^{"n":%d+}$', s:read "containers/c/state.json")
    for _, hex in ipairs(listdir(root .. "/blobs/sha256")) do
      assert.is_true(s:verify("sha256:" .. hex))
    end
    s:close()
  end)
end)
