-- spec/core/archive_spec.lua: the C binding of core/src/archive*.c (layers, reading, apply, compression)
local archive = require "cbuild.core.archive"
local store = require "cbuild.core.store"
local helpers = require "spec.helpers"

local q = helpers.quote

local function new_store()
  return assert(store.open(helpers.tmpdir "archive-store", { create = true }))
end

-- a layer with every kind of entry, as the build engine would write one
local function sample(lw, src)
  assert(lw:add { name = "etc", type = "dir", mode = tonumber("755", 8), mtime = 1000 })
  assert(lw:add {
    name = "etc/hello",
    data = "hello\n",
    mode = tonumber("640", 8),
    uid = 1000,
    gid = 100,
    mtime = 1234567890,
  })
  assert(lw:add { name = "etc/host.txt", src = src, mode = tonumber("600", 8) })
  assert(lw:add {
    name = "bin/ping",
    data = "",
    mode = tonumber("4755", 8),
    xattrs = { ["security.capability"] = "\1\0\0\2\0\32\0\0", ["user.b"] = "2" },
  })
  assert(lw:add { name = "tmp", type = "dir", mode = tonumber("1777", 8) })
  assert(lw:add { name = "etc/link", type = "symlink", linkname = "hello" })
  assert(lw:add { name = "etc/hard", type = "hardlink", linkname = "etc/hello" })
  assert(lw:add { name = "dev/null", type = "char", mode = tonumber("666", 8), devmajor = 1, devminor = 3 })
  assert(lw:add { name = "dev/sda", type = "block", mode = tonumber("660", 8), devmajor = 8, devminor = 0 })
  assert(lw:add { name = "run/fifo", type = "fifo", mode = tonumber("600", 8) })
  return lw
end

