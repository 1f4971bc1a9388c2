-- cbuild container SUBCOMMAND: docker's management form (container ls -a, container rm, prune, ...),
-- and the hidden `container _monitor` that a detached container's monitor process runs.
local M = { summary = "Manage containers" }

M.subcommands = {
  { "ls", "ps", aliases = { "list", "ps" } },
  { "run" }, { "create" }, { "start" }, { "stop" }, { "restart" }, { "kill" }, { "pause" }, { "unpause" },
  { "rm", aliases = { "remove" } }, { "logs" }, { "inspect" }, { "exec" }, { "top" }, { "stats" }, { "wait" },
  { "commit" }, { "attach" }, { "cp" }, { "diff" }, { "export" }, { "rename" }, { "port" }, { "prune" },
}

-- prune: docker container prune [-f]
local prune = { summary = "Remove all stopped containers" }

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

local function module_of(sub)
  if sub[1] == "prune" then
    return prune
  end
  return require("cbuild.cli." .. (sub[2] or sub[1]))
end

function M.setup(cmd)
  cmd:command_target "subcommand"
  cmd:require_command(true)
  for _, sub in ipairs(M.subcommands) do
    local mod = module_of(sub)
    local sc = cmd:command(table.concat({ sub[1], table.unpack(sub.aliases or {}) }, " "), mod.summary)
    if mod.setup then
      mod.setup(sc)
    end
  end
  local health = cmd:command("_health", "Run a container's health checks (internal).")
  health:hidden(true)
  health:argument("id", "Container ID.")
  local mon = cmd:command("_monitor", "Supervise a detached container (internal).")
  mon:hidden(true)
  mon:option("--notify-fd", "Where to report the start."):convert(math.tointeger)
  mon:argument("id", "Container ID.")
end

function M.run(args, ctx)
  if args.subcommand == "_health" then
    return require("cbuild.container.health").loop(ctx:store(), args.id)
  end
  if args.subcommand == "_monitor" then
    local monitor = require "cbuild.container.monitor"
    return monitor.main(ctx:store(), args.id, args.notify_fd)
  end
  for _, sub in ipairs(M.subcommands) do
    if sub[1] == args.subcommand then
      return module_of(sub).run(args, ctx)
    end
  end
  return 125
end

return M
