-- STUB: cbuild rmi (not written yet).
local errors = require "cbuild.errors"

local M = { summary = "(rmi: not implemented yet)" }

function M.run()
  errors.raise "rmi is not implemented yet"
end

return M
