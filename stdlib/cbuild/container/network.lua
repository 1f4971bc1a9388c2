-- Docker's default networking for `run`: the container gets its own network namespace, pinned
-- at <root>/netns/<id> before its process starts (as CNI and netavark do), with eth0 on the
-- bridge cbuild0 (one veth pair per container), an address from the bridge's subnet, a default
-- route via the bridge's address, outbound NAT, and published ports as DNAT rules.
--
-- The bridge, its iptables rules and the address leases are host-wide, whatever store a
-- container lives in, so they live under /run/cbuild/net (a tmpfs, like the bridge itself gone
-- after a reboot): leases/<ip> names the netns that holds the address, its ports and their
-- rules, written under the flock RUN_DIR/lock.  A lease whose netns is no longer pinned is free.
--
-- Published ports are kernel rules, not a userland proxy: DNAT in PREROUTING (from outside) and
-- OUTPUT (from the host itself, 127.0.0.1 included thanks to route_localnet on the bridge, with
-- the loopback source masqueraded), the way docker does with --userland-proxy=false and
-- netavark always does.  Nothing has to outlive cbuild to keep a port working: a foreground
-- `run` or a detached container's monitor need no proxy process beside them.
--
-- Engine module: failures raise cbuild.errors, except teardown, which does what it can.
local fs = require "cbuild.core.fs"
local json = require "cbuild.core.json"
local net = require "cbuild.core.net"
local sys = require "cbuild.core.sys"
local errors = require "cbuild.errors"

local M = {}

