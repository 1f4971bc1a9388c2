-- cbuild stats [--no-stream] [CONTAINER...]: cpu, memory and pids from the containers' cgroups.
local cgroup = require "cbuild.core.cgroup"
local fs = require "cbuild.core.fs"
local sys = require "cbuild.core.sys"
local format = require "cbuild.cli.format"
local state = require "cbuild.container.state"

local M = { summary = "Display a live stream of container(s) resource usage statistics" }

function M.setup(cmd)
  cmd:flag("--no-stream", "Disable streaming stats and only pull the first result.")
  cmd:flag("-a --all", "Show all containers (default shows just running).")
  cmd:argument("container", "Container name or ID."):args "*"
end

-- docker's binary sizes for memory: 1.5MiB, 200MiB, 3.2GiB.
local function bsize(n)
  local units = { "B", "KiB", "MiB", "GiB", "TiB" }
  local i = 1
  while n >= 1024 and i < #units do
    n = n / 1024
    i = i + 1
  end
  return string.format(i == 1 and "%d%s" or "%.4g%s", n, units[i])
end

local function host_memory()
  local text = fs.read_file "/proc/meminfo" or ""
  local kb = tonumber(text:match "MemTotal:%s+(%d+)") or 0
  return kb * 1024
end

local function sample(list)
  local out = {}
  for _, c in ipairs(list) do
    local cg = c.State.Running and cgroup.open(c.Cbuild.cgroup)
    local st = cg and cg:stats() or {}
    if cg then
      cg:close()
    end
    out[c.Id] = st
  end
  return out, sys.time()
end

local function show(list, interval)
  local a, t0 = sample(list)
  sys.poll({}, interval)
  local b, t1 = sample(list)
  local ncpu = sys.nproc()
  local rows = {}
  for _, c in ipairs(list) do
    local s0, s1 = a[c.Id], b[c.Id]
    local cpu = 0
    if s0.cpu_ns and s1.cpu_ns and t1 > t0 then
      cpu = (s1.cpu_ns - s0.cpu_ns) / 1e9 / (t1 - t0) * 100
    end
    local limit = (c.HostConfig.Memory or 0) > 0 and c.HostConfig.Memory or host_memory()
    local mem = s1.memory or 0
    rows[#rows + 1] = { c.Id:sub(1, 12), (c.Name:gsub("^/", "")),
      string.format("%.2f%%", math.min(cpu, 100 * ncpu)),
      bsize(mem) .. " / " .. bsize(limit), string.format("%.2f%%", limit > 0 and mem / limit * 100 or 0),
      "0B / 0B", "0B / 0B", tostring(s1.pids or 0) }
  end
  format.table({ "CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O",
    "BLOCK I/O", "PIDS" }, rows)
end

function M.run(args, ctx)
  local imgs = ctx:store()
  local list = {}
  if #args.container > 0 then
    for _, name in ipairs(args.container) do
      list[#list + 1] = state.must_lookup(imgs, name)
    end
  else
    for _, c in ipairs(state.list(imgs)) do
      if args.all or c.State.Running then
        list[#list + 1] = c
      end
    end
  end
  repeat
    show(list, 500)
  until args.no_stream
  return 0
end

return M
