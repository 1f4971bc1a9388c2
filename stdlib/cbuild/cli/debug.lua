-- cbuild debug: tools to see how cbuild reads its inputs.
--   cbuild debug parse [FILE|-]   print a Dockerfile's parse tree in BuildKit's dump format
local errors = require "cbuild.errors"

local M = { summary = "Show how cbuild reads a Dockerfile (debugging aids)." }

function M.setup(cmd)
  -- argparse records a used command under its name: keep `debug` from setting args.debug,
  -- which is the global --debug flag (tracebacks).
  cmd:target("debug_verb")
  cmd:command_target("debug_command")
  local parse = cmd:command("parse", "Print the parse tree of a Dockerfile, as BuildKit dumps it.")
  parse:argument("file", "The Dockerfile ('-' reads standard input).", "Dockerfile")
end

local function read_input(path)
  if path == "-" then
    return io.stdin:read "a" or "", "-"
  end
  local f, msg = io.open(path, "rb")
  if not f then
    errors.raise("open %s: %s", path, (msg:gsub("^[^:]*: ", "")))
  end
  local data, rmsg = f:read "a"
  f:close()
  if not data then
    errors.raise("read %s: %s", path, rmsg or "failed")
  end
  return data, path
end

local function parse(args)
  local parser = require "cbuild.dockerfile.parser"
  local dump = require "cbuild.dockerfile.dump"
  local src, name = read_input(args.file)
  local file = name == "-" and "Dockerfile" or name:match "[^/]*$"
  local ast = parser.parse(src, { file = file })
  io.stdout:write(dump.dump(ast))
  for _, w in ipairs(ast.warnings) do
    io.stderr:write(string.format("[WARNING]: %s:%d: %s\n", file, w.line, w.msg))
  end
  return 0
end

function M.run(args)
  if args.debug_command == "parse" then
    return parse(args)
  end
  errors.raise("unknown debug command")
end

return M
