-- STUB: cbuild tag (not written yet).
local errors = require "cbuild.errors"

local M = { summary = "(tag: not implemented yet)" }

function M.run()
  errors.raise "tag is not implemented yet"
end

return M
