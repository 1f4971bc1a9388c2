-- STUB: cbuild version (not written yet).
local errors = require "cbuild.errors"

local M = { summary = "(version: not implemented yet)" }

function M.run()
  errors.raise "version is not implemented yet"
end

return M
