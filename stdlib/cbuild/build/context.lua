-- The build context: a directory, its .dockerignore, and what COPY/ADD can see of it.
--
-- Ignored paths are invisible, as if docker had never sent them.  Sources are resolved inside
-- the context root ("../x" and "/x" both mean <root>/x; symlinks are followed but cannot leave
-- the root).  Content hashes never cover mtimes, so a fresh clone of a tree hashes the same;
-- they are memoized by (path, size, mtime, ctime, inode) so an unchanged context is only
-- stat()ed (git's index does the same).
local digest = require "cbuild.core.digest"
local dockerignore = require "cbuild.build.dockerignore"
local errors = require "cbuild.errors"
local fs = require "cbuild.core.fs"

local M = {}

local Context = {}
Context.__index = Context

-- "a/../b", "/b", "./b/" -> "b"; the context root is ".".
local function normalize(rel)
  local c = dockerignore.clean("/" .. rel):sub(2)
  return c == "" and "." or c
end

local function join(dir, name)
  return dir == "." and name or (dir .. "/" .. name)
end

local function basename(rel)
  return rel:match "([^/]+)$" or rel
end

local function new_context(root, patterns)
  return setmetatable({
    root = root,
    patterns = patterns,
    ignore = dockerignore.new(patterns),
    cache = fs.hashcache(), -- host path -> digest by stat identity, in C (20,000 files: ~3 MB)
    trees = {}, -- relpath -> its walk, a C tree (the context does not change during a build)
    walks = {}, -- relpath -> the walk as Lua tables, made only when asked for
  }, Context)
end

--- Open the directory dir as a build context.  opts.dockerignore: path of the ignore file
--- (default <dir>/.dockerignore, absent is fine); opts.dockerignore_text: its text instead
--- (opts.dockerignore_name names it in messages).  Raises a user error when dir is unusable.
function M.open(dir, opts)
  opts = opts or {}
  local root, msg = fs.realpath(dir)
  if not root then
    errors.raise("unable to prepare context: %s", msg)
  end
  local st = fs.stat(root)
  if not st or st.type ~= "dir" then
    errors.raise("unable to prepare context: '%s' is not a directory", dir)
  end
  local text, name = opts.dockerignore_text, opts.dockerignore_name or ".dockerignore"
  if text == nil then
    local path = opts.dockerignore or (root .. "/.dockerignore")
    local data, emsg, code = fs.read_file(path)
    if data then
      text, name = data, basename(path)
    elseif opts.dockerignore or code ~= "ENOENT" then
      errors.raise("unable to read .dockerignore: %s", emsg)
    end
  end
  local patterns = text and dockerignore.parse(text, { file = name }) or {}
  return new_context(root, patterns)
end

--- A context from a tarball (docker build - < ctx.tar, or a path): path_or_stdin is a file
--- path or "-" for standard input; it may be plain or compressed (gzip, zstd, ...).  It is
--- extracted into a private temporary directory (opts.tmpdir, default /tmp) that ctx:close()
--- removes (also on garbage collection).  opts as for open; the default .dockerignore is the
--- one inside the archive.
function M.open_tar(path_or_stdin, opts)
  local archive = require "cbuild.core.archive"
  opts = opts or {}
  local base = (opts.tmpdir or "/tmp") .. "/cbuild-context-"
  local tmp, msg = fs.mkdtemp(base)
  if not tmp then
    errors.raise("unable to prepare context: %s", msg)
  end
  local ok, err = pcall(function()
    local src = path_or_stdin
    if src == "-" then
      src = tmp .. "/stdin.tar"
      local out = assert(io.open(src, "wb"))
      while true do
        local chunk = io.stdin:read(1 << 20)
        if chunk == nil then
          break
        end
        out:write(chunk)
      end
      out:close()
    end
    assert(fs.mkdir_p(tmp .. "/context", tonumber("755", 8)))
    local done, amsg = archive.apply(src, tmp .. "/context", { whiteouts = false })
    if not done then
      errors.raise("unable to prepare context: %s", amsg)
    end
    if src ~= path_or_stdin then
      fs.unlink(src)
    end
  end)
  if not ok then
    fs.rm_rf(tmp)
    error(err, 0)
  end
  local ctx = M.open(tmp .. "/context", opts)
  ctx.tmp = tmp
  return ctx
end

--- Remove what the context owns (the extracted tarball); safe to call twice.
function Context:close()
  if self.tmp then
    fs.rm_rf(self.tmp)
    self.tmp = nil
  end
end
Context.__close = Context.close
Context.__gc = Context.close

--- The host path of a context-relative path (no resolution: callers resolve first).
function Context:host(rel)
  rel = normalize(rel)
  return rel == "." and self.root or (self.root .. "/" .. rel)
end

-- Follow symlinks inside the root: returns the resolved relative path, or nil.
function Context:_resolve(rel)
  local host = fs.resolve_in_root(self.root, rel)
  if not host then
    return nil
  end
  if host == self.root then
    return "."
  end
  return host:sub(#self.root + 2)
end

-- Would a walk of the excluded directory rel find anything that is not ignored?
function Context:_has_visible_inside(rel)
  if not self.ignore:may_match_inside(rel) then
    return false
  end
  return self:tree(rel):count() > 1
end

-- One candidate path: an entry {rel=, name=, src=, type=, st=}, or nil and the pattern that
-- excluded it (nil when it does not exist at all).
function Context:_lookup(rel)
  if rel == "." then
    local st = fs.lstat(self.root)
    return { rel = ".", name = ".", src = ".", type = "dir", st = st }
  end
  local resolved = self:_resolve(rel)
  if resolved == nil then
    return nil
  end
  local st = fs.lstat(self:host(resolved))
  if not st then
    return nil
  end
  for _, r in ipairs(resolved == rel and { rel } or { rel, resolved }) do
    local ex, pat = self.ignore:matches(r)
    if ex and not (st.type == "dir" and self:_has_visible_inside(resolved)) then
      return nil, pat
    end
  end
  return { rel = resolved, name = basename(rel), src = rel, type = st.type, st = st }
end

-- Expand wildcards segment by segment (Go's filepath.Match per segment), in byte order.
function Context:_expand(rel, loc, instr, src)
  local cands = { "." }
  for seg in rel:gmatch "[^/]+" do
    local nextc = {}
    for _, c in ipairs(cands) do
      if dockerignore.has_wildcards(seg) then
        local dir = self:_resolve(c)
        local names = dir and fs.readdir(self:host(dir))
        for _, n in ipairs(names or {}) do
          local ok, msg = dockerignore.match(seg, n)
          if ok == nil then
            errors.raise_at(loc, '%s: invalid source pattern "%s": %s', instr, src, msg)
          end
          if ok then
            nextc[#nextc + 1] = join(c, n)
          end
        end
      else
        nextc[#nextc + 1] = join(c, (seg:gsub("\\(.)", "%1")))
      end
    end
    cands = nextc
  end
  return cands
end

--- The entries one COPY/ADD source names: a list of {rel=, name=, src=, type=, st=} where rel
--- is the path inside the context after symlinks, name the last component as written.
--- Raises errors.raise_at(loc, '<INSTR>: "<src>" not found in build context[: excluded by
--- FILE:LINE ("PATTERN")]') when nothing visible matches.  instr defaults to "COPY".
function Context:select(src, loc, instr)
  instr = instr or "COPY"
  local rel = normalize(src)
  local cands
  if dockerignore.has_wildcards(rel) then
    cands = self:_expand(rel, loc, instr, src)
  else
    cands = { rel }
  end
  local found, excluded_by = {}, nil
  for _, c in ipairs(cands) do
    local e, pat = self:_lookup(c)
    if e then
      found[#found + 1] = e
    elseif pat and not excluded_by then
      excluded_by = pat
    end
  end
  if #found == 0 then
    if excluded_by then
      errors.raise_at(loc, '%s: "%s" not found in build context: excluded by %s:%d ("%s")', instr, src,
        excluded_by.file or ".dockerignore", excluded_by.line or 0, excluded_by.pattern)
    end
    errors.raise_at(loc, '%s: "%s" not found in build context', instr, src)
  end
  return found
end

-- The ignore decisions of a walk below rel, for fs.walk: asked per entry only where the
-- patterns can tell entries apart (nil when there are none), so a tree that no pattern reaches
-- below its top costs one call per top-level entry.
local function walk_filter(ignore, rel)
  if #ignore.patterns == 0 then
    return nil
  end
  local infos = {} -- walk-relative dir -> matches_walk's info for its children
  return function(r, is_dir)
    local path = join(rel, r)
    local parent = r:match "^(.*)/[^/]*$"
    local ex, _, info = ignore:matches_walk(path, parent and infos[parent])
    if not ex then
      if not is_dir then
        return "keep"
      elseif not ignore:may_match_below(path) then
        return "all"
      end
      infos[r] = info
      return "keep"
    elseif is_dir and ignore:may_match_inside(path) then
      infos[r] = info -- an excluded directory that holds exceptions: present as their parent
      return "look"
    end
    return "skip"
  end
end

--- The walk of relpath as a C tree (fs.walk): everything under it that is not ignored,
--- memoized for the build.
function Context:tree(relpath)
  local rel = normalize(relpath or ".")
  local t = self.trees[rel]
  if t == nil then
    local msg
    t, msg = fs.walk(self:host(rel), walk_filter(self.ignore, rel))
    if not t then
      errors.raise("build context: %s", msg)
    end
    self.trees[rel] = t
  end
  return t
end

--- What RUN --mount=type=bind of relpath (resolved already) shows, as BuildKit mounts the
--- context after .dockerignore: relpath's host path itself where no pattern can leave anything
--- out (no patterns: the common, fast case); else a new directory made with fs.mkdtemp(prefix)
--- that holds only the entries a COPY would see, as hard links (their bytes are the context's:
--- for a read-only mount) or, with opts.writable, as copies that the step may change.  Returns
--- the path to bind and that directory (for the caller to remove), or nil when relpath itself
--- is ignored.
function Context:view(relpath, prefix, opts)
  local rel = normalize(relpath)
  local host = self:host(rel)
  local ignored = rel ~= "." and self.ignore:matches(rel)
  local st = fs.lstat(host)
  if #self.ignore.patterns == 0 or not st or st.type ~= "dir" then
    return not ignored and host or nil
  end
  if rel ~= "." and not ignored and not self.ignore:may_match_below(rel) then
    return host -- (may_match_below answers for what lies deeper than the root's own entries)
  end
  local items = self:tree(rel):items "."
  if ignored and #items <= 1 then
    return nil
  end
  local dir = errors.need("bind the build context", fs.mkdtemp(prefix))
  local writable = opts and opts.writable
  local dirs = {}
  local ok, err = pcall(function()
    for _, e in ipairs(items) do
      local src, dst = host .. "/" .. e.rel, dir .. "/" .. e.rel
      if e.rel == "." then
        dirs[#dirs + 1] = e
      elseif e.type == "dir" then
        errors.need("bind the build context", fs.mkdir_p(dst, 448))
        dirs[#dirs + 1] = e
      elseif e.type == "file" then
        if writable or not fs.link(src, dst) then -- another filesystem: a copy
          errors.need("bind the build context", fs.copy_file(src, dst, { mode = e.mode }))
          fs.chown(dst, e.uid, e.gid)
        end
      elseif e.type == "symlink" then
        errors.need("bind the build context", fs.symlink(e.target, dst))
      elseif e.type == "fifo" then
        fs.mkfifo(dst, e.mode)
      end
    end
    for i = #dirs, 1, -1 do -- modes, owners and times last: a 0555 directory was filled first
      local e = dirs[i]
      local dst = e.rel == "." and dir or (dir .. "/" .. e.rel)
      fs.chmod(dst, e.mode)
      fs.chown(dst, e.uid, e.gid)
      fs.utimes(dst, e.mtime, e.mtime_ns, e.mtime, e.mtime_ns)
    end
  end)
  if not ok then
    fs.rm_rf(dir)
    error(err, 0)
  end
  return dir, dir
end

--- Everything under relpath that is not ignored, relpath itself first: a list of {rel=,
--- type=, st=} (st with lstat's fields) in byte order of the path, so directories come
--- before their contents.  Symlinks are entries, never followed.
function Context:walk(relpath)
  local rel = normalize(relpath or ".")
  local memo = self.walks[rel]
  if memo == nil then
    memo = self:tree(rel):items(rel)
    self.walks[rel] = memo
  end
  return memo
end

-- The content digest of a regular file, memoized by its stat identity.
function Context:_file_digest(host, st)
  local d, msg = self.cache:file(host, st)
  if not d then
    errors.raise("build context: %s", msg)
  end
  return d
end

--- A content hash ("sha256:<hex>") of relpath.  A regular file hashes to the digest of its
--- bytes; a symlink to that of "symlink\0<target>"; a directory to a digest over every
--- visible entry below it: name, type, permission bits, uid/gid as they will be written
--- (opts.uid/opts.gid, default 0), symlink target, device numbers and file digests (see
--- cb_tree_digest).  Never covers mtimes, owners on disk or inode numbers.
function Context:hash(relpath, opts)
  local rel = normalize(relpath or ".")
  local uid, gid = (opts and opts.uid) or 0, (opts and opts.gid) or 0
  local host = self:host(rel)
  local st, msg = fs.lstat(host)
  if not st then
    errors.raise("build context: %s", msg)
  end
  if st.type == "file" then
    return self:_file_digest(host, st)
  elseif st.type == "symlink" then
    return digest.sha256("symlink\0" .. st.target)
  end
  local d, dmsg = self:tree(rel):digest(self.cache, uid, gid)
  if not d then
    errors.raise("build context: %s", dmsg)
  end
  return d
end

--- Merge the memoized file digests saved at path (absent is fine).  Returns true, or nil,
--- msg, code when the file exists but cannot be read.
function Context:load_cache(path)
  return self.cache:load(path)
end

--- Write the memoized digests to path (atomically, mode 0600), creating its directory.
--- Entries from earlier builds are kept up to a bound; racy ones are never written.  Nothing
--- is written when no digest changed since load_cache; a few new ones are appended.  Returns
--- true or nil, msg, code.
function Context:save_cache(path)
  return self.cache:save(path)
end

return M