M.BRIDGE = "cbuild0"
M.RUN_DIR = "/run/cbuild/net"
-- the bridge's subnet: the first of these that no route of the host overlaps when it is made
-- (docker picks its default bridge's the same way from its address pools)
M.SUBNETS = { "10.88.0.0/16" }
for i = 89, 99 do
  M.SUBNETS[#M.SUBNETS + 1] = "10." .. i .. ".0.0/16"
end
for i = 17, 31 do
  M.SUBNETS[#M.SUBNETS + 1] = "172." .. i .. ".0.0/16"
end

local SBIN = "PATH=/usr/sbin:/sbin:$PATH; export PATH; "

-- ---- addresses ---------------------------------------------------------------------------

--- "a.b.c.d" -> 32-bit integer, or nil.
function M.ip_to_int(s)
  local a, b, c, d = s:match "^(%d+)%.(%d+)%.(%d+)%.(%d+)$"
  if not a then
    return nil
  end
  a, b, c, d = tonumber(a), tonumber(b), tonumber(c), tonumber(d)
  if a > 255 or b > 255 or c > 255 or d > 255 then
    return nil
  end
  return ((a * 256 + b) * 256 + c) * 256 + d
end

--- 32-bit integer -> "a.b.c.d".
function M.int_to_ip(n)
  return string.format("%d.%d.%d.%d", n >> 24 & 255, n >> 16 & 255, n >> 8 & 255, n & 255)
end

--- "a.b.c.d/len" -> network integer, prefix length.
function M.parse_cidr(s)
  local ip, len = s:match "^([%d.]+)/(%d+)$"
  local n = ip and M.ip_to_int(ip)
  len = tonumber(len)
  if not n or len > 32 then
    return nil
  end
  local mask = len == 0 and 0 or (0xffffffff << (32 - len)) & 0xffffffff
  return n & mask, len, mask
end

-- Docker's MAC for an address (before 25.0): 02:42 and the four bytes of the IP.
local function mac_of(n)
  return string.format("02:42:%02x:%02x:%02x:%02x", n >> 24 & 255, n >> 16 & 255, n >> 8 & 255, n & 255)
end

-- The host's IPv4 routes from /proc/net/route: {iface, net, mask}.
local function routes()
  local out = {}
  for line in (fs.read_file "/proc/net/route" or ""):gmatch "[^\n]+" do
    local iface, dst, mask = line:match "^(%S+)%s+(%x+)%s+%x+%s+%x+%s+%d+%s+%d+%s+%d+%s+(%x+)"
    if iface and iface ~= "Iface" then
      local function host_order(h) -- the file has them in the kernel's (little-endian) order
        local n = tonumber(h, 16)
        return (n & 255) << 24 | (n >> 8 & 255) << 16 | (n >> 16 & 255) << 8 | n >> 24
      end
      out[#out + 1] = { iface = iface, net = host_order(dst), mask = host_order(mask) }
    end
  end
  return out
end

--- The first subnet of candidates that no route (other than via the bridge, or a default
--- route) overlaps.
function M.pick_subnet(candidates, rts)
  for _, cidr in ipairs(candidates) do
    local n, _, mask = M.parse_cidr(cidr)
    local clash = false
    for _, r in ipairs(rts) do
      if r.iface ~= M.BRIDGE and r.mask ~= 0 then
        local m = mask & r.mask -- the shorter prefix decides
        if n & m == r.net & m then
          clash = true
          break
        end
      end
    end
    if not clash then
      return cidr
    end
  end
  return nil
end

-- ---- published ports ---------------------------------------------------------------------

--- Parse -p [IP:][HOSTPORT:]CONTAINERPORT[/tcp|udp] into {ip=, host=(0 = any free), port=, proto=}.
function M.parse_publish(spec)
  local body, proto = spec:match "^(.-)/(%a+)$"
  body, proto = body or spec, (proto or "tcp"):lower()
  if proto ~= "tcp" and proto ~= "udp" then
    errors.raise("invalid proto: %s", proto)
  end
  local ip, host, port
  local parts = {}
  for p in (body .. ":"):gmatch "([^:]*):" do
    parts[#parts + 1] = p
  end
  if #parts == 1 then
    port = parts[1]
  elseif #parts == 2 then
    host, port = parts[1], parts[2]
  elseif #parts == 3 then
    ip, host, port = parts[1], parts[2], parts[3]
  else
    errors.raise("invalid port specification: \"%s\"", spec)
  end
  local function num(s)
    local n = math.tointeger(tonumber(s))
    if not s:match "^%d+$" or not n or n < 1 or n > 65535 then
      errors.raise("invalid port specification: \"%s\"", spec)
    end
    return n
  end
  if ip and ip ~= "" and not M.ip_to_int(ip) then
    errors.raise("invalid IP address: %s", ip)
  end
  return {
    ip = (ip ~= nil and ip ~= "") and ip or "0.0.0.0",
    host = (host == nil or host == "") and 0 or num(host),
    port = num(port),
    proto = proto,
  }
end

--- HostConfig.PortBindings for the -p list (and, with exposed = the image's ExposedPorts, -P:
--- each exposed port on a free host port).
function M.port_bindings(list, exposed)
  local out = json.object {}
  local function add(key, ip, host)
    out[key] = out[key] or json.array {}
    table.insert(out[key], { HostIp = ip == "0.0.0.0" and "" or ip, HostPort = host == 0 and "" or tostring(host) })
  end
  for _, spec in ipairs(list or {}) do
    local p = M.parse_publish(spec)
    add(p.port .. "/" .. p.proto, p.ip, p.host)
  end
  local keys = {}
  for k in pairs(exposed or {}) do
    keys[#keys + 1] = k
  end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local port, proto = k:match "^(%d+)/?(%a*)$"
    if port then
      local key = port .. "/" .. (proto ~= "" and proto or "tcp")
      if not out[key] then
        add(key, "0.0.0.0", 0)
      end
    end
  end
  return out
end

-- {ip, host, port, proto} for each binding of PortBindings, sorted.
local function bindings(pb)
  local out = {}
  for key, list in pairs(pb or {}) do
    local port, proto = key:match "^(%d+)/(%a+)$"
    for _, b in ipairs(list) do
      out[#out + 1] = {
        ip = (b.HostIp == nil or b.HostIp == "") and "0.0.0.0" or b.HostIp,
        host = tonumber(b.HostPort) or 0,
        port = tonumber(port),
        proto = proto,
      }
    end
  end
  table.sort(out, function(a, b)
    if a.port ~= b.port then
      return a.port < b.port
    end
    return a.proto < b.proto
  end)
  return out
end

-- Host ports in use: listening TCP sockets or bound UDP ones ({["tcp/8080"] = true}).
local function host_ports()
  local used = {}
  for _, proto in ipairs { "tcp", "udp" } do
    for _, f in ipairs { "/proc/net/" .. proto, "/proc/net/" .. proto .. "6" } do
      for line in (fs.read_file(f) or ""):gmatch "[^\n]+" do
        local port, st = line:match "^%s*%d+:%s+%x+:(%x+)%s+%x+:%x+%s+(%x+)"
        if port and (proto == "udp" or st == "0A") then
          used[proto .. "/" .. tonumber(port, 16)] = true
        end
      end
    end
  end
  return used
end

-- ---- iptables ----------------------------------------------------------------------------

-- Feed rules to iptables-restore --noflush: one exec for any number of rules, each table
-- committed atomically.  Returns true, or nil and the tool's complaint.
local function restore(text, quiet)
  local tmp = os.tmpname()
  local f = io.popen(SBIN .. "iptables-restore -n 2>" .. tmp, "w")
  if not f then
    os.remove(tmp)
    return nil, "cannot run iptables-restore"
  end
  f:write(text)
  local ok = f:close()
  local msg = fs.read_file(tmp) or ""
  os.remove(tmp)
  if not ok then
    return nil, quiet and "" or ("iptables-restore: " .. msg:gsub("%s+$", ""))
  end
  return true
end

-- The rules of one table, grouped: {nat = {...}, filter = {...}} -> iptables-restore input.
local function restore_text(tables)
  local out = {}
  for _, t in ipairs { "nat", "filter" } do
    if tables[t] and #tables[t] > 0 then
      out[#out + 1] = "*" .. t
      for _, r in ipairs(tables[t]) do
        out[#out + 1] = r
      end
      out[#out + 1] = "COMMIT"
    end
  end
  return table.concat(out, "\n") .. "\n"
end

-- The bridge's own rules, made when the bridge is made: chains of ours with one jump each from
-- the built-in chains (the jumps added only when missing, so a re-made bridge adds none twice).
local function global_rules(subnet)
  local b = M.BRIDGE
  local ok, msg = restore(restore_text {
    nat = {
      ":CBUILD-DNAT - [0:0]",
      ":CBUILD-POSTROUTING - [0:0]",
      "-A CBUILD-POSTROUTING -s " .. subnet .. " ! -o " .. b .. " -j MASQUERADE",
      "-A CBUILD-POSTROUTING -s 127.0.0.0/8 -o " .. b .. " -j MASQUERADE",
      -- hairpin: a container reaching a published port of the host lands on the bridge again
      "-A CBUILD-POSTROUTING -s " .. subnet .. " -o " .. b .. " -m conntrack --ctstate DNAT -j MASQUERADE",
    },
    filter = {
      ":CBUILD-FORWARD - [0:0]",
      "-A CBUILD-FORWARD -o " .. b .. " -j ACCEPT",
      "-A CBUILD-FORWARD -i " .. b .. " -j ACCEPT",
    },
  })
  if not ok then
    return nil, msg
  end
  local jumps = {
    "-t nat PREROUTING -m addrtype --dst-type LOCAL -j CBUILD-DNAT",
    "-t nat OUTPUT -m addrtype --dst-type LOCAL -j CBUILD-DNAT",
    "-t nat POSTROUTING -j CBUILD-POSTROUTING",
    "-t filter FORWARD -j CBUILD-FORWARD",
  }
  local sh = {}
  for _, j in ipairs(jumps) do
    local t, chain, rest = j:match "^(-t %S+) (%S+) (.*)$"
    sh[#sh + 1] = string.format("{ iptables %s -C %s %s 2>/dev/null || iptables %s -I %s %s; }", t, chain, rest, t,
      chain, rest)
  end
  if not os.execute(SBIN .. table.concat(sh, " && ")) then
    return nil, "iptables: cannot add the jumps to cbuild's chains"
  end
  return true
end

-- A container's DNAT rules (without the -A/-D verb): {nat = {...}}.
local function port_rules(id, ip, ports)
  local rules = {}
  local tag = " -m comment --comment cbuild:" .. id:sub(1, 12)
  for _, p in ipairs(ports) do
    local dst = p.ip ~= "0.0.0.0" and (" -d " .. p.ip .. "/32") or ""
    rules[#rules + 1] = "CBUILD-DNAT" .. dst .. " -p " .. p.proto .. " -m " .. p.proto .. " --dport " .. p.host
      .. tag .. " -j DNAT --to-destination " .. ip .. ":" .. p.port
  end
  return rules
end

local function with_verb(verb, rules)
  local out = {}
  for i, r in ipairs(rules) do
    out[i] = verb .. " " .. r
  end
  return out
end

-- Delete the rules tagged for id, whatever they are (the slow path: a rule was already gone,
-- so the fast batch of -D failed as a whole).
local function delete_tagged(id)
  if type(id) ~= "string" or #id < 12 then
    return
  end
  local f = io.popen(SBIN .. "iptables-save -t nat 2>/dev/null")
  if not f then
    return
  end
  local out = {}
  for line in f:lines() do
    if line:find("cbuild:" .. id:sub(1, 12), 1, true) and line:match "^%-A " then
      out[#out + 1] = "-D " .. line:sub(4)
    end
  end
  f:close()
  if #out > 0 then
    restore(restore_text { nat = out }, true)
  end
end

-- ---- the lock and the leases -------------------------------------------------------------

local function mkdirs()
  if not fs.exists(M.RUN_DIR .. "/lock") then
    errors.need("create '" .. M.RUN_DIR .. "'", fs.mkdir_p(M.RUN_DIR .. "/leases", tonumber("700", 8)))
    errors.need("create the lock", fs.write_file(M.RUN_DIR .. "/lock", "", { atomic = false }))
  end
end

-- fn() under the host-wide network lock (flock, waited for).
local function locked(fn)
  mkdirs()
  local fd
  for _ = 1, 2000 do
    fd = errors.need("lock '" .. M.RUN_DIR .. "/lock'", sys.try_lock(M.RUN_DIR .. "/lock"))
    if fd then
      break
    end
    sys.poll({}, 5)
  end
  if not fd then
    errors.raise("timed out waiting for the lock '%s/lock'", M.RUN_DIR)
  end
  local ok, a, b = pcall(fn)
  sys.close(fd)
  if not ok then
    error(a, 0)
  end
  return a, b
end

-- Every lease: {[ip] = lease table}.
local function leases()
  local out = {}
  local dir = M.RUN_DIR .. "/leases"
  for _, name in ipairs(fs.readdir(dir) or {}) do
    local text = fs.read_file(dir .. "/" .. name)
    local ok, l = pcall(json.decode, text or "")
    if ok and type(l) == "table" then
      out[name] = l
    end
  end
  return out
end

-- The bridge's settings, making the bridge (and its sysctls and rules) when it is missing.
local function ensure_bridge()
  local cfgfile = M.RUN_DIR .. "/" .. M.BRIDGE .. ".json"
  local cfg = fs.read_file(cfgfile)
  cfg = cfg and json.decode(cfg)
  if cfg and net.link_exists(M.BRIDGE) then
    return cfg
  end
  local subnet = cfg and cfg.subnet or M.pick_subnet(M.SUBNETS, routes())
  if not subnet then
    errors.raise "no free subnet for the bridge network (every candidate overlaps a route of the host)"
  end
  local n, len = M.parse_cidr(subnet)
  cfg = { subnet = subnet, gateway = M.int_to_ip(n + 1), prefix = len }
  local made, msg, code = net.bridge(M.BRIDGE, cfg.gateway .. "/" .. len)
  if made == nil then
    errors.need("create bridge " .. M.BRIDGE, nil, msg, code)
  end
  errors.need("enable IP forwarding", net.sysctl("net.ipv4.ip_forward", "1"))
  errors.need("route_localnet", net.sysctl("net/ipv4/conf/" .. M.BRIDGE .. "/route_localnet", "1"))
  errors.need("iptables rules for " .. M.BRIDGE, global_rules(subnet))
  errors.need("write '" .. cfgfile .. "'", fs.write_file(cfgfile, json.encode(cfg)))
  return cfg
end

-- Under the lock: an address and the host ports, recorded as a lease naming nspath.
local function lease(cfg, id, nspath, wanted)
  local all = leases()
  local taken, ports_taken = {}, {}
  for ip, l in pairs(all) do
    if net.netns_exists(l.netns or "") then
      taken[ip] = true
      for _, p in ipairs(l.ports or {}) do
        ports_taken[p.proto .. "/" .. p.host] = p.ip
      end
    else -- its container is gone without a teardown (its store deleted): free again
      if l.rules and #l.rules > 0 and not restore(restore_text { nat = with_verb("-D", l.rules) }, true) then
        delete_tagged(l.id)
      end
      os.remove(M.RUN_DIR .. "/leases/" .. ip)
    end
  end
  local net0 = M.parse_cidr(cfg.subnet)
  local size = 1 << (32 - cfg.prefix)
  local ip
  for i = 2, size - 2 do
    local cand = M.int_to_ip(net0 + i)
    if not taken[cand] then
      ip = cand
      break
    end
  end
  if not ip then
    errors.raise("no free address left in %s", cfg.subnet)
  end
  local ports = {}
  if #wanted > 0 then
    local used = host_ports()
    local next_free = 32768
    local range = fs.read_file "/proc/sys/net/ipv4/ip_local_port_range"
    if range then
      next_free = tonumber(range:match "^(%d+)") or next_free
    end
    for _, w in ipairs(wanted) do
      local p = { ip = w.ip, host = w.host, port = w.port, proto = w.proto }
      if p.host == 0 then
        while used[p.proto .. "/" .. next_free] or ports_taken[p.proto .. "/" .. next_free] do
          next_free = next_free + 1
        end
        p.host = next_free
        next_free = next_free + 1
      else
        local other = ports_taken[p.proto .. "/" .. p.host]
        if (other and (other == "0.0.0.0" or p.ip == "0.0.0.0" or other == p.ip)) or used[p.proto .. "/" .. p.host] then
          errors.raise("Bind for %s:%d failed: port is already allocated", p.ip, p.host)
        end
      end
      ports_taken[p.proto .. "/" .. p.host] = p.ip
      ports[#ports + 1] = p
    end
  end
  local rules = port_rules(id, ip, ports)
  local record = { id = id, netns = nspath, ports = ports, rules = rules }
  errors.need("write lease", fs.write_file(M.RUN_DIR .. "/leases/" .. ip, json.encode(record), { atomic = false }))
  return ip, ports, rules
end

-- ---- the container's side ----------------------------------------------------------------

--- The pinned netns of container id.
function M.netns_path(imgs, id)
  return imgs.root .. "/netns/" .. id
end

--- The host end of container id's veth pair.
function M.veth_name(id)
  return "veth" .. id:sub(1, 8)
end

--- What --network the record asks for: "bridge", "host", "none" or "container".
function M.mode(c)
  local m = c.HostConfig.NetworkMode or "host"
  if m == "default" then
    return "bridge"
  end
  return m:match "^container:" and "container" or m
end

--- HostConfig.NetworkMode for --network name: "bridge" (the default), "host", "none", or
--- "container:<id>" for container:<name|id>, the other container found in the records.
function M.mode_of(imgs, name, existing)
  if name == nil or name == "" or name == "default" or name == "bridge" then
    return "bridge"
  elseif name == "host" or name == "none" then
    return name
  end
  local other = name:match "^container:(.+)$"
  if not other then
    errors.raise("network %s not found", name)
  end
  for _, c in ipairs(existing or {}) do
    if c.Id == other or c.Name == "/" .. other then
      return "container:" .. c.Id
    end
  end
  local state = require "cbuild.container.state"
  local c, msg = state.lookup(imgs, other)
  if not c then
    errors.raise("%s", msg)
  end
  return "container:" .. c.Id
end

--- For a --network container:<id> record: the namespace to join (the other container's pinned
--- one, or its init's) and that container's record, whose hosts and resolv.conf it shares.
function M.joined(imgs, c)
  local state = require "cbuild.container.state"
  local id = c.HostConfig.NetworkMode:match "^container:(.+)$"
  local other = state.load(imgs, id)
  if not other then
    errors.raise("cannot join network of a non running container: %s", id)
  end
  if not other.State.Running or other.stale then
    errors.raise("cannot join network of a non running container: %s", other.Name:gsub("^/", ""))
  end
  local mode = M.mode(other)
  if mode == "host" then
    return nil, other, true
  end
  local key = other.NetworkSettings and other.NetworkSettings.SandboxKey
  if key and key ~= "" then
    return key, other
  end
  return "/proc/" .. other.State.Pid .. "/ns/net", other
end

--- Give container c its network before it starts: a pinned netns with eth0 on the bridge, its
--- address, its ports.  Returns {netns=, ip=, gateway=, prefix=, mac=, ports=} (ports as
--- {ip, host, port, proto}); on failure nothing is left.
function M.setup(imgs, c)
  local id = c.Id
  local nspath = M.netns_path(imgs, id)
  errors.need("create '" .. imgs.root .. "/netns'", fs.mkdir_p(imgs.root .. "/netns", tonumber("711", 8)))
  M.teardown(imgs, id) -- what a killed cbuild may have left under this id
  local wanted = bindings(c.HostConfig.PortBindings)
  local info
  local ok, err = pcall(function()
    errors.need("create network namespace", net.netns_create(nspath))
    local cfg, ip, ports, rules
    locked(function()
      cfg = ensure_bridge()
      ip, ports, rules = lease(cfg, id, nspath, wanted)
    end)
    local n = M.ip_to_int(ip)
    info = { netns = nspath, ip = ip, gateway = cfg.gateway, prefix = cfg.prefix, mac = mac_of(n), ports = ports }
    local veth = {
      netns = nspath, bridge = M.BRIDGE, host_ifname = M.veth_name(id), ifname = "eth0",
      address = ip .. "/" .. cfg.prefix, gateway = cfg.gateway, mac = info.mac,
    }
    local done, msg, code = net.veth(veth)
    if not done and code == "EEXIST" then -- a restart: the last run's pair is still dying
      net.link_delete(veth.host_ifname)
      done, msg, code = net.veth(veth)
    end
    errors.need("connect to " .. M.BRIDGE, done, msg, code)
    if #rules > 0 then
      errors.need("publish ports", restore(restore_text { nat = with_verb("-A", rules) }))
    end
  end)
  if not ok then
    M.teardown(imgs, id)
    error(err, 0)
  end
  return info
end

--- Undo setup for container id: its port rules, lease and netns (the veth pair goes with it).
--- Safe to call for a container that never had any (a stat, or a stat and a directory listing).
function M.teardown(imgs, id)
  local nspath = M.netns_path(imgs, id)
  if not fs.exists(nspath) then
    return
  end
  local dir = M.RUN_DIR .. "/leases"
  for ip, l in pairs(leases()) do
    if l.netns == nspath then
      if l.rules and #l.rules > 0 and not restore(restore_text { nat = with_verb("-D", l.rules) }, true) then
        delete_tagged(id)
      end
      os.remove(dir .. "/" .. ip)
    end
  end
  -- Unpinned, the namespace dies with the container's last process (gone by now) and the kernel
  -- deletes the veth pair in its cleanup worker: an RTM_DELLINK here would wait ~30 ms for an
  -- RCU grace period.  The address may be leased again before that; its MAC, derived from the
  -- address, is the same, so the bridge and the host's neighbours stay right.
  net.netns_remove(nspath)
end

--- NetworkSettings as docker's inspect shows them for a container with info (from setup).
function M.settings(info, mode)
  local ports = json.object {}
  local nets = json.object {}
  if info then
    for _, p in ipairs(info.ports) do
      local key = p.port .. "/" .. p.proto
      ports[key] = ports[key] or json.array {}
      table.insert(ports[key], { HostIp = p.ip, HostPort = tostring(p.host) })
    end
    nets.bridge = {
      IPAddress = info.ip, IPPrefixLen = info.prefix, Gateway = info.gateway, MacAddress = info.mac,
    }
  elseif mode then
    nets[mode] = { IPAddress = "", IPPrefixLen = 0, Gateway = "", MacAddress = "" }
  end
  return {
    Bridge = "",
    SandboxKey = info and info.netns or "",
    Ports = ports,
    IPAddress = info and info.ip or "",
    IPPrefixLen = info and info.prefix or 0,
    Gateway = info and info.gateway or "",
    MacAddress = info and info.mac or "",
    Networks = nets,
  }
end

--- ps's PORTS column for record c: "127.0.0.1:18080->80/tcp, 0.0.0.0:8080->8080/tcp".
function M.ports_column(c)
  local ns = c.NetworkSettings
  local out = {}
  for _, p in ipairs(bindings(ns and ns.Ports)) do
    out[#out + 1] = string.format("%s:%d->%d/%s", p.ip, p.host, p.port, p.proto)
  end
  return table.concat(out, ", ")
end

--- /etc/hosts as docker writes it for a container on the bridge.
function M.hosts(hostname, ip)
  return "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
    .. "ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n" .. ip .. "\t" .. hostname .. "\n"
end

--- /etc/resolv.conf for the bridge, docker's way: the host's, without nameservers on the
--- loopback (unreachable from the container's namespace), and Google's when none is left.
function M.resolv_conf(host_text)
  local out, any = {}, false
  for line in (host_text or ""):gmatch "[^\n]*" do
    local ns = line:match "^%s*nameserver%s+(%S+)"
    local loopback = ns and (ns:match "^127%." or ns == "::1")
    any = any or (ns ~= nil and not loopback)
    if not loopback then
      out[#out + 1] = line
    end
  end
  while out[#out] == "" do
    out[#out] = nil
  end
  if not any then
    out[#out + 1] = "nameserver 8.8.8.8"
    out[#out + 1] = "nameserver 8.8.4.4"
  end
  return table.concat(out, "\n") .. "\n"
end

return M
