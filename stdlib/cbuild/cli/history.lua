-- cbuild history IMAGE: the image's history, newest first, in docker's table.
local format = require "cbuild.cli.format"

local M = { summary = "Show the history of an image" }

function M.setup(cmd)
  cmd:argument("image", "Image name or ID.")
  cmd:flag("-H --human", "Print sizes and dates in human readable format (default).")
  cmd:flag("--no-trunc", "Don't truncate output.")
  cmd:flag("-q --quiet", "Only show image IDs.")
  cmd:option("--format", "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go "
    .. "template.")
end

M.DEFAULT_TABLE = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
M.HEADERS = { ID = "IMAGE", CreatedSince = "CREATED", CreatedAt = "CREATED AT", CreatedBy = "CREATED BY",
  Size = "SIZE", Comment = "COMMENT" }

function M.run(args, ctx)
  local images = ctx:store()
  local entry = images:must_lookup(args.image)
  local img = images:image(entry.digest)
  local layers = img.manifest.layers or {}
  local rows, li = {}, 0
  for _, h in ipairs(img.config.history or {}) do
    local size = 0
    if not h.empty_layer then
      li = li + 1
      size = layers[li] and layers[li].size or 0
    end
    table.insert(rows, 1, { h = h, size = size })
  end
  local id = args.no_trunc and img.config_digest or format.short_id(img.config_digest)
  if args.quiet then
    io.stdout:write(id, "\n")
    return 0
  end
  local items = {}
  for i, r in ipairs(rows) do
    local by = (r.h.created_by or ""):gsub("\n", " ")
    if not args.no_trunc then
      by = format.trunc(by, 45)
    end
    local t = r.h.created and require("cbuild.image.config").parse_timestamp(r.h.created)
    items[i] = { ID = i == 1 and id or "<missing>", CreatedSince = r.h.created and format.ago(r.h.created) or "N/A",
      CreatedAt = t and os.date("!%Y-%m-%d %H:%M:%S +0000 UTC", t) or "", CreatedBy = by,
      Size = format.size(r.size), Comment = r.h.comment or "" }
  end
  format.print(items, args.format, M.DEFAULT_TABLE, M.HEADERS)
  return 0
end

return M
