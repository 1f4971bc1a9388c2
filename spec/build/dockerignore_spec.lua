-- spec/build/dockerignore_spec.lua: docker's .dockerignore semantics, ported from
-- moby/patternmatcher's tests (patternmatcher_test.go, ignorefile_test.go) and the examples
-- in docker's documentation.
local dockerignore = require "cbuild.build.dockerignore"
local errors = require "cbuild.errors"

local function excluded(patterns, path)
  return (dockerignore.new(patterns):matches(path))
end

describe("cbuild.build.dockerignore", function()
  describe("read_all (ignorefile.ReadAll)", function()
    it("trims, drops comments and blank lines, strips a leading slash, keeps '!'", function()
      local text = "test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n!\n! "
      local pats, lines = dockerignore.read_all(text)
      assert.are.same({ "test1", "test2", "a/file/here", "lastfile", "!inverted/abs/path", "!", "!" }, pats)
      assert.are.same({ 1, 2, 3, 5, 7, 8, 9 }, lines)
    end)

    it("cleans patterns like filepath.Clean and handles BOM and CRLF", function()
      local pats = dockerignore.read_all "\239\187\191a//b/./c/..\r\n  #not a comment\r\n/\n../x\n/../y\n"
      assert.are.same({ "a/b", "#not a comment", "/", "../x", "y" }, pats)
    end)
  end)

  describe("clean", function()
    it("behaves like Go's path.Clean", function()
      local cases = {
        [""] = ".", ["."] = ".", ["a/"] = "a", ["a//b"] = "a/b", ["/.."] = "/", ["a/../.."] = "..",
        ["../../a"] = "../../a", ["/a/./b/../c/"] = "/a/c", ["abc/def/../../.."] = "..",
      }
      for input, want in pairs(cases) do
        assert.are.equal(want, dockerignore.clean(input), input)
      end
    end)
  end)

  describe("patterns (patternmatcher TestMatches)", function()
    -- {pattern, path, "exact" | "inexact" | "fail"}: exact also matches without parents
    local cases = {
      { "**", "file", "exact" }, { "**", "file/", "exact" }, { "**/", "file", "exact" },
      { "**/", "file/", "exact" }, { "**", "/", "exact" }, { "**/", "/", "exact" },
      { "**", "dir/file", "exact" }, { "**/", "dir/file", "exact" }, { "**", "dir/file/", "exact" },
      { "**/", "dir/file/", "exact" }, { "**/**", "dir/file", "exact" }, { "**/**", "dir/file/", "exact" },
      { "dir/**", "dir/file", "exact" }, { "dir/**", "dir/file/", "exact" },
      { "dir/**", "dir/dir2/file", "exact" }, { "dir/**", "dir/dir2/file/", "exact" },
      { "**/dir", "dir", "exact" }, { "**/dir", "dir/file", "inexact" },
      { "**/dir2/*", "dir/dir2/file", "exact" }, { "**/dir2/*", "dir/dir2/file/", "inexact" },
      { "**/dir2/**", "dir/dir2/dir3/file", "exact" }, { "**/dir2/**", "dir/dir2/dir3/file/", "exact" },
      { "**file", "file", "exact" }, { "**file", "dir/file", "exact" }, { "**/file", "dir/file", "exact" },
      { "**file", "dir/dir/file", "exact" }, { "**/file", "dir/dir/file", "exact" },
      { "**/file*", "dir/dir/file", "exact" }, { "**/file*", "dir/dir/file.txt", "exact" },
      { "**/file*txt", "dir/dir/file.txt", "exact" }, { "**/file*.txt", "dir/dir/file.txt", "exact" },
      { "**/file*.txt*", "dir/dir/file.txt", "exact" }, { "**/**/*.txt", "dir/dir/file.txt", "exact" },
      { "**/**/*.txt2", "dir/dir/file.txt", "fail" }, { "**/*.txt", "file.txt", "exact" },
      { "**/**/*.txt", "file.txt", "exact" }, { "a**/*.txt", "a/file.txt", "exact" },
      { "a**/*.txt", "a/dir/file.txt", "exact" }, { "a**/*.txt", "a/dir/dir/file.txt", "exact" },
      { "a/*.txt", "a/dir/file.txt", "fail" }, { "a/*.txt", "a/file.txt", "exact" },
      { "a/*.txt**", "a/file.txt", "exact" }, { "a[b-d]e", "ae", "fail" }, { "a[b-d]e", "ace", "exact" },
      { "a[b-d]e", "aae", "fail" }, { "a[^b-d]e", "aze", "exact" }, { ".*", ".foo", "exact" },
      { ".*", "foo", "fail" }, { "abc.def", "abcdef", "fail" }, { "abc.def", "abc.def", "exact" },
      { "abc.def", "abcZdef", "fail" }, { "abc?def", "abcZdef", "exact" }, { "abc?def", "abcdef", "fail" },
      { "**/foo/bar", "foo/bar", "exact" }, { "**/foo/bar", "dir/foo/bar", "exact" },
      { "**/foo/bar", "dir/dir2/foo/bar", "exact" }, { "abc/**", "abc", "fail" },
      { "abc/**", "abc/def", "exact" }, { "abc/**", "abc/def/ghi", "exact" }, { "**/.foo", ".foo", "exact" },
      { "**/.foo", "bar.foo", "fail" }, { "a(b)c/def", "a(b)c/def", "exact" },
      { "a(b)c/def", "a(b)c/xyz", "fail" }, { "a.|)$(}+{bc", "a.|)$(}+{bc", "exact" },
      { "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", "exact" },
      { "dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", "exact" },
      { "a\\\\", "a\\", "exact" }, { "a\\*b", "a*b", "exact" },
    }
    for _, c in ipairs(cases) do
      it(string.format("%q vs %q: %s", c[1], c[2], c[3]), function()
        local m = dockerignore.new { c[1] }
        assert.are.equal(c[3] == "exact", m.patterns[1]:match(c[2]), "exact match")
        assert.are.equal(c[3] ~= "fail", (m:matches(c[2])), "match or parent match")
        -- MatchesUsingParentResults: walk down from the top with each parent's results
        local path = dockerignore.clean(c[2])
        local info
        for sl in path:gmatch "()/" do
          if sl > 1 then
            _, _, info = m:matches_walk(path:sub(1, sl - 1), info)
          end
        end
        assert.are.equal(c[3] ~= "fail", (m:matches_walk(path, info)), "using parent results")
      end)
    end

    it("multi-pattern cases", function()
      assert.is_false(excluded({ "**", "!util/docker/web" }, "util/docker/web/foo"))
      assert.is_true(excluded({ "**", "!util/docker/web", "util/docker/web/foo" }, "util/docker/web/foo"))
      assert.is_false(excluded({ "**", "!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl" },
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl"))
      assert.is_false(excluded({ "**", "!dist/*.whl" },
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl"))
    end)
  end)

  describe("simple matcher cases", function()
    it("wildcards, exclusions and order", function()
      assert.is_true(excluded({ "*" }, "fileutils.go"))
      assert.is_true(excluded({ "*.go" }, "fileutils.go"))
      assert.is_true(excluded({ "!fileutils.go", "*.go" }, "fileutils.go"))
      assert.is_false(excluded({ "*.go", "!fileutils.go" }, "fileutils.go"))
      assert.is_false(excluded({ "docs", "!docs/README.md" }, "docs/README.md"))
      assert.is_false(excluded({ "docs/", "!docs/README.md" }, "docs/README.md"))
      assert.is_false(excluded({ "docs/*", "!docs/README.md" }, "docs/README.md"))
      assert.is_false(excluded({ "*.go" }, "."))
      assert.is_false(excluded({}, "/any/path/there"))
      assert.is_false(excluded({ "docs", "config", "" }, "x"))
      assert.is_true(excluded({ "docs", "  !docs/README.md  ", "docs/README.md" }, "docs/README.md"))
    end)

    it("a parent directory match excludes everything below it", function()
      assert.is_true(excluded({ "node_modules" }, "node_modules/a/b/c.js"))
      assert.is_false(excluded({ "node_modules" }, "src/node_modules/x"))
      assert.is_true(excluded({ "a*" }, "ab/c"))
    end)

    it("reports the pattern that decided, with its line", function()
      local text = "# secrets\n\n*.txt\n!keep.txt\n"
      local m = dockerignore.new(dockerignore.parse(text, { file = ".dockerignore" }))
      local ex, pat = m:matches "secret.txt"
      assert.is_true(ex)
      assert.are.equal(3, pat.line)
      assert.are.equal("*.txt", pat.pattern)
      assert.are.equal(".dockerignore", pat.file)
      ex, pat = m:matches "keep.txt"
      assert.is_false(ex)
      assert.is_nil(pat)
    end)
  end)

  describe("filepath.Match (patternmatcher TestMatch)", function()
    local cases = {
      { "abc", "abc", true }, { "*", "abc", true }, { "*c", "abc", true }, { "a*", "a", true },
      { "a*", "abc", true }, { "a*", "ab/c", true }, { "a*/b", "abc/b", true }, { "a*/b", "a/c/b", false },
      { "a*b*c*d*e*/f", "axbxcxdxe/f", true }, { "a*b*c*d*e*/f", "axbxcxdxexxx/f", true },
      { "a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false }, { "a*b*c*d*e*/f", "axbxcxdxexxx/fff", false },
      { "a*b?c*x", "abxbbxdbxebxczzx", true }, { "a*b?c*x", "abxbbxdbxebxczzy", false },
      { "ab[c]", "abc", true }, { "ab[b-d]", "abc", true }, { "ab[e-g]", "abc", false },
      { "ab[^c]", "abc", false }, { "ab[^b-d]", "abc", false }, { "ab[^e-g]", "abc", true },
      { "a\\*b", "a*b", true }, { "a\\*b", "ab", false }, { "a?b", "a☺b", true },
      { "a[^a]b", "a☺b", true }, { "a???b", "a☺b", false }, { "a[^a][^a][^a]b", "a☺b", false },
      { "[a-ζ]*", "α", true }, { "*[a-ζ]", "A", false }, { "a?b", "a/b", false }, { "a*b", "a/b", false },
      { "[\\]a]", "]", true }, { "[\\-]", "-", true }, { "[x\\-]", "x", true }, { "[x\\-]", "-", true },
      { "[x\\-]", "z", false }, { "[\\-x]", "x", true }, { "[\\-x]", "-", true }, { "[\\-x]", "a", false },
      { "*x", "xxx", true },
    }
    for _, c in ipairs(cases) do
      it(string.format("%q vs %q", c[1], c[2]), function()
        assert.are.equal(c[3], excluded({ c[1] }, c[2]))
      end)
    end

    local bad = { "[]a]", "[-]", "[x-]", "[-x]", "\\", "[a-b-c]", "[", "[^", "[^bc", "a[", "!" }
    for _, p in ipairs(bad) do
      it(string.format("rejects %q", p), function()
        assert.has_error(function()
          dockerignore.new { p }
        end)
      end)
    end

    it("match() is Go's filepath.Match for one segment", function()
      assert.is_true(dockerignore.match("*.txt", "a.txt"))
      assert.is_false(dockerignore.match("*.txt", "d/a.txt"))
      assert.is_true(dockerignore.match("[a-c]?", "bz"))
      local ok, msg = dockerignore.match("[", "x")
      assert.is_nil(ok)
      assert.are.equal("syntax error in pattern", msg)
      assert.is_true(dockerignore.has_wildcards "a/*.txt")
      assert.is_false(dockerignore.has_wildcards "a\\*.txt")
    end)
  end)

  describe("docker's documented examples", function()
    local m = dockerignore.new(dockerignore.parse "# comment\n*/temp*\n*/*/temp*\ntemp?\n")
    it("*/temp* excludes one level down only", function()
      assert.is_true((m:matches "somedir/temporary.txt"))
      assert.is_true((m:matches "somedir/temp"))
      assert.is_true((m:matches "somedir/temp/inner.txt"))
      assert.is_false((m:matches "temporary.txt"))
    end)
    it("*/*/temp* excludes two levels down", function()
      assert.is_true((m:matches "somedir/subdir/temporary.txt"))
      assert.is_false((m:matches "a/b/c/temporary.txt"))
    end)
    it("temp? excludes one-character extensions at the root", function()
      assert.is_true((m:matches "tempa"))
      assert.is_true((m:matches "tempb"))
      assert.is_false((m:matches "tempab"))
    end)
    it("**/*.go excludes every .go file", function()
      local g = dockerignore.new { "**/*.go" }
      assert.is_true((g:matches "main.go"))
      assert.is_true((g:matches "a/b/c/x.go"))
      assert.is_false((g:matches "a/b/c/x.gox"))
    end)
    it("later lines win: *.md, !README*.md, README-secret.md", function()
      local r = dockerignore.new(dockerignore.parse "*.md\n!README*.md\nREADME-secret.md\n")
      assert.is_true((r:matches "CHANGES.md"))
      assert.is_false((r:matches "README.md"))
      assert.is_false((r:matches "README-public.md"))
      assert.is_true((r:matches "README-secret.md"))
      local r2 = dockerignore.new(dockerignore.parse "*.md\nREADME-secret.md\n!README*.md\n")
      assert.is_false((r2:matches "README-secret.md"))
    end)
  end)

  describe("may_match_inside", function()
    it("is false without exceptions", function()
      assert.is_false(dockerignore.new({ "dir" }):may_match_inside "dir")
    end)
    it("follows docker's prefix rule for literal exceptions", function()
      local m = dockerignore.new { "docs", "!docs/README.md" }
      assert.is_true(m:may_match_inside "docs")
      assert.is_false(m:may_match_inside "other")
      assert.is_false(m:may_match_inside "docs/sub")
      local deep = dockerignore.new { "a", "!a/b/c/keep" }
      assert.is_true(deep:may_match_inside "a")
      assert.is_true(deep:may_match_inside "a/b")
      assert.is_false(deep:may_match_inside "a/x")
    end)
    it("matches wildcard exceptions segment by segment", function()
      local m = dockerignore.new { "*", "!src/*/keep.txt", "!**/important" }
      assert.is_true(m:may_match_inside "src")
      assert.is_true(m:may_match_inside "anything") -- "**/important" may be anywhere
      local w = dockerignore.new { "*", "!s*/keep.txt" }
      assert.is_true(w:may_match_inside "src")
      assert.is_false(w:may_match_inside "lib")
      assert.is_false(w:may_match_inside "src/deeper")
    end)
  end)

  describe("errors", function()
    it("an invalid pattern is a user error at file:line", function()
      local ok, e = pcall(dockerignore.parse, "a\n# c\n[z\n", { file = "Dockerfile.dockerignore" })
      assert.is_false(ok)
      assert.is_true(errors.is(e))
      assert.are.equal('Dockerfile.dockerignore:3: invalid pattern "[z": syntax error in pattern',
        tostring(e))
      ok, e = pcall(dockerignore.parse, "a\n  !  \n")
      assert.is_false(ok)
      assert.are.equal('.dockerignore:2: invalid pattern "!": illegal exclusion pattern: "!"', tostring(e))
    end)
  end)
end)
