-- cbuild builder prune [-a] [-f]: free the build cache (build/gc.lua), as `docker builder prune`.
local M = { summary = "Manage builds (prune the build cache)" }

function M.setup(cmd)
  cmd:command_target "subcommand"
  cmd:require_command(true)
  local prune = cmd:command("prune", "Remove build cache")
  prune:flag("-a --all", "Remove all build cache (also RUN --mount caches), not just dangling records.")
  prune:flag("-f --force", "Do not prompt for confirmation.")
end

function M.run(args, ctx)
  local system = require "cbuild.cli.system"
  local gc = require "cbuild.build.gc"
  if not args.force then
    local text = args.all and "WARNING! This will remove all build cache."
      or "WARNING! This will remove all dangling build cache."
    if not system.confirm(text) then
      return 0
    end
  end
  system.report(gc.prune(ctx:store(), { cache = args.all and "all" or "dangling" }))
  return 0
end

return M
