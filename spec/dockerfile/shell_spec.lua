-- BuildKit's shell fixtures (../shared/conformance/dockerfile-shell) and the table cases of
-- upstream frontend/dockerfile/shell/lex_test.go (TestProcessWithMatches and friends), ported.
local shell = require "cbuild.dockerfile.shell"
local plpath = require "pl.path"

local here = debug.getinfo(1, "S").source:match "^@(.*)/[^/]*$" or "."
local root = plpath.normpath(plpath.abspath(here .. "/../../../shared/conformance/dockerfile-shell"))

local function trim(s)
  return (s:gsub("^%s+", ""):gsub("%s+$", ""))
end

local function keys(set)
  local out = {}
  for k in pairs(set or {}) do
    out[#out + 1] = k
  end
  table.sort(out)
  return out
end

describe("cbuild.dockerfile.shell", function()
  describe("envVarTest (ProcessWord)", function()
    local env = { PWD = "/home", SHELL = "bash", KOREAN = "한국어", NULL = "" }
    local n = 0
    for line in io.lines(root .. "/envVarTest") do
      if not line:match "^#" and trim(line) ~= "" then
        local p, src, expected = trim(line):match "^([^|]*)|([^|]*)|(.*)$"
        p, src, expected = trim(p), trim(src), trim(expected)
        if p ~= "W" then -- W lines are Windows-only upstream
          n = n + 1
          it(string.format("%d: %s", n, src), function()
            local got, err = shell.process_word(src, env)
            if expected == "error" then
              assert.is_nil(got)
              assert.matches("^failed to process ", err)
            else
              assert.are.equal(expected, got, err)
            end
          end)
        end
      end
    end
  end)

  describe("wordsTest (ProcessWords)", function()
    local env = {}
    local n = 0
    for line in io.lines(root .. "/wordsTest") do
      if line:match "^ENV " then
        local k, v = line:sub(4):gsub("^ +", ""):match "^([^=]*)=(.*)$"
        env[k] = v
      elseif not line:match "^#" then
        local a, b = line:match "^([^|]*)|(.*)$"
        local src = trim(a)
        local expected = {}
        for w in (b:gsub("^ +", "") .. ","):gmatch "([^,]*)," do
          expected[#expected + 1] = w
        end
        local snapshot = {}
        for k, v in pairs(env) do
          snapshot[k] = v
        end
        n = n + 1
        it(string.format("%d: %s", n, src), function()
          local got = shell.process_words(src, snapshot) or { "error" }
          assert.are.same(expected, got)
        end)
      end
    end
  end)

  describe("lex_test.go TestProcessWithMatches", function()
    local cases = {
      { "x", { DUMMY = "dummy" }, "x", {}, {} },
      { "x ${UNUSED}", { DUMMY = "dummy" }, "x ", {}, { "UNUSED" } },
      { "x ${FOO}", { FOO = "y" }, "x y", { "FOO" }, {} },
      { "${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}", { FOO = "xxx", BAR = "" }, "xxx  ccc", { "BAR", "FOO" },
        { "BAZ" } },
      { "${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}", { FOO = "xxx", BAR = "" }, "xxx bbb ccc",
        { "BAR", "FOO" }, { "BAZ" } },
      { "${FOO:-}", { FOO = "xxx", BAR = "" }, "xxx", { "FOO" }, {} },
      { "${FOO:-}", {}, "", {}, { "FOO" } },
      { "${FOO+aaa} ${BAR+bbb} ${BAZ+ccc}", { FOO = "xxx", BAR = "" }, "aaa bbb ", { "BAR", "FOO" },
        { "BAZ" } },
      { "${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}", { FOO = "xxx", BAR = "" }, "aaa  ", { "BAR", "FOO" },
        { "BAZ" } },
      { "${FOO?aaa}", { FOO = "xxx", BAR = "" }, "xxx", { "FOO" }, {} },
      { "${BAR?bbb}", { FOO = "xxx", BAR = "" }, "", { "BAR" }, {} },
      { "${BAZ?ccc}", { FOO = "xxx", BAR = "" }, false },
      { "${FOO:?aaa}", { FOO = "xxx", BAR = "" }, "xxx", { "FOO" }, {} },
      { "${BAR:?bbb}", { FOO = "xxx", BAR = "" }, false },
      { "${BAZ:?ccc}", { FOO = "xxx", BAR = "" }, false },
      { "${BAZ:?}", { FOO = "xxx", BAR = "" }, false },
      { "${FOO=aaa}", { FOO = "xxx", BAR = "" }, false },
      { "${FOO=:aaa}", { FOO = "xxx", BAR = "" }, false },
      { "${FOO=}", {}, false },
      { "${FOO#()[]{\\}^$.\\*\\?|\\\\}", { FOO = "()[]{}^$.*?|\\x" }, "x", { "FOO" }, {} },
      { "${FOO%%\\**}", { FOO = "xx**" }, "xx", { "FOO" }, {} },
      { "${FOO#*x*y}", { FOO = "xxyy" }, "y", { "FOO" }, {} },
      { "${FOO#*}", { FOO = "xxyy" }, "xxyy", { "FOO" }, {} },
      { "${FOO#$BAR}", { FOO = "xxyy", BAR = "x" }, "xyy", { "BAR", "FOO" }, {} },
      { "${FOO#$BAR}", { FOO = "xxyy", BAR = "" }, "xxyy", { "BAR", "FOO" }, {} },
      { "${FOO#}", { FOO = "xxyy" }, "xxyy", { "FOO" }, {} },
      { "${FOO##*x}", { FOO = "xxyy" }, "yy", { "FOO" }, {} },
      { "${FOO##}", { FOO = "xxyy" }, "xxyy", { "FOO" }, {} },
      { "${FOO#?\\?}", { FOO = "???y" }, "?y", { "FOO" }, {} },
      { "${ABC:-.}${FOO%x}${ABC:-.}", { FOO = "xxyy" }, ".xxyy.", { "FOO" }, { "ABC" } },
      { "${FOO%%\\**\\*}", { FOO = "a***yy*" }, "a", { "FOO" }, {} },
      { "${FOO%}", { FOO = "xxyy" }, "xxyy", { "FOO" }, {} },
      { "${FOO%%$BAR}", { FOO = "xxyy", BAR = "" }, "xxyy", { "BAR", "FOO" }, {} },
      { "${FOO:#}", {}, false },
      { "${FOO:##}", {}, false },
      { "${FOO:%}", {}, false },
      { "${FOO:%%}", {}, false },
      { "${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}", { FOO = "/foo*/*/*.txt", NEEDLE = "\\*/" },
        "/foo.*/*.txt - /foo..*.txt", { "FOO", "NEEDLE" }, {} },
      { "${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}", { FOO = "/tmp/tmp/bar.txt", NEEDLE = "/tmp" },
        "/tmp/bar.txt - /bar.txt", { "FOO", "NEEDLE" }, {} },
      { "${FOO/$NEEDLE/$REPLACEMENT} - ${FOO//$NEEDLE/$REPLACEMENT}",
        { FOO = "/a/foo/b/c.txt", NEEDLE = "/?/", REPLACEMENT = "/" }, "/foo/b/c.txt - /foo/c.txt",
        { "FOO", "NEEDLE", "REPLACEMENT" }, {} },
      { "${FOO/$NEEDLE/$REPLACEMENT}",
        { FOO = "http://google.de", NEEDLE = "http://", REPLACEMENT = "https://" },
        "https://google.de", { "FOO", "NEEDLE", "REPLACEMENT" }, {} },
      { "${FOO//\\//\\/}", { FOO = "/tmp/foo.txt" }, "\\/tmp\\/foo.txt", { "FOO" }, {} },
      { "${FOO/$BAR/ww}", { FOO = "xxyy", BAR = "" }, "wwxxyy", { "BAR", "FOO" }, {} },
      { "${FOO//ww}", { FOO = "xxyy" }, false },
      { "${FOO//}", { FOO = "xxyy" }, false },
      { "${FOO///}", { FOO = "xxyy" }, "xxyy", { "FOO" }, {} },
      { "${FOO///}", {}, "", {}, { "FOO" } },
    }
    for i, c in ipairs(cases) do
      it(string.format("%d: %s", i, c[1]), function()
        local got, unmatched, matched = shell.process_word(c[1], c[2])
        if c[3] == false then
          assert.is_nil(got)
          assert.is_string(unmatched)
          return
        end
        assert.are.equal(c[3], got, unmatched)
        assert.are.same(c[4], keys(matched))
        assert.are.same(c[5], keys(unmatched))
      end)
    end

    it("expands the TARGETVARIANT release-name idiom", function()
      local word = "something-${VERSION}.${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}.tar.gz"
      local env = { VERSION = "v1.2.3", TARGETOS = "linux", TARGETARCH = "arm", TARGETVARIANT = "v7" }
      assert.are.equal("something-v1.2.3.linux-arm-v7.tar.gz", shell.process_word(word, env))
      env.TARGETARCH, env.TARGETVARIANT = "arm64", nil
      assert.are.equal("something-v1.2.3.linux-arm64.tar.gz", shell.process_word(word, env))
    end)
  end)

  describe("messages and modes", function()
    it("reports ${v?msg} and ${v:?msg} with the variable name", function()
      local env = { VAR = "", ARG = "x" }
      assert.are.equal('failed to process "${VAR:?message here$ARG}": VAR: message herex',
        select(2, shell.process_word("${VAR:?message here$ARG}", env)))
      assert.are.equal("", shell.process_word("${VAR?message here$ARG}", env))
      assert.matches("NOPE: is not allowed to be unset", select(2, shell.process_word("${NOPE?}", {})))
      assert.matches("VAR: is not allowed to be empty", select(2, shell.process_word("${VAR:?}", env)))
    end)

    it("reports syntax errors", function()
      assert.matches("syntax error: missing '}'", select(2, shell.process_word("${a", {})))
      assert.matches("syntax error: bad substitution", select(2, shell.process_word("${}", {})))
      assert.matches("unsupported modifier %(:=%)", select(2, shell.process_word("${a:=b}", {})))
      assert.matches("matching single%-quote", select(2, shell.process_word("'a", {})))
      assert.matches("invalid pattern", select(2, shell.process_word("${a#\\x}", { a = "1" })))
    end)

    it("uses the backtick as escape when asked", function()
      assert.are.equal("a$b\\c", shell.process_word("a`$b\\c", {}, { escape = "`" }))
      assert.are.equal("C:\\dir", shell.process_word("C:\\dir", {}, { escape = "`" }))
    end)

    it("leaves unset references alone with skip_unset", function()
      local opts = { skip_unset = true }
      assert.are.equal("$A ${B} ${C:-x} ${D/a/b} set", shell.process_word("$A ${B} ${C:-x} ${D/a/b} $E",
        { E = "set" }, opts))
    end)

    it("keeps quotes and escapes in raw modes", function()
      local opts = { raw_quotes = true, raw_escapes = true }
      assert.are.same({ "'a b'", '"c\\"d"', "e\\ f" },
        shell.process_words("'a b' \"c\\\"d\" e\\ f", {}, opts))
    end)

    it("accepts a lookup function as the environment", function()
      local got, unmatched = shell.process_word("$A-$B", function(k)
        return k == "A" and "1" or nil
      end)
      assert.are.equal("1-", got)
      assert.are.same({ "B" }, keys(unmatched))
    end)

    it("splits words only on white space that is not quoted", function()
      assert.are.same({ "a", "b c", "d" }, shell.process_words('a "b c" $X', { X = " d " }))
    end)
  end)
end)
