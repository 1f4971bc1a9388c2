-- `cbuild build` for Lua recipes: which frontend a build uses, and running a recipe as a build
-- (context, --build-arg, -t, --target, -q, --iidfile, --allow host-exec).
local errors = require "cbuild.errors"
local fs = require "cbuild.core.fs"

local M = {}

--- What --allow accepts, and what each unlocks (shown by --help and docs/lua-api.md).
M.ALLOW = {
  ["host-exec"] = "recipes get Lua's full standard library: host commands (io.popen, os.execute), " ..
    "any file in any mode, os.remove/rename/exit, require of any module (also cbuild.core.*), " ..
    "debug, binary chunks; cb.context, cb.read and cb.dockerfile take host paths outside the context",
}

--- The frontend for a build: "lua" or "dockerfile".  --frontend wins; then -f by its name
--- (*.lua); then, without -f, build.lua in a context directory that has no Dockerfile (it
--- sets args.file to it).
function M.frontend(args)
  local f = args.frontend
  if f ~= nil then
    f = f:lower()
    if f == "recipe" or f == "lua" then
      return "lua"
    elseif f == "dockerfile" or f == "docker" then
      return "dockerfile"
    end
    errors.raise("unknown frontend '%s' (dockerfile or lua)", args.frontend)
  end
  if args.file then
    return args.file:match "%.lua$" and "lua" or "dockerfile"
  end
  local path = args.path or "."
  local st = path ~= "-" and fs.stat(path)
  if st and st.type == "dir" and not fs.exists(path .. "/Dockerfile") and fs.exists(path .. "/build.lua") then
    args.file = path .. "/build.lua"
    return "lua"
  end
  return "dockerfile"
end

local function epoch(args)
  return require("cbuild.cli.build").epoch(args)
end

--- The outputs a recipe returned, as a list of {name, value} (value an image state or a
--- result), sorted by name; an empty list when it returned nothing.
function M.outputs(ret)
  local image = require "cbuild.recipe.image"
  local result = require "cbuild.recipe.result"
  local v = ret[1]
  if v == nil then
    return {}
  end
  if image.is(v) or result.is(v) then
    return { { name = nil, value = v } }
  end
  if type(v) ~= "table" then
    errors.raise("the recipe returned a %s: return an image state or a table of them", type(v))
  end
  local out = {}
  for k, x in pairs(v) do
    if not image.is(x) and not result.is(x) then
      errors.raise("the recipe's output %s is a %s, not an image state", tostring(k), type(x))
    end
    out[#out + 1] = { name = tostring(k), value = x }
  end
  table.sort(out, function(a, b)
    return a.name < b.name
  end)
  return out
end

--- Run a recipe as `cbuild build`.  build is cli/build.lua (prepare, build_args, secrets).
function M.run(args, ctx, build)
  local session = require "cbuild.recipe.session"
  local loader = require "cbuild.recipe.loader"
  local result = require "cbuild.recipe.result"
  local imgconfig = require "cbuild.image.config"
  local reference = require "cbuild.image.reference"
  local progress = require "cbuild.progress"

  local allow_host_exec = false
  for _, a in ipairs(args.allow or {}) do
    for w in a:gmatch "[^,]+" do
      if not M.ALLOW[w] then
        errors.raise("unknown --allow '%s' (host-exec)", w)
      end
      allow_host_exec = allow_host_exec or w == "host-exec"
    end
  end
  if args.check then
    errors.raise "--check runs the Dockerfile build checks; it does not apply to Lua recipes"
  end
  local tags = {}
  for _, t in ipairs(args.tag or {}) do
    tags[#tags + 1] = reference.must(t)
  end
  local prep = build.prepare(args)
  local out = progress.new { quiet = args.quiet or args.progress == "quiet", mode = args.progress }
  local images = ctx:store()
  local lease <close> = require("cbuild.build.gc").lease(images) -- gc keeps what this build uses
  local bctx = prep.ctx
  local cache_file = images.root .. "/cache/context-hashes"
  if bctx and bctx.load_cache then
    bctx:load_cache(cache_file)
  end
  local s = session.configure {
    images = images, context = bctx or false, build_args = build.build_args(args.build_arg),
    platform = imgconfig.host_platform(), progress = out, allow_host_exec = allow_host_exec, lease = lease,
    solver = { no_cache = args.no_cache, secrets = build.secrets(args.secret), network = args.network,
      driver = ctx.driver, epoch = epoch(args), limits = require("cbuild.cli.build").limits(args),
      jobs = args.jobs and (math.tointeger(tonumber(args.jobs)) or errors.raise("invalid --jobs '%s'", args.jobs)) },
  }
  local ok, err = pcall(function()
    local ret = loader.run(prep.text, prep.name, { allow_host_exec = allow_host_exec })
    local outputs = M.outputs(ret)
    if #outputs == 0 then
      if #s.outputs == 0 then
        errors.raise_at({ file = prep.name }, "the recipe returned nothing to build: return an image state " ..
          "(or a table of them), or call cb.build")
      end
      for _, r in ipairs(s.outputs) do
        outputs[#outputs + 1] = { name = r.name, value = r }
      end
    end
    if args.target then
      local picked
      for _, o in ipairs(outputs) do
        if o.name == args.target then
          picked = o
        end
      end
      if not picked then
        local names = {}
        for _, o in ipairs(outputs) do
          names[#names + 1] = o.name
        end
        errors.raise("target %q is not an output of the recipe (outputs: %s)", args.target,
          #names > 0 and table.concat(names, ", ") or "one, unnamed")
      end
      outputs = { picked }
    end
    if #tags > 0 and #outputs > 1 then
      errors.raise("-t names one image, and the recipe has %d outputs: pick one with --target", #outputs)
    end
    local built, todo = {}, {}
    for i, o in ipairs(outputs) do
      if result.is(o.value) then
        built[i] = o.value
      else
        todo[#todo + 1] = { img = o.value, name = o.name, i = i }
      end
    end
    for k, r in ipairs(result.build_many(todo)) do
      built[todo[k].i] = r
    end
    if #tags == 0 then
      for _, r in ipairs(built) do
        if r.name and #outputs > 1 then
          out:say("built %s: %s", r.name, r.id)
        end
      end
    end
    for _, t in ipairs(tags) do
      built[1]:tag(t:full())
    end
    if args.iidfile then
      errors.need("write --iidfile", fs.write_file(args.iidfile, built[#built].id))
    end
    if args.quiet then
      for _, r in ipairs(built) do
        io.stdout:write(r.id, "\n")
      end
    end
  end)
  if bctx and bctx.save_cache then
    bctx:save_cache(cache_file)
  end
  s:close()
  session.reset()
  if bctx and bctx.close then
    bctx:close()
  end
  if not ok then
    error(err, 0)
  end
  return 0
end

return M
