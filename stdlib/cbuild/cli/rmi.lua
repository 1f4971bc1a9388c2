-- cbuild rmi IMAGE...: untag images, and drop them from the index when no name is left.
-- Blobs stay until `system prune` (only gc deletes, DESIGN.md).
local errors = require "cbuild.errors"
local format = require "cbuild.cli.format"
local reference = require "cbuild.image.reference"

local M = { summary = "Remove one or more images" }

function M.setup(cmd)
  cmd:argument("image", "Image name or ID."):args "+"
  cmd:flag("-f --force", "Remove the image even when it has several names.")
end

local function remove_one(images, name, force)
  local e, err = images:lookup(name)
  if not e then
    errors.raise("%s", err)
  end
  local ref = reference.parse(name)
  local by_name = ref and e.ref == ref:full()
  local names = {}
  for _, x in ipairs(images:entries()) do
    if x.digest == e.digest and x.ref then
      names[#names + 1] = x.ref
    end
  end
  local cfg = images:get_json(e.digest).config.digest
  if by_name and #names > 1 then
    images:remove_entries(function(_, r)
      return r == e.ref
    end)
    io.stdout:write("Untagged: ", ref:familiar_name(), ":", ref.tag or "latest", "\n")
    return
  end
  if not by_name and #names > 1 and not force then
    errors.raise("conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories",
      format.short_id(cfg))
  end
  local removed = images:remove_entries(function(d)
    return d == e.digest
  end)
  for _, r in ipairs(removed) do
    if r.ref then
      local rr = reference.parse(r.ref)
      io.stdout:write("Untagged: ", rr and (rr:familiar_name() .. ":" .. (rr.tag or "latest")) or r.ref, "\n")
    end
  end
  io.stdout:write("Deleted: ", cfg, "\n")
end

function M.run(args, ctx)
  local images = ctx:store()
  local status = 0
  for _, name in ipairs(args.image) do
    local ok, err = pcall(remove_one, images, name, args.force)
    if not ok then
      if not errors.is(err) then
        error(err, 0)
      end
      io.stderr:write("cbuild: error: ", errors.format(err), "\n")
      status = 1
    end
  end
  return status
end

return M
