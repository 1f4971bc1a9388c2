-- Named volumes, as docker's "local" driver keeps them: <root>/volumes/<name>/_data holds the
-- files (bind-mounted into containers), <root>/volumes/<name>/volume.json what `volume
-- inspect` shows.  Anonymous volumes (an image's VOLUME paths no -v covers) are the same with a
-- random name and the com.docker.volume.anonymous label.
local fs = require "cbuild.core.fs"
local json = require "cbuild.core.json"
local errors = require "cbuild.errors"
local state = require "cbuild.container.state"

local M = {}

M.ANONYMOUS = "com.docker.volume.anonymous"

local function base(imgs)
  return imgs.root .. "/volumes"
end

--- docker's rule for volume names (two characters at least).
function M.valid_name(name)
  return name:match "^[a-zA-Z0-9][a-zA-Z0-9_.-]+$" ~= nil
end

--- The volume's record, or nil.
function M.get(imgs, name)
  if not M.valid_name(name) then
    return nil
  end
  local text = fs.read_file(base(imgs) .. "/" .. name .. "/volume.json")
  local ok, v = pcall(json.decode, text or "")
  return ok and type(v) == "table" and v or nil
end

--- Create volume name (nil: an anonymous one) with labels and driver options; an existing
--- volume of that name is returned as it is (docker's create is idempotent).
function M.create(imgs, name, labels, options)
  local anonymous = name == nil
  if anonymous then
    name = require("cbuild.core.digest").sha256(state.new_id() .. tostring(os.time())):sub(8)
  elseif not M.valid_name(name) then
    errors.raise("create %s: \"%s\" includes invalid characters for a local volume name, only "
      .. "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed", name, name)
  end
  local existing = M.get(imgs, name)
  if existing then
    return existing
  end
  local dir = base(imgs) .. "/" .. name
  errors.need("create volume " .. name, fs.mkdir_p(dir .. "/_data"))
  local l = json.object {}
  for k, v in pairs(labels or {}) do
    l[k] = v
  end
  if anonymous then
    l[M.ANONYMOUS] = ""
  end
  local o = json.object {}
  for k, v in pairs(options or {}) do
    o[k] = v
  end
  local v = { CreatedAt = os.date("!%Y-%m-%dT%H:%M:%SZ"), Driver = "local", Labels = l,
    Mountpoint = dir .. "/_data", Name = name, Options = o, Scope = "local" }
  errors.need("create volume " .. name, fs.write_file(dir .. "/volume.json", json.encode(v)))
  return v
end

--- Every volume, sorted by name.
function M.list(imgs)
  local out = {}
  local names = fs.readdir(base(imgs)) or {}
  table.sort(names)
  for _, n in ipairs(names) do
    local v = M.get(imgs, n)
    if v then
      out[#out + 1] = v
    end
  end
  return out
end

--- The IDs of containers (any state) whose mounts use volume name.
function M.users(imgs, name)
  local ids = {}
  for _, c in ipairs(state.list(imgs)) do
    for _, m in ipairs(c.Mounts or {}) do
      if m.Type == "volume" and m.Name == name then
        ids[#ids + 1] = c.Id
        break
      end
    end
  end
  return ids
end

--- Remove volume name; refuses one a container uses (unless force, which docker also refuses).
function M.remove(imgs, name, force)
  local v = M.get(imgs, name)
  if not v then
    if force then
      return
    end
    errors.raise("get %s: no such volume", name)
  end
  local users = M.users(imgs, name)
  if #users > 0 then
    errors.raise("remove %s: volume is in use - [%s]", name, table.concat(users, ", "))
  end
  errors.need("remove volume " .. name, fs.rm_rf(base(imgs) .. "/" .. name))
end

--- Before a container's first start with volume mount m: an empty volume takes a copy of
--- what the image has at the mount path (owner and mode of the directory too), as docker's
--- copy-up, unless the mount says nocopy.  rootfs: the container's mounted rootfs.
function M.fill(imgs, m, rootfs)
  if m.NoCopy or #(fs.readdir(m.Source) or { "?" }) > 0 then
    return
  end
  local src = fs.resolve_in_root(rootfs, m.Destination)
  local st = src and fs.stat(src)
  if not st or st.type ~= "dir" then
    return
  end
  fs.chmod(m.Source, st.mode)
  fs.chown(m.Source, st.uid, st.gid)
  if #(fs.readdir(src) or {}) == 0 then
    return
  end
  local files = require "cbuild.container.files"
  local archive = require "cbuild.core.archive"
  local tmp, _ <close> = files.scratch(imgs, "volume")
  local w = errors.need("copy into volume " .. m.Name, archive.writer(tmp .. "/copy.tar", {}))
  files.add_tree(w, src, "", { keep_owner = true })
  errors.need("copy into volume " .. m.Name, w:close())
  files.unpack(tmp .. "/copy.tar", m.Source)
end

--- Remove the anonymous volumes container c mounted (rm -v, --rm) that nothing else uses.
function M.remove_anonymous(imgs, c)
  for _, m in ipairs(c.Mounts or {}) do
    local v = m.Type == "volume" and M.get(imgs, m.Name or "")
    if v and M.anonymous(v) and #M.users(imgs, v.Name) == 0 then
      M.remove(imgs, v.Name)
    end
  end
end

--- True for an anonymous volume.
function M.anonymous(v)
  return (v.Labels or {})[M.ANONYMOUS] ~= nil
end

return M
