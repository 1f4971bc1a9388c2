-- cbuild port CONTAINER [PRIVATE_PORT[/PROTO]]: the container's published ports, as docker port.
local errors = require "cbuild.errors"
local state = require "cbuild.container.state"

local M = { summary = "List port mappings or a specific mapping for the container" }

function M.setup(cmd)
  cmd:argument("container", "Container name or ID.")
  cmd:argument("port", "PRIVATE_PORT[/PROTO]."):args "?"
end

function M.run(args, ctx)
  local c = state.must_lookup(ctx:store(), args.container)
  local ports = (c.NetworkSettings or {}).Ports or {}
  local want = args.port and (args.port:find "/" and args.port or (args.port .. "/tcp"))
  local keys = {}
  for k, v in pairs(ports) do
    if type(v) == "table" and (not want or k == want) then
      keys[#keys + 1] = k
    end
  end
  table.sort(keys, function(a, b)
    local pa, pb = tonumber(a:match "^%d+"), tonumber(b:match "^%d+")
    if pa ~= pb then
      return (pa or 0) < (pb or 0)
    end
    return a < b
  end)
  if want and #keys == 0 then
    errors.raise("No public port '%s' published for %s", want, args.container)
  end
  for _, k in ipairs(keys) do
    for _, b in ipairs(ports[k]) do
      local line = (b.HostIp ~= "" and b.HostIp or "0.0.0.0") .. ":" .. b.HostPort
      io.stdout:write(want and line or (k .. " -> " .. line), "\n")
    end
  end
  return 0
end

return M
