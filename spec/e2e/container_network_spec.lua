-- Bridge networking on the real kernel: a busybox container's eth0 on cbuild0, a port published
-- on 127.0.0.1 and fetched from the host, containers reaching each other, docker's hosts and
-- resolv.conf, inspect and ps, nothing left after stop/rm or after kill -9 of cbuild, and the
-- host and none modes as they were.
local h = require "spec.helpers"
local q = h.quote
local json = require "cbuild.core.json"
local network = require "cbuild.container.network"

local root, ok

local function cb(args, stdin)
  return h.cbuild(root, args, { stdin = stdin })
end

local function trim(s)
  return (s:gsub("%s+$", ""))
end

local function bridge_subnet()
  local cfg = json.decode(h.read(network.RUN_DIR .. "/" .. network.BRIDGE .. ".json"))
  return cfg.subnet, cfg.gateway
end

-- What the host still has of container id: {veth=, netns=, rules=, lease=} (each a boolean).
local function leftovers(id)
  local _, rules = h.sh "iptables-save -t nat"
  local _, leases = h.sh("grep -l " .. q(id) .. " " .. network.RUN_DIR .. "/leases/* 2>/dev/null")
  return {
    veth = h.sh("ip link show " .. network.veth_name(id) .. " >/dev/null 2>&1") == 0,
    netns = h.sh("test -e " .. q(root .. "/netns/" .. id)) == 0,
    rules = rules:find("cbuild:" .. id:sub(1, 12), 1, true) ~= nil,
    lease = leases ~= "",
  }
end

local NONE = { veth = false, netns = false, rules = false, lease = false }

local function clean(id)
  local left
  h.wait_for(function() -- the kernel deletes the veth pair with the namespace, a moment later
    left = leftovers(id)
    return not left.veth
  end)
  return left
end

local www

setup(function()
  root = h.tmpdir "cnet"
  ok = h.must(root)
  h.import_busybox(root)
  www = h.tmpdir "www"
  h.write(www .. "/index.html", "hello over the bridge\n")
end)

teardown(function()
  cb "rm -f netweb netweb2 netkill netjoin netexp"
  h.cleanup()
end)

