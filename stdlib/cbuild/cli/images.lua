-- STUB: cbuild images (not written yet).
local errors = require "cbuild.errors"

local M = { summary = "(images: not implemented yet)" }

function M.run()
  errors.raise "images is not implemented yet"
end

return M
