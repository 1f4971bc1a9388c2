-- spec/build/context_spec.lua: build contexts on real temporary trees.
local context = require "cbuild.build.context"
local digest = require "cbuild.core.digest"
local errors = require "cbuild.errors"
local fs = require "cbuild.core.fs"

local function tmpdir()
  return assert(fs.realpath(assert(fs.mkdtemp("/tmp/cbuild-ctx-spec-"))))
end

-- Write a tree: {["a/b.txt"] = "data", ["d/"] = true, ["l"] = {link = "target"}}.
local function mktree(root, spec)
  for path, v in pairs(spec) do
    local full = root .. "/" .. path
    local parent = full:match "^(.*)/[^/]*$"
    assert(fs.mkdir_p(parent))
    if type(v) == "table" then
      assert(fs.symlink(v.link, full))
    elseif v == true then
      assert(fs.mkdir_p(full))
    else
      assert(fs.write_file(full, v))
    end
  end
end

local function rels(list)
  local out = {}
  for i, e in ipairs(list) do
    out[i] = e.rel
  end
  return out
end

local function raises(f, ...)
  local ok, e = pcall(f, ...)
  assert.is_false(ok)
  assert.is_true(errors.is(e), tostring(e))
  return tostring(e)
end

local loc = { file = "Dockerfile", line = 7 }

