-- cbuild create [flags] IMAGE [COMMAND [ARG...]]: create a container (run's flags) without
-- starting it; `start` runs it later.
local ccli = require "cbuild.container.cli"
local run = require "cbuild.cli.run"
local runtime = require "cbuild.container.runtime"

local M = { summary = "Create a new container" }

local setup, parse = ccli.raw_verb("create", M.summary, run.flags)
M.setup = setup

function M.run(args, ctx)
  local o = parse(args)
  return ccli.exit125(function()
    local imgs = ctx:store()
    local opts = run.opts_of(o)
    opts.existing = runtime.reap_dead(imgs)
    local c = run.create(imgs, opts)
    io.stdout:write(c.Id, "\n")
    return 0
  end)
end

return M
