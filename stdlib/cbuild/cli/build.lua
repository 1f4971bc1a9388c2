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
  cmd:option("--progress", "Progress output: auto (tty on a terminal, else plain), plain, tty, quiet.", "auto")
  cmd:option("--iidfile", "Write the image ID to the file.")
  cmd:option("--metadata-file", "Write the build result's metadata (image digest, names) as JSON to the file.")
  cmd:option("--label", "Set metadata for the image (KEY=VALUE); may be repeated."):count "*"
  cmd:option("--add-host", "Add a custom host-to-IP mapping (HOST:IP) to RUN steps' /etc/hosts."):count "*"
  cmd:option("-o --output", "Also export the result: type=local,dest=DIR (or just DIR), type=tar,dest=FILE (or -), "
    .. "type=docker|oci,dest=FILE[,name=REF] (the image as `save` writes it)."):count "*"
  cmd:flag("--push", "Push the tagged image to its registry after the build.")
  cmd:option("--build-context", "Additional build context (NAME=DIR or NAME=docker-image://REF): replaces "
    .. "the stage or base image NAME, and is what COPY --from=NAME reads."):count "*"
  cmd:option("--timestamp", "Set created timestamps and clamp file times (like SOURCE_DATE_EPOCH).")
  cmd:flag("--no-cache", "Do not use the cache when building the image.")
  cmd:option("--no-cache-filter", "Do not use the cache for these stages (names or indexes, comma separated)."
    ):count "*"
  cmd:flag("--pull", "Always pull the FROM images, even when the store has them.")
  cmd:option("--jobs", "How many RUN steps of independent stages may run at once (default: the cores).")
  cmd:option("--secret", "A secret for RUN --mount=type=secret: id=ID,src=FILE (never stored in a layer)."):count "*"
  cmd:option("--shm-size", "Size of /dev/shm in RUN steps (default 64m).")
  cmd:option("--ssh", "An SSH agent for RUN --mount=type=ssh: default (uses $SSH_AUTH_SOCK) or ID=SOCKET."
    ):count "*"
  cmd:option("--network", "Network of RUN steps: host (the default, as for docker build) or none.", "host")
  cmd:option("-m --memory", "Memory limit of each RUN step (e.g. 200M).")
  cmd:option("--memory-swap", "Memory plus swap limit of each RUN step: '-1' for unlimited swap.")
  cmd:option("--cpus", "Number of CPUs of each RUN step.")
  cmd:option("-c --cpu-shares", "CPU shares (relative weight) of each RUN step.")
  cmd:option("--pids-limit", "Pids limit of each RUN step (-1 for unlimited).")
  cmd:flag("-q --quiet", "Suppress the build output and print the image ID on success.")
  cmd:flag("--check", "Run the build checks (docker's lint rules) and report, without building.")
  cmd:option("--frontend", "dockerfile or lua (default: by the file name; build.lua when there is no Dockerfile).")
  cmd:option("--allow", "Entitlements for Lua recipes: host-exec (host commands, files outside the context)."):count "*"
end

--- Read a Dockerfile; raises docker's message when it cannot.
function M.read_file(path)
  local f, err = io.open(path, "rb")
  if not f then
    errors.raise("failed to read dockerfile: %s", (err:gsub("^[^:]*: ", "open " .. path .. ": ")))
  end
  local text = f:read "a"
  f:close()
  return text
end

--- Parse --build-arg values: KEY=VALUE, or KEY alone for the environment's value (if set).
function M.build_args(list)
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

--- The args BuildKit predefines for a platform (TARGET*, BUILD*).
function M.predefined(platform)
  local pstr = imgconfig.platform_string(platform)
  return {
    TARGETPLATFORM = pstr, TARGETOS = platform.os, TARGETARCH = platform.architecture,
    TARGETVARIANT = platform.variant or "",
    BUILDPLATFORM = pstr, BUILDOS = platform.os, BUILDARCH = platform.architecture,
    BUILDVARIANT = platform.variant or "",
  }
