-- cbuild cp CONTAINER:SRC DEST | SRC CONTAINER:DEST: copy files between a container (running or
-- not) and the host, with docker cp's rules for what lands where; "-" is a tar stream on
-- stdin/stdout.  Everything travels as a tar: written from the source tree, unpacked inside
-- the destination directory (never outside it; container paths resolve inside its rootfs).
local archive = require "cbuild.core.archive"
local fs = require "cbuild.core.fs"
local errors = require "cbuild.errors"
local files = require "cbuild.container.files"
local state = require "cbuild.container.state"

local M = { summary = "Copy files/folders between a container and the local filesystem" }

function M.setup(cmd)
  cmd:flag("-a --archive", "Archive mode (copy all uid/gid information).")
  cmd:flag("-L --follow-link", "Always follow symbol link in SRC_PATH.")
  cmd:flag("-q --quiet", "Suppress progress output during copy (there is none).")
  cmd:argument("src", "CONTAINER:SRC_PATH, a local path, or - (a tar on STDIN).")
  cmd:argument("dest", "CONTAINER:DEST_PATH, a local path, or - (a tar on STDOUT).")
end

-- "name:path" names a container's path (docker: a local path with a colon is written ./a:b).
local function split(arg)
  local c, p = arg:match "^([^/.:][^:/]*):(.*)$"
  if c then
    return c, p ~= "" and p or "/"
  end
  return nil, arg
end

local function basename(p)
  return p:match "([^/]+)/*$" or p
end

-- What the source contributes, as docker cp reads SRC_PATH: the tree to write, and the name
-- it takes in the destination ("" for SRC/. : its contents).
local function source(host, path)
  local st = errors.need("lstat " .. path, fs.lstat(host))
  local contents = path:match "/%.$" ~= nil
  return { host = host, st = st, name = contents and "" or basename(path) }
end

-- Where it lands: {dir = host dir to unpack into, rename = name for a single entry or nil}.
-- dest_host: the destination's host path (may not exist); dest: as the user wrote it.
local function destination(src, dest_host, dest)
  local st = fs.stat(dest_host)
  local trailing = dest:match "/$" ~= nil
  if src.st.type ~= "dir" or src.name == "" then
    if st and st.type == "dir" then
      return { dir = dest_host } -- into the directory, under the source's name
    end
    if src.st.type == "dir" then -- SRC/. into a missing DEST: DEST is made
      return { dir = dest_host }
    end
    if trailing then
      errors.raise("destination directory %s must exist", dest)
    end
    return { dir = dest_host:match "^(.*)/[^/]*$" or ".", rename = basename(dest_host) }
  end
  if st and st.type ~= "dir" then
    errors.raise("cannot copy a directory to a file: %s", dest)
  end
  if st then
    return { dir = dest_host }
  end
  return { dir = dest_host:match "^(.*)/[^/]*$" or ".", rename = basename(dest_host) }
end

-- Write src as a tar to path (or "-"), its top entry renamed when rename is given.
local function write_tar(src, path, rename, keep_owner)
  local w = errors.need("write " .. path, archive.writer(path, {}))
  files.add_tree(w, src.host, rename or src.name, { keep_owner = keep_owner })
  errors.need("write " .. path, w:close())
end

-- src to where destination() says, through a tar in the scratch dir tmp.
local function copy(src, where, keep_owner, tmp)
  write_tar(src, tmp .. "/cp.tar", where.rename, keep_owner)
  files.unpack(tmp .. "/cp.tar", where.dir)
end

local function from_container(imgs, c, path, dest, args)
  local tmp, _ <close> = files.scratch(imgs, "cp")
  files.with_rootfs(imgs, c, function(rootfs)
    local host = files.resolve(rootfs, path, args.follow_link)
    if not host or not fs.lstat(host) then
      errors.raise("No such container:path: %s", args.src)
    end
    local src = source(host, path)
    if dest == "-" then
      write_tar(src, "-", nil, true)
      return
    end
    copy(src, destination(src, dest, dest), args.archive, tmp)
  end)
end

local function into_container(imgs, c, src_arg, path, args)
  local tmp, _ <close> = files.scratch(imgs, "cp")
  files.with_rootfs(imgs, c, function(rootfs)
    if src_arg == "-" then -- a tar on stdin, unpacked into the directory path
      local dir = errors.need(path, fs.resolve_in_root(rootfs, path))
      local f <close> = assert(io.open(tmp .. "/in.tar", "wb"))
      while true do
        local chunk = io.stdin:read(1 << 20)
        if not chunk then
          break
        end
        f:write(chunk)
      end
      f:close()
      files.unpack(tmp .. "/in.tar", dir)
      return
    end
    local host = args.follow_link and fs.realpath(src_arg) or src_arg
    local src = source(host, src_arg)
    local dest_host = errors.need(path, fs.resolve_in_root(rootfs, path, { missing_ok = true }))
    copy(src, destination(src, dest_host, path), args.archive, tmp)
  end)
end

function M.run(args, ctx)
  local sc, sp = split(args.src)
  local dc, dp = split(args.dest)
  if (sc and dc) or (not sc and not dc) then
    errors.raise "copying between containers is not supported; one side must be CONTAINER:PATH"
  end
  local imgs = ctx:store()
  if sc then
    return from_container(imgs, state.must_lookup(imgs, sc), sp, dp, args) or 0
  end
  return into_container(imgs, state.must_lookup(imgs, dc), sp, dp, args) or 0
end

return M
