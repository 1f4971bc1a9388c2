-- Shared pieces of the container verbs: docker's flag parsing for commands that end in a
-- command line (run, exec: flags stop at the first positional argument, so `run busybox ls -l`
-- passes -l to ls), and docker's exit status 125 for cbuild's own failures.
local argparse = require "argparse"
local errors = require "cbuild.errors"

local M = {}

-- Options of parser that take a value, by every name.
local function value_options(parser)
  local out = {}
  for _, o in ipairs(parser._options) do
    if (o._maxargs or 0) > 0 then
      for _, name in ipairs(o._aliases) do
        out[name] = true
      end
    end
  end
  return out
end

--- argv with "--" inserted before its first positional argument (none when absent).
function M.stop_at_positional(parser, argv)
  local takes = value_options(parser)
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == "--" then
      return argv
    elseif a:sub(1, 2) == "--" then
      if not a:find("=", 1, true) and takes[a] then
        i = i + 1
      end
    elseif a:sub(1, 1) == "-" and #a > 1 then
      for j = 2, #a do
        if takes["-" .. a:sub(j, j)] then
          if j == #a then
            i = i + 1
          end
          break
        end
      end
    else
      local out = { table.unpack(argv, 1, i - 1) }
      out[#out + 1] = "--"
      for k = i, #argv do
        out[#out + 1] = argv[k]
      end
      return out
    end
    i = i + 1
  end
  return argv
end

--- Make a verb whose flags end at the first positional: its argparse command takes everything
--- as raw arguments and setup_fn(parser) declares the real flags on a parser of its own.
--- Returns setup(cmd) and parse(args) -> parsed table for the verb module.
function M.raw_verb(name, description, setup_fn)
  local function parser()
    local p = argparse("cbuild " .. name, description):help_max_width(100)
    setup_fn(p)
    return p
  end
  local function setup(cmd)
    cmd:handle_options(false)
    cmd:argument("raw", "Flags and arguments, as `cbuild " .. name .. " --help` shows."):args "*"
  end
  local function parse(args)
    local p = parser()
    local ok, res = p:pparse(M.stop_at_positional(p, args.raw or {}))
    if not ok then
      error(errors.new(res .. "\nSee 'cbuild " .. name .. " --help'.", { exit = 125 }), 0)
    end
    return res
  end
  return setup, parse
end

--- Run fn(); user errors leave with docker's 125 unless they carry their own status.
function M.exit125(fn)
  local ok, res = pcall(fn)
  if not ok then
    if errors.is(res) and not res.exit then
      res.exit = 125
    end
    error(res, 0)
  end
  return res
end

return M
