-- Build checks: BuildKit's rule names and messages, the check directive.
local lint = require "cbuild.dockerfile.lint"

local function run(text, opts)
  local r = lint.run(text, opts or { file = "Dockerfile" })
  local out = {}
  for _, w in ipairs(r.warnings) do
    out[#out + 1] = string.format("%d %s: %s", w.loc.line, w.rule, w.msg)
  end
  return out, r
end

describe("dockerfile lint", function()
  it("reports BuildKit's rules with its wording and the line", function()
    local out = run(table.concat({
      "ARG VERSION=1",
      "FROM scratch as Builder",
      "MAINTAINER me",
      "ENV API_TOKEN=x",
      "ENV K v",
      "WORKDIR rel",
      "CMD echo hi",
      "CMD [\"x\"]",
      "EXPOSE 80/TCP",
      "COPY $UNDEFINED_THNG /x",
      "FROM Builder AS builder",
      "FROM ${VERSON}",
      "run echo",
    }, "\n") .. "\n")
    assert.are.same({
      "2 FromAsCasing: 'as' and 'FROM' keywords' casing do not match",
      "2 StageNameCasing: Stage name 'Builder' should be lowercase",
      "3 MaintainerDeprecated: Maintainer instruction is deprecated in favor of using label",
      '4 SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ENV "API_TOKEN")',
      '5 LegacyKeyValueFormat: "ENV key=value" should be used instead of legacy "ENV key value" format',
      '6 WorkdirRelativePath: Relative workdir "rel" can have unexpected results if the base image changes',
      "7 JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals",
      "7 MultipleInstructionsDisallowed: Multiple CMD instructions should not be used in the same stage because "
        .. "only the last one will be used",
      "9 ExposeProtoCasing: Defined protocol '80/TCP' in EXPOSE instruction should be lowercase",
      "10 UndefinedVar: Usage of undefined variable '$UNDEFINED_THNG'",
      '11 DuplicateStageName: Duplicate stage name "builder", stage names should be unique',
      "12 InvalidDefaultArgInFrom: Default value for ARG ${VERSON} results in empty or invalid base image name",
      "12 UndefinedArgInFrom: FROM argument 'VERSON' is not declared (did you mean VERSION?)",
      "13 ConsistentInstructionCasing: Command 'run' should match the case of the command majority (uppercase)",
    }, out)
  end)

  it("suggests a near variable name for UndefinedVar and knows ARG, ENV and declared args", function()
    local out = run "FROM scratch\nARG NAME\nENV VERSION=1\nLABEL a=$VERSON b=$NAME c=$VERSION\n"
    assert.are.same({ "4 UndefinedVar: Usage of undefined variable '$VERSON' (did you mean $VERSION?)" }, out)
  end)

  it("honours # check=skip=...;error=true", function()
    local out, r = run("# check=skip=JSONArgsRecommended,MaintainerDeprecated;error=true\n"
      .. "FROM scratch\nCMD x\nMAINTAINER m\n")
    assert.are.same({}, out)
    assert.is_true(r.error)
    out = run "# check=skip=all\nFROM scratch as x\n"
    assert.are.same({}, out)
    assert.has_error(function()
      run "# check=bogus=1\nFROM scratch\n"
    end)
  end)

  it("says nothing about a clean Dockerfile", function()
    assert.are.same({}, (run 'FROM scratch AS base\nARG V=1\nENV A=$V\nWORKDIR /app\nCMD ["a"]\n'))
  end)

  it("parses the check directive like BuildKit", function()
    assert.are.same({ skip = { A = true, B = true }, skip_all = false, error = true },
      lint.parse_check " skip = A, B ; error = true ")
    assert.is_nil((lint.parse_check "error=maybe"))
    assert.is_nil((lint.parse_check "nope"))
  end)
end)
