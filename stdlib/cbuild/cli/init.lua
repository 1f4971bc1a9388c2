-- The `cbuild` command line: docker's verbs, one module per verb under cbuild/cli/.
--
-- A verb module returns { summary = "...", setup = function(cmd) end, run = function(args, ctx) }
-- where `cmd` is its lua-argparse command and run returns the exit status (0 by default).
-- ctx gives the global options and a lazily opened store: ctx:store().
local argparse = require "argparse"
local errors = require "cbuild.errors"

local M = {}

-- In docker's `--help` order; aliases map onto these.
M.verbs = {
  "build", "run", "exec", "ps", "create", "start", "stop", "restart", "kill", "pause", "unpause", "rm", "logs",
  "commit", "top", "stats", "wait", "container", "image", "cp", "diff", "export", "rename", "port", "attach",
  "images", "history", "inspect", "tag", "rmi", "pull", "push", "login", "logout", "save", "load", "import",
  "volume", "info", "system", "builder",
  "version", "debug", "lint",
}

local default_root = require("cbuild.image.store").default_root

local Context = {}
Context.__index = Context

--- The image store at --root, opened (and created) on first use.
function Context:store()
  if not self._store then
    local images = require "cbuild.image.store"
    self._store = images.open(self.root)
  end
  return self._store
end

local function build_parser(modules)
  local parser = argparse("cbuild", "A daemonless container image builder and runtime.")
    :add_help_command(false)
    :help_max_width(100)
  parser:option("--root", "Store directory (default /var/lib/cbuild as root; $CBUILD_ROOT).")
  parser:flag("--debug", "Show Lua tracebacks for every error."):target "global_debug"
  parser:option("--storage-driver", "How layers are stacked: overlay (default) or vfs (plain copies, "
    .. "for machines without overlayfs; chosen by itself when overlay cannot be mounted).")
  parser:flag("-v --version", "Print the version and exit.")
  parser:command_target("verb")
  parser:require_command(false)
  for _, name in ipairs(M.verbs) do
    local mod = modules[name]
    if not mod then
      goto next_verb
    end
    local cmd = parser:command(name, mod.summary)
    for _, alias in ipairs(mod.aliases or {}) do
      cmd:alias(alias) -- luacheck: ignore
    end
    if mod.setup then
      mod.setup(cmd)
    end
    ::next_verb::
  end
  return parser
end

-- Global options that take a value, so the verb is not mistaken for it.
local GLOBAL_VALUE = { ["--root"] = true, ["--storage-driver"] = true }

-- The verb argv names, when it is one of ours and nothing before it asks for the full help:
-- then only that verb's module is loaded and set up (a few ms of a noop build otherwise go
-- into compiling and configuring all thirty).
local function chosen_verb(argv)
  local i = 1
  while argv[i] do
    local a = argv[i]
    if GLOBAL_VALUE[a] then
      i = i + 2
    elseif a:sub(1, 1) == "-" then
      if a == "-h" or a == "--help" or a == "-v" or a == "--version" or a == "--" then
        return nil
      end
      i = i + 1
    else
      for _, name in ipairs(M.verbs) do
        if name == a then
          return a
        end
      end
      return nil
    end
  end
  return nil
end

local function report(e, verbose)
  if errors.is(e) then
    io.stderr:write("cbuild: error: ", errors.format(e), "\n")
    if verbose and e.traceback then
      io.stderr:write(e.traceback, "\n")
    end
    return e.exit or 1
  end
  io.stderr:write("cbuild: internal error: ", tostring(e), "\n")
  return 70
end

--- Run the CLI on argv (a list of strings, without the program name); returns the exit status.
function M.main(argv)
  local modules = {}
  local verb = chosen_verb(argv)
  for _, name in ipairs(verb and { verb } or M.verbs) do
    modules[name] = require("cbuild.cli." .. name)
  end
  local parser = build_parser(modules)
  local ok, args = parser:pparse(argv)
  if not ok then
    io.stderr:write("cbuild: error: ", args, "\nSee 'cbuild --help'.\n")
    return 125
  end
  if args.version then
    args = { verb = "version", version = true }
  end
  if not args.verb then
    io.stdout:write(parser:get_help(), "\n")
    return 0
  end
  local verbose = args.global_debug or os.getenv "CBUILD_DEBUG" == "1"
  local driver = args.storage_driver or os.getenv "CBUILD_STORAGE_DRIVER"
  if driver and driver ~= "overlay" and driver ~= "vfs" then
    io.stderr:write("cbuild: error: unknown storage driver '", driver, "' (overlay or vfs)\n")
    return 125
  end
  local ctx = setmetatable({ root = args.root or default_root(), debug = verbose, driver = driver }, Context)
  local status
  local ran, err = xpcall(function()
    status = modules[args.verb].run(args, ctx)
  end, function(e)
    if verbose or not errors.is(e) then
      local tb = debug.traceback(tostring(e), 2)
      if errors.is(e) then
        e.traceback = tb
        return e
      end
      return tb
    end
    return e
  end)
  if not ran then
    return report(err, verbose)
  end
  return status or 0
end

return M
