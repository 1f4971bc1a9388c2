-- STUB: cbuild build (not written yet).
local errors = require "cbuild.errors"

local M = { summary = "(build: not implemented yet)" }

function M.run()
  errors.raise "build is not implemented yet"
end

return M
