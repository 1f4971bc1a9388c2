-- luacheck: max line length 140
local parser = require "cbuild.dockerfile.parser"
local ins = require "cbuild.dockerfile.instructions"
local errors = require "cbuild.errors"

local function P(src)
  return ins.parse(parser.parse(src, { file = "Dockerfile" }), { file = "Dockerfile" })
end

local function cmds(src)
  return P("FROM a\n" .. src).stages[1].commands
end

local function perr(src)
  local ok, e = pcall(P, src)
  assert.is_false(ok, "expected an error")
  assert.is_true(errors.is(e), tostring(e))
  return e
end

describe("cbuild.dockerfile.instructions", function()
  describe("stages", function()
    it("collects meta ARGs and stages with lower-cased names", function()
      local r = P "ARG V=1 W\nFROM --platform=$BUILDPLATFORM img:$V AS Build\nRUN x\nFROM build\n"
      assert.are.equal(1, #r.meta_args)
      assert.are.same({ { key = "V", value = "1" }, { key = "W" } }, r.meta_args[1].args)
      assert.are.equal(2, #r.stages)
      assert.are.equal("build", r.stages[1].name)
      assert.are.equal("img:$V", r.stages[1].base)
      assert.are.equal("$BUILDPLATFORM", r.stages[1].platform)
      assert.are.equal(1, #r.stages[1].commands)
      assert.is_nil(r.stages[2].name)
      assert.are.equal(2, r.stages[1].loc.line)
    end)

    it("rejects an instruction before the first FROM", function()
      local e = perr "RUN x\nFROM a\n"
      assert.are.equal("Dockerfile:1: no build stage in current context", tostring(e))
    end)

    it("validates FROM arguments and stage names", function()
      assert.matches("FROM requires either one or three arguments", tostring(perr "FROM a b\n"))
      local e = perr "FROM a AS 9x\n"
      assert.are.equal('Dockerfile:1: invalid name for build stage: "9x", name can\'t start with a '
        .. "number or contain symbols", tostring(e))
    end)
  end)

  describe("unknown instructions", function()
    it("suggests the nearest instruction with the caret under the word", function()
      local e = perr "FROM a\n  COPPY a b\n"
      assert.are.equal("Dockerfile:2: unknown instruction: COPPY (did you mean COPY?)", tostring(e))
      assert.are.equal(3, e.loc.col)
      assert.are.equal(5, e.loc.len)
      assert.are.equal("Dockerfile:2: unknown instruction: xyzzyplugh", tostring(perr "FROM a\nxyzzyplugh\n"))
    end)

    it("suggest() is case-insensitive and gives up on distant words", function()
      assert.are.equal("WORKDIR", ins.suggest "workdri")
      assert.are.equal("FROM", ins.suggest "FORM")
      assert.is_nil(ins.suggest "qqqqqqqq")
    end)
  end)

  describe("flags", function()
    it("rejects an unknown flag with the caret under it", function()
      local e = perr "FROM a\nCOPY --chown=1 --bogus=1 a b\n"
      assert.are.equal("Dockerfile:2: unknown flag: --bogus", tostring(e))
      assert.are.equal(16, e.loc.col)
      assert.are.equal(9, e.loc.len)
    end)

    it("suggests a near flag", function()
      assert.matches("unknown flag: %-%-form %(did you mean %-%-from%?%)", tostring(perr "FROM a\nCOPY --form=x a b\n"))
    end)

    it("points at a flag on a continuation line", function()
      local e = perr "FROM a\nRUN --network=none \\\n    --mnt=x echo\n"
      assert.are.equal(3, e.loc.line)
      assert.are.equal(5, e.loc.col)
    end)

    it("checks values by type", function()
      assert.matches("missing a value on flag: %-%-from", tostring(perr "FROM a\nCOPY --from a b\n"))
      assert.matches("expecting boolean value for flag %-%-link, not: yes", tostring(perr "FROM a\nCOPY --link=yes a b\n"))
      assert.matches("missing a value on flag: %-%-link", tostring(perr "FROM a\nCOPY --link= a b\n"))
      assert.matches("duplicate flag specified: %-%-chown", tostring(perr "FROM a\nCOPY --chown=1 --chown=2 a b\n"))
      assert.matches("unknown flag: %-%-from", tostring(perr "FROM a\nADD --from=x a b\n"))
      assert.matches("unknown flag: %-%-x", tostring(perr "FROM a\nENV --x=1 A=b\n"))
    end)

    it("accepts repeated --exclude and boolean forms", function()
      local c = cmds("COPY --exclude=*.md --exclude=.git --link --parents=false a b /d/\n")[1]
      assert.are.same({ "*.md", ".git" }, c.exclude)
      assert.is_true(c.link)
      assert.is_false(c.parents)
      assert.are.same({ "a", "b" }, c.sources)
      assert.are.equal("/d/", c.dest)
    end)

    it("ignores flags where BuildKit does (ARG, STOPSIGNAL, HEALTHCHECK NONE)", function()
      local c = cmds "ARG --x=1 A\nSTOPSIGNAL --y SIGKILL\nHEALTHCHECK --z NONE\n"
      assert.are.equal("SIGKILL", c[2].signal)
      assert.are.same({ "NONE" }, c[3].test)
    end)
  end)

  describe("RUN", function()
    it("keeps shell form as a string and exec form as a list", function()
      local c = cmds 'RUN echo $HOME\nRUN ["echo", "$HOME"]\n'
      assert.are.equal("echo $HOME", c[1].cmd)
      assert.is_true(c[1].prepend_shell)
      assert.are.same({ "echo", "$HOME" }, c[2].cmd)
      assert.is_false(c[2].prepend_shell)
    end)

    it("parses mounts, network and security", function()
      local c = cmds("RUN --mount=type=cache,target=/var/cache/apt,sharing=locked,id=apt "
        .. "--mount=type=secret,id=tok,env=TOK,required --mount=target=/src,rw "
        .. "--network=host --security=insecure make\n")[1]
      assert.are.equal("cache", c.mounts[1].type)
      assert.are.equal("/var/cache/apt", c.mounts[1].target)
      assert.are.equal("locked", c.mounts[1].sharing)
      assert.are.equal("apt", c.mounts[1].id)
      assert.is_false(c.mounts[1].readonly)
      assert.are.equal("secret", c.mounts[2].type)
      assert.are.equal("TOK", c.mounts[2].env)
      assert.is_true(c.mounts[2].required)
      assert.are.equal("bind", c.mounts[3].type)
      assert.is_false(c.mounts[3].readonly)
      assert.are.equal("host", c.network)
      assert.are.equal("insecure", c.security)
    end)

    it("rejects bad mounts and modes", function()
      assert.matches('unsupported mount type "cahce" %(did you mean cache%?%)',
        tostring(perr "FROM a\nRUN --mount=type=cahce,target=/x a\n"))
      assert.matches("unexpected key 'tagret'", tostring(perr "FROM a\nRUN --mount=tagret=/x a\n"))
      assert.matches("mount target is required", tostring(perr "FROM a\nRUN --mount=type=bind a\n"))
      assert.matches('mode not allowed for "bind"', tostring(perr "FROM a\nRUN --mount=target=/x,mode=0700 a\n"))
      assert.matches("invalid value 9 for mode", tostring(perr "FROM a\nRUN --mount=type=cache,target=/x,mode=9 a\n"))
      assert.matches('unsupported network mode "bridge"', tostring(perr "FROM a\nRUN --network=bridge a\n"))
      assert.matches('unsupported security mode "x"', tostring(perr "FROM a\nRUN --security=x a\n"))
    end)

    it("defers checks of mount values that hold variables", function()
      local c = cmds "RUN --mount=type=cache,target=$T,mode=$M a\n"
      assert.are.equal("$M", c[1].mounts[1].mode)
      local m = assert(ins.parse_mount("type=cache,target=$T,mode=$M", function(v)
        return (v:gsub("%$T", "/t"):gsub("%$M", "0755"))
      end))
      assert.are.equal(493, m.mode)
      assert.are.equal("/t", m.target)
    end)

    it("keeps heredocs as files", function()
      local c = cmds("RUN <<EOF\necho hi\nEOF\n")[1]
      assert.are.equal("<<EOF", c.cmd)
      assert.are.same({ { name = "EOF", content = "echo hi\n", expand = true, chomp = false, fd = 0 } },
        c.heredocs)
    end)
  end)

  describe("COPY and ADD", function()
    it("needs a source and a destination", function()
      local e = perr "FROM a\nCOPY a\n"
      assert.are.equal("Dockerfile:2: COPY requires at least two arguments, but only one was provided. "
        .. "Destination could not be determined", tostring(e))
    end)

    it("turns heredoc sources into file contents, chomped", function()
      local c = cmds("COPY <<-one <<'two' x /dst/\n\tfirst\n\tone\nsecond $x\ntwo\n")[1]
      assert.are.same({ "x" }, c.sources)
      assert.are.same({
        { name = "one", content = "first\n", expand = true, chomp = true },
        { name = "two", content = "second $x\n", expand = false, chomp = false },
      }, c.heredocs)
    end)

    it("rejects a heredoc destination", function()
      assert.matches("COPY cannot accept a heredoc as a destination", tostring(perr "FROM a\nCOPY a <<EOF\nx\nEOF\n"))
    end)

    it("reads ADD's own flags", function()
      local c = cmds("ADD --checksum=sha256:00 --keep-git-dir --unpack=false --chmod=644 u /d\n")[1]
      assert.are.equal("sha256:00", c.checksum)
      assert.is_true(c.keep_git_dir)
      assert.is_false(c.unpack)
      assert.are.equal("644", c.chmod)
      assert.is_nil(cmds("ADD a b\n")[1].unpack)
    end)
  end)

  describe("ENV, LABEL, ARG", function()
    it("keeps raw values, both ENV forms", function()
      local c = cmds 'ENV A="x y" B=$A\nENV OLD some value\nLABEL "k"="v w"\n'
      assert.are.same({ { key = "A", value = '"x y"', no_delim = false },
        { key = "B", value = "$A", no_delim = false } }, c[1].pairs)
      assert.are.same({ { key = "OLD", value = "some value", no_delim = true } }, c[2].pairs)
      assert.are.same({ { key = '"k"', value = '"v w"', no_delim = false } }, c[3].pairs)
    end)

    it("reports missing arguments at the keyword", function()
      local e = perr "FROM a\nENV\n"
      assert.are.equal("Dockerfile:2: ENV requires at least one argument", tostring(e))
      assert.are.equal(1, e.loc.col)
      assert.matches("LABEL requires at least one argument", tostring(perr "FROM a\nLABEL\n"))
      assert.matches("ARG requires at least one argument", tostring(perr "FROM a\nARG\n"))
      assert.matches("ARG names can not be blank", tostring(perr "FROM a\nARG =x\n"))
      assert.matches("ENV names can not be blank", tostring(perr "FROM a\nENV =x\n"))
    end)
  end)

  describe("CMD, ENTRYPOINT, SHELL", function()
    it("keeps forms and empty lists", function()
      local c = cmds 'CMD []\nENTRYPOINT []\nENTRYPOINT a b\nSHELL ["/bin/sh", "-ec"]\n'
      assert.are.same({}, c[1].cmd)
      assert.is_nil(c[2].cmd)
      assert.are.equal("a b", c[3].cmd)
      assert.are.same({ "/bin/sh", "-ec" }, c[4].cmd)
    end)

    it("requires JSON for SHELL", function()
      assert.matches("SHELL requires the arguments to be in JSON form", tostring(perr "FROM a\nSHELL sh\n"))
      assert.matches("SHELL requires at least one argument", tostring(perr "FROM a\nSHELL []\n"))
    end)
  end)

  describe("single-argument instructions", function()
    it("reads WORKDIR, USER, STOPSIGNAL, MAINTAINER, EXPOSE, VOLUME", function()
      local c = cmds 'WORKDIR /a b\nUSER u:g\nSTOPSIGNAL 9\nMAINTAINER Me <m@e>\nEXPOSE 8080 80/tcp\nVOLUME /v ["x"]\nVOLUME ["/a", "/b"]\n'
      assert.are.equal("/a b", c[1].path)
      assert.are.equal("u:g", c[2].user)
      assert.are.equal("9", c[3].signal)
      assert.are.equal("Me <m@e>", c[4].maintainer)
      assert.are.same({ "80/tcp", "8080" }, c[5].ports)
      assert.are.same({ "/v", '["x"]' }, c[6].volumes)
      assert.are.same({ "/a", "/b" }, c[7].volumes)
    end)

    it("rejects missing arguments", function()
      assert.matches("WORKDIR requires exactly one argument", tostring(perr "FROM a\nWORKDIR\n"))
      assert.matches("USER requires exactly one argument", tostring(perr "FROM a\nUSER\n"))
      assert.matches("EXPOSE requires at least one argument", tostring(perr "FROM a\nEXPOSE\n"))
      assert.matches("VOLUME requires at least one argument", tostring(perr "FROM a\nVOLUME\n"))
      assert.matches("VOLUME specified can not be an empty string", tostring(perr 'FROM a\nVOLUME [" "]\n'))
    end)
  end)

  describe("HEALTHCHECK", function()
    it("parses options into nanoseconds", function()
      local c = cmds("HEALTHCHECK --interval=1m30s --timeout=500ms --start-period=1.5s "
        .. "--start-interval=2s --retries=4 CMD curl -f http://x/\nHEALTHCHECK CMD [\"a\", \"b\"]\n")
      assert.are.same({ "CMD-SHELL", "curl -f http://x/" }, c[1].test)
      assert.are.equal(90 * 10 ^ 9 // 1, c[1].interval)
      assert.are.equal(500000000, c[1].timeout)
      assert.are.equal(1500000000, c[1].start_period)
      assert.are.equal(2000000000, c[1].start_interval)
      assert.are.equal(4, c[1].retries)
      assert.are.same({ "CMD", "a", "b" }, c[2].test)
      assert.are.equal(0, c[2].interval)
    end)

    it("validates like docker", function()
      assert.matches('Interval "interval" cannot be less than 1ms',
        tostring(perr "FROM a\nHEALTHCHECK --interval=10us CMD x\n"))
      assert.are.equal(0, cmds("HEALTHCHECK --interval=0s CMD x\n")[1].interval)
      assert.matches('time: invalid duration "5"', tostring(perr "FROM a\nHEALTHCHECK --timeout=5 CMD x\n")
        :gsub("missing unit in", "invalid"))
      assert.matches('unknown unit "x"', tostring(perr "FROM a\nHEALTHCHECK --timeout=5x CMD x\n"))
      assert.matches("%-%-retries cannot be negative", tostring(perr "FROM a\nHEALTHCHECK --retries=-1 CMD x\n"))
      assert.matches('Unknown type "CONNECT"', tostring(perr "FROM a\nHEALTHCHECK CONNECT x\n"))
      assert.matches("Missing command after HEALTHCHECK CMD", tostring(perr "FROM a\nHEALTHCHECK CMD\n"))
      assert.matches("HEALTHCHECK NONE takes no arguments", tostring(perr "FROM a\nHEALTHCHECK NONE x\n"))
    end)

    it("parse_duration follows Go", function()
      assert.are.equal(0, ins.parse_duration "0")
      assert.are.equal(3723000000000, ins.parse_duration "1h2m3s")
      assert.are.equal(-1500000, ins.parse_duration "-1.5ms")
      assert.are.equal(1000, ins.parse_duration "1µs")
      assert.is_nil(ins.parse_duration "")
      assert.is_nil(ins.parse_duration "1")
      assert.is_nil(ins.parse_duration ".s")
    end)
  end)

  describe("ONBUILD", function()
    it("keeps the expression and the parsed trigger", function()
      local c = cmds("onbuild  RUN --network=none echo hi\n")[1]
      assert.are.equal("RUN --network=none echo hi", c.expression)
      assert.are.equal("RUN", c.sub.kind)
      assert.are.equal("none", c.sub.network)
      assert.are.equal(10, c.sub.loc.col)
    end)

    it("forbids ONBUILD ONBUILD, FROM and MAINTAINER triggers", function()
      assert.matches("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed", tostring(perr "FROM a\nONBUILD ONBUILD RUN x\n"))
      assert.matches("FROM isn't allowed as an ONBUILD trigger", tostring(perr "FROM a\nONBUILD FROM x\n"))
      assert.matches("MAINTAINER isn't allowed as an ONBUILD trigger", tostring(perr "FROM a\nONBUILD MAINTAINER x\n"))
      assert.matches("ONBUILD requires at least one argument", tostring(perr "FROM a\nONBUILD\n"))
    end)

    it("validates the trigger's flags", function()
      local e = perr "FROM a\nONBUILD COPY --nope=1 a b\n"
      assert.are.equal("Dockerfile:2: unknown flag: --nope", tostring(e))
      assert.are.equal(14, e.loc.col)
    end)
  end)
end)
