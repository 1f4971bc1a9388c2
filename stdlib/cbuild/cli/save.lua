-- STUB: cbuild save (not written yet).
local errors = require "cbuild.errors"

local M = { summary = "(save: not implemented yet)" }

function M.run()
  errors.raise "save is not implemented yet"
end

return M
