-- cbuild system df | prune [-a] [-f] | info: docker's disk usage table, clean-up (build/gc.lua)
-- and `info`.
local format = require "cbuild.cli.format"

local M = { summary = "Manage cbuild (disk usage, prune)" }

function M.setup(cmd)
  cmd:command_target "subcommand"
  cmd:require_command(true)
  local df = cmd:command("df", "Show cbuild disk usage")
  df:flag("-v --verbose", "Show detailed information on space usage (the same table for now).")
  local prune = cmd:command("prune", "Remove unused data")
  prune:flag("-a --all", "Remove all unused images not just dangling ones, and all build cache.")
  prune:flag("-f --force", "Do not prompt for confirmation.")
  require("cbuild.cli.info").setup(cmd:command("info", "Display system-wide information"))
end

--- Ask docker's question on stderr; true when the answer is y/yes.
function M.confirm(text)
  io.stderr:write(text, text:match "\n$" and "" or " ", "Are you sure you want to continue? [y/N] ")
  io.stderr:flush()
  local line = io.stdin:read "l" or ""
  local a = line:lower():gsub("%s+", "")
  return a == "y" or a == "yes"
end

--- docker's RECLAIMABLE cell: "1.2MB (40%)".
function M.reclaimable(row)
  local s = format.size(row.reclaimable)
  if row.no_pct then
    return s
  end
  local pct = row.size > 0 and math.floor(row.reclaimable * 100 / row.size + 0.5) or 0
  return string.format("%s (%d%%)", s, pct)
end

local function df(ctx)
  local gc = require "cbuild.build.gc"
  local rows = {}
  for _, r in ipairs(gc.usage(ctx:store())) do
    rows[#rows + 1] = { r.type, tostring(r.total), tostring(r.active), format.size(r.size), M.reclaimable(r) }
  end
  format.table({ "TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE" }, rows)
  return 0
end

--- Print a prune report as docker does and the total.
function M.report(rep)
  local out = io.stdout
  if #(rep.containers or {}) > 0 then
    out:write "Deleted Containers:\n"
    for _, id in ipairs(rep.containers) do
      out:write(id, "\n")
    end
    out:write "\n"
  end
  if #(rep.images or {}) > 0 then
    out:write "Deleted Images:\n"
    for _, e in ipairs(rep.images) do
      if e.untagged then
        out:write("untagged: ", e.untagged, "\n")
      else
        out:write("deleted: ", e.deleted, "\n")
      end
    end
    out:write "\n"
  end
  if (rep.records or 0) > 0 then
    out:write(string.format("Deleted build cache objects: %d\n\n", rep.records))
  end
  if (rep.indexes or 0) > 0 then
    out:write(string.format("Deleted COPY indexes: %d\n\n", rep.indexes))
  end
  if (rep.kept_for_builds or 0) > 0 then
    io.stderr:write(string.format("%d build%s running: the build cache and snapshots were kept\n",
      rep.kept_for_builds, rep.kept_for_builds == 1 and " is" or "s are"))
  end
  out:write("Total reclaimed space: ", format.size(rep.reclaimed), "\n")
end

local function prune(args, ctx)
  local gc = require "cbuild.build.gc"
  if not args.force then
    local what = {
      "WARNING! This will remove:",
      "  - all stopped containers",
      args.all and "  - all images without at least one container associated to them" or "  - all dangling images",
      args.all and "  - all build cache" or "  - unused build cache",
      "", "",
    }
    if not M.confirm(table.concat(what, "\n")) then
      return 0
    end
  end
  M.report(gc.prune(ctx:store(), { containers = true, images = args.all and "all" or "dangling",
    cache = args.all and "all" or "dangling" }))
  return 0
end

function M.run(args, ctx)
  if args.subcommand == "df" then
    return df(ctx)
  elseif args.subcommand == "info" then
    return require("cbuild.cli.info").run(args, ctx)
  end
  return prune(args, ctx)
end

return M
