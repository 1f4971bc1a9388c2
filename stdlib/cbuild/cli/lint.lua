-- cbuild lint [FILE]: report docker's build checks for a Dockerfile (like `docker build
-- --check`, without a context).  Exit status 0 when clean, 1 when there are warnings.
local errors = require "cbuild.errors"

local M = { summary = "Check a Dockerfile against docker's build checks" }

function M.setup(cmd)
  cmd:argument("file", "The Dockerfile ('-' reads standard input).", "Dockerfile")
  cmd:option("--build-arg", "Set a build-time variable (KEY=VALUE, or KEY from the environment)."):count "*"
end

function M.run(args, ctx)
  local build = require "cbuild.cli.build"
  local imgconfig = require "cbuild.image.config"
  local text, name
  if args.file == "-" then
    text, name = io.stdin:read "a" or "", "Dockerfile"
  else
    text, name = build.read_file(args.file), args.file:match "([^/]+)$"
  end
  local platform = imgconfig.host_platform()
  local images
  local function resolve(image)
    if images == nil then
      local ok, s = pcall(ctx.store, ctx)
      images = ok and s or false
    end
    local e = images and images:lookup(image)
    if not e then
      return nil
    end
    return e, images:image(e.digest).config
  end
  local r = build.check(text, name, {
    build_args = build.build_args(args.build_arg), predefined = build.predefined(platform),
    platform = platform, resolve_image = resolve,
  }, io.stdout)
  if r.failure then
    error(r.failure, 0)
  end
  local n = #r.warnings
  io.stdout:write(n == 0 and "Check complete, no warnings found.\n"
    or string.format("Check complete, %d warning%s been found!\n", n, n == 1 and " has" or "s have"))
  if n > 0 and r.error then
    errors.raise("lint violation found (check=error=true)")
  end
  return n > 0 and 1 or 0
end

return M
