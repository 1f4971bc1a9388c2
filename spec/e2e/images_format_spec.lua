-- images and history: docker's --filter and --format (Go templates, table, json).
local h = require "spec.helpers"
local json = require "cbuild.core.json"
local q = h.quote

local root, ok


local function build(df, tag)
  local ctx = h.tmpdir "imgctx"
  h.write(ctx .. "/Dockerfile", df)
  return ok("build -q " .. (tag and ("-t " .. tag .. " ") or "") .. q(ctx)):gsub("%s+$", "")
end

describe("images and history formats", function()
  setup(function()
    root = h.tmpdir "imgroot"
    ok = h.must(root)
    h.import_busybox(root)
    build("FROM busybox\nLABEL tier=web\nRUN echo web > /web\n", "web:1")
    build("FROM busybox\nRUN echo dangling > /d\n")
  end)
  teardown(h.cleanup)

  it("formats rows with a Go template, a table template and json", function()
    -- newest first: the dangling image was built last
    assert.are.equal("<none>:<none>\nweb:1\nbusybox:latest\n", ok "images --format '{{.Repository}}:{{.Tag}}'")
    assert.matches("^IMAGE ID       SIZE\n%x+   [%d.]+[kM]B\n", ok "images --format 'table {{.ID}}\\t{{.Size}}' web")
    local row = json.decode(ok "images --format json web:1")
    assert.are.equal("web", row.Repository)
    assert.are.equal("1", row.Tag)
    assert.matches("^%x+$", row.ID)
  end)

  it("filters dangling, label, reference, before and since", function()
    assert.are.equal("<none>\n", ok "images -f dangling=true --format '{{.Repository}}'")
    assert.are.equal("web\n", ok "images -f label=tier=web --format '{{.Repository}}'")
    assert.are.equal("web\n", ok "images -f label=tier --format '{{.Repository}}'")
    assert.are.equal("busybox\n", ok "images -f reference='busy*' --format '{{.Repository}}'")
    assert.are.equal("web\n", ok "images -f reference='*:1' --format '{{.Repository}}'")
    assert.are.equal("busybox\n", ok "images -f before=web:1 -f dangling=false --format '{{.Repository}}'")
    assert.matches("^web\n", ok "images -f since=busybox -f dangling=false --format '{{.Repository}}'")
    local status, _, err = h.cbuild(root, "images -f colour=blue")
    assert.are.equal(1, status)
    assert.are.equal("cbuild: error: invalid filter 'colour'\n", err)
  end)

  it("history takes --format", function()
    local out = ok "history --format '{{.CreatedBy}}|{{.Size}}' web:1"
    assert.matches("^RUN /bin/sh %-c echo web > /web # buildkit|[%d.]+k?B\n", out)
    assert.matches('LABEL tier=web|0B\n', out, 1, true)
  end)
end)
