-- cbuild commit [-m MSG] [-a AUTHOR] [-c 'INSTRUCTION'] CONTAINER [REPOSITORY[:TAG]]: the
-- container's changes (its overlay upper dir) as a new layer on its image.
local archive = require "cbuild.core.archive"
local json = require "cbuild.core.json"
local errors = require "cbuild.errors"
local imgconfig = require "cbuild.image.config"
local images_mod = require "cbuild.image.store"
local state = require "cbuild.container.state"

local M = { summary = "Create a new image from a container's changes" }

function M.setup(cmd)
  cmd:option("-m --message", "Commit message.")
  cmd:option("-a --author", 'Author (e.g. "John Hannibal Smith <hannibal@a-team.com>").')
  cmd:option("-c --change", "Apply a Dockerfile instruction to the created image."):count "*"
  cmd:flag("-p --pause", "Pause the container during commit (accepted; containers are not paused).")
  cmd:argument("container", "Container name or ID.")
  cmd:argument("repository", "Repository and tag for the image."):args "?"
end

-- A JSON array or a shell-form string, as CMD and ENTRYPOINT take them.
local function command_value(rest)
  if rest:match "^%s*%[" then
    local ok, v = pcall(json.decode, rest)
    if ok and type(v) == "table" then
      return json.array(v)
    end
  end
  return json.array { "/bin/sh", "-c", rest }
end

--- Apply one -c instruction to an image's config table.
function M.apply_change(cfg, change)
  local op, rest = change:match "^%s*(%a+)%s+(.-)%s*$"
  if not op then
    errors.raise("invalid change: %s", change)
  end
  op = op:upper()
  if op == "CMD" then
    cfg.Cmd = command_value(rest)
  elseif op == "ENTRYPOINT" then
    cfg.Entrypoint = command_value(rest)
  elseif op == "ENV" then
    local k, v = rest:match "^([^=%s]+)=(.*)$"
    if not k then
      k, v = rest:match "^(%S+)%s+(.*)$"
    end
    if not k then
      errors.raise("invalid change: %s", change)
    end
    cfg.Env = imgconfig.env_set(cfg.Env, k, (v:gsub('^"(.*)"$', "%1")))
  elseif op == "WORKDIR" then
    cfg.WorkingDir = rest
  elseif op == "USER" then
    cfg.User = rest
  elseif op == "STOPSIGNAL" then
    cfg.StopSignal = rest
  elseif op == "LABEL" then
    cfg.Labels = cfg.Labels or json.object {}
    for k, v in rest:gmatch '([^%s=]+)="?([^"%s]*)"?' do
      cfg.Labels[k] = v
    end
  elseif op == "EXPOSE" then
    cfg.ExposedPorts = cfg.ExposedPorts or json.object {}
    for p in rest:gmatch "%S+" do
      cfg.ExposedPorts[p:find "/" and p or p .. "/tcp"] = json.object {}
    end
  elseif op == "VOLUME" then
    cfg.Volumes = cfg.Volumes or json.object {}
    for p in rest:gsub("[%[%]\",]", " "):gmatch "%S+" do
      cfg.Volumes[p] = json.object {}
    end
  else
    errors.raise("%s is not a valid change command", op)
  end
end

function M.run(args, ctx)
  local imgs = ctx:store()
  local c = state.must_lookup(imgs, args.container)
  local upper = state.dir(imgs, c.Id) .. "/upper"
  local exclude = {}
  for i, s in ipairs(c.State.Running and c.Cbuild.stubs or {}) do
    exclude[i] = s
  end
  local d, size = errors.need("layer from the container's changes",
    archive.layer_from_dir(imgs.blobs, upper, { overlay = true, exclude = exclude }))
  local img = imgs:image(c.Cbuild.manifest)
  local cfg = imgconfig.copy(img.config)
  cfg.config = cfg.config or {}
  local cc = cfg.config
  local env = json.array {}
  for _, kv in ipairs(c.Config.Env or {}) do
    if not kv:match "^HOSTNAME=" then
      env[#env + 1] = kv
    end
  end
  cc.Env = env
  cc.Cmd = type(c.Config.Cmd) == "table" and c.Config.Cmd or nil
  cc.Entrypoint = type(c.Config.Entrypoint) == "table" and c.Config.Entrypoint or nil
  cc.User = c.Config.User ~= "" and c.Config.User or nil
  cc.WorkingDir = c.Config.WorkingDir ~= "" and c.Config.WorkingDir or cc.WorkingDir
  for _, ch in ipairs(args.change or {}) do
    M.apply_change(cc, ch)
  end
  local now = state.now()
  cfg.created = now
  cfg.author = args.author
  cfg.container = c.Id
  cfg.rootfs = cfg.rootfs or { type = "layers" }
  cfg.rootfs.diff_ids = json.array(cfg.rootfs.diff_ids or {})
  cfg.rootfs.diff_ids[#cfg.rootfs.diff_ids + 1] = d
  local by = { c.Path }
  for _, a in ipairs(c.Args or {}) do
    by[#by + 1] = a
  end
  cfg.history = json.array(cfg.history or {})
  cfg.history[#cfg.history + 1] = { created = now, created_by = table.concat(by, " "),
    author = args.author, comment = args.message }
  local layers = {}
  for i, l in ipairs(img.manifest.layers or {}) do
    layers[i] = l
  end
  layers[#layers + 1] = { digest = d, size = size, mediaType = images_mod.LAYER }
  local desc = imgs:put_image(cfg, layers)
  if args.repository then
    imgs:tag(desc, args.repository)
  else
    imgs:add_unnamed(desc)
  end
  io.stdout:write(desc.config, "\n")
  return 0
end

return M
