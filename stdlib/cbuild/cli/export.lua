-- cbuild export [-o FILE] CONTAINER: the container's filesystem as a tar archive, like
-- `docker export` (its image's layers and its changes, merged).
local archive = require "cbuild.core.archive"
local sys = require "cbuild.core.sys"
local errors = require "cbuild.errors"
local files = require "cbuild.container.files"
local state = require "cbuild.container.state"

local M = { summary = "Export a container's filesystem as a tar archive" }

function M.setup(cmd)
  cmd:option("-o --output", "Write to a file, instead of STDOUT.")
  cmd:argument("container", "Container name or ID.")
end

function M.run(args, ctx)
  local imgs = ctx:store()
  local c = state.must_lookup(imgs, args.container)
  local out = args.output or "-"
  if out == "-" and sys.isatty(1) then
    errors.raise "cowardly refusing to save to a terminal. Use the -o flag or redirect"
  end
  files.with_rootfs(imgs, c, function(rootfs)
    local w = errors.need("export to " .. out, archive.writer(out, {}))
    files.add_tree(w, rootfs, "", { keep_owner = true })
    errors.need("export to " .. out, w:close())
  end)
  return 0
end

return M
