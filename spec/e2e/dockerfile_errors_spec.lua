-- End to end: malformed Dockerfiles (issue 3's list) get one line `Dockerfile:LINE: message`,
-- the source line and a caret under the problem, exit status 1, and never a traceback.
local h = require "spec.helpers"
local q = h.quote

local function build(root, text, extra)
  local ctx = h.tmpdir "bad"
  h.write(ctx .. "/Dockerfile", text)
  h.write(ctx .. "/f", "f")
  return h.cbuild(root, "build " .. (extra or "") .. q(ctx))
end

-- first line, source line, caret line
local function split(err)
  local lines = {}
  for l in (err .. "\n"):gmatch "([^\n]*)\n" do
    lines[#lines + 1] = l
  end
  return lines[1] or "", lines[2] or "", lines[3] or ""
end

local function caret_under(err, word)
  local _, src, caret = split(err)
  local at = src:find(word, 1, true)
  assert.is_truthy(at, "source line '" .. src .. "' lacks '" .. word .. "'")
  assert.are.equal(at, caret:find("^", 1, true), err)
  assert.are.equal(#word, select(2, caret:gsub("%^", "")), err)
end

local CASES = {
  { "unterminated heredoc", "FROM scratch\nCOPY <<EOF /x\nhello\n", "Dockerfile:2: unterminated heredoc" },
  { "bad JSON for SHELL", 'FROM scratch\nSHELL ["a", \n',
    "Dockerfile:2: SHELL requires the arguments to be in JSON form" },
  { "unknown flag", "FROM scratch\nCOPY --frm=a f /\n", "Dockerfile:2: unknown flag: --frm (did you mean --from?)",
    "--frm=a" },
  { "bad escape directive", "# escape=x\nFROM scratch\n",
    "Dockerfile:1: invalid escape token 'x' does not match ` or \\", "x" },
  { "missing stage", "FROM scratch AS build\nFROM scratch\nCOPY --from=buidl /a /b\n",
    'Dockerfile:3: COPY --from=buidl: no build stage or image named "buidl" (did you mean build?)', "--from=buidl" },
  { "a cycle of stages", "FROM scratch AS a\nCOPY --from=b /x /x\nFROM scratch AS b\nCOPY --from=a /y /y\n",
    "Dockerfile:2: circular dependency detected on stage: b", "--from=b" },
  { "unknown instruction", "FROM scratch\nCOPPY f /\n",
    "Dockerfile:2: unknown instruction: COPPY (did you mean COPY?)", "COPPY" },
  { "bad substitution", "FROM scratch\nLABEL a=${x\n",
    "Dockerfile:2: failed to process \"${x\": syntax error: missing '}'", "${x" },
  { "bad port on a continuation line", "FROM scratch\nEXPOSE 80 \\\n  99999\n",
    "Dockerfile:3: invalid containerPort: 99999", "99999" },
  { "bad signal", "FROM scratch\nSTOPSIGNAL SIGFOO\n", "Dockerfile:2: invalid signal: SIGFOO", "SIGFOO" },
  { "bad chmod", "FROM scratch\nCOPY --chmod=999 f /\n", "Dockerfile:2: invalid chmod parameter: '999'",
    "--chmod=999" },
  { "bad duration", "FROM scratch\nHEALTHCHECK --interval=abc CMD true\n", 'Dockerfile:2: time: invalid duration "abc"',
    "--interval=abc" },
  { "no FROM", "ARG A=1\nLABEL a=b\n", "Dockerfile:2: no build stage in current context" },
  { "missing target", "FROM scratch AS one\n", 'target stage "two" could not be found', nil, "--target two " },
}

describe("malformed Dockerfiles", function()
  local root
  setup(function()
    root = h.tmpdir "bad-root"
  end)
  teardown(h.cleanup)

  for _, c in ipairs(CASES) do
    local name, text, msg, word, extra = table.unpack(c)
    it(name, function()
      local status, _, err = build(root, text, extra)
      assert.are.equal(1, status, err)
      local first = split(err)
      assert.are.equal("cbuild: error: " .. msg, first)
      assert.not_matches("traceback", err)
      assert.not_matches("%.lua:%d+:", err)
      if word then
        caret_under(err, word)
      end
    end)
  end

  it("binary garbage: one line, the bytes quoted", function()
    local garbage = {}
    math.randomseed(7)
    for i = 1, 4096 do
      garbage[i] = string.char(math.random(0, 255))
    end
    local status, _, err = build(root, "\1\2" .. table.concat(garbage))
    assert.are.equal(1, status)
    local first = split(err)
    assert.matches('^cbuild: error: Dockerfile:%d+: .*', first)
    assert.not_matches("traceback", err)
    assert.is_true(#first < 400, first)
  end)

  it("a 10 MB single line", function()
    local status, _, err = build(root, "FROM scratch\nLABEL a=" .. string.rep("x", 10 * 1024 * 1024) .. "\n")
    assert.are.equal(1, status)
    local first = split(err)
    assert.are.equal("cbuild: error: Dockerfile:2: dockerfile line greater than max allowed size of 65535", first)
    assert.is_true(#err < 1000)
  end)
end)
