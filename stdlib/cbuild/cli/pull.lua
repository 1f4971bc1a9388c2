-- cbuild pull NAME[:TAG|@DIGEST]: fetch an image from a registry into the store.
local errors = require "cbuild.errors"
local imgconfig = require "cbuild.image.config"
local sys = require "cbuild.core.sys"
local reference = require "cbuild.image.reference"
local progress = require "cbuild.registry.progress"
local pull = require "cbuild.registry.pull"

local M = { summary = "Download an image from a registry" }

function M.setup(cmd)
  cmd:argument("name", "NAME[:TAG|@DIGEST]")
  cmd:option("--platform", "Set platform if server is multi-platform capable (os/arch[/variant]).")
  cmd:option("--tls-verify", "Require HTTPS and verify certificates (false: allow http).")
  cmd:option("--authfile", "Path of the credentials file (default $DOCKER_CONFIG/config.json).")
  cmd:flag("-q --quiet", "Suppress verbose output.")
  cmd:flag("-a --all-tags", "Download all tagged images in the repository.")
end

--- Parse a --tls-verify value: nil (unset), true or false.
function M.tls_verify(v)
  if v == nil then
    return nil
  end
  if v == "false" or v == "0" then
    return false
  end
  if v == "true" or v == "1" then
    return true
  end
  errors.raise("invalid --tls-verify value '%s': want true or false", v)
end

function M.run(args, ctx)
  local ref = reference.must(args.name)
  if args.all_tags then
    if args.name:find("[:@][^/]*$") then
      errors.raise "tag can't be used with --all-tags/-a"
    end
    for _, tag in ipairs(pull.tags(ref, { tls_verify = M.tls_verify(args.tls_verify), authfile = args.authfile })) do
      local one = {}
      for k, v in pairs(args) do
        one[k] = v
      end
      one.all_tags, one.name = nil, ref:name() .. ":" .. tag
      M.run(one, ctx)
    end
    return 0
  end
  local platform
  if args.platform then
    platform = errors.need("--platform", imgconfig.parse_platform(args.platform))
  end
  local out = function(line)
    if not args.quiet then
      io.stdout:write(line, "\n")
      io.stdout:flush()
    end
  end
  if not args.name:find("[:@][^/]*$") then
    out("Using default tag: latest")
  end
  local images = ctx:store()
  local board = progress.new { tty = not args.quiet and sys.isatty(1) }
  if args.quiet then
    board = progress.plain(nil)
  elseif not board.tty then
    board = progress.plain(out)
  end
  pull.pull(images, ref, { platform = platform, tls_verify = M.tls_verify(args.tls_verify),
    authfile = args.authfile, progress = board })
  local shown = ref.digest and (ref:name() .. "@" .. ref.digest) or ref:full()
  io.stdout:write(shown, "\n")
  return 0
end

return M
