-- STUB: cbuild inspect (not written yet).
local errors = require "cbuild.errors"

local M = { summary = "(inspect: not implemented yet)" }

function M.run()
  errors.raise "inspect is not implemented yet"
end

return M
