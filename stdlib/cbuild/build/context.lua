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
local sys = require "cbuild.core.sys"

local format = string.format

local M = {}

local Context = {}
Context.__index = Context

local CACHE_MAGIC = "cbuild-context-hashes 1"
local CACHE_MAX = 200000 -- entries kept across builds before untouched ones are dropped

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
    -- host path -> "<digest> <size> <mtime> <mtime_ns> <ctime> <ctime_ns> <ino>": one string
    -- per file rather than a table keeps 20,000 entries in about 3 MB
    cache = {},
    touched = {}, -- host path -> true for the entries used by this build
    racy = {}, -- host path -> true for digests used now but never saved
    walks = {}, -- relpath -> its walk (the context does not change during a build)
    dirty = false, -- cache differs from what load_cache read
    changed = {}, -- hosts whose digest was computed by this build, in order
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
  local items = {}
  return self:_walk_dir(rel, items, true) > 0
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

-- A walk entry {rel=, type=, st=} in one table: the fields of lstat a copy or a hash needs,
-- with st pointing back at the entry itself.  Half the memory of the entry plus lstat's
-- table, which matters at 20,000 files.
local function entry(r, st)
  local t = st.type
  local dev = t == "char" or t == "block"
  local e = { rel = r, type = t, mode = st.mode, size = st.size, mtime = st.mtime, mtime_ns = st.mtime_ns,
    ctime = st.ctime, ctime_ns = st.ctime_ns, ino = st.ino, uid = st.uid, gid = st.gid, target = st.target,
    rdevmajor = dev and st.rdevmajor or nil, rdevminor = dev and st.rdevminor or nil }
  e.st = e
  return e
end

