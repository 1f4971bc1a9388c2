-- cbuild container SUBCOMMAND: docker's management form (container ls -a, container rm, prune, ...),
-- and the hidden `container _monitor` and `_health` that a detached container's monitor and
-- health checker run.
local M = { summary = "Manage containers" }

M.subcommands = {
  { "ls", "ps", aliases = { "list", "ps" } },
  { "run" }, { "create" }, { "start" }, { "stop" }, { "restart" }, { "kill" }, { "pause" }, { "unpause" },
  { "rm", aliases = { "remove" } }, { "logs" }, { "inspect" }, { "exec" }, { "top" }, { "stats" }, { "wait" },
  { "commit" }, { "attach" }, { "cp" }, { "diff" }, { "export" }, { "rename" }, { "port" },
}

-- prune: docker container prune [-f]
local prune = { summary = "Remove all stopped containers" }
M.subcommands[#M.subcommands + 1] = { "prune", module = prune }

function prune.setup(cmd)
  cmd:flag("-f --force", "Do not prompt for confirmation.")
end

function prune.run(args, ctx)
  local system = require "cbuild.cli.system"
  if not args.force and not system.confirm "WARNING! This will remove all stopped containers." then
    return 0
  end
  system.report(require("cbuild.build.gc").prune(ctx:store(), { containers = true }))
  return 0
end

-- the processes that supervise a detached container and run its health checks
local monitor = { summary = "Supervise a detached container (internal).", hidden = true }

function monitor.setup(cmd)
  cmd:option("--notify-fd", "Where to report the start."):convert(math.tointeger)
  cmd:argument("id", "Container ID.")
end

function monitor.run(args, ctx)
  return require("cbuild.container.monitor").main(ctx:store(), args.id, args.notify_fd)
end

local health = { summary = "Run a container's health checks (internal).", hidden = true }

function health.setup(cmd)
  cmd:argument("id", "Container ID.")
end

function health.run(args, ctx)
  return require("cbuild.container.health").loop(ctx:store(), args.id)
end

M.subcommands[#M.subcommands + 1] = { "_health", module = health }
M.subcommands[#M.subcommands + 1] = { "_monitor", module = monitor }
M.setup, M.run = require("cbuild.cli.group").new(M.subcommands)

return M
