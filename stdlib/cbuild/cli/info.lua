-- cbuild info [--format FMT]: what `docker info` reports, for this machine and store (there is
-- no daemon: the "server" is this process and the store at --root).
local format = require "cbuild.cli.format"
local fs = require "cbuild.core.fs"
local sys = require "cbuild.core.sys"

local M = { summary = "Display system-wide information" }

function M.setup(cmd)
  cmd:option("-f --format", "Format output using a Go template (e.g. '{{.Driver}}') or 'json'.")
end

local function os_name()
  local text = fs.read_file "/etc/os-release" or ""
  return text:match 'PRETTY_NAME="([^"]*)"' or text:match "PRETTY_NAME=(%S+)" or "Linux"
end

local function mem_total()
  local kb = (fs.read_file "/proc/meminfo" or ""):match "MemTotal:%s+(%d+) kB"
  return kb and math.tointeger(tonumber(kb) * 1024) or 0
end

-- 23.47GiB, as docker's units.BytesSize.
local function binary_size(n)
  local units = { "B", "KiB", "MiB", "GiB", "TiB" }
  local i = 1
  while n >= 1024 and i < #units do
    n, i = n / 1024, i + 1
  end
  return string.format("%.4g%s", n, units[i])
end

--- docker's info fields, as far as they mean something here.
function M.fields(ctx)
  local core = require "cbuild.core"
  local imgconfig = require "cbuild.image.config"
  local state = require "cbuild.container.state"
  local imgs = ctx:store()
  local running, stopped = 0, 0
  local list = state.list(imgs)
  for _, c in ipairs(list) do
    if c.State.Running then
      running = running + 1
    else
      stopped = stopped + 1
    end
  end
  local layout = require("cbuild.core.cgroup").layout() or {}
  local uts = sys.uname() or {}
  return {
    ID = "", Containers = #list, ContainersRunning = running, ContainersPaused = 0, ContainersStopped = stopped,
    Images = #imgs:entries(), Driver = ctx.driver or "overlay", CgroupDriver = "cgroupfs",
    CgroupVersion = layout.mode == "v2" and "2" or "1", KernelVersion = uts.release or "",
    OperatingSystem = os_name(), OSType = "linux", Architecture = uts.machine or "",
    NCPU = sys.nproc(), MemTotal = mem_total(), Name = sys.hostname() or "", DockerRootDir = imgs.root,
    ServerVersion = core.version, Debug = ctx.debug == true,
    Platform = imgconfig.platform_string(imgconfig.host_platform()),
  }
end

function M.run(args, ctx)
  local f = M.fields(ctx)
  if args.format then
    format.print({ f }, args.format == "json" and "json" or args.format)
    return 0
  end
  local out = {
    "Client:", " Version:    " .. f.ServerVersion, " Context:    default (no daemon)", "",
    "Server:",
    " Containers: " .. f.Containers, "  Running: " .. f.ContainersRunning, "  Paused: " .. f.ContainersPaused,
    "  Stopped: " .. f.ContainersStopped,
    " Images: " .. f.Images,
    " Server Version: cbuild " .. f.ServerVersion,
    " Storage Driver: " .. f.Driver,
    " Cgroup Driver: " .. f.CgroupDriver,
    " Cgroup Version: " .. f.CgroupVersion,
    " Kernel Version: " .. f.KernelVersion,
    " Operating System: " .. f.OperatingSystem,
    " OSType: " .. f.OSType,
    " Architecture: " .. f.Architecture,
    " CPUs: " .. f.NCPU,
    " Total Memory: " .. binary_size(f.MemTotal),
    " Name: " .. f.Name,
    " Docker Root Dir: " .. f.DockerRootDir,
    " Debug Mode: " .. tostring(f.Debug),
  }
  io.stdout:write(table.concat(out, "\n"), "\n")
  return 0
end

return M
