-- cbuild build [OPTIONS] PATH: build an image from a Dockerfile, like `docker build`.
local errors = require "cbuild.errors"
local fs = require "cbuild.core.fs"
local imgconfig = require "cbuild.image.config"
local reference = require "cbuild.image.reference"

local M = {
  summary = "Build an image from a Dockerfile",
}

function M.setup(cmd)
  cmd:argument("path", "Build context directory."):args "?"
  cmd:option("-t --tag", "Name and optionally a tag (name:tag); may be repeated."):count "*"
  cmd:option("-f --file", "Name of the Dockerfile (default: PATH/Dockerfile).")
  cmd:option("--build-arg", "Set a build-time variable (KEY=VALUE, or KEY to take it from the environment)."):count "*"
  cmd:option("--target", "Set the target build stage to build.")
  cmd:option("--platform", "Set the platform of the image (only the host's for now).")
  cmd:option("--progress", "Progress output: auto, plain, quiet.", "auto")
  cmd:option("--iidfile", "Write the image ID to the file.")
  cmd:option("--timestamp", "Set created timestamps and clamp file times (like SOURCE_DATE_EPOCH).")
  cmd:flag("--no-cache", "Do not use the cache when building the image.")
  cmd:flag("-q --quiet", "Suppress the build output and print the image ID on success.")
end

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then
    errors.raise("failed to read dockerfile: %s", (err:gsub("^[^:]*: ", "open " .. path .. ": ")))
  end
  local text = f:read "a"
  f:close()
  return text
end

local function build_args(list)
  local out = {}
  for _, kv in ipairs(list or {}) do
    local k, v = kv:match "^([^=]+)=(.*)$"
    if k then
      out[k] = v
    else
      out[kv] = os.getenv(kv) -- docker: KEY alone takes the environment's value, if any
    end
  end
  return out
end

local function predefined(platform)
  local pstr = imgconfig.platform_string(platform)
  return {
    TARGETPLATFORM = pstr, TARGETOS = platform.os, TARGETARCH = platform.architecture,
    TARGETVARIANT = platform.variant or "",
    BUILDPLATFORM = pstr, BUILDOS = platform.os, BUILDARCH = platform.architecture,
    BUILDVARIANT = platform.variant or "",
  }
end

local function epoch(args)
  local s = args.timestamp or os.getenv "SOURCE_DATE_EPOCH"
  if s == nil or s == "" then
    return nil
  end
  local n = tonumber(s)
  if not n or n < 0 or n ~= math.floor(n) then
    errors.raise("invalid SOURCE_DATE_EPOCH/--timestamp '%s': want seconds since 1970", s)
  end
  return math.tointeger(n)
end

--- Locate the Dockerfile: -f relative to the cwd first, then to the context (docker's order).
local function dockerfile_path(args, context)
  local f = args.file
  if f == "-" then
    return "-"
  end
  if f == nil then
    return context .. "/Dockerfile"
  end
  if f:sub(1, 1) == "/" or fs.exists(f) then
    return f
  end
  return context .. "/" .. f
end

function M.run(args, ctx)
  local parser = require "cbuild.dockerfile.parser"
  local instructions = require "cbuild.dockerfile.instructions"
  local frontend = require "cbuild.dockerfile.frontend"
  local context = require "cbuild.build.context"
  local solver = require "cbuild.build.solver"
  local progress = require "cbuild.progress"

  local dir = args.path or "."
  local st = fs.stat(dir)
  if not st or st.type ~= "dir" then
    errors.raise("unable to prepare context: path %q not found", dir)
  end
  local tags = {}
  for _, t in ipairs(args.tag or {}) do
    tags[#tags + 1] = reference.must(t)
  end
  local platform = imgconfig.host_platform()
  if args.platform then
    local p = errors.need("--platform", imgconfig.parse_platform(args.platform))
    if imgconfig.platform_string(p) ~= imgconfig.platform_string(platform) then
      errors.raise("--platform %s: only the host platform (%s) can be built here", args.platform,
        imgconfig.platform_string(platform))
    end
  end

  local dfpath = dockerfile_path(args, dir)
  local text = dfpath == "-" and io.read "a" or read_file(dfpath)
  local name = dfpath == "-" and "Dockerfile" or dfpath:match "([^/]+)$"
  local ast = parser.parse(text, { file = name })
  local parsed = instructions.parse(ast, { file = name })

  local images = ctx:store()
  local out = progress.new { quiet = args.quiet or args.progress == "quiet" }
  local target, unused = frontend.compile(parsed, {
    file = name,
    build_args = build_args(args.build_arg),
    target = args.target,
    platform = platform,
    predefined = predefined(platform),
    escape = ast.escape,
    resolve_image = function(image, loc)
      local e = images:lookup(image)
      if not e then
        errors.raise_at(loc, "FROM: image %q not found in the local store (try `cbuild pull` or `cbuild import`)",
          image)
      end
      local img = images:image(e.digest)
      e.ref_display = image
      return e, img.config
    end,
  })

  -- <Dockerfile>.dockerignore beside the Dockerfile wins over the context's .dockerignore.
  local ignore = dfpath ~= "-" and fs.exists(dfpath .. ".dockerignore") and (dfpath .. ".dockerignore") or nil
  local bctx = context.open(dir, { dockerignore = ignore })
  local cache_file = images.root .. "/cache/context-hashes"
  if bctx.load_cache then
    bctx:load_cache(cache_file)
  end
  local s = solver.new { images = images, context = bctx, progress = out, no_cache = args.no_cache,
    epoch = epoch(args), platform = platform }
  local result = s:solve(target)
  if bctx.save_cache then
    bctx:save_cache(cache_file)
  end
  local desc = s:commit(result)
  local id = desc.config
  out:say("writing image %s done", id)
  if #tags == 0 then
    images:add_unnamed(desc)
  end
  for _, t in ipairs(tags) do
    out:say("naming to %s done", images:tag(desc, t))
  end
  if #unused > 0 then
    io.stderr:write(string.format("[Warning] One or more build-args [%s] were not consumed\n",
      table.concat(unused, " ")))
  end
  if args.iidfile then
    errors.need("write --iidfile", fs.write_file(args.iidfile, id))
  end
  if args.quiet then
    io.stdout:write(id, "\n")
  end
  return 0
end

return M
