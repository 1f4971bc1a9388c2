-- create, restart and port: docker's verbs around a container's life and its published ports.
local h = require "spec.helpers"
local q = h.quote

local root

local function ok(args)
  local status, out, err = h.cbuild(root, args)
  assert.are.equal(0, status, out .. err)
  return out
end

describe("create, restart, port", function()
  setup(function()
    root = h.tmpdir "verbsroot"
    h.ok(string.format("CBUILD_ROOT=%s %s/examples/busybox/make-busybox.sh %s busybox", q(root), q(h.src),
      q(h.bin)))
  end)
  teardown(function()
    h.cbuild(root, "rm -f web")
    h.cleanup()
  end)

  it("create makes a container that start runs later", function()
    local id = ok("create --name web -p 127.0.0.1:18097:80 busybox httpd -f -p 80"):gsub("\n$", "")
    assert.matches("^%x+$", id)
    assert.are.equal("Created\n", ok "ps -a --filter name=web --format '{{.Status}}'")
    ok "start web"
    assert.matches("^Up ", ok "ps --filter name=web --format '{{.Status}}'")
  end)

  it("port lists the published ports, or one of them", function()
    assert.are.equal("80/tcp -> 127.0.0.1:18097\n", ok "port web")
    assert.are.equal("127.0.0.1:18097\n", ok "port web 80/tcp")
    local status, _, err = h.cbuild(root, "port web 81")
    assert.are.equal(1, status)
    assert.matches("No public port '81/tcp' published for web", err, 1, true)
  end)

  it("restart stops the container and starts it again", function()
    local before = ok "inspect -f '{{.State.Pid}} {{.State.StartedAt}}' web"
    assert.are.equal("web\n", ok "restart -t 1 web")
    local after = ok "inspect -f '{{.State.Pid}} {{.State.StartedAt}} {{.State.Running}}' web"
    assert.matches(" true\n$", after)
    assert.are_not.equal(before:match "^%S+ %S+", after:match "^%S+ %S+")
  end)
end)
