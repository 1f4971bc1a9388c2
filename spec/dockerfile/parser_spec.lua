local parser = require "cbuild.dockerfile.parser"
local dump = require "cbuild.dockerfile.dump"
local errors = require "cbuild.errors"

local function parse(src)
  return parser.parse(src, { file = "Dockerfile" })
end

local function perr(src)
  local ok, e = pcall(parser.parse, src, { file = "Dockerfile" })
  assert.is_false(ok, "expected a parse error")
  assert.is_true(errors.is(e), tostring(e))
  return e
end

describe("cbuild.dockerfile.parser", function()
  describe("directives", function()
    it("reads syntax, escape and check at the top", function()
      local ast = parse "# syntax=docker/dockerfile:1\n# escape=`\n#check=skip=all\nFROM a\n"
      assert.are.same({ syntax = "docker/dockerfile:1", escape = "`", check = "skip=all" },
        ast.directives)
      assert.are.equal("`", ast.escape)
    end)

    it("uses the escape directive for continuations", function()
      local ast = parse "# escape=`\nFROM a\nRUN echo \\\nRUN dir c:\\ `\n  /w\n"
      assert.are.equal('(from "a")\n(run "echo \\\\")\n(run "dir c:\\\\   /w")\n', dump.dump(ast))
    end)

    it("ignores directives after a comment, a blank line or an instruction", function()
      assert.are.equal("\\", parse("# hello\n# escape=`\nFROM a\n").escape)
      assert.are.equal("\\", parse("\n# escape=`\nFROM a\n").escape)
      assert.are.same({}, parse("FROM a\n# escape=`\n").directives)
    end)

    it("ignores unknown directives and stops looking after them", function()
      local ast = parse "# foo=bar\n# escape=`\nFROM a\n"
      assert.are.same({}, ast.directives)
    end)

    it("rejects a repeated directive with its line", function()
      local e = perr "# escape=`\n# escape=\\\nFROM a\n"
      assert.are.equal("Dockerfile:2: only one escape parser directive can be used", tostring(e))
    end)

    it("rejects a bad escape token with a caret under it", function()
      local e = perr "# escape=x\nFROM a\n"
      assert.are.equal("Dockerfile:1: invalid escape token 'x' does not match ` or \\", tostring(e))
      assert.are.equal(10, e.loc.col)
      assert.are.equal("# escape=x", e.loc.text)
    end)

    it("skips a UTF-8 byte order mark", function()
      local ast = parse "\239\187\191# escape=`\nFROM a\n"
      assert.are.equal("`", ast.escape)
    end)
  end)

  describe("lines", function()
    it("treats keywords case-insensitively and keeps how they were written", function()
      local ast = parse "fRoM a\nrun x\n"
      assert.are.equal("from", ast.children[1].cmd)
      assert.are.equal("fRoM", ast.children[1].value)
      assert.are.equal('(from "a")\n(run "x")\n', dump.dump(ast))
    end)

    it("drops comments and blank lines inside continuations, warning about blank ones", function()
      local ast = parse "FROM a\nRUN a \\\n# c\n\n  b\n"
      assert.are.equal("a   b", ast.children[2].args[1])
      assert.are.equal(2, ast.children[2].start_line)
      assert.are.equal(5, ast.children[2].end_line)
      assert.are.equal(1, #ast.warnings)
      assert.are.equal(5, ast.warnings[1].line)
      assert.matches("Empty continuation line", ast.warnings[1].msg)
    end)

    it("accepts white space after the escape and a continuation at EOF", function()
      local ast = parse "FROM a\nRUN a \\  \t\n b \\"
      assert.are.equal("RUN a  b ", ast.children[2].original)
      assert.are.same({ "a  b" }, ast.children[2].args)
    end)

    it("handles CRLF line endings", function()
      local ast = parse "FROM a\r\nRUN a \\\r\n  b\r\nCMD [\"x\"]\r\n"
      assert.are.equal('(from "a")\n(run "a   b")\n(cmd "x")\n', dump.dump(ast))
      assert.is_true(ast.children[3].json)
    end)

    it("does not continue a line ending in an escaped escape", function()
      local ast = parse "FROM a\nENV C x\\\\\nENV D y\n"
      assert.are.equal(3, #ast.children)
    end)

    it("keeps unknown instructions without arguments and MAINTAINER as one string", function()
      local ast = parse "FROM a\nFOO bar baz\nMAINTAINER Jane Doe <j@d>\n"
      assert.are.equal('(from "a")\n(foo)\n(maintainer "Jane Doe <j@d>")\n', dump.dump(ast))
      assert.are.same({}, ast.children[2].args)
    end)

    it("records the instruction's location with the keyword's column", function()
      local ast = parse "FROM a\n   copy x y\n"
      local loc = ast.children[2].loc
      assert.are.same({ file = "Dockerfile", line = 2, col = 4, len = 4, text = "   copy x y" }, loc)
    end)

    it("rejects a file without instructions", function()
      assert.are.equal("Dockerfile: file with no instructions", tostring(perr ""))
      assert.matches("file with no instructions", tostring(perr "# only\n\n# comments\n"))
    end)
  end)

  describe("flags", function()
    it("extracts leading --flags and stops at --", function()
      local n = parse("COPY --from=a --chown=1:2 -- --x /y\n").children[1]
      assert.are.same({ "--from=a", "--chown=1:2" }, n.flags)
      assert.are.same({ "--x", "/y" }, n.args)
    end)

    it("removes quotes and backslashes inside flags", function()
      local n = parse('RUN --mount="type=cache,target=/a b" echo\n').children[1]
      assert.are.same({ "--mount=type=cache,target=/a b" }, n.flags)
    end)

    it("locates a flag on a continuation line", function()
      local n = parse("FROM a\nCOPY --link \\\n    --bogus=1 a b\n").children[2]
      assert.are.same({ "--link", "--bogus=1" }, n.flags)
      local loc = parser.locate(n, n.flag_offsets[2], #n.flags[2])
      assert.are.equal(3, loc.line)
      assert.are.equal(5, loc.col)
      assert.are.equal("    --bogus=1 a b", loc.text)
    end)
  end)

  describe("exec and shell form", function()
    it("decides JSON exactly as BuildKit", function()
      local ast = parse 'CMD ["a", "b\\u00e9"]\nCMD [\'a\']\nCMD ["a"] x\nRUN [ ]\nENTRYPOINT ["a",]\n'
      local c = ast.children
      assert.are.same({ "a", "bé" }, c[1].args)
      assert.is_true(c[1].json)
      assert.are.same({ "['a']" }, c[2].args)
      assert.is_false(c[2].json)
      assert.are.same({ '["a"] x' }, c[3].args)
      assert.are.same({}, c[4].args)
      assert.is_true(c[4].json)
      assert.is_false(c[5].json)
    end)

    it("rejects a valid JSON array with non-strings, with its location", function()
      local e = perr 'FROM a\nCMD ["a", 1]\n'
      assert.are.equal(
        "Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings only",
        tostring(e))
      assert.are.equal(5, e.loc.col)
      perr 'RUN ["a", null]\n'
      perr 'RUN [["a"]]\n'
    end)

    it("splits ADD/COPY/VOLUME on white space unless JSON", function()
      local ast = parse 'COPY a  b\t/c\nVOLUME ["/a b"]\n'
      assert.are.same({ "a", "b", "/c" }, ast.children[1].args)
      assert.are.same({ "/a b" }, ast.children[2].args)
    end)
  end)

  describe("heredocs", function()
    it("reads several heredocs on one line, quoted and chomped", function()
      local ast = parse "FROM a\nRUN <<EOF cat <<-'EOT' >f\nhello $x\nEOF\n\tworld\n\tEOT\nRUN x\n"
      local n = ast.children[2]
      assert.are.equal(2, n.start_line)
      assert.are.equal(6, n.end_line)
      assert.are.same({
        { name = "EOF", content = "hello $x\n", expand = true, chomp = false, fd = 0 },
        { name = "EOT", content = "\tworld\n", expand = false, chomp = true, fd = 0 },
      }, n.heredocs)
      assert.are.equal(7, ast.children[3].start_line)
    end)

    it("makes heredocs files for COPY, and keeps CRLF content as is", function()
      local n = parse("COPY <<one <<\"two\" /dst/\r\n1\r\none\r\n2\r\ntwo\r\n").children[1]
      assert.are.same({ "<<one", '<<"two"', "/dst/" }, n.args)
      assert.are.equal("1\r\n", n.heredocs[1].content)
      assert.is_false(n.heredocs[2].expand)
    end)

    it("reads a file descriptor and ignores heredocs in exec form and other instructions", function()
      local ast = parse "RUN 3<<EOF cat\nx\nEOF\nRUN [\"<<EOF\"]\nCMD <<EOF\n"
      assert.are.equal(3, ast.children[1].heredocs[1].fd)
      assert.are.same({}, ast.children[2].heredocs)
      assert.are.same({}, ast.children[3].heredocs)
      assert.are.equal(3, #ast.children)
    end)

    it("reads heredocs of an ONBUILD instruction", function()
      local n = parse("ONBUILD RUN <<X\nbody\nX\n").children[1]
      assert.are.equal("body\n", n.heredocs[1].content)
      assert.are.equal("body\n", n.sub.heredocs[1].content)
    end)

    it("rejects an unterminated heredoc at its instruction", function()
      local e = perr "FROM a\nRUN <<EOF\nabc\n"
      assert.are.equal("Dockerfile:2: unterminated heredoc", tostring(e))
      assert.are.equal("RUN <<EOF", e.loc.text)
    end)
  end)

  describe("ONBUILD", function()
    it("parses the inner instruction and locates it", function()
      local n = parse("FROM a\nONBUILD  copy --from=b x y\n").children[2]
      assert.are.equal("onbuild", n.cmd)
      assert.are.equal("copy", n.sub.cmd)
      assert.are.same({ "--from=b" }, n.sub.flags)
      assert.are.equal(10, n.sub.loc.col)
      assert.are.equal(2, n.sub.loc.line)
      assert.are.equal("copy --from=b x y", n.sub.original)
      assert.are.equal('onbuild (copy ["--from=b"] "x" "y")', dump.node(n))
    end)

    it("reports errors of the inner instruction", function()
      local e = perr "FROM a\nONBUILD ENV X\n"
      assert.are.equal("Dockerfile:2: ENV must have two arguments", tostring(e))
      assert.are.equal(13, e.loc.col)
    end)
  end)

  describe("hostile input", function()
    it("rejects a 10 MB line quickly", function()
      local t = os.clock()
      local e = perr("FROM a\nRUN " .. string.rep("x", 10 * 1024 * 1024) .. "\n")
      assert.are.equal("Dockerfile:2: dockerfile line greater than max allowed size of 65535", tostring(e))
      assert.is_true(os.clock() - t < 1)
    end)

    it("accepts a line of exactly the maximum size", function()
      local ast = parse("RUN " .. string.rep("x", parser.MAX_LINE - 4) .. "\n")
      assert.are.equal(parser.MAX_LINE - 4, #ast.children[1].args[1])
    end)

    it("survives binary garbage without a crash", function()
      math.randomseed(7)
      for _ = 1, 20 do
        local t = {}
        for i = 1, 5000 do
          t[i] = string.char(math.random(0, 255))
        end
        local ok, e = pcall(parser.parse, table.concat(t))
        if ok then
          assert.is_string(dump.dump(e))
        else
          assert.is_true(errors.is(e), tostring(e))
        end
      end
    end)

    it("joins many continuation lines in linear time", function()
      local lines = { "RUN a \\" }
      for i = 1, 50000 do
        lines[#lines + 1] = " b" .. i .. " \\"
      end
      lines[#lines + 1] = " end"
      local t = os.clock()
      local ast = parse(table.concat(lines, "\n"))
      assert.is_true(os.clock() - t < 2)
      assert.are.equal(50002, ast.children[1].end_line)
    end)

    it("parses 200 instructions in well under 10 ms", function()
      local kinds = {
        "RUN apt-get update && apt-get install -y foo \\\n  && rm -rf /var/lib/apt/lists/*",
        "COPY --from=base --chown=1:1 a b /c/", 'ENV A=1 B="two three" C=4',
        'CMD ["a", "b", "c"]', "LABEL a=b c=d",
      }
      local lines = { "FROM alpine AS base" }
      for i = 1, 199 do
        lines[#lines + 1] = kinds[i % #kinds + 1]
      end
      local src = table.concat(lines, "\n")
      local t = os.clock()
      for _ = 1, 20 do
        parse(src)
      end
      local ms = (os.clock() - t) / 20 * 1000
      assert.is_true(ms < 10, string.format("%.2f ms", ms))
    end)
  end)
end)
