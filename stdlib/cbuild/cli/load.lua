-- STUB: cbuild load (not written yet).
local errors = require "cbuild.errors"

local M = { summary = "(load: not implemented yet)" }

function M.run()
  errors.raise "load is not implemented yet"
end

return M
