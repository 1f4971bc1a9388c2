-- STUB: cbuild import (not written yet).
local errors = require "cbuild.errors"

local M = { summary = "(import: not implemented yet)" }

function M.run()
  errors.raise "import is not implemented yet"
end

return M
