-- cbuild tag SOURCE TARGET: give an image another name.
local reference = require "cbuild.image.reference"

local M = { summary = "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE" }

function M.setup(cmd)
  cmd:argument("source", "SOURCE_IMAGE[:TAG]")
  cmd:argument("target", "TARGET_IMAGE[:TAG]")
end

function M.run(args, ctx)
  local images = ctx:store()
  local target = reference.must(args.target)
  local e = images:must_lookup(args.source)
  images:tag(e, target)
  return 0
end

return M
