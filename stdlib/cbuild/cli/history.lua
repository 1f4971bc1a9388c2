-- STUB: cbuild history (not written yet).
local errors = require "cbuild.errors"

local M = { summary = "(history: not implemented yet)" }

function M.run()
  errors.raise "history is not implemented yet"
end

return M
