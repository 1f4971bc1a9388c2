-- cbuild.container.network: the parsing and text rules as plain functions, then setup and
-- teardown on the real kernel (root only): a pinned netns on the bridge, a port published to
-- 127.0.0.1 and served from inside it, and nothing left afterwards.
local network = require "cbuild.container.network"
local errors = require "cbuild.errors"
local h = require "spec.helpers"
local q = h.quote

describe("cbuild.container.network rules", function()
  it("parses -p like docker", function()
    assert.are.same({ ip = "0.0.0.0", host = 8080, port = 80, proto = "tcp" }, network.parse_publish "8080:80")
    assert.are.same({ ip = "127.0.0.1", host = 18080, port = 80, proto = "tcp" },
      network.parse_publish "127.0.0.1:18080:80")
    assert.are.same({ ip = "0.0.0.0", host = 0, port = 53, proto = "udp" }, network.parse_publish "53/udp")
    assert.are.same({ ip = "10.0.0.1", host = 0, port = 80, proto = "tcp" }, network.parse_publish "10.0.0.1::80")
    for _, bad in ipairs { "a:80", "8080:0", "1:2:3:4", "70000", "80/sctp", "1.2.3:80:80" } do
      local ok, e = pcall(network.parse_publish, bad)
      assert.is_false(ok, bad)
      assert.is_true(errors.is(e), bad)
    end
  end)

  it("turns -p and -P into docker's PortBindings", function()
    local pb = network.port_bindings({ "127.0.0.1:18080:80", "8443:443/tcp" }, { ["80/tcp"] = {}, ["9000"] = {} })
    assert.are.same({
      ["80/tcp"] = { { HostIp = "127.0.0.1", HostPort = "18080" } },
      ["443/tcp"] = { { HostIp = "", HostPort = "8443" } },
      ["9000/tcp"] = { { HostIp = "", HostPort = "" } },
    }, pb)
  end)

  it("does address arithmetic and picks a subnet no route overlaps", function()
    assert.are.equal(0x0a580002, network.ip_to_int "10.88.0.2")
    assert.are.equal("10.88.0.2", network.int_to_ip(0x0a580002))
    assert.is_nil(network.ip_to_int "10.88.0.256")
    local n, len = network.parse_cidr "10.88.7.9/16"
    assert.are.equal("10.88.0.0", network.int_to_ip(n))
    assert.are.equal(16, len)
    local rts = {
      { iface = "eth0", net = 0, mask = 0 }, -- a default route overlaps nothing
      { iface = "cni-podman0", net = 0x0a580000, mask = 0xffff0000 },
      { iface = "eth1", net = 0x0a590100, mask = 0xffffff00 }, -- 10.89.1.0/24 inside 10.89/16
    }
    assert.are.equal("10.90.0.0/16", network.pick_subnet(network.SUBNETS, rts))
    rts[2].iface = network.BRIDGE -- our own bridge's route is no clash
    assert.are.equal("10.88.0.0/16", network.pick_subnet(network.SUBNETS, rts))
    assert.is_nil(network.pick_subnet({ "10.0.0.0/8" }, { { iface = "x", net = 0x0a010000, mask = 0xffff0000 } }))
  end)

  it("names the network modes as docker records them", function()
    local imgs = { root = "/nonexistent" }
    assert.are.equal("bridge", network.mode_of(imgs, nil))
    assert.are.equal("bridge", network.mode_of(imgs, "default"))
    assert.are.equal("host", network.mode_of(imgs, "host"))
    assert.are.equal("none", network.mode_of(imgs, "none"))
    local id = ("ab"):rep(32)
    assert.are.equal("container:" .. id, network.mode_of(imgs, "container:web", { { Id = id, Name = "/web" } }))
    local ok, e = pcall(network.mode_of, imgs, "nosuch")
    assert.is_false(ok)
    assert.are.equal("network nosuch not found", tostring(e))
  end)

  it("writes /etc/hosts and resolv.conf as docker does on the bridge", function()
    assert.are.equal("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
      .. "ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n10.88.0.2\tabc\n",
      network.hosts("abc", "10.88.0.2"))
    assert.are.equal("search example.com\nnameserver 192.0.2.1\n",
      network.resolv_conf "search example.com\nnameserver 127.0.0.53\nnameserver 192.0.2.1\n")
    assert.are.equal("options edns0\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n",
      network.resolv_conf "nameserver 127.0.0.53\noptions edns0\n")
  end)

  it("shows ports as ps does and settings as inspect does", function()
    local info = { netns = "/x", ip = "10.88.0.5", prefix = 16, gateway = "10.88.0.1", mac = "02:42:0a:58:00:05",
      ports = { { ip = "127.0.0.1", host = 18080, port = 80, proto = "tcp" },
        { ip = "0.0.0.0", host = 5353, port = 53, proto = "udp" } } }
    local s = network.settings(info)
    assert.are.equal("10.88.0.5", s.IPAddress)
    assert.are.equal("10.88.0.1", s.Networks.bridge.Gateway)
    assert.are.same({ { HostIp = "127.0.0.1", HostPort = "18080" } }, s.Ports["80/tcp"])
    assert.are.equal("0.0.0.0:5353->53/udp, 127.0.0.1:18080->80/tcp", network.ports_column { NetworkSettings = s })
    assert.are.equal("", network.ports_column { NetworkSettings = network.settings(nil, "host") })
    assert.are.equal("bridge", network.mode { HostConfig = { NetworkMode = "default" } })
    assert.are.equal("container", network.mode { HostConfig = { NetworkMode = "container:web" } })
  end)
end)

