-- cbuild image SUBCOMMAND: docker's management form for images (image ls, image rm, image
-- prune, ...); each subcommand is the verb module it names.
local M = { summary = "Manage images" }

M.subcommands = {
  { "ls", "images", aliases = { "list" } }, { "build" }, { "history" }, { "import" }, { "inspect" },
  { "load" }, { "pull" }, { "push" }, { "rm", "rmi", aliases = { "remove" } }, { "save" }, { "tag" },
  { "prune" },
}

-- prune: docker image prune [-a] [-f]
local prune = { summary = "Remove unused images" }

function prune.setup(cmd)
  cmd:flag("-a --all", "Remove all unused images, not just dangling ones.")
  cmd:flag("-f --force", "Do not prompt for confirmation.")
end

function prune.run(args, ctx)
  local system = require "cbuild.cli.system"
  local warning = args.all and "WARNING! This will remove all images without at least one container associated to them."
    or "WARNING! This will remove all dangling images."
  if not args.force and not system.confirm(warning) then
    return 0
  end
  system.report(require("cbuild.build.gc").prune(ctx:store(), { images = args.all and "all" or "dangling" }))
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
end

function M.run(args, ctx)
  for _, sub in ipairs(M.subcommands) do
    if sub[1] == args.subcommand then
      return module_of(sub).run(args, ctx)
    end
  end
  return 125
end

return M
