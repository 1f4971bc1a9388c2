-- The Go-template subset of --format (inspect, ps) and ps's filters, on plain records.
local json = require "cbuild.core.json"
local errors = require "cbuild.errors"
local template = require "cbuild.container.template"
local ps = require "cbuild.cli.ps"

local obj = json.decode [[{"Name":"/web","State":{"Status":"exited","ExitCode":3,"Running":false},
  "Args":["-c","x"],"Config":{"Labels":{"a.b":"1","z":"2"},"Cmd":null},
  "Mounts":[{"Source":"/a"},{"Source":"/b"}]}]]

local function r(src)
  return template.render(src, obj)
end

describe("template", function()
  it("prints fields as Go's %v does", function()
    assert.are.equal("exited 3 false", r "{{.State.Status}} {{.State.ExitCode}} {{.State.Running}}")
    assert.are.equal("[-c x]", r "{{.Args}}")
    assert.are.equal("map[a.b:1 z:2]", r "{{.Config.Labels}}")
    assert.are.equal("<no value>", r "{{.Nope}}")
    assert.are.equal("<no value>", r "{{.Nope.Deeper}}")
    assert.are.equal("<nil>", r "{{.Config.Cmd}}")
  end)

  it("has json, index, join, upper, len, printf and pipes", function()
    assert.are.equal('{"ExitCode":3,"Running":false,"Status":"exited"}', r "{{json .State}}")
    assert.are.equal('{"ExitCode":3,"Running":false,"Status":"exited"}', r "{{.State | json}}")
    assert.are.equal("1", r '{{index .Config.Labels "a.b"}}')
    assert.are.equal("-c+x", r '{{join .Args "+"}}')
    assert.are.equal("EXITED", r "{{ .State.Status | upper }}")
    assert.are.equal("2", r "{{len .Args}}")
    assert.are.equal("web:3", r '{{printf "%s:%d" (index (split .Name "/") 1) .State.ExitCode}}')
  end)

  it("has if/else if/else, range (with variables), with, eq/not and trimming", function()
    assert.are.equal("down", r "{{if .State.Running}}up{{else}}down{{end}}")
    assert.are.equal("X", r '{{if eq .State.Status "running"}}R{{else if eq .State.ExitCode 3}}X{{else}}O{{end}}')
    assert.are.equal("/a,/b,", r "{{range .Mounts}}{{.Source}},{{end}}")
    assert.are.equal("0=/a 1=/b ", r "{{range $i, $m := .Mounts}}{{$i}}={{$m.Source}} {{end}}")
    assert.are.equal("a.b=1;z=2;", r "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}")
    assert.are.equal("none", r "{{range .Nope}}x{{else}}none{{end}}")
    assert.are.equal("3", r "{{with .State}}{{.ExitCode}}{{end}}")
    assert.are.equal("true", r "{{not .State.Running}}")
    assert.are.equal("a|b", r "a {{- \"|\" -}} b")
  end)

  it("calls methods with arguments", function()
    assert.are.equal("v", template.render('{{.Label "k"}}', { Label = function(k)
      return k == "k" and "v" or ""
    end }))
  end)

  it("raises on malformed templates and unknown functions", function()
    for _, bad in ipairs { "{{.A", "{{if .A}}x", "{{end}}", "{{nosuch .A}}", "{{.A .B}}" } do
      local ok, err = pcall(r, bad)
      assert.is_false(ok, bad)
      assert.is_true(errors.is(err), bad)
    end
  end)
end)

describe("ps filters", function()
  local function rec(name, status, code, labels, created)
    return { Id = ("%064x"):format(#name * 7919 + code), Name = "/" .. name, Created = created,
      State = { Status = status, Running = status == "running", ExitCode = code },
      Config = { Image = "busybox", Labels = labels or {} } }
  end
  local ctx = { ancestor = function(c, v)
    return c.Config.Image == v
  end }
  local a = rec("web", "running", 0, { tier = "front" }, "2024-01-01T00:00:01Z")
  local b = rec("db-1", "exited", 3, { tier = "back", x = "" }, "2024-01-01T00:00:02Z")

  local function match(c, ...)
    return ps.match(c, ps.parse_filters { ... }, ctx)
  end

  it("matches status, name (a regexp), id prefix, label, exited and ancestor", function()
    assert.is_true(match(a, "status=running"))
    assert.is_false(match(b, "status=running"))
    assert.is_true(match(b, "status=running", "status=exited")) -- one key: any value
    assert.is_false(match(b, "status=exited", "name=web")) -- two keys: all
    assert.is_true(match(b, "name=db"))
    assert.is_true(match(b, "name=^db-1$"))
    assert.is_true(match(b, "name=^/db"))
    assert.is_false(match(a, "name=^eb"))
    assert.is_true(match(a, "id=" .. a.Id:sub(1, 5)))
    assert.is_true(match(a, "label=tier"))
    assert.is_true(match(b, "label=tier=back"))
    assert.is_false(match(a, "label=tier=back"))
    assert.is_true(match(b, "exited=3"))
    assert.is_false(match(b, "exited=0"))
    assert.is_true(match(a, "ancestor=busybox"))
  end)

  it("refuses unknown keys and bad values as docker does", function()
    for _, bad in ipairs { "colour=red", "status=sleeping", "exited=x", "novalue" } do
      local ok, err = pcall(ps.parse_filters, { bad })
      assert.is_false(ok, bad)
      assert.is_true(errors.is(err), bad)
    end
  end)
end)