local root = h.sh "test $(id -u) = 0" == 0

describe("cbuild.container.network on the kernel", function()
  if not root then
    pending "needs root"
    return
  end
  local imgs, id1, id2
  setup(function()
    imgs = { root = h.tmpdir "net" }
    id1 = ("a1"):rep(32)
    id2 = ("b2"):rep(32)
  end)
  teardown(function()
    network.teardown(imgs, id1)
    network.teardown(imgs, id2)
    h.cleanup()
  end)

  local function inside(id, cmd)
    return h.sh("nsenter --net=" .. q(network.netns_path(imgs, id)) .. " " .. cmd)
  end

  it("connects two containers to the bridge, publishes a port and removes it all again", function()
    local pb = network.port_bindings { "127.0.0.1:18089:80" }
    local c1 = { Id = id1, HostConfig = { NetworkMode = "bridge", PortBindings = pb } }
    local info = network.setup(imgs, c1)
    local info2 = network.setup(imgs, { Id = id2, HostConfig = { NetworkMode = "bridge" } })
    assert.are_not.equal(info.ip, info2.ip)
    assert.is_true(h.sh("ip link show " .. network.BRIDGE) == 0)
    local _, out = inside(id1, "ip -o -4 addr show eth0")
    assert.matches("inet " .. info.ip:gsub("%.", "%%.") .. "/" .. info.prefix, out)
    _, out = inside(id1, "ip route show default")
    assert.matches("via " .. info.gateway, out, 1, true)
    assert.are.equal(0, (inside(id2, "busybox ping -c1 -W2 " .. info.ip)), "one container reaches the other")
    assert.are.same({ { ip = "127.0.0.1", host = 18089, port = 80, proto = "tcp" } }, info.ports)

    local www = h.tmpdir "www"
    h.write(www .. "/index.html", "hello from the bridge\n")
    local pid = h.ok("nsenter --net=" .. q(network.netns_path(imgs, id1)) .. " busybox httpd -f -p 80 -h " .. q(www)
      .. " >/dev/null 2>&1 & echo $!"):match "%d+"
    local body
    assert.is_true(h.wait_for(function()
      local st, o = h.sh "curl -s --max-time 2 http://127.0.0.1:18089/"
      body = o
      return st == 0
    end, 40))
    assert.are.equal("hello from the bridge\n", body)
    h.sh("kill " .. pid)

    local ok, e = pcall(network.setup, imgs, { Id = ("c3"):rep(32), HostConfig = { NetworkMode = "bridge",
      PortBindings = network.port_bindings { "18089:80" } } })
    assert.is_false(ok)
    assert.matches("port is already allocated", tostring(e), 1, true)
    assert.is_false(h.sh("test -e " .. q(network.netns_path(imgs, ("c3"):rep(32)))) == 0, "nothing left of it")

    network.teardown(imgs, id1)
    network.teardown(imgs, id2)
    assert.is_true(h.wait_for(function() -- the kernel's netns cleanup deletes the pair
      return h.sh("ip link show " .. network.veth_name(id1) .. " 2>/dev/null") ~= 0
    end), "the veth pair is gone")
    assert.is_false(h.sh("test -e " .. q(network.netns_path(imgs, id1))) == 0)
    local _, rules = h.sh "iptables-save -t nat"
    assert.is_nil(rules:find("cbuild:" .. id1:sub(1, 12), 1, true))
    local _, leases = h.sh("grep -l " .. q(imgs.root) .. " " .. network.RUN_DIR .. "/leases/* 2>/dev/null")
    assert.are.equal("", leases)
  end)

  it("frees a lease whose netns is gone and removes its rules", function()
    local pb = network.port_bindings { "18090:80" }
    local c1 = { Id = id1, HostConfig = { NetworkMode = "bridge", PortBindings = pb } }
    local info = network.setup(imgs, c1)
    -- a store deleted under a running container: the pin goes, the lease and rules stay
    h.ok("umount " .. q(network.netns_path(imgs, id1)) .. " && rm " .. q(network.netns_path(imgs, id1)))
    local info2 = network.setup(imgs, { Id = id2, HostConfig = { NetworkMode = "bridge" } })
    assert.are.equal(info.ip, info2.ip, "the address is given out again")
    local _, rules = h.sh "iptables-save -t nat"
    assert.is_nil(rules:find("cbuild:" .. id1:sub(1, 12), 1, true))
    network.teardown(imgs, id2)
  end)
end)
