-- create, restart and port: docker's verbs around a container's life and its published ports.
local h = require "spec.helpers"
local q = h.quote

local root, ok


describe("create, restart, port", function()
  setup(function()
    root = h.tmpdir "verbsroot"
    ok = h.must(root)
    h.import_busybox(root)
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

  it("pause freezes every process until unpause; exec refuses meanwhile, stop still stops", function()
    ok "run -d --name ticker busybox sh -c 'i=0; while true; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done'"
    assert.is_true(h.wait_for(function()
      return (tonumber(ok "exec ticker cat /tmp/n") or 0) > 0
    end))
    assert.are.equal("ticker\n", ok "pause ticker")
    assert.matches("%(Paused%)", ok "ps --filter name=ticker --format '{{.Status}}'")
    assert.are.equal("true paused\n", ok "inspect -f '{{.State.Paused}} {{.State.Status}}' ticker")
    local upper = ok("inspect -f '{{.Id}}' ticker"):gsub("\n$", "")
    local counter = root .. "/containers/" .. upper .. "/upper/tmp/n"
    local frozen = h.read(counter)
    require("cbuild.core.sys").poll({}, 300)
    assert.are.equal(frozen, h.read(counter)) -- nothing ran
    local status, _, err = h.cbuild(root, "exec ticker true")
    assert.are_not.equal(0, status)
    assert.matches("is paused, unpause the container before exec", err, 1, true)
    assert.are.equal("ticker\n", ok "unpause ticker")
    assert.is_true(h.wait_for(function()
      return h.read(counter) ~= frozen
    end))
    ok "pause ticker"
    ok "stop -t 1 ticker"
    assert.matches("^Exited", ok "ps -a --filter name=ticker --format '{{.Status}}'")
    ok "rm ticker"
  end)

  it("--add-host and --dns/--dns-search/--dns-option write the container's hosts and resolv.conf", function()
    local out = ok("run --rm --add-host db:10.1.2.3 --add-host gw:host-gateway --dns 192.0.2.53 "
      .. "--dns-search example.com --dns-option ndots:2 busybox cat /etc/hosts /etc/resolv.conf")
    assert.matches("\n10%.1%.2%.3\tdb\n", out)
    local gw = ok "run --rm busybox ip route":match "default via (%S+)"
    assert.matches("\n" .. gw:gsub("%.", "%%.") .. "\tgw\n", out) -- the bridge's gateway: the host
    assert.matches("\nsearch example.com\nnameserver 192.0.2.53\noptions ndots:2\n$", out)
    assert.not_matches("nameserver 8%.8%.8%.8", out)
    assert.matches("127%.0%.0%.1\tgw\n", ok "run --rm --network host --add-host gw:host-gateway busybox cat /etc/hosts")
    local status, _, err = h.cbuild(root, "run --rm --add-host nohost busybox true")
    assert.are.equal(125, status)
    assert.matches("invalid IP address in add-host", err, 1, true)
  end)

  it("--group-add, --cidfile, --pull never, --stop-signal/--stop-timeout and --expose", function()
    local cid = h.tmpdir "cid" .. "/cid"
    assert.matches("groups=100,65534%(nogroup%)",
      ok("run --rm --cidfile " .. q(cid) .. " --group-add 100 --group-add nogroup busybox id"))
    assert.matches("^%x+$", h.read(cid))
    local status, _, err = h.cbuild(root, "run --rm --cidfile " .. q(cid) .. " busybox true")
    assert.are.equal(125, status)
    assert.matches("Container ID file found", err, 1, true)
    status, _, err = h.cbuild(root, "run --rm --pull never nosuch:1 true")
    assert.are.equal(125, status)
    assert.matches("No such image: nosuch:1", err, 1, true)
    ok "run -d --name stopper --stop-signal KILL --stop-timeout 1 --expose 7000-7001/udp busybox sleep 60"
    assert.are.equal("KILL 1\n", ok "inspect -f '{{.Config.StopSignal}} {{.Config.StopTimeout}}' stopper")
    assert.matches('"7000/udp":{}', ok "inspect -f '{{json .Config.ExposedPorts}}' stopper", 1, true)
    ok "stop stopper"
    assert.are.equal("137\n", ok "inspect -f '{{.State.ExitCode}}' stopper") -- KILL, not TERM
    ok "rm stopper"
  end)

  it("--device puts a host device node in the container", function()
    assert.matches("^c[rw-]+%s+1 root%s+root%s+1,%s+3 ",
      ok "run --rm --device /dev/null:/dev/mynull busybox ls -l /dev/mynull")
    assert.are.equal("", ok "run --rm --device /dev/null:/dev/mynull busybox cat /dev/mynull")
    local status, _, err = h.cbuild(root, "run --rm --device /etc/passwd busybox true")
    assert.are.equal(125, status)
    assert.matches("not a device node", err, 1, true)
  end)

  it("--pid host, --uts host, --ipc host and --shm-size", function()
    assert.are.equal(h.ok "readlink /proc/self/ns/pid", ok "run --rm --pid host busybox readlink /proc/self/ns/pid")
    assert.are_not.equal(h.ok "readlink /proc/self/ns/pid", ok "run --rm busybox readlink /proc/self/ns/pid")
    assert.are.equal(h.ok "hostname", ok "run --rm --uts host busybox hostname")
    assert.are.equal(h.ok "readlink /proc/self/ns/ipc", ok "run --rm --ipc host busybox readlink /proc/self/ns/ipc")
    assert.matches("%s2048%s", ok "run --rm --shm-size 2m busybox df -k /dev/shm")
    local status, _, err = h.cbuild(root, "run --rm --uts host --hostname x busybox true")
    assert.are.equal(125, status)
    assert.matches("Conflicting options", err, 1, true)
  end)

  it("a foreground run whose --restart policy wants it again goes on in the background", function()
    local status, out = h.cbuild(root, "run --name again --restart on-failure:2 busybox sh -c 'echo ran; exit 3'")
    assert.are.equal(3, status) -- the first exit, as docker's CLI returns it
    assert.are.equal("ran\n", out)
    assert.is_true(h.wait_for(function()
      return ok "inspect -f '{{.RestartCount}} {{.State.Status}}' again" == "2 exited\n"
    end, 100))
    assert.are.equal("ran\nran\nran\n", ok "logs again")
    ok "rm again"
  end)
end)
