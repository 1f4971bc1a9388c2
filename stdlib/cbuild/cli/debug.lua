-- STUB: cbuild debug (not written yet).
local errors = require "cbuild.errors"

local M = { summary = "(debug: not implemented yet)" }

function M.run()
  errors.raise "debug is not implemented yet"
end

return M
