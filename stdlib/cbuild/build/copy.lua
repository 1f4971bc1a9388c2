-- COPY and ADD from the build context: plan the layer (which files land where, with which
-- owner and mode) and its cache key from the context's content hashes, then write the layer
-- in one streaming pass (tar -> sha256 -> blob) only on a cache miss.
local archive = require "cbuild.core.archive"
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

-- mtimes are kept, but never later than SOURCE_DATE_EPOCH when it is set.
local function clamp(self, mtime)
  local epoch = self.opts.epoch
  if epoch and mtime > epoch then
    return epoch
  end
  return mtime
end

local function entry_from_stat(self, a, st, name, host)
  local e = { name = name, type = st.type, mode = st.mode, uid = 0, gid = 0,
    mtime = clamp(self, st.mtime) }
  if a.chown then
    e.uid, e.gid = a.chown.uid, a.chown.gid
  end
  if a.chmod and st.type ~= "symlink" then
    e.mode = a.chmod
  end
  if st.type == "file" then
    e.src = host
  elseif st.type == "symlink" then
    e.linkname = st.target
  end
  return e
end

--- Work out a COPY/ADD: returns {entries, archives, key_parts}.
function M.plan(self, st, parent)
  local a = st.args
  local ctx = self.opts.context
  if not ctx then
    errors.raise_at(st.loc, "%s needs a build context", a.add and "ADD" or "COPY")
  end
  local instr = a.add and "ADD" or "COPY"
  local dest = M.clean(a.dest)
  local dest_is_dir = a.dest:match "/$" or a.dest:match "/%.$" or a.dest == "."
  local matches = {}
  for _, src in ipairs(a.sources) do
    for _, m in ipairs(ctx:select(src, st.loc, instr)) do
      matches[#matches + 1] = m
    end
  end
  if #matches > 1 then
    dest_is_dir = true
  end
  local now = self.opts.epoch or os.time()
  local byname, archives, key_parts = {}, {}, {}
  local function add(e, hash)
    byname[e.name] = e
    key_parts[#key_parts + 1] = { e.name, e.type, e.mode, e.uid, e.gid, e.linkname or "", hash or "" }
  end
  local function add_dir(abs)
    if abs == "/" then
      return
    end
    add({ name = tar_name(abs), type = "dir", mode = 493, uid = a.chown and a.chown.uid or 0,
      gid = a.chown and a.chown.gid or 0, mtime = now })
  end
  -- Missing parents of the destination: known only on an empty base (snapshots tell the rest).
  local on_scratch = #parent.layers == 0
  local function add_parents(abs)
    if not on_scratch then
      return
    end
    local p = dirname(abs)
    local chain = {}
    while p ~= "" and p ~= "/" do
      table.insert(chain, 1, p)
      p = dirname(p)
    end
    for _, d in ipairs(chain) do
      if not byname[tar_name(d)] then
        add_dir(d)
      end
    end
  end

  for _, m in ipairs(matches) do
    local host = ctx.root .. "/" .. m.rel
    if m.type == "dir" then
      local target = dest
      add_parents(target .. "/x")
      if target ~= "/" then
        add(entry_from_stat(self, a, m.st, tar_name(target), host))
      end
      for _, item in ipairs(ctx:walk(m.rel)) do
        if item.rel ~= m.rel then
          local rel = item.rel:sub(#m.rel + 2)
          if m.rel == "." or m.rel == "" then
            rel = item.rel
          end
          local name = tar_name(M.clean(target .. "/" .. rel))
          add(entry_from_stat(self, a, item.st, name, ctx.root .. "/" .. item.rel),
            item.type == "file" and ctx:hash(item.rel) or nil)
        end
      end
    elseif a.add and m.type == "file" and archive.detect(host) then
      -- ADD of a local tar archive (plain or compressed) extracts it into dest.
      add_parents(dest .. "/x")
      archives[#archives + 1] = { path = host, prefix = tar_name(dest) }
      key_parts[#key_parts + 1] = { "extract", tar_name(dest), ctx:hash(m.rel) }
    else
      local target = dest_is_dir and M.clean(dest .. "/" .. basename(m.name or m.rel)) or dest
      add_parents(target)
      add(entry_from_stat(self, a, m.st, tar_name(target), host),
        m.type == "file" and ctx:hash(m.rel) or nil)
    end
  end

  local entries, order = {}, {}
  for name, e in pairs(byname) do
    entries[#entries + 1] = e
    order[e] = name:gsub("/", "\0") -- parents before children: "/" sorts below every byte
  end
  table.sort(entries, function(x, y)
    return order[x] < order[y]
  end)
  table.sort(key_parts, function(x, y)
    return x[1] .. "\0" .. x[2] < y[1] .. "\0" .. y[2]
  end)
  return { entries = entries, archives = archives, key_parts = key_parts, loc = st.loc }
end

--- Write the planned layer into the store; returns {digest, size, mediaType}.
function M.write_layer(self, plan)
  local lw <close> = errors.need("write layer", archive.layer_writer(self.blobs))
  for _, e in ipairs(plan.entries) do
    errors.need("write layer: '" .. e.name .. "'", lw:add(e))
  end
  for _, ar in ipairs(plan.archives) do
    errors.need("extract '" .. ar.path .. "'", archive.copy_into(ar.path, lw, { prefix = ar.prefix }))
  end
  local digest, size = errors.need("write layer", lw:commit())
  return { digest = digest, size = size, mediaType = images.LAYER }
end

return M