end

--- --label KEY=VALUE flags as {KEY = VALUE} (KEY alone: an empty value, as docker).
function M.labels(list)
  local out = {}
  for _, kv in ipairs(list or {}) do
    local k, v = kv:match "^([^=]*)=(.*)$"
    k, v = k or kv, v or ""
    if k == "" then
      errors.raise("invalid label '%s': empty name", kv)
    end
    out[k] = v
  end
  return out
end

--- --add-host HOST:IP (or HOST=IP) flags as {{name =, ip =}}; host-gateway is the host itself,
--- which RUN steps share the network of.
function M.extra_hosts(list)
  local out = {}
  for _, spec in ipairs(list or {}) do
    local name, ip = require("cbuild.container.config").add_host(spec)
    if not name then
      errors.raise("%s", ip)
    end
    out[#out + 1] = { name = name, ip = ip == "host-gateway" and "127.0.0.1" or ip }
  end
  return out
end

--- -o/--output specs: "type=local,dest=DIR", "type=tar,dest=FILE|-", or a bare DIR (local)
--- or "-" (tar to stdout), as docker buildx; returns {{type =, dest =}}.
function M.outputs(list)
  local out = {}
  for _, spec in ipairs(list or {}) do
    local o = {}
    if not spec:find("=", 1, true) then
      o.type, o.dest = spec == "-" and "tar" or "local", spec
    else
      for kv in spec:gmatch "[^,]+" do
        local k, v = kv:match "^([^=]+)=(.*)$"
        if not k then
          errors.raise("invalid --output '%s': want type=local,dest=DIR", spec)
        end
        o[k] = v
      end
    end
    if o.type ~= "local" and o.type ~= "tar" and o.type ~= "docker" and o.type ~= "oci" then
      errors.raise("--output type=%s is not supported (local, tar, docker or oci)", tostring(o.type))
    end
    if not o.dest or o.dest == "" then
      errors.raise("--output %s: dest= is required", spec)
    end
    out[#out + 1] = o
  end
  return out
end

-- The result's files into o.dest: a directory (local) or a tarball (tar; "-" = stdout), the
-- layers applied in order as a container would see them.
local function export(images, result, o)
  local archive = require "cbuild.core.archive"
  if o.type == "local" then
    errors.need("--output " .. o.dest, fs.mkdir_p(o.dest))
    for _, layer in ipairs(result.layers) do
      errors.need("--output: unpack layer " .. layer.digest, archive.apply(images.blobs:path(layer.digest), o.dest))
    end
    return
  end
  -- tar: the tree unpacked in a scratch dir, written as one layer into a scratch store, moved
  local tmp = errors.need("--output", fs.mkdtemp(images.root .. "/tmp/export-"))
  local _ <close> = setmetatable({}, { __close = function()
    fs.rm_rf(tmp)
  end })
  export(images, result, { type = "local", dest = tmp .. "/rootfs" })
  local scratch <close> = errors.need("--output", require("cbuild.core.store").open(tmp .. "/store", { create = true }))
  local d = errors.need("--output " .. o.dest, archive.layer_from_dir(scratch, tmp .. "/rootfs", {}))
  if o.dest == "-" then
    local f <close> = assert(io.open(scratch:path(d), "rb"))
    while true do
      local chunk = f:read(1 << 20)
      if not chunk then
        break
      end
      io.stdout:write(chunk)
    end
  else
    errors.need("--output " .. o.dest, fs.copy_file(scratch:path(d), o.dest))
  end
end

--- --no-cache-filter values ("a,b" may repeat) as {name = true}, or nil when none.
function M.stage_set(list)
  local out
  for _, v in ipairs(list or {}) do
    for name in v:gmatch "[^,%s]+" do
      out = out or {}
      out[name:lower()] = true
    end
  end
  return out
end

--- --build-context NAME=VALUE flags as {name = {name =, image = ref} | {name =, context = ctx}};
--- the caller closes the contexts.
function M.named_contexts(list)
  local out = {}
  for _, spec in ipairs(list or {}) do
    local name, value = spec:match "^([^=]+)=(.+)$"
    if not name then
      errors.raise("invalid --build-context '%s': want NAME=DIR or NAME=docker-image://REF", spec)
    end
    name = name:lower()
    local image = value:match "^docker%-image://(.+)$"
    if image then
      out[name] = { name = name, image = image }
    elseif value:match "^%a[%w+.-]*://" then
      errors.raise("--build-context %s: %s sources are not supported (a directory or docker-image://)", name,
        value:match "^(%a[%w+.-]*)://")
    else
      local st = fs.stat(value)
      if not st or st.type ~= "dir" then
        errors.raise("--build-context %s: %q is not a directory", name, value)
      end
      out[name] = { name = name, context = require("cbuild.build.context").open(value) }
    end
  end
  return out
end

--- The cgroup limits of RUN steps (--memory, --memory-swap, --cpus, --cpu-shares,
--- --pids-limit), or nil without any: a cached build need not load the RUN machinery.
function M.limits(args)
  if args.memory or args.memory_swap or args.cpus or args.cpu_shares or args.pids_limit then
    return require("cbuild.build.run").limits(args)
  end
  return nil
end

--- SOURCE_DATE_EPOCH or --timestamp as seconds, or nil.
function M.epoch(args)
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

--- Locate the Dockerfile of a directory context: -f relative to the cwd first, then to the
--- context (docker's order).
local function dockerfile_path(args, context)
  local f = args.file
  if f == nil then
    return context .. "/Dockerfile"
  end
  if f:sub(1, 1) == "/" or fs.exists(f) then
    return f
  end
  return context .. "/" .. f
end

-- Spool standard input into a private temporary file; returns the directory and the path.
local function spool_stdin()
  local tmp, msg = fs.mkdtemp "/tmp/cbuild-stdin-"
  if not tmp then
    errors.raise("unable to prepare context: %s", msg)
  end
  local path = tmp .. "/stdin"
  local out = assert(io.open(path, "wb"))
  while true do
    local chunk = io.stdin:read(1 << 20)
    if chunk == nil then
      break
    end
    out:write(chunk)
  end
  out:close()
  return tmp, path
end

--- Work out the context and the Dockerfile, docker's way: PATH is a directory, a tarball (plain
--- or compressed), or "-" (standard input: a tarball is the context, anything else is the
--- Dockerfile, with no context); -f - reads the Dockerfile from standard input.  A
--- <Dockerfile>.dockerignore beside the Dockerfile wins over the context's .dockerignore.
--- Returns {ctx = <build context or nil>, text =, name =, path = <Dockerfile path or nil>}.
function M.prepare(args)
  local context = require "cbuild.build.context"
  local archive = require "cbuild.core.archive"
  local path = args.path or "."
  local out = {}
  if path == "-" and args.file == "-" then
    errors.raise "invalid argument: can't use stdin for both build context and dockerfile"
  end
  local tarball
  if path == "-" then
    local tmp, spooled = spool_stdin()
    local ok, kind = pcall(archive.detect, spooled)
    if ok and kind then
      tarball = spooled
      out.cleanup = tmp
    else
      out.text = M.read_file(spooled)
      out.name = "Dockerfile"
      fs.rm_rf(tmp)
      return out
    end
  else
    local st = fs.stat(path)
    if not st then
      errors.raise("unable to prepare context: path %q not found", path)
    end
    if st.type ~= "dir" then
      local kind = archive.detect(path)
      if not kind then
        errors.raise("unable to prepare context: %q is neither a directory nor a tar archive", path)
      end
      tarball = path
    end
  end

  if tarball then
    local ok, ctx = pcall(context.open_tar, tarball)
    if out.cleanup then
      fs.rm_rf(out.cleanup)
      out.cleanup = nil
    end
    if not ok then
      error(ctx, 0)
    end
    out.ctx = ctx
    if args.file == "-" then
      out.text, out.name = io.stdin:read "a" or "", "Dockerfile"
    else
      -- -f names a file inside the archive
      local rel = (args.file or "Dockerfile"):gsub("^/+", "")
      out.path = ctx.root .. "/" .. rel
      out.text, out.name = M.read_file(out.path), rel:match "([^/]+)$"
    end
  else
    if args.file == "-" then
      out.text, out.name = io.stdin:read "a" or "", "Dockerfile"
    else
      out.path = dockerfile_path(args, path)
      out.text, out.name = M.read_file(out.path), out.path:match "([^/]+)$"
    end
  end
  local ignore = out.path and fs.exists(out.path .. ".dockerignore") and (out.path .. ".dockerignore") or nil
  if out.ctx then
    if ignore then
      local tmp = out.ctx.tmp
      local ctx = context.open(out.ctx.root, { dockerignore = ignore })
      out.ctx.tmp = nil
      ctx.tmp = tmp
      out.ctx = ctx
    end
  else
    out.ctx = context.open(path, { dockerignore = ignore })
  end
  return out
end

-- FROM's image: from the store, pulled first when absent (or always with --pull); lookups
-- for the build checks (opts.no_pull) never touch the network.
local function resolver(images, lease, args)
  return function(image, loc, opts)
    local policy = args and args.pull and "always" or "missing"
    local e = policy ~= "always" and images:lookup(image) or nil
    if not e and not (opts and opts.no_pull) then
      local ok, res = pcall(require("cbuild.registry.pull").ensure, images, image, { pull = policy,
        out = not (args and args.quiet) and function(line)
          io.stderr:write(line, "\n")
        end or nil })
      if not ok then
        errors.raise_at(loc, "FROM %s: %s", image, errors.is(res) and res.msg or tostring(res))
      end
      e = res
    end
    if not e then
      errors.raise_at(loc, "FROM: image %q not found in the local store (try `cbuild pull` or `cbuild import`)",
        image)
    end
    if lease then -- a prune meanwhile keeps the images this build stands on
      lease:add_image(e.digest)
    end
    local img = images:image(e.digest)
    e.ref_display = image
    return e, img.config
  end
end

--- Print the build checks' warnings to f as lint does; returns the lint result.
function M.check(text, name, opts, f)
  local lint = require "cbuild.dockerfile.lint"
  local r = lint.run(text, {
    file = name, build_args = opts.build_args, predefined = opts.predefined, platform = opts.platform,
    resolve_image = function(image)
      local ok, e, cfg = pcall(opts.resolve_image, image, nil, { no_pull = true })
      if ok then
        return e, cfg
      end
      return nil
    end,
  })
  lint.report(r, f)
  return r
end

local function build(args, ctx, prep)
  local parser = require "cbuild.dockerfile.parser"
  local instructions = require "cbuild.dockerfile.instructions"
  local frontend = require "cbuild.dockerfile.frontend"
  local solver = require "cbuild.build.solver"
  local progress = require "cbuild.progress"

  local tags = {}
  for _, t in ipairs(args.tag or {}) do
    tags[#tags + 1] = reference.must(t)
  end
  local outputs = M.outputs(args.output)
  local platform = imgconfig.host_platform()
  if args.platform then
    local p = errors.need("--platform", imgconfig.parse_platform(args.platform))
    if imgconfig.platform_string(p) ~= imgconfig.platform_string(platform) then
      errors.raise("--platform %s: only the host platform (%s) can be built here", args.platform,
        imgconfig.platform_string(platform))
    end
  end
  local images = ctx:store()
  local lease <close> = require("cbuild.build.gc").lease(images) -- gc keeps what this build uses
  local bargs = M.build_args(args.build_arg)
  local named = M.named_contexts(args.build_context)
  local _ <close> = setmetatable({}, { __close = function()
    for _, n in pairs(named) do
      if n.context then
        n.context:close()
      end
    end
  end })
  local copts = { build_args = bargs, platform = platform, predefined = M.predefined(platform),
    resolve_image = resolver(images, lease, args), named_contexts = named,
    no_cache_filter = M.stage_set(args.no_cache_filter) }

  if args.check then
    local r = M.check(prep.text, prep.name, copts, io.stdout)
    if r.failure then
      error(r.failure, 0)
    end
    local n = #r.warnings
    io.stdout:write(n == 0 and "Check complete, no warnings found.\n"
      or string.format("Check complete, %d warning%s been found!\n", n, n == 1 and " has" or "s have"))
    return n > 0 and 1 or 0
  end

  local ast = parser.parse(prep.text, { file = prep.name })
  local parsed = instructions.parse(ast, { file = prep.name })
  local out = progress.new { quiet = args.quiet or args.progress == "quiet", mode = args.progress }
  copts.file, copts.target, copts.escape = prep.name, args.target, ast.escape
  local target, unused = frontend.compile(parsed, copts)

  -- the build checks run with every build, as BuildKit's do: warnings, or an error with
  -- `# check=error=true`
  local lint = require "cbuild.dockerfile.lint"
  local ok, r = pcall(lint.run, prep.text, { file = prep.name, build_args = bargs, predefined = copts.predefined,
    platform = platform, resolve_image = function(image)
      local found, e, cfg = pcall(copts.resolve_image, image, nil, { no_pull = true })
      if found then
        return e, cfg
      end
    end })
  if ok and #r.warnings > 0 then
    if r.error then
      lint.report(r, io.stderr)
      local rules, seen = {}, {}
      for _, w in ipairs(r.warnings) do
        if not seen[w.rule] then
          seen[w.rule] = true
          rules[#rules + 1] = w.rule
        end
      end
      errors.raise("lint violation found for rules: %s", table.concat(rules, ", "))
    end
  end

  local bctx = prep.ctx
  local cache_file = images.root .. "/cache/context-hashes"
  if bctx and bctx.load_cache then
    bctx:load_cache(cache_file)
  end
  local s = solver.new { images = images, context = bctx, progress = out, no_cache = args.no_cache,
    secrets = M.secrets(args.secret), ssh = M.ssh_agents(args.ssh), network = args.network, driver = ctx.driver,
    jobs = args.jobs and (math.tointeger(tonumber(args.jobs)) or errors.raise("invalid --jobs '%s'", args.jobs)),
    epoch = M.epoch(args), platform = platform, limits = M.limits(args),
    extra_hosts = #args.add_host > 0 and M.extra_hosts(args.add_host) or nil,
    shm_size = args.shm_size and (require("cbuild.container.config").parse_bytes(args.shm_size)
      or errors.raise("invalid --shm-size '%s'", args.shm_size)) }
  local result = s:solve_all({ target })[1]
  if bctx and bctx.save_cache then
    bctx:save_cache(cache_file)
  end
  local desc = s:commit(result, { labels = M.labels(args.label) })
  local id = desc.config
  for _, o in ipairs(outputs) do
    if o.type == "local" or o.type == "tar" then
      out:say("exporting to %s %s", o.type == "local" and "directory" or "tarball", o.dest)
      export(images, result, o)
    end
  end
  out:say("writing image %s done", id)
  if #tags == 0 then
    images:add_unnamed(desc)
  end
  for _, t in ipairs(tags) do
    out:say("naming to %s done", images:tag(desc, t))
  end
  for _, o in ipairs(outputs) do -- the image itself, as `save` writes it (named by -t or name=)
    if o.type == "docker" or o.type == "oci" then
      out:say("exporting image to %s archive %s", o.type, o.dest)
      if o.name and o.name ~= "" then
        images:tag(desc, reference.must(o.name))
      end
      require("cbuild.cli.save").run({ image = { o.name or (tags[1] and tags[1]:full()) or id }, output = o.dest,
        format = o.type .. "-archive", compression = "none" }, ctx)
    end
  end
  if ok and #r.warnings > 0 and not args.quiet then
    io.stderr:write(string.format("\n %d warning%s found:\n", #r.warnings, #r.warnings == 1 and "" or "s"))
    for _, w in ipairs(r.warnings) do
      io.stderr:write(string.format(" - %s: %s (line %d)\n", w.rule, w.msg, w.loc and w.loc.line or 0))
    end
  end
  if #unused > 0 then
    io.stderr:write(string.format("[Warning] One or more build-args [%s] were not consumed\n",
      table.concat(unused, " ")))
  end
  if args.iidfile then
    errors.need("write --iidfile", fs.write_file(args.iidfile, id))
  end
  if args.metadata_file then
    local names = {}
    for _, t in ipairs(tags) do
      names[#names + 1] = t:full()
    end
    local json = require "cbuild.core.json"
    errors.need("write --metadata-file", fs.write_file(args.metadata_file, json.encode {
      ["containerimage.config.digest"] = id,
      ["containerimage.digest"] = desc.digest,
      ["containerimage.descriptor"] = { mediaType = desc.mediaType, digest = desc.digest, size = desc.size },
      ["image.name"] = #names > 0 and table.concat(names, ",") or nil,
    }))
  end
  if args.push then
    if #tags == 0 then
      errors.raise "--push needs a name: tag the image with -t"
    end
    local cli_push = require "cbuild.cli.push"
    for _, t in ipairs(tags) do
      local status = cli_push.run({ name = t:full(), quiet = args.quiet }, ctx)
      if status ~= 0 then
        return status
      end
    end
  end
  if args.quiet then
    io.stdout:write(id, "\n")
  end
  return 0
end

--- --ssh ID[=SOCKET] flags as {id = agent socket path}; ID alone takes $SSH_AUTH_SOCK.
function M.ssh_agents(list)
  local out = {}
  for _, spec in ipairs(list or {}) do
    local id, path = spec:match "^([^=]+)=(.+)$"
    id = id or spec
    path = path or os.getenv "SSH_AUTH_SOCK"
    if not path or path == "" then
      errors.raise("--ssh %s: SSH_AUTH_SOCK is not set (start ssh-agent, or give --ssh %s=SOCKET)", id, id)
    end
    local st = fs.stat(path)
    if not st then
      errors.raise("--ssh %s: %q not found", id, path)
    elseif st.type ~= "socket" then
      errors.raise("--ssh %s: %q is not an agent socket (keys are read through an agent: ssh-agent; ssh-add KEY)",
        id, path)
    end
    out[id] = path
  end
  return out
end

--- --secret id=ID,src=FILE (or env=VAR) flags as {id = host path}.
function M.secrets(list)
  local out = {}
  for _, spec in ipairs(list or {}) do
    local f = {}
    for kv in spec:gmatch "[^,]+" do
      local k, v = kv:match "^([^=]+)=(.*)$"
      if not k then
        errors.raise("invalid --secret '%s': want id=ID,src=FILE", spec)
      end
      f[k] = v
    end
    local id = f.id
    local src = f.src or f.source
    if f.env then
      local fs_tmp = errors.need("--secret", fs.mkdtemp "/tmp/cbuild-secret-")
      errors.need("--secret", fs.write_file(fs_tmp .. "/value", os.getenv(f.env) or "", { mode = 384 }))
      src = fs_tmp .. "/value"
    end
    if not id or not src then
      errors.raise("invalid --secret '%s': want id=ID,src=FILE", spec)
    end
    if not fs.exists(src) then
      errors.raise("--secret %s: '%s' not found", id, src)
    end
    out[id] = src
  end
  return out
end

function M.run(args, ctx)
  local recipe = require "cbuild.recipe.cli"
  if recipe.frontend(args) == "lua" then
    return recipe.run(args, ctx, M)
  end
  local prep = M.prepare(args)
  local ok, status = pcall(build, args, ctx, prep)
  if prep.ctx and prep.ctx.close then
    prep.ctx:close()
  end
  if not ok then
    error(status, 0)
  end
  return status
end

return M
