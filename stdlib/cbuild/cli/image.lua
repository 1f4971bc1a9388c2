-- cbuild image SUBCOMMAND: docker's management form for images (image ls, image rm, image
-- prune, ...); each subcommand is the verb module it names.
local M = { summary = "Manage images" }

M.subcommands = {
  { "ls", "images", aliases = { "list" } }, { "build" }, { "history" }, { "import" }, { "inspect" },
  { "load" }, { "pull" }, { "push" }, { "rm", "rmi", aliases = { "remove" } }, { "save" }, { "tag" },
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

M.subcommands[#M.subcommands + 1] = { "prune", module = prune }
M.setup, M.run = require("cbuild.cli.group").new(M.subcommands)

return M