describe("run on the default bridge network", function()
  it("gives the container eth0 with an address of the bridge's subnet and a default route", function()
    local out = ok "run --rm busybox sh -c 'ip -o -4 addr show eth0; ip route; cat /proc/net/dev'"
    local subnet, gateway = bridge_subnet()
    local ip, len = out:match "inet (%d+%.%d+%.%d+%.%d+)/(%d+)"
    assert.is_not_nil(ip, out)
    local net0, plen, mask = network.parse_cidr(subnet)
    assert.are.equal(plen, tonumber(len))
    assert.are.equal(net0, network.ip_to_int(ip) & mask)
    assert.matches("default via " .. gateway:gsub("%.", "%%.") .. " dev eth0", out)
    assert.matches("eth0:", out, 1, true)
  end)

  it("writes hosts with the container's address and resolv.conf without loopback servers", function()
    local out = ok "run --rm --hostname boxy busybox sh -c 'cat /etc/hosts; echo ---; cat /etc/resolv.conf'"
    local hosts, resolv = out:match "^(.-)%-%-%-\n(.*)$"
    assert.matches("127.0.0.1\tlocalhost\n", hosts, 1, true)
    assert.matches("\n%d+%.%d+%.%d+%.%d+\tboxy\n$", hosts)
    assert.is_nil(resolv:match "nameserver 127%.")
    assert.matches("nameserver ", resolv, 1, true)
  end)

  it("publishes a port on 127.0.0.1, shows it in ps and inspect, and cleans up after stop and rm", function()
    local id = trim(ok("run -d --name netweb -p 127.0.0.1:18080:80 -v " .. q(www)
      .. ":/www busybox httpd -f -p 80 -h /www"))
    local body
    assert.is_true(h.wait_for(function()
      local status, out = h.sh "curl -s --max-time 2 http://127.0.0.1:18080/"
      body = out
      return status == 0 and out ~= ""
    end), "the published port answers on the host")
    assert.are.equal("hello over the bridge\n", body)
    assert.matches("127.0.0.1:18080%->80/tcp%s+netweb", ok "ps")
    local ip = trim(ok "inspect -f '{{.NetworkSettings.IPAddress}}' netweb")
    assert.matches("^%d+%.%d+%.%d+%.%d+$", ip)
    local doc = json.decode(ok "inspect netweb")[1]
    assert.are.same({ { HostIp = "127.0.0.1", HostPort = "18080" } }, doc.NetworkSettings.Ports["80/tcp"])
    assert.are.same({ { HostIp = "127.0.0.1", HostPort = "18080" } }, doc.HostConfig.PortBindings["80/tcp"])
    assert.are.equal("bridge", doc.HostConfig.NetworkMode)
    assert.are.equal(ip, doc.NetworkSettings.Networks.bridge.IPAddress)

    -- another container reaches it by its address (and through the host's published port)
    assert.are.equal("hello over the bridge\n", ok("run --rm busybox wget -qO- http://" .. ip .. "/"))
    -- a second one cannot take the same host port
    local status, _, err = cb "run --rm -p 127.0.0.1:18080:80 busybox true"
    assert.are.equal(125, status)
    assert.matches("port is already allocated", err, 1, true)

    assert.are.same({ veth = true, netns = true, rules = true, lease = true }, leftovers(id))
    ok "stop -t 0 netweb"
    assert.are.same(NONE, clean(id))
    assert.are.equal("", trim(ok "inspect -f '{{.NetworkSettings.IPAddress}}' netweb"))
    ok "start netweb"
    assert.is_true(h.wait_for(function()
      return h.sh "curl -s --max-time 2 http://127.0.0.1:18080/" == 0
    end), "the port works again after start")
    ok "rm -f netweb"
    assert.are.same(NONE, clean(id))
  end)

  it("publishes exposed ports to free host ports with -P, and from a host address", function()
    ok "run --name netexp --network none busybox true"
    ok "commit -c 'EXPOSE 80' netexp netexp-img"
    ok "rm netexp"
    local id = trim(ok("run -d --name netweb2 -P -v " .. q(www) .. ":/www netexp-img httpd -f -p 80 -h /www"))
    local ports = json.decode(ok "inspect -f '{{json .NetworkSettings.Ports}}' netweb2")
    local port = ports["80/tcp"][1].HostPort
    assert.matches("^%d+$", port)
    assert.matches("0.0.0.0:" .. port .. "->80/tcp", ok "ps", 1, true)
    local _, addrs = h.sh "hostname -I"
    for _, host in ipairs { "127.0.0.1", addrs:match "^(%S+)" } do
      assert.is_true(h.wait_for(function()
        local st, out = h.sh("curl -s --max-time 2 http://" .. host .. ":" .. port .. "/")
        return st == 0 and out == "hello over the bridge\n"
      end), host)
    end
    ok "rm -f netweb2"
    assert.are.same(NONE, clean(id))
  end)

  it("cleans up after kill -9 of a foreground cbuild on the next command", function()
    local pid = trim(h.ok("cd " .. q(h.src) .. " && CBUILD_ROOT=" .. q(root) .. " " .. q(h.bin)
      .. " run --name netkill -p 18081:80 busybox sleep 100 >/dev/null 2>&1 & echo $!"))
    local id
    assert.is_true(h.wait_for(function()
      local status, out = cb "inspect -f '{{.Id}} {{.NetworkSettings.IPAddress}}' netkill"
      id = out:match "^(%x+) %d"
      return status == 0 and id ~= nil
    end))
    assert.is_true(leftovers(id).rules)
    h.ok("kill -9 " .. pid)
    h.wait_for(function()
      return h.sh("kill -0 " .. pid .. " 2>/dev/null") ~= 0
    end)
    ok "ps -a" -- reads the record as exited
    ok "rm netkill"
    assert.are.same(NONE, clean(id))
  end)

  it("leaves --network host and none as they were", function()
    local host = ok "run --rm --network host busybox ip -o link"
    assert.matches(network.BRIDGE, host, 1, true)
    local none = ok "run --rm --network none busybox ip -o link"
    assert.matches("1: lo:", none, 1, true)
    assert.is_nil(none:find("eth0", 1, true))
    local status, _, err = cb "run --rm --network nosuch busybox true"
    assert.are.equal(125, status)
    assert.matches("network nosuch not found", err, 1, true)
  end)

  it("joins another container's network with --network container:NAME", function()
    ok "run -d --name netjoin busybox sleep 100"
    local ip = trim(ok "inspect -f '{{.NetworkSettings.IPAddress}}' netjoin")
    local out = ok "run --rm --network container:netjoin busybox ip -o -4 addr show eth0"
    assert.matches("inet " .. ip:gsub("%.", "%%.") .. "/", out)
    local status, _, err = cb "run --rm --network container:nosuch busybox true"
    assert.are.equal(125, status)
    assert.matches("No such container: nosuch", err, 1, true)
    ok "rm -f netjoin"
  end)
end)
