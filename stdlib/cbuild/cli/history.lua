-- cbuild history IMAGE: the image's history, newest first, in docker's table.
local format = require "cbuild.cli.format"

local M = { summary = "Show the history of an image" }

function M.setup(cmd)
  cmd:argument("image", "Image name or ID.")
  cmd:flag("-H --human", "Print sizes and dates in human readable format (default).")
  cmd:flag("--no-trunc", "Don't truncate output.")
  cmd:flag("-q --quiet", "Only show image IDs.")
end

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
  local out = {}
  for i, r in ipairs(rows) do
    local by = (r.h.created_by or ""):gsub("\n", " ")
    if not args.no_trunc then
      by = format.trunc(by, 45)
    end
    out[i] = { i == 1 and id or "<missing>", r.h.created and format.ago(r.h.created) or "N/A", by,
      format.size(r.size), r.h.comment or "" }
  end
  format.table({ "IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT" }, out)
  return 0
end

return M
