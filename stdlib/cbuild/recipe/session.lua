-- The build session a recipe runs in: the image store, the build context, the --build-args,
-- the platform and the solver options.  `cbuild build -f recipe.lua` (recipe/cli.lua) and the
-- C embedding API configure one before they run a recipe; a plain `require "cbuild"` from a
-- stock lua5.4 gets a default one on first use ($CBUILD_ROOT or the default store, the current
-- directory as the context).
--
-- The session is kept here, out of reach of recipe values: states and results hold no store
-- handle a recipe could use to write files.
local errors = require "cbuild.errors"
local imgconfig = require "cbuild.image.config"

local M = {}

local current

local default_root = require("cbuild.image.store").default_root

local Session = {}
Session.__index = Session

--- Start a session and make it current.  opts: images (an image store) or root (its path),
--- context (a build context), context_dir (opened when context is nil), build_args
--- ({K = V}), platform, progress, allow_host_exec, lease (build/gc.lua), solver (extra solver options: no_cache,
--- secrets, network, driver, epoch), host (functions a C embedder registered).
function M.configure(opts)
  opts = opts or {}
  current = setmetatable({
    opts = opts,
    _images = opts.images,
    _context = opts.context,
    build_args = opts.build_args or {},
    used_args = {},
    platform = opts.platform or imgconfig.host_platform(),
    allow_host_exec = opts.allow_host_exec or false,
    host = opts.host or {},
    outputs = {}, -- results of cb.build, in order
    extra_contexts = {},
  }, Session)
  return current
end

--- The current session (a default one when none was configured).
function M.get()
  return current or M.configure {}
end

--- Forget the current session (closing what it opened).
function M.reset()
  if current then
    current:close()
  end
  current = nil
end

--- The image store (opened on first use).
function Session:images()
  if not self._images then
    local store = require "cbuild.image.store"
    self._images = store.open(self.opts.root or default_root())
  end
  return self._images
end

--- The main build context (opened on first use), or nil with no context.
function Session:context()
  if self._context == nil and self.opts.context ~= false then
    local context = require "cbuild.build.context"
    self._context = context.open(self.opts.context_dir or ".")
    self._opened_context = true
  end
  return self._context or nil
end

--- The progress printer.
function Session:progress()
  if not self._progress then
    self._progress = self.opts.progress or require("cbuild.progress").new { quiet = self.opts.quiet }
  end
  return self._progress
end

--- Look an image up for FROM / COPY --from; raises at loc when it is not in the store.
function Session:resolve_image(name, loc)
  local images = self:images()
  local e = images:lookup(name)
  if not e then
    errors.raise_at(loc, "image %q not found in the local store (try `cbuild pull` or `cbuild import`)", name)
  end
  if self.opts.lease then -- a prune meanwhile keeps the images this build stands on
    self.opts.lease:add_image(e.digest)
  end
  local img = images:image(e.digest)
  e.ref_display = name
  return e, img.config
end

-- The solver of this session: one for the whole run, so states shared by several outputs are
-- solved once.
function Session:solver()
  if self._solver then
    return self._solver
  end
  local solver = require "cbuild.build.solver"
  local o = { images = self:images(), context = self:context(), progress = self:progress(),
    platform = self.platform }
  for k, v in pairs(self.opts.solver or {}) do
    o[k] = v
  end
  local s = solver.new(o) -- a state copying from another cb.context carries it in its args
  self._solver = s
  return s
end

--- Solve build states; returns their results in order.  Independent states build in parallel
--- (the solver's scheduler).
function Session:solve(states)
  return self:solver():solve_all(states)
end

--- Close what the session opened (contexts made from tarballs, extra contexts).
function Session:close()
  if self._opened_context and self._context and self._context.close then
    self._context:close()
  end
  for _, c in ipairs(self.extra_contexts) do
    if c.close then
      c:close()
    end
  end
  self.extra_contexts = {}
end

return M