describe("cbuild.core.archive", function()
  local s, dir, src
  before_each(function()
    s = new_store()
    dir = helpers.tmpdir "archive"
    src = dir .. "/src.txt"
    helpers.write(src, "from the host\n")
  end)
  teardown(helpers.cleanup)

  describe("layer_writer", function()
    it("writes the same bytes for the same entries, and tar -tvf shows them exactly", function()
      local d1, n1 = sample(assert(archive.layer_writer(s)), src):commit()
      local d2, n2 = sample(assert(archive.layer_writer(s)), src):commit()
      assert.matches("^sha256:%x+$", d1)
      assert.are.equal(d1, d2)
      assert.are.equal(n1, n2)
      assert.are.equal(0, n1 % 512)
      local listing = helpers.ok("tar --numeric-owner -tvf " .. q(s:path(d1)))
      local want = {
        "drwxr-xr-x 0/0 0 1970-01-01 00:16 etc/",
        "-rw-r----- 1000/100 6 2009-02-13 23:31 etc/hello",
        "-rw------- 0/0 14 1970-01-01 00:00 etc/host.txt",
        "-rwsr-xr-x 0/0 0 1970-01-01 00:00 bin/ping",
        "drwxrwxrwt 0/0 0 1970-01-01 00:00 tmp/",
        "lrwxrwxrwx 0/0 0 1970-01-01 00:00 etc/link -> hello",
        "hrw-r--r-- 0/0 0 1970-01-01 00:00 etc/hard link to etc/hello",
        "crw-rw-rw- 0/0 1,3 1970-01-01 00:00 dev/null",
        "brw-rw---- 0/0 8,0 1970-01-01 00:00 dev/sda",
        "prw------- 0/0 0 1970-01-01 00:00 run/fifo",
      }
      local got = {}
      for line in listing:gmatch "[^\n]+" do
        got[#got + 1] = line:gsub("%s+", " ")
      end
      assert.are.same(want, got)
    end)

    it("reads back with names, modes, owners, links, devices and xattrs", function()
      local d = sample(assert(archive.layer_writer(s)), src):commit()
      local r <close> = assert(archive.open(s:path(d)))
      local byname = {}
      for e in r:entries() do
        byname[e.name] = e
        if e.name == "etc/hello" then
          assert.are.equal("hello\n", r:read())
        end
      end
      assert.are.equal(tonumber("4755", 8), byname["bin/ping"].mode)
      assert.are.same(
        { ["security.capability"] = "\1\0\0\2\0\32\0\0", ["user.b"] = "2" },
        byname["bin/ping"].xattrs
      )
      assert.are.same({ 1000, 100, 1234567890, "file", 6 }, {
        byname["etc/hello"].uid,
        byname["etc/hello"].gid,
        byname["etc/hello"].mtime,
        byname["etc/hello"].type,
        byname["etc/hello"].size,
      })
      assert.are.equal("hardlink", byname["etc/hard"].type)
      assert.are.equal("etc/hello", byname["etc/hard"].linkname)
      assert.are.equal("hello", byname["etc/link"].linkname)
      local null = byname["dev/null"]
      assert.are.same({ "char", 1, 3 }, { null.type, null.devmajor, null.devminor })
      assert.are.equal("fifo", byname["run/fifo"].type)
      assert.are.equal("dir", byname["tmp/"].type)
    end)

    it("streams a big host file without changing it", function()
      helpers.ok("head -c 3000000 /dev/urandom > " .. q(dir .. "/big"))
      local lw = assert(archive.layer_writer(s))
      assert(lw:add { name = "big", src = dir .. "/big" })
      local d = assert(lw:commit())
      local r <close> = assert(archive.open(s:path(d)))
      for _ in r:entries() do
        local bd = assert(r:ingest(s))
        assert.are.equal(helpers.ok("sha256sum " .. q(dir .. "/big")):match "^%x+", bd:match "sha256:(%x+)")
      end
    end)

    it("leaves no blob and no temp file when aborted or closed uncommitted", function()
      do
        local lw <close> = assert(archive.layer_writer(s))
        assert(lw:add { name = "x", data = "partial" })
      end
      local lw = assert(archive.layer_writer(s))
      assert(lw:add { name = "y", data = "partial" })
      lw:abort()
      lw:abort() -- twice is fine
      collectgarbage()
      assert.are.same({}, helpers.listdir(s:root() .. "/tmp"))
      assert.are.same({}, helpers.listdir(s:root() .. "/blobs/sha256"))
    end)

    it("raises on misuse", function()
      local lw = assert(archive.layer_writer(s))
      assert.error_matches(function()
        archive.layer_writer "not a store"
      end, "cbuild.core.store expected", 1, true)
      assert.error_matches(function()
        lw:add "x"
      end, "table expected", 1, true)
      assert.error_matches(function()
        lw:add { type = "file" }
      end, "needs a 'name'", 1, true)
      assert.error_matches(function()
        lw:add { name = "x", type = "socket" }
      end, "unknown type 'socket'", 1, true)
      assert.error_matches(function()
        lw:add { name = "x", type = "symlink" }
      end, "needs a 'linkname'", 1, true)
      assert.error_matches(function()
        lw:add { name = "x", data = "a", src = "/etc/hostname" }
      end, "only one of", 1, true)
      assert.error_matches(function()
        lw:add { name = "x", type = "dir", data = "a" }
      end, "only a file has content", 1, true)
      assert.error_matches(function()
        lw:add { name = "x", mode = tonumber("100644", 8) }
      end, "more than permission bits", 1, true)
      assert(lw:commit())
      assert.error_matches(function()
        lw:add { name = "x" }
      end, "finished layer writer", 1, true)
      assert.error_matches(function()
        lw:commit()
      end, "finished layer writer", 1, true)
    end)

    it("returns nil, msg, code for a missing source and for '..'", function()
      local lw = assert(archive.layer_writer(s))
      local ok, msg, code = lw:add { name = "x", src = "/nonexistent/file" }
      assert.is_nil(ok)
      assert.matches("/nonexistent/file", msg, 1, true)
      assert.are.equal("ENOENT", code)
      lw:abort()
      lw = assert(archive.layer_writer(s))
      ok, msg = lw:add { name = "a/../../etc/passwd", data = "x" }
      assert.is_nil(ok)
      assert.matches("'a/../../etc/passwd' escapes", msg, 1, true)
      lw:abort()
    end)
  end)

  describe("open, detect and copy_into", function()
    local function make_tars()
      helpers.ok(
        "cd "
          .. q(dir)
          .. " && mkdir -p t/sub && echo one > t/sub/one && chmod 751 t/sub/one && ln -s one t/sub/link"
          .. " && ln t/sub/one t/hard && tar --owner=7 --group=8 -cf t.tar -C t ."
          .. " && gzip -kn t.tar && zstd -q t.tar && xz -k t.tar && bzip2 -k t.tar && echo hi > plain.txt"
      )
    end

    it("detects tar archives under every compression, and nothing else", function()
      make_tars()
      assert.are.equal("tar", archive.detect(dir .. "/t.tar"))
      assert.are.equal("gzip+tar", archive.detect(dir .. "/t.tar.gz"))
      assert.are.equal("zstd+tar", archive.detect(dir .. "/t.tar.zst"))
      assert.are.equal("xz+tar", archive.detect(dir .. "/t.tar.xz"))
      assert.are.equal("bzip2+tar", archive.detect(dir .. "/t.tar.bz2"))
      assert.is_nil(archive.detect(dir .. "/plain.txt"))
      local ok, msg, code = archive.detect(dir .. "/missing.tar")
      assert.is_nil(ok)
      assert.matches("missing.tar", msg, 1, true)
      assert.are.equal("ENOENT", code)
      local r <close> = assert(archive.open(dir .. "/t.tar.zst"))
      local n = 0
      for _ in r:entries() do
        n = n + 1
      end
      assert.are.equal("zstd", r:filter())
      assert.is_true(n >= 5)
    end)

    it("copies an archive under a prefix with clean names, owners, modes and links", function()
      make_tars()
      local lw = assert(archive.layer_writer(s))
      assert(lw:add { name = "dest", type = "dir" })
      local count = assert(archive.copy_into(dir .. "/t.tar.xz", lw, { prefix = "/dest/" }))
      assert.are.equal(5, count) -- "./" itself lands on dest
      local d = assert(lw:commit())
      local listing =
        helpers.ok("tar --numeric-owner -tvf " .. q(s:path(d)) .. " | awk '{print $1, $2, $6, $7, $8, $9}'")
      assert.matches("-rwxr-x--x 7/8 dest/sub/one", listing, 1, true)
      assert.matches("dest/sub/link -> one", listing, 1, true)
      assert.matches("dest/hard link to dest/sub/one", listing, 1, true)
      assert.not_matches("%./", listing)
    end)

    it("refuses an entry that escapes with '..', naming it", function()
      helpers.ok("cd " .. q(dir) .. " && echo x > x && tar -P -cf evil.tar --transform 's,^x,../../evil,' x")
      local lw = assert(archive.layer_writer(s))
      local ok, msg, code = archive.copy_into(dir .. "/evil.tar", lw)
      assert.is_nil(ok)
      assert.matches("'../../evil'", msg, 1, true)
      assert.are.equal("EUNSAFE", code)
      lw:abort()
    end)

    it("fails cleanly on a file that is no archive, or a truncated one", function()
      helpers.write(dir .. "/junk", string.rep("junk", 300))
      local ok, msg, code = archive.open(dir .. "/junk")
      assert.is_nil(ok)
      assert.matches("junk", msg, 1, true)
      assert.are.equal("EINVAL", code)
      ok, msg, code = archive.open(dir .. "/none")
      assert.is_nil(ok)
      assert.matches("none", msg, 1, true)
      assert.are.equal("ENOENT", code)

      make_tars()
      helpers.ok("head -c 1300 " .. q(dir .. "/t.tar") .. " > " .. q(dir .. "/short.tar"))
      local r = assert(archive.open(dir .. "/short.tar"))
      assert.has_error(function()
        for _ in r:entries() do
        end
      end)
      r:close()
      assert.error_matches(function()
        r:read()
      end, "closed archive reader", 1, true)
    end)
  end)

  describe("apply", function()
    it("extracts layers with whiteouts and opaque directories, staying inside", function()
      local lower = assert(archive.layer_writer(s))
      assert(lower:add { name = "a/f1", data = "one" })
      assert(lower:add { name = "a/f2", data = "two" })
      assert(lower:add { name = "b", type = "dir", mode = tonumber("700", 8), mtime = 42 })
      assert(lower:add { name = "b/x", data = "x" })
      assert(lower:add { name = "up", type = "symlink", linkname = "../../.." })
      local l1 = assert(lower:commit())
      local upper = assert(archive.layer_writer(s))
      assert(upper:add { name = "a/.wh..wh..opq", data = "" })
      assert(upper:add { name = "a/new", data = "new" })
      assert(upper:add { name = "b/.wh.x", data = "" })
      assert(upper:add { name = "up/escaped", data = "!" }) -- through the symlink: lands inside
      local l2 = assert(upper:commit())
      local z = assert(archive.compress(s, l2, "gzip"))

      local root = dir .. "/rootfs"
      helpers.ok("mkdir " .. q(root))
      assert.is_true(archive.apply(s:path(l1), root))
      assert.are.equal("700 42", helpers.ok("stat -c '%a %Y' " .. q(root .. "/b")):gsub("%s+$", ""))
      assert.is_true(archive.apply(s:path(z), root, { whiteouts = true }))
      assert.are.same({ "new" }, helpers.listdir(root .. "/a"))
      assert.are.same({}, helpers.listdir(root .. "/b"))
      assert.are.equal("!", helpers.read(root .. "/escaped"))
      assert.are.same({ "rootfs", "src.txt" }, (function()
        local t = helpers.listdir(dir)
        table.sort(t)
        return t
      end)())
    end)

    it("returns nil, msg, code for a missing destination or archive", function()
      local lw = assert(archive.layer_writer(s))
      assert(lw:add { name = "f", data = "x" })
      local d = assert(lw:commit())
      local ok, msg, code = archive.apply(s:path(d), dir .. "/nonexistent")
      assert.is_nil(ok)
      assert.matches("nonexistent", msg, 1, true)
      assert.are.equal("ENOENT", code)
      ok, msg, code = archive.apply(dir .. "/missing.tar", dir)
      assert.is_nil(ok)
      assert.matches("missing.tar", msg, 1, true)
      assert.are.equal("ENOENT", code)
    end)
  end)

  describe("writer", function()
    it("writes a plain tar file with content from data, a host file and a blob", function()
      local blob = assert(s:put "blob bytes\n")
      local out = dir .. "/out.tar"
      local w = assert(archive.writer(out, {}))
      assert(w:add { name = "manifest.json", data = "[]", mtime = 0 })
      assert(w:add { name = "blobs/sha256", type = "dir" })
      assert(w:add { name = "blobs/sha256/" .. blob:sub(8), blob = { s, blob } })
      assert(w:add { name = "src.txt", src = src })
      local d, n = assert(w:close())
      assert.matches("^sha256:", d)
      assert.are.equal(n, #helpers.read(out))
      assert.are.equal(d:sub(8), helpers.ok("sha256sum " .. q(out)):match "^%x+")
      assert.are.equal("blob bytes\n", helpers.ok("tar -xOf " .. q(out) .. " blobs/sha256/" .. blob:sub(8)))
      assert.error_matches(function()
        w:add { name = "late" }
      end, "finished tar writer", 1, true)
    end)

    it("removes a half-written file when dropped, and fails on a bad path", function()
      do
        local w <close> = assert(archive.writer(dir .. "/half.tar"))
        assert(w:add { name = "x", data = "x" })
      end
      assert.is_nil(io.open(dir .. "/half.tar"))
      local ok, _, code = archive.writer(dir .. "/no/such/dir.tar")
      assert.is_nil(ok)
      assert.are.equal("ENOENT", code)
    end)
  end)

  describe("compress and decompress", function()
    it("round-trips through the real gzip and zstd, deterministically", function()
      helpers.ok("head -c 2500000 /dev/urandom | base64 > " .. q(dir .. "/data"))
      local orig = assert(s:ingest_file(dir .. "/data"))
      for _, how in ipairs { "gzip", "zstd" } do
        local z1, n1 = assert(archive.compress(s, orig, how, 3))
        local z2 = assert(archive.compress(s, orig, how, 3))
        assert.are.equal(z1, z2)
        assert.is_true(n1 < 2500000 * 4 / 3)
        local tool = how == "gzip" and "gzip -dc" or "zstd -dc"
        assert.are.equal("", helpers.ok(tool .. " < " .. q(s:path(z1)) .. " | cmp - " .. q(dir .. "/data")))
        local back = assert(archive.decompress(s, z1))
        assert.are.equal(orig, back)
      end
      assert.are.equal(orig, (archive.decompress(s, orig)))
    end)

    it("stores incompressible 1 MiB gzip members instead of deflating them, still valid gzip", function()
      -- 3 MiB of random bytes then 1 MiB of zeros: the random members come out about their own
      -- size (stored), the zeros shrink to almost nothing; gzip -d gives the input back
      helpers.ok("(head -c 3145728 /dev/urandom; head -c 1048576 /dev/zero) > " .. q(dir .. "/mixed"))
      local orig = assert(s:ingest_file(dir .. "/mixed"))
      local z, n = assert(archive.compress(s, orig, "gzip", 6))
      assert.is_true(n > 3145728 and n < 3145728 + 3145728 / 100, "size " .. n)
      assert.are.equal("", helpers.ok("gzip -dc < " .. q(s:path(z)) .. " | cmp - " .. q(dir .. "/mixed")))
      assert.are.equal(z, (archive.compress(s, orig, "gzip", 6)))
    end)

    it("raises on misuse and returns nil, msg, code for a missing blob", function()
      assert.error_matches(function()
        archive.compress(s, "sha256:nothex", "gzip")
      end, "bad argument #2", 1, true)
      assert.error_matches(function()
        archive.compress(s, "sha256:" .. string.rep("0", 64), "lz4")
      end, "invalid option 'lz4'", 1, true)
      local ok, msg, code = archive.compress(s, "sha256:" .. string.rep("0", 64), "zstd")
      assert.is_nil(ok)
      assert.is_string(msg)
      assert.are.equal("ENOTFOUND", code)
      ok, msg = archive.compress(s, "sha256:" .. string.rep("0", 64), "gzip", 99)
      assert.is_nil(ok)
      assert.matches("level", msg)
    end)
  end)

  describe("overlay form and layers from trees", function()
    local root_user = require("cbuild.core.sys").geteuid() == 0

    it("applies whiteouts as 0/0 devices and opaque xattrs, and reads them back", function()
      if not root_user then
        return pending "needs root"
      end
      local lw = assert(archive.layer_writer(s))
      assert(lw:add { name = "etc", type = "dir", mtime = 100 })
      assert(lw:add { name = "etc/.wh.passwd" })
      assert(lw:add { name = "opt/.wh..wh..opq" })
      assert(lw:add { name = "opt/x", data = "x", mtime = 100, xattrs = { ["trusted.overlay.opaque"] = "y" } })
      local d = assert(lw:commit())
      local snap = helpers.tmpdir "snap"
      assert(archive.apply(s:path(d), snap, { overlay = true }))
      local st = helpers.ok("stat -c '%F %t,%T' " .. q(snap .. "/etc/passwd"))
      assert.are.equal("character special file 0,0", (st:gsub("%s+$", "")))
      assert.is_false(helpers.sh("test -e " .. q(snap .. "/etc/.wh.passwd")) == 0)
      -- and back: the same entries, in the same order
      local d2 = assert(archive.layer_from_dir(s, snap, { overlay = true, exclude = { "nothing" } }))
      local got = {}
      for e in assert(archive.open(s:path(d2))):entries() do
        got[#got + 1] = e.name .. ":" .. e.type
        assert.is_nil(e.xattrs["trusted.overlay.opaque"])
      end
      assert.are.same({ "etc/:dir", "etc/.wh.passwd:file", "opt/:dir", "opt/.wh..wh..opq:file", "opt/x:file" }, got)
    end)

    it("diffs two trees", function()
      local lower, upper = helpers.tmpdir "lower", helpers.tmpdir "upper"
      helpers.ok("cd " .. q(lower) .. " && mkdir a && echo 1 > a/one && echo 2 > two")
      helpers.ok("rm -rf " .. q(upper) .. " && cp -a " .. q(lower) .. " " .. q(upper))
      helpers.ok("cd " .. q(upper) .. " && rm two && echo 3 > a/three")
      local d = assert(archive.layer_from_diff(s, lower, upper, { clamp_mtime = 0 }))
      local got = {}
      for e in assert(archive.open(s:path(d))):entries() do
        got[#got + 1] = e.name
        assert.are.equal(0, e.mtime)
      end
      assert.are.same({ "a/", "a/three", ".wh.two" }, got)
    end)

    it("raises on misuse and returns nil, msg, code for a missing dir", function()
      assert.error_matches(function()
        archive.layer_from_dir(s, dir, { exclude = { 1 } })
      end, "exclude[1] must be a string", 1, true)
      assert.error_matches(function()
        archive.layer_from_dir(s, dir, { clamp_mtime = "soon" })
      end, "clamp_mtime", 1, true)
      assert.error_matches(function()
        archive.layer_from_diff({}, dir, dir)
      end, "cbuild.core.store expected", 1, true)
      local ok, msg, code = archive.layer_from_dir(s, dir .. "/missing")
      assert.is_nil(ok)
      assert.matches("missing", msg, 1, true)
      assert.are.equal("ENOENT", code)
      local ok2, _, code2 = archive.layer_from_diff(s, dir .. "/missing", dir)
      assert.is_nil(ok2)
      assert.are.equal("ENOENT", code2)
    end)
  end)
end)