describe("cbuild.build.context", function()
  local dir
  before_each(function()
    dir = tmpdir()
  end)
  after_each(function()
    assert(fs.rm_rf(dir))
  end)

  describe("select", function()
    before_each(function()
      mktree(dir, {
        ["a.txt"] = "a", ["b.txt"] = "b", ["c.md"] = "c", ["sub/x/f"] = "f", ["sub/y/f"] = "g",
        ["sub/y/h"] = "h", ["empty/"] = true, ["link"] = { link = "sub/x/f" },
        ["abs"] = { link = "/sub/x" }, ["escape"] = { link = "../../../../etc/passwd" },
      })
    end)

    it("names files and directories relative to the root", function()
      local ctx = context.open(dir)
      local m = ctx:select("a.txt", loc)
      assert.are.equal(1, #m)
      assert.are.equal("a.txt", m[1].rel)
      assert.are.equal("file", m[1].type)
      assert.are.equal(1, m[1].st.size)
      assert.are.equal("dir", ctx:select("sub/", loc)[1].type)
      assert.are.same({ "." }, rels(ctx:select(".", loc)))
      assert.are.same({ "." }, rels(ctx:select("/", loc)))
    end)

    it("cannot leave the context: '..' and absolute paths resolve inside", function()
      local ctx = context.open(dir)
      assert.are.same({ "a.txt" }, rels(ctx:select("../a.txt", loc)))
      assert.are.same({ "a.txt" }, rels(ctx:select("/a.txt", loc)))
      assert.are.same({ "a.txt" }, rels(ctx:select("sub/../../../a.txt", loc)))
      local msg = raises(ctx.select, ctx, "escape", loc)
      assert.are.equal('Dockerfile:7: COPY: "escape" not found in build context', msg)
    end)

    it("follows symlinks inside the root and keeps the name as written", function()
      local ctx = context.open(dir)
      local m = ctx:select("link", loc)[1]
      assert.are.equal("sub/x/f", m.rel)
      assert.are.equal("link", m.name)
      assert.are.equal("file", m.type)
      assert.are.equal("sub/x/f", ctx:select("abs/f", loc)[1].rel)
    end)

    it("expands wildcards per segment with Go's filepath.Match, in byte order", function()
      local ctx = context.open(dir)
      assert.are.same({ "a.txt", "b.txt" }, rels(ctx:select("*.txt", loc)))
      assert.are.same({ "a.txt", "b.txt" }, rels(ctx:select("[ab].*", loc)))
      assert.are.same({ "sub/x/f", "sub/y/f" }, rels(ctx:select("sub/*/f", loc)))
      assert.are.same({ "sub/y/f", "sub/y/h" }, rels(ctx:select("sub/y/[f-h]", loc)))
      assert.are.same({ "sub/y/h" }, rels(ctx:select("sub/?/[g-h]", loc)))
      assert.are.same({ "sub/x/f", "sub/y/f", "sub/y/h" }, rels(ctx:select("s*/*/*", loc)))
      local msg = raises(ctx.select, ctx, "*.nothing", loc, "ADD")
      assert.are.equal('Dockerfile:7: ADD: "*.nothing" not found in build context', msg)
      msg = raises(ctx.select, ctx, "[", loc)
      assert.matches('invalid source pattern "%["', msg)
    end)

    it("says when a path is missing", function()
      local ctx = context.open(dir)
      local msg = raises(ctx.select, ctx, "nothere", loc)
      assert.are.equal('Dockerfile:7: COPY: "nothere" not found in build context', msg)
    end)

    it("hides ignored paths and says which .dockerignore line excluded them", function()
      mktree(dir, { [".dockerignore"] = "# comment\n\n*.txt\nsub/y\n" })
      local ctx = context.open(dir)
      local msg = raises(ctx.select, ctx, "a.txt", loc)
      assert.are.equal('Dockerfile:7: COPY: "a.txt" not found in build context: '
        .. 'excluded by .dockerignore:3 ("*.txt")', msg)
      msg = raises(ctx.select, ctx, "sub/y/h", loc)
      assert.are.equal('Dockerfile:7: COPY: "sub/y/h" not found in build context: '
        .. 'excluded by .dockerignore:4 ("sub/y")', msg)
      msg = raises(ctx.select, ctx, "*.txt", loc)
      assert.matches('excluded by .dockerignore:3', msg)
      assert.are.same({ "c.md" }, rels(ctx:select("c.*", loc)))
      assert.are.same({ "sub/x/f" }, rels(ctx:select("sub/*/f", loc)))
    end)

    it("an ignored symlink target is invisible through the link", function()
      local ctx = context.open(dir, { dockerignore_text = "sub/x\n" })
      local msg = raises(ctx.select, ctx, "link", loc)
      assert.matches('excluded by .dockerignore:1 %("sub/x"%)', msg)
    end)

    it("a directory excluded but holding exceptions is visible", function()
      local ctx = context.open(dir, { dockerignore_text = "sub\n!sub/y/h\n" })
      assert.are.same({ "sub" }, rels(ctx:select("sub", loc)))
      assert.are.same({ "sub", "sub/y", "sub/y/h" }, rels(ctx:walk "sub"))
      raises(ctx.select, ctx, "sub/x", loc)
    end)
  end)

  describe("open", function()
    it("reads the ignore file from a path or text, and rejects a bad one", function()
      mktree(dir, { ["ctx/a"] = "a", ["ctx/b"] = "b", ["Dockerfile.dockerignore"] = "a\n" })
      local ctx = context.open(dir .. "/ctx", { dockerignore = dir .. "/Dockerfile.dockerignore" })
      assert.are.same({ ".", "b" }, rels(ctx:walk "."))
      local msg = raises(ctx.select, ctx, "a", loc)
      assert.matches("excluded by Dockerfile.dockerignore:1", msg)
      ctx = context.open(dir .. "/ctx", { dockerignore_text = "b" })
      assert.are.same({ ".", "a" }, rels(ctx:walk "."))
      raises(context.open, dir .. "/ctx", { dockerignore = dir .. "/missing" })
      raises(context.open, dir .. "/nope")
      msg = raises(context.open, dir .. "/ctx", { dockerignore_text = "ok\n[bad\n" })
      assert.are.equal('.dockerignore:2: invalid pattern "[bad": syntax error in pattern', msg)
    end)
  end)

  describe("open_tar", function()
    it("extracts a tarball (plain or gzip) into a temporary context, removed on close", function()
      mktree(dir, { ["src/Dockerfile"] = "FROM scratch\n", ["src/app/x"] = "x",
        ["src/skip.log"] = "l", ["src/.dockerignore"] = "*.log\n" })
      assert(os.execute(string.format("tar -C %q -cf %q . && tar -C %q -czf %q .", dir .. "/src",
        dir .. "/ctx.tar", dir .. "/src", dir .. "/ctx.tgz")))
      for _, name in ipairs { "ctx.tar", "ctx.tgz" } do
        local ctx = context.open_tar(dir .. "/" .. name, { tmpdir = dir })
        assert.are.same({ ".", ".dockerignore", "Dockerfile", "app", "app/x" }, rels(ctx:walk "."))
        assert.are.equal("x", fs.read_file(ctx.root .. "/app/x"))
        assert.are.equal(context.open(dir .. "/src"):hash ".", ctx:hash ".")
        local tmp = ctx.tmp
        ctx:close()
        assert.is_false(fs.exists(tmp))
        ctx:close()
      end
      raises(context.open_tar, dir .. "/src/app/x", { tmpdir = dir })
      assert.are.same({ "ctx.tar", "ctx.tgz", "src" }, fs.readdir(dir)) -- nothing left over
    end)

    it("reads the tarball from standard input with '-'", function()
      mktree(dir, { ["src/f"] = "from stdin" })
      assert(os.execute(string.format("tar -C %q -cf %q .", dir .. "/src", dir .. "/ctx.tar")))
      assert(fs.write_file(dir .. "/child.lua", string.format([[
        local ctx = require("cbuild.build.context").open_tar("-", { tmpdir = %q })
        io.write(require("cbuild.core.fs").read_file(ctx.root .. "/f"))
        ctx:close()
      ]], dir)))
      local cmd = string.format("LUA_PATH=%q LUA_CPATH=%q lua5.4 %q < %q", package.path, package.cpath,
        dir .. "/child.lua", dir .. "/ctx.tar")
      local p = assert(io.popen(cmd))
      local out = p:read "a"
      assert.is_true(p:close())
      assert.are.equal("from stdin", out)
    end)
  end)

  describe("walk", function()
    it("lists everything visible in byte order of the path, root first", function()
      mktree(dir, {
        ["a/b"] = "1", ["a-c"] = "2", ["a/b2/z"] = "3", ["B"] = "4", ["_"] = "5",
        ["l"] = { link = "a" }, ["ign/x"] = "6", ["keep.log"] = "7", ["x.log"] = "8",
      })
      local ctx = context.open(dir, { dockerignore_text = "ign\n*.log\n!keep.log\n" })
      assert.are.same({ ".", "B", "_", "a", "a-c", "a/b", "a/b2", "a/b2/z", "keep.log", "l" },
        rels(ctx:walk "."))
      local w = ctx:walk "a"
      assert.are.same({ "a", "a/b", "a/b2", "a/b2/z" }, rels(w))
      assert.are.equal("dir", w[1].type)
      assert.are.equal("symlink", ctx:walk("l")[1].type)
      assert.are.equal("a", ctx:walk("l")[1].st.target)
    end)
  end)

  describe("hash", function()
    local tree = {
      ["app/main.lua"] = "print 'hi'\n", ["app/lib/util.lua"] = "return {}\n",
      ["app/empty/"] = true, ["app/link"] = { link = "main.lua" }, ["app/secret.key"] = "k",
      [".dockerignore"] = "app/secret.key\n",
    }

    it("is stable across copies with different mtimes and inodes", function()
      mktree(dir, { one = true, two = true })
      mktree(dir .. "/one", tree)
      mktree(dir .. "/two", tree)
      assert(fs.utimes(dir .. "/two/app/main.lua", 1, 0, 1000000, 5))
      assert(fs.utimes(dir .. "/two/app/lib", 1, 0, 2000000, 5))
      local h1 = context.open(dir .. "/one"):hash "app"
      local h2 = context.open(dir .. "/two"):hash "app"
      assert.matches("^sha256:%x+$", h1)
      assert.are.equal(h1, h2)
      assert.are.equal(digest.sha256 "print 'hi'\n", context.open(dir .. "/one"):hash "app/main.lua")
    end)

    it("changes with content, names, modes, link targets, but not with ignored files", function()
      mktree(dir, tree)
      local function h()
        return context.open(dir):hash "app"
      end
      local base = h()
      assert(fs.write_file(dir .. "/app/secret.key", "other"))
      assert.are.equal(base, h())
      assert(fs.write_file(dir .. "/app/main.lua", "print 'ho'\n"))
      local changed = h()
      assert.are_not.equal(base, changed)
      assert(fs.chmod(dir .. "/app/main.lua", tonumber("755", 8)))
      local moded = h()
      assert.are_not.equal(changed, moded)
      assert(fs.unlink(dir .. "/app/link"))
      assert(fs.symlink("lib", dir .. "/app/link"))
      local relinked = h()
      assert.are_not.equal(moded, relinked)
      assert(fs.rename(dir .. "/app/empty", dir .. "/app/empty2"))
      assert.are_not.equal(relinked, h())
      assert.are_not.equal(h(), context.open(dir):hash("app", { uid = 1000, gid = 1000 }))
    end)

    it("memoizes file digests and reuses a saved cache without reading files", function()
      mktree(dir, { ["ctx/f1"] = "one", ["ctx/d/f2"] = "two", ["store/"] = true })
      local cache = dir .. "/store/cache/context-hashes"
      local ctx = context.open(dir .. "/ctx")
      local h = ctx:hash "."
      assert.are.equal(2, ctx.cache:reads())
      assert.are.equal(h, ctx:hash ".") -- same build: memo hit even for fresh files
      assert.are.equal(2, ctx.cache:reads())
      assert(ctx:save_cache(cache))
      -- fresh files are "racy" (changed too recently to trust their stat) and not saved
      local fresh = context.open(dir .. "/ctx")
      assert(fresh:load_cache(cache))
      fresh:hash "."
      assert.are.equal(2, fresh.cache:reads())
      os.execute "sleep 2.2"
      local c1 = context.open(dir .. "/ctx")
      c1:hash "."
      assert(c1:save_cache(cache))
      assert.are.equal(tonumber("600", 8), fs.lstat(cache).mode)
      local c2 = context.open(dir .. "/ctx")
      assert(c2:load_cache(cache))
      assert.are.equal(h, c2:hash ".")
      assert.are.equal(0, c2.cache:reads())
      -- a changed file is re-read, and only that one
      assert(fs.write_file(dir .. "/ctx/d/f2", "TWO"))
      local c3 = context.open(dir .. "/ctx")
      assert(c3:load_cache(cache))
      assert.are_not.equal(h, c3:hash ".")
      assert.are.equal(1, c3.cache:reads())
      -- its new line is appended; a fourth build reads nothing once it is no longer racy
      os.execute "sleep 2.2"
      local c4 = context.open(dir .. "/ctx")
      assert(c4:load_cache(cache))
      local h4 = c4:hash "."
      assert(c4:save_cache(cache))
      local c5 = context.open(dir .. "/ctx")
      assert(c5:load_cache(cache))
      assert.are.equal(h4, c5:hash ".")
      assert.are.equal(0, c5.cache:reads())
    end)

    it("keeps paths with % and newlines in the saved cache", function()
      mktree(dir, { ["ctx/a%41"] = "one", ["ctx/b\nc"] = "two" })
      local cache = dir .. "/hashes"
      os.execute "sleep 2.2"
      local c1 = context.open(dir .. "/ctx")
      local h = c1:hash "."
      assert(c1:save_cache(cache))
      local c2 = context.open(dir .. "/ctx")
      assert(c2:load_cache(cache))
      assert.are.equal(h, c2:hash ".")
      assert.are.equal(0, c2.cache:reads())
    end)

    it("reads the text cache of earlier versions and saves the binary one", function()
      mktree(dir, { ["ctx/f1"] = "one", ["ctx/d/f2"] = "two" })
      os.execute "sleep 2.2"
      local lines = { "cbuild-context-hashes 1" }
      for _, rel in ipairs { "f1", "d/f2" } do
        local host = dir .. "/ctx/" .. rel
        local st = fs.lstat(host)
        lines[#lines + 1] = string.format("%s %d %d %d %d %d %d %s", digest.sha256(assert(fs.read_file(host))),
          st.size, st.mtime, st.mtime_ns, st.ctime, st.ctime_ns, st.ino, host)
      end
      local cache = dir .. "/hashes"
      assert(fs.write_file(cache, table.concat(lines, "\n") .. "\n"))
      local c1 = context.open(dir .. "/ctx")
      assert(c1:load_cache(cache))
      local h = c1:hash "."
      assert.are.equal(0, c1.cache:reads())
      assert(fs.write_file(dir .. "/ctx/f1", "ONE"))
      os.execute "sleep 2.2"
      local c2 = context.open(dir .. "/ctx")
      assert(c2:load_cache(cache))
      assert.are_not.equal(h, c2:hash ".")
      assert.are.equal(1, c2.cache:reads())
      assert(c2:save_cache(cache))
      assert.are.equal("cbuild-context-hashes 2\n", assert(fs.read_file(cache)):sub(1, 24))
      local c3 = context.open(dir .. "/ctx")
      assert(c3:load_cache(cache))
      assert.are.equal(c2:hash ".", c3:hash ".")
      assert.are.equal(0, c3.cache:reads())
    end)

    it("trusts the records before a torn or damaged one, and rewrites such a file", function()
      mktree(dir, { ["ctx/a"] = "a", ["ctx/b"] = "b", ["ctx/c"] = "c" })
      os.execute "sleep 2.2"
      local cache = dir .. "/hashes"
      local c1 = context.open(dir .. "/ctx")
      local h = c1:hash "."
      assert(c1:save_cache(cache))
      local whole = assert(fs.read_file(cache))
      -- records are sorted by path: cut the file inside the last one (".../c")
      assert(fs.write_file(cache, whole:sub(1, #whole - 3)))
      local c2 = context.open(dir .. "/ctx")
      assert(c2:load_cache(cache))
      assert.are.equal(h, c2:hash ".")
      assert.are.equal(1, c2.cache:reads())
      assert(c2:save_cache(cache)) -- not appended after the torn record: rewritten
      assert.are.equal(whole, assert(fs.read_file(cache)))
      -- one byte changed in the first record's digest: it and everything after it are dropped
      local i = 24 + 5
      local bad = whole:sub(1, i - 1) .. string.char((whole:byte(i) + 1) % 256) .. whole:sub(i + 1)
      assert(fs.write_file(cache, bad))
      local c3 = context.open(dir .. "/ctx")
      assert(c3:load_cache(cache))
      assert.are.equal(h, c3:hash ".")
      assert.are.equal(3, c3.cache:reads())
    end)

    it("load_cache tolerates a missing or foreign file", function()
      local ctx = context.open(dir)
      assert.is_true(ctx:load_cache(dir .. "/none"))
      assert(fs.write_file(dir .. "/junk", "not a cache\n"))
      assert.is_true(ctx:load_cache(dir .. "/junk"))
    end)
  end)
end)