-- Append the visible entries below directory rel to items (unsorted); returns their count.
-- With first_only, stops at the first visible entry.
function Context:_walk_dir(rel, items, first_only, pinfo)
  local names, msg = fs.readdir(self:host(rel))
  if not names then
    errors.raise("build context: %s", msg)
  end
  local ignore = self.ignore
  local filtering = #ignore.patterns > 0
  local count = 0
  for _, name in ipairs(names) do
    local r = join(rel, name)
    local st = fs.lstat(self.root .. "/" .. r)
    if st then
      local ex, info = false, nil
      if filtering then
        ex, _, info = ignore:matches_walk(r, pinfo)
      end
      if not ex then
        items[#items + 1] = entry(r, st)
        count = count + 1
        if first_only then
          return count
        end
        if st.type == "dir" then
          self:_walk_dir(r, items, false, info)
        end
      elseif st.type == "dir" and ignore:may_match_inside(r) then
        -- an excluded directory that holds exceptions: present only as their parent
        local mark = #items + 1
        items[mark] = entry(r, st)
        if self:_walk_dir(r, items, first_only, info) > 0 then
          count = count + 1
          if first_only then
            return count
          end
        else
          items[mark] = nil
        end
      end
    end
  end
  return count
end

--- Everything under relpath that is not ignored, relpath itself first: a list of {rel=,
--- type=, st=} (st as fs.lstat gives it) in byte order of the path, so directories come
--- before their contents.  Symlinks are entries, never followed.
function Context:walk(relpath)
  local rel = normalize(relpath or ".")
  local memo = self.walks[rel]
  if memo then
    return memo
  end
  local st, msg = fs.lstat(self:host(rel))
  if not st then
    errors.raise("build context: %s", msg)
  end
  local out = { { rel = rel, type = st.type, st = st } }
  if st.type == "dir" then
    local items = {}
    self:_walk_dir(rel, items)
    table.sort(items, function(a, b)
      return a.rel < b.rel
    end)
    table.move(items, 1, #items, 2, out)
  end
  self.walks[rel] = out
  return out
end

-- The content digest of a regular file, memoized by its stat identity.
local DIGEST_LEN = #"sha256:" + 64

function Context:_file_digest(host, st)
  local rec = self.cache[host]
  local ident = format("%d %d %d %d %d %d", st.size, st.mtime, st.mtime_ns, st.ctime, st.ctime_ns, st.ino)
  self.touched[host] = true
  if rec and rec:sub(DIGEST_LEN + 2) == ident then
    return rec:sub(1, DIGEST_LEN)
  end
  local d, size = digest.file(host)
  if not d then
    errors.raise("build context: %s", size)
  end
  -- A file changed within the timestamp granularity of its last change could change again
  -- with the same stat ("racily clean" in git): use the digest now, never persist it.
  local now = self.now or sys.time()
  self.now = now
  self.racy[host] = (st.mtime + 2 >= now or st.ctime + 2 >= now) or nil
  self.cache[host] = d .. " " .. ident
  self.changed[#self.changed + 1] = host
  self.dirty = true
  return d
end

--- A content hash ("sha256:<hex>") of relpath.  A regular file hashes to the digest of its
--- bytes; a symlink to that of "symlink\0<target>"; a directory to a digest over every
--- visible entry below it: name, type, permission bits, uid/gid as they will be written
--- (opts.uid/opts.gid, default 0), symlink target, device numbers and file digests.  Never
--- covers mtimes, owners on disk or inode numbers.
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
  local h <close> = digest.new()
  local skip = rel == "." and 0 or #rel + 1
  for _, item in ipairs(self:walk(rel)) do
    local s = item.st
    local name = item.rel == rel and "." or item.rel:sub(skip + 1)
    local extra = ""
    if item.type == "file" then
      extra = self:_file_digest(self.root .. "/" .. item.rel, s)
    elseif item.type == "symlink" then
      extra = s.target
    elseif item.type == "char" or item.type == "block" then
      extra = s.rdevmajor .. "," .. s.rdevminor
    end
    h:update(string.pack(">s4s4I4I4I4s4", name, item.type, s.mode, uid, gid, extra))
  end
  return (h:final())
end

local function escape(path)
  if not path:find("[%%\n]") then
    return path
  end
  return (path:gsub("[%%\n]", { ["%"] = "%25", ["\n"] = "%0A" }))
end

local function unescape(path)
  return (path:gsub("%%(%x%x)", function(x)
    return string.char(tonumber(x, 16))
  end))
end

--- Merge the memoized file digests saved at path (absent is fine).  Returns true, or nil,
--- msg, code when the file exists but cannot be read.
function Context:load_cache(path)
  local data, msg, code = fs.read_file(path)
  if not data then
    if code == "ENOENT" then
      return true
    end
    return nil, msg, code
  end
  if data:sub(1, #CACHE_MAGIC + 1) ~= CACHE_MAGIC .. "\n" then
    return true -- another format: start afresh
  end
  local cache, mine = self.cache, {}
  local lines, unique = 0, 0
  -- a line: <digest> <size> <mtime> <mtime_ns> <ctime> <ctime_ns> <ino> <escaped path>; later
  -- lines (appended by later builds) override earlier ones, digests already known win
  for rec, p in data:gmatch "\n(sha256:%x+ %d+ %-?%d+ %d+ %-?%d+ %d+ %d+) ([^\n]+)" do
    local host = p:find("%", 1, true) and unescape(p) or p
    lines = lines + 1
    local had = cache[host]
    if had == nil then
      unique = unique + 1
      mine[host] = true
      cache[host] = rec
    elseif mine[host] then
      cache[host] = rec
    end
  end
  self.loaded = { path = path, lines = lines, unique = unique }
  return true
end

-- Append the digests this build computed to the file load_cache read, when that keeps it
-- small enough: a rebuild after one file changed writes one line, not 20,000.  A torn append
-- (a crash) only loses its own lines: each append starts on a fresh line.
function Context:_append_cache(path)
  local loaded = self.loaded
  if not loaded or loaded.path ~= path or loaded.unique > CACHE_MAX then
    return false
  end
  local out = {}
  for _, host in ipairs(self.changed) do
    if not self.racy[host] then
      out[#out + 1] = self.cache[host] .. " " .. escape(host)
    end
  end
  local dups = loaded.lines + #out - loaded.unique
  if dups > loaded.unique // 4 then
    return false -- mostly superseded lines: rewrite it compact
  end
  if #out > 0 then
    local f = io.open(path, "ab")
    if not f then
      return false
    end
    local ok = f:write("\n", table.concat(out, "\n"), "\n")
    if not f:close() or not ok then
      return false
    end
  end
  loaded.lines = loaded.lines + #out
  self.changed = {}
  return true
end

--- Write the memoized digests to path (atomically, mode 0600), creating its directory.
--- Entries from earlier builds are kept up to a bound; racy ones are never written.  Nothing
--- is written when no digest changed since load_cache.  Returns true or nil, msg, code.
function Context:save_cache(path)
  if not self.dirty and fs.exists(path) then
    return true
  end
  if self:_append_cache(path) then
    self.dirty = false
    return true
  end
  local n = 0
  for _ in pairs(self.cache) do
    n = n + 1
  end
  local keep_all = n <= CACHE_MAX
  local hosts = {}
  for host in pairs(self.cache) do
    if not self.racy[host] and (keep_all or self.touched[host]) then
      hosts[#hosts + 1] = host
    end
  end
  table.sort(hosts)
  local lines = { CACHE_MAGIC }
  for i, host in ipairs(hosts) do
    lines[i + 1] = self.cache[host] .. " " .. escape(host)
  end
  local dir = path:match "^(.*)/[^/]*$"
  if dir and dir ~= "" then
    local ok, msg, code = fs.mkdir_p(dir, tonumber("700", 8))
    if not ok then
      return nil, msg, code
    end
  end
  local ok, msg, code = fs.write_file(path, table.concat(lines, "\n") .. "\n", { mode = tonumber("600", 8) })
  if ok then
    self.dirty = false
    self.changed = {}
    self.loaded = { path = path, lines = #hosts, unique = #hosts }
  end
  return ok, msg, code
end

return M
