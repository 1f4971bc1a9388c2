-- cbuild push NAME[:TAG]: upload an image to a registry.
local sys = require "cbuild.core.sys"
local errors = require "cbuild.errors"
local reference = require "cbuild.image.reference"
local progress = require "cbuild.registry.progress"
local pull_cli = require "cbuild.cli.pull"
local push = require "cbuild.registry.push"

local M = { summary = "Upload an image to a registry" }

function M.setup(cmd)
  cmd:argument("name", "NAME[:TAG]")
  cmd:option("--compression", "Compress local layers with gzip (default), zstd[:LEVEL] or none.")
  cmd:option("--tls-verify", "Require HTTPS and verify certificates (false: allow http).")
  cmd:option("--authfile", "Path of the credentials file (default $DOCKER_CONFIG/config.json).")
  cmd:flag("-q --quiet", "Suppress verbose output.")
  cmd:flag("-a --all-tags", "Push all tags of the local repository.")
end

function M.run(args, ctx)
  local ref = reference.must(args.name)
  if args.all_tags then
    if args.name:find("[:@][^/]*$") then
      errors.raise "tag can't be used with --all-tags/-a"
    end
    local names = {}
    for _, e in ipairs(ctx:store():entries()) do
      local r = e.ref and reference.parse(e.ref)
      if r and r:name() == ref:name() and r.tag then
        names[#names + 1] = r:full()
      end
    end
    if #names == 0 then
      errors.raise("An image does not exist locally with the tag: %s", ref:familiar_name())
    end
    table.sort(names)
    for _, name in ipairs(names) do
      local one = {}
      for k, v in pairs(args) do
        one[k] = v
      end
      one.all_tags, one.name = nil, name
      M.run(one, ctx)
    end
    return 0
  end
  local out = function(line)
    if not args.quiet then
      io.stdout:write(line, "\n")
      io.stdout:flush()
    end
  end
  local images = ctx:store()
  local board = progress.new { tty = not args.quiet and sys.isatty(1) }
  if args.quiet then
    board = progress.plain(nil)
  elseif not board.tty then
    board = progress.plain(out)
  end
  push.push(images, args.name, ref, { compression = args.compression,
    tls_verify = pull_cli.tls_verify(args.tls_verify), authfile = args.authfile, progress = board })
  return 0
end

return M
