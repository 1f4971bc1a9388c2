-- COPY and ADD: the cache key from what is copied (content hashes of the selected context
-- files, or the key of the stage copied from), then, only on a miss, the layer: destinations
-- resolved inside the parent's rootfs (symlinks followed as docker does, missing parents
-- created), written in one streaming pass (tar -> sha256 -> blob).
local archive = require "cbuild.core.archive"
local digest = require "cbuild.core.digest"
local fs = require "cbuild.core.fs"
local errors = require "cbuild.errors"
local images = require "cbuild.image.store"

local M = {}

--- Clean an absolute path: collapse "//", ".", ".."; never climbs above "/".
function M.clean(path)
  local parts = {}
  for seg in path:gmatch "[^/]+" do
    if seg == ".." then
      parts[#parts] = nil
    elseif seg ~= "." then
      parts[#parts + 1] = seg
    end
  end
  return "/" .. table.concat(parts, "/")
end

local function basename(rel)
  return rel:match "([^/]+)/*$" or rel
end

local function tar_name(abs)
  return (abs:gsub("^/+", ""))
end

local function dirname(abs)
  return abs:match "^(.*)/[^/]*$" or ""
end

local function instr_name(a)
  return a.add and "ADD" or "COPY"
end

-- mtimes are kept, but never later than SOURCE_DATE_EPOCH when it is set.
local function clamp(self, mtime)
  local epoch = self.opts.epoch
  if epoch and mtime > epoch then
    return epoch
  end
  return mtime
end

local function is_url(src)
  return src:match "^https?://" ~= nil
end

-- ADD <url>: the body, fetched into the store (checked against --checksum when given) every
-- build, so the cache key follows the content; returns {digest, size, mtime, name}.
local function fetch(self, a, url, loc)
  local http = require "cbuild.core.http"
  local resp, err = http.request { url = url, sink = self.blobs, expect = a.checksum, timeout = 600 }
  if not resp then
    errors.raise_at(loc, "ADD %s: %s", url, err)
  end
  if resp.status < 200 or resp.status > 299 then
    errors.raise_at(loc, "ADD %s: the server answered %d", url, resp.status)
  end
  local last = resp.headers and resp.headers["last-modified"]
  local mtime = last and require("cbuild.image.config").parse_http_date(last) or (self.opts.epoch or os.time())
  local name = url:gsub("[?#].*$", ""):match "([^/]+)/*$"
  return { digest = resp.digest, size = resp.size, mtime = mtime, name = name or "index.html" }
end

-- What the sources select in ctx: a list of {match, tree (a directory's walk), archive = bool}.
local function select_sources(ctx, a, loc)
  local groups = {}
  for _, src in ipairs(a.sources) do
    if is_url(src) then
      goto next_src -- fetched by the key, not selected from a context
    end
    for _, m in ipairs(ctx:select(src, loc, instr_name(a))) do
      local g = { match = m }
      if m.type == "dir" then
        g.tree = ctx:tree(m.rel)
      elseif a.add and m.type == "file" and not a.from and not a.from_image and archive.detect(ctx:host(m.rel)) then
        g.archive = true -- ADD of a local tar archive (plain or compressed) extracts it
      end
      groups[#groups + 1] = g
    end
    ::next_src::
  end
  return groups
end

--- The cache key parts of a COPY/ADD (no rootfs needed).  Returns parts, plan.
function M.key(self, st)
  local a = st.args
  local parts = { dest = a.dest, chown = a.chown, chmod = a.chmod, sources = a.sources,
    exclude = a.exclude, parents = a.parents or nil, heredocs = {} }
  for i, hd in ipairs(a.heredocs or {}) do
    parts.heredocs[i] = { hd.dest, digest.sha256(hd.content) }
  end
  local plan = { args = a, loc = st.loc }
  if a.from then
    parts.from = self:files_key(a.from)
  elseif a.from_image then
    local entry = a.from_entry or self.images:must_lookup(a.from_image)
    parts.from = self.images:image(entry.digest).config_digest
  end
  plan.urls = {}
  for _, src in ipairs(a.sources) do
    if is_url(src) then
      local got = fetch(self, a, src, st.loc)
      got.url = src
      plan.urls[#plan.urls + 1] = got
      parts.urls = parts.urls or {}
      parts.urls[#parts.urls + 1] = { src, got.digest, got.mtime }
    end
  end
  local local_sources = #a.sources - #plan.urls
  if not a.from and not a.from_image and local_sources > 0 then
    local ctx = a.context or self.opts.context -- a recipe's cb.context, or the build's
    if not ctx then
      errors.raise_at(st.loc, "%s needs a build context", instr_name(a))
    end
    plan.groups = select_sources(ctx, a, st.loc)
    local files = {}
    for _, g in ipairs(plan.groups) do
      local m = g.match
      files[#files + 1] = { m.rel, m.name or "", m.type, m.st.mode, m.st.target or "",
        (m.type == "file" or g.tree) and ctx:hash(m.rel) or "", g.archive or false }
    end
    parts.files = files
  end
  return parts, plan
end

-- Entries of one layer, by name; later sources win, as they would when applied in order.  A
-- whole directory copied where nothing in the image can redirect it is kept as one tree
-- ({prefix, tree}: its entries are prefix/<rel>) and written by C in one call, unless another
-- entry lands inside it: then it is spread into single entries first, in the order it came.
local Layer = {}
Layer.__index = Layer

local function new_layer(self, a, rootfs, now)
  return setmetatable({ solver = self, a = a, rootfs = rootfs, byname = {}, archives = {}, now = now,
    walked = {}, trees = {} }, Layer)
end

local function in_tree(name, prefix)
  return prefix == "" or name:sub(1, #prefix + 1) == prefix .. "/"
end

-- Spread the trees that name falls into (or, with as_tree, that overlap the tree at name)
-- into single entries.
function Layer:spread(name, as_tree)
  for i = #self.trees, 1, -1 do
    local t = self.trees[i]
    if in_tree(name, t.prefix) or (as_tree and (name == t.prefix or in_tree(t.prefix, name))) then
      table.remove(self.trees, i)
      local pre = t.prefix == "" and "" or t.prefix .. "/"
      local items = t.ctx:walk(t.rel)
      for k = 2, #items do
        local item = items[k]
        self:add_walked(pre .. (t.rel == "." and item.rel or item.rel:sub(#t.rel + 2)), item, t.root)
      end
    end
  end
end

-- The directory rel of ctx, all of it, as the entries under prefix.
function Layer:add_tree(prefix, ctx, rel)
  self:spread(prefix, true)
  local t = { prefix = prefix, ctx = ctx, rel = rel, root = ctx.root .. "/", tree = ctx:tree(rel) }
  self.trees[#self.trees + 1] = t
  for name in pairs(self.byname) do
    if in_tree(name, prefix) then -- an earlier entry inside: the tree's own wins, one by one
      self:spread(name)
      break
    end
  end
end

-- The path dest names in the image, symlinks of the parent's rootfs followed inside it.
function Layer:resolve(abs)
  if not self.rootfs then
    return abs, nil
  end
  local host = errors.need("resolve '" .. abs .. "'", fs.resolve_in_root(self.rootfs, abs, { missing_ok = true }))
  local inside = host:sub(#self.rootfs + 1)
  if inside == "" then
    inside = "/"
  end
  return M.clean(inside), fs.lstat(host)
end

function Layer:add(e)
  if #self.trees > 0 then
    self:spread(e.name)
  end
  self.byname[e.name] = e
  self.walked[e.name] = nil
end

-- A context walk entry under name: its tar entry is made only when written, so a copy of
-- 20,000 files holds no second table per file.
function Layer:add_walked(name, item, root)
  if #self.trees > 0 then
    self:spread(name)
  end
  self.byname[name] = item
  self.walked[name] = root
end

-- The owner of new entries: --chown's ids, or its names looked up in the image's own
-- /etc/passwd and /etc/group (docker: a user without a group gets the uid as gid too).
function Layer:owner()
  local c = self.a.chown
  if not c then
    return 0, 0
  end
  if c.uid then
    return c.uid, c.gid
  end
  if not self.owner_ids then
    local user = require "cbuild.build.user"
    local u, err = user.resolve(self.rootfs, c.user)
    if not u then
      errors.raise("unable to convert uid/gid chown string to host mapping: %s", err)
    end
    local gid = u.uid
    if c.group then
      local g, gerr = user.resolve(self.rootfs, "0:" .. c.group)
      if not g then
        errors.raise("unable to convert uid/gid chown string to host mapping: %s", gerr)
      end
      gid = g.gid
    end
    self.owner_ids = { u.uid, gid }
  end
  return self.owner_ids[1], self.owner_ids[2]
end

-- Missing directories on the way to abs (an already resolved path) become 0755 entries.
function Layer:parents(abs)
  local chain, p = {}, dirname(abs)
  while p ~= "" and p ~= "/" do
    table.insert(chain, 1, p)
    p = dirname(p)
  end
  for _, d in ipairs(chain) do
    local name = tar_name(d)
    if #self.trees > 0 then
      self:spread(name)
    end
    local _, st = self:resolve(d)
    if not st and not self.byname[name] then
      local uid, gid = self:owner()
      self:add { name = name, type = "dir", mode = 493, uid = uid, gid = gid, mtime = self.now }
    end
  end
end

-- Fill e (every field set, so a table can be reused) with the tar entry of st under name.
function Layer:fill(e, st, name, host)
  local a = self.a
  local t = st.type
  e.name, e.type, e.mode, e.mtime = name, t, st.mode, clamp(self.solver, st.mtime)
  e.uid, e.gid = self:owner()
  if a.chmod and t ~= "symlink" then
    e.mode = a.chmod
  end
  e.src = t == "file" and host or nil
  e.linkname = t == "symlink" and st.target or nil
  if t == "char" or t == "block" then
    e.devmajor, e.devminor = st.rdevmajor, st.rdevminor
  else
    e.devmajor, e.devminor = nil, nil
  end
  return e
end

function Layer:entry(st, name, host)
  return self:fill({}, st, name, host)
end

-- dest for a source: into the directory when dest is one (trailing "/", several sources, or
-- an existing directory in the image), else dest itself.
function Layer:target(dest, as_dir, name)
  if as_dir then
    return self:resolve(M.clean(dest .. "/" .. name))
  end
  return self:resolve(M.clean(dest))
end

-- --exclude patterns (.dockerignore syntax, matched below each source, as BuildKit does:
-- "*.log" skips top-level logs, "**/*.log" all of them): a matcher or nil.
local function excluder(a)
  if not a.exclude or #a.exclude == 0 then
    return nil
  end
  local dockerignore = require "cbuild.build.dockerignore"
  return dockerignore.new(dockerignore.parse(table.concat(a.exclude, "\n"), { file = "--exclude" }))
end

function Layer:copy_groups(ctx, groups, urls)
  local a = self.a
  urls = urls or {}
  local count = #groups + #(a.heredocs or {}) + #urls
  local dest_path, dest_st = self:resolve(M.clean(a.dest))
  local as_dir = a.dest:match "/$" ~= nil or count > 1 or (dest_st and dest_st.type == "dir") or a.parents
  local skip = excluder(a)
  local function excluded(rel)
    return skip ~= nil and skip:matches(rel)
  end
  for _, g in ipairs(groups) do
    local m = g.match
    local host = ctx:host(m.rel)
    if m.type ~= "dir" and excluded(basename(m.name or m.rel)) then
      goto next_group
    end
    if a.parents and m.rel ~= "." then
      -- --parents: the source's path below the context root is kept under dest
      local parent = dirname("/" .. m.rel)
      if parent ~= "" then
        dest_path = self:resolve(M.clean(M.clean(a.dest) .. parent))
      end
    end
    if m.type == "dir" then
      self:parents(dest_path .. "/x")
      if dest_path ~= "/" then
        self:add(self:entry(m.st, tar_name(dest_path), host))
      end
      -- nothing below a destination missing from the image can be a symlink to follow: the
      -- names are joined as they are (walk paths are clean), not resolved one by one
      local _, dest_dir = self:resolve(dest_path)
      local direct = dest_dir == nil
      local prefix = tar_name(dest_path)
      prefix = prefix == "" and "" or prefix .. "/"
      local root, whole = ctx.root .. "/", m.rel == "." or m.rel == ""
      if direct and not skip then
        self:add_tree(tar_name(dest_path), ctx, m.rel)
        goto next_group
      end
      for _, item in ipairs(ctx:walk(m.rel)) do
        local rel = whole and item.rel or item.rel:sub(#m.rel + 2)
        if item.rel ~= m.rel and not excluded(rel) then -- --exclude: relative to the source
          if direct then
            self:add_walked(prefix .. rel, item, root)
          else
            local name = tar_name((self:resolve(M.clean(dest_path .. "/" .. rel))))
            self:add(self:entry(item.st, name, root .. item.rel))
          end
        end
      end
    elseif g.archive then
      self:parents(dest_path .. "/x")
      self.archives[#self.archives + 1] = { path = host, prefix = tar_name(dest_path) }
    else
      local target = self:target(dest_path, as_dir, basename(m.name or m.rel))
      self:parents(target)
      self:add(self:entry(m.st, tar_name(target), host))
    end
    ::next_group::
  end
  for _, u in ipairs(urls) do -- ADD <url>: a plain file, mode 0600 as docker makes it
    local target = self:target(dest_path, as_dir, u.name)
    self:parents(target)
    local uid, gid = self:owner()
    self:add { name = tar_name(target), type = "file", src = self.solver.blobs:path(u.digest),
      mode = a.chmod or 384, uid = uid, gid = gid, mtime = clamp(self.solver, u.mtime) }
  end
  for _, hd in ipairs(a.heredocs or {}) do
    local target = self:resolve(M.clean(hd.dest))
    self:parents(target)
    local uid, gid = self:owner()
    self:add { name = tar_name(target), type = "file", data = hd.content, mode = a.chmod or 420,
      uid = uid, gid = gid, mtime = self.now }
  end
end

function Layer:write(blobs, index)
  local names, order, trees = {}, {}, {}
  for name in pairs(self.byname) do
    names[#names + 1] = name
    -- parents before children: "/" sorts below every byte
    order[name] = name:find("/", 1, true) and name:gsub("/", "\0") or name
  end
  for _, t in ipairs(self.trees) do -- no other name falls inside a tree: it goes out as a block
    local key = t.prefix .. "/"
    names[#names + 1], order[key], trees[key] = key, key:gsub("/", "\0"), t
  end
  table.sort(names, function(x, y)
    return order[x] < order[y]
  end)
  order = nil -- luacheck: ignore
  local byname, walked, scratch = self.byname, self.walked, {}
  local lw <close> = errors.need("write layer", archive.layer_writer(blobs, { index = index }))
  for _, name in ipairs(names) do
    local e, root, t = byname[name], walked[name], trees[name]
    if t then
      local uid, gid = self:owner()
      errors.need("write layer: '" .. t.prefix .. "'", lw:add_tree(t.tree, { prefix = t.prefix, uid = uid,
        gid = gid, chmod = self.a.chmod, epoch = self.solver.opts.epoch }))
      goto next_name
    elseif root then
      e = self:fill(scratch, e.st, name, root .. e.rel)
    end
    local ok, msg, code = lw:add(e)
    if not ok then
      errors.need("write layer: '" .. name .. "'", ok, msg, code)
    end
    ::next_name::
  end
  for _, ar in ipairs(self.archives) do
    errors.need("extract '" .. ar.path .. "'", archive.copy_into(ar.path, lw, { prefix = ar.prefix }))
  end
  local d, size = errors.need("write layer", lw:commit())
  return { digest = d, size = size, mediaType = images.LAYER, diff_id = d }
end

-- The build context to copy from: the context, or another stage's or image's files.
local function source_context(self, a, mounts)
  if not a.from and not a.from_image then
    return a.context or self.opts.context
  end
  local snapshot = require "cbuild.build.snapshot"
  local context = require "cbuild.build.context"
  local layers
  if a.from then
    layers = self:solve(a.from).layers
  else
    local entry = a.from_entry or self.images:must_lookup(a.from_image)
    local img = self.images:image(entry.digest)
    local diff_ids = (img.config.rootfs or {}).diff_ids or {}
    layers = {}
    for i, l in ipairs(img.manifest.layers) do
      layers[i] = { digest = l.digest, size = l.size, mediaType = l.mediaType, diff_id = diff_ids[i] }
    end
  end
  local h = snapshot.mount(self.images, layers, { driver = self.opts.driver })
  mounts[#mounts + 1] = h
  return context.open(h.rootfs, { dockerignore_text = "" })
end

-- Where the entry index of this COPY's layer is kept, so that its next build (a context file
-- changed) copies every unchanged entry from this layer instead of reading it again: one per
-- destination, parent layer and source directory.  Sharing one by chance costs only reuse:
-- entries are matched by what their bytes depend on, never by position.
local function index_path(self, a, parent, ctx)
  local top = parent.layers[#parent.layers]
  local slot = digest.sha256(table.concat({ a.dest, top and top.digest or "", ctx and ctx.root or "",
    table.concat(a.sources, "\0") }, "\0"))
  return self.images.root .. "/cache/copy-index/" .. slot:gsub("^sha256:", "")
end

--- Write the layer of a COPY/ADD (a cache miss); returns {digest, size, mediaType, diff_id}.
function M.write_layer(self, plan, parent)
  local a = plan.args
  local mounts = {}
  local ok, result = pcall(function()
    local rootfs
    if #parent.layers > 0 then
      local snapshot = require "cbuild.build.snapshot"
      local h = snapshot.mount(self.images, parent.layers, { driver = self.opts.driver })
      mounts[#mounts + 1] = h
      rootfs = h.rootfs
    end
    local layer = new_layer(self, a, rootfs, self.opts.epoch or os.time())
    local groups = plan.groups or {}
    local ctx = a.context or self.opts.context
    if a.from or a.from_image then
      ctx = source_context(self, a, mounts)
      groups = select_sources(ctx, a, plan.loc)
    end
    layer:copy_groups(ctx, groups, plan.urls)
    return layer:write(self.blobs, index_path(self, a, parent, ctx))
  end)
  for i = #mounts, 1, -1 do
    mounts[i]:release()
  end
  if not ok then
    error(result, 0)
  end
  return result
end

--- WORKDIR's directory: the missing components of mkdir.path as 0755 dirs owned by
--- mkdir.user (looked up in the image), as a layer; nil when the directory exists already.
function M.mkdir_layer(self, mkdir, parent)
  local user = require "cbuild.build.user"
  local h
  if #parent.layers > 0 then
    h = require("cbuild.build.snapshot").mount(self.images, parent.layers, { driver = self.opts.driver })
  end
  local ok, result = pcall(function()
    local rootfs = h and h.rootfs
    local who, err = user.resolve(rootfs, mkdir.user)
    if not who then
      errors.raise("WORKDIR %s: %s", mkdir.path, err)
    end
    local layer = new_layer(self, { chown = { uid = who.uid, gid = who.gid } }, rootfs, self.opts.epoch or os.time())
    local target, st = layer:resolve(M.clean(mkdir.path))
    if st then
      return nil
    end
    layer:parents(target .. "/x")
    return layer:write(self.blobs)
  end)
  if h then
    h:release()
  end
  if not ok then
    error(result, 0)
  end
  return result
end

return M
