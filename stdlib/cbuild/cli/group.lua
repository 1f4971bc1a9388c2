-- A verb made of subcommands, as docker's management commands (`container ls`, `image rm`):
-- each subcommand is another verb's module ({name, [module name], aliases = {...}}) or one given
-- as a table ({name, module = {summary, setup, run, hidden}}).
local M = {}

local function module_of(sub)
  return sub.module or require("cbuild.cli." .. (sub[2] or sub[1]))
end

--- setup(cmd) and run(args, ctx) functions for a verb with these subcommands.
function M.new(subcommands)
  local function setup(cmd)
    cmd:command_target "subcommand"
    cmd:require_command(true)
    for _, sub in ipairs(subcommands) do
      local mod = module_of(sub)
      local sc = cmd:command(table.concat({ sub[1], table.unpack(sub.aliases or {}) }, " "), mod.summary)
      if mod.hidden then
        sc:hidden(true)
      end
      if mod.setup then
        mod.setup(sc)
      end
    end
  end
  local function run(args, ctx)
    for _, sub in ipairs(subcommands) do
      if sub[1] == args.subcommand then
        return module_of(sub).run(args, ctx)
      end
    end
    return 125
  end
  return setup, run
end

return M
