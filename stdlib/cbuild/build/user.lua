-- USER resolution as docker does it (moby/sys/user GetExecUser): "name", "uid", "name:group",
-- "uid:gid", looked up in the image's own /etc/passwd and /etc/group (resolved inside the
-- rootfs, so an image's symlinked /etc/passwd cannot make us read the host's), with
-- supplementary groups and HOME.
local fs = require "cbuild.core.fs"

local M = {}

local function read_db(rootfs, path)
  if rootfs == nil then -- an empty image (scratch): no databases
    return {}
  end
  local host = fs.resolve_in_root(rootfs, path)
  if not host then
    return {}
  end
  local text = fs.read_file(host)
  if not text then
    return {}
  end
  local rows = {}
  for line in text:gmatch "[^\n]+" do
    if not line:match "^%s*#" then
      local f = {}
      for field in (line .. ":"):gmatch "([^:]*):" do
        f[#f + 1] = field
      end
      rows[#rows + 1] = f
    end
  end
  return rows
end

local function int(s)
  return s and s:match "^%d+$" and math.tointeger(tonumber(s)) or nil
end

--- Resolve spec (the image's User, "" = root) inside rootfs (nil for an empty image), with
--- extra ({name or gid, ...}, run's --group-add) among the supplementary groups.
--- Returns {uid, gid, groups = {...}, home} or nil, msg (docker's wording).
function M.resolve(rootfs, spec, extra)
  spec = spec or ""
  local uname, gname = spec:match "^([^:]*):?(.*)$"
  local passwd = read_db(rootfs, "/etc/passwd")
  local group = read_db(rootfs, "/etc/group")
  local u = { uid = 0, gid = 0, home = "/", groups = {} }
  local name = "root"

  if uname == "" then
    uname = "0"
  end
  local found
  for _, row in ipairs(passwd) do
    if row[1] == uname or (int(uname) and int(row[3]) == int(uname)) then
      found = row
      break
    end
  end
  if found then
    u.uid, u.gid, name = int(found[3]) or 0, int(found[4]) or 0, found[1]
    u.home = found[6] ~= "" and found[6] or "/"
  elseif int(uname) then
    u.uid = int(uname)
  else
    return nil, string.format("unable to find user %s: no matching entries in passwd file", uname)
  end

  if gname ~= "" then
    local g
    for _, row in ipairs(group) do
      if row[1] == gname or (int(gname) and int(row[3]) == int(gname)) then
        g = row
        break
      end
    end
    if g then
      u.gid = int(g[3]) or 0
    elseif int(gname) then
      u.gid = int(gname)
    else
      return nil, string.format("unable to find group %s: no matching entries in group file", gname)
    end
  else
    -- supplementary groups only when no group was named (docker's rule)
    for _, row in ipairs(group) do
      for member in (row[4] or ""):gmatch "[^,]+" do
        if member == name and int(row[3]) then
          u.groups[#u.groups + 1] = int(row[3])
        end
      end
    end
  end
  for _, want in ipairs(extra or {}) do
    local gid = int(want)
    for _, row in ipairs(gid and {} or group) do
      if row[1] == want then
        gid = int(row[3])
        break
      end
    end
    if not gid then
      return nil, string.format("Unable to find group %s: no matching entries in group file", want)
    end
    local seen = false
    for _, g in ipairs(u.groups) do
      seen = seen or g == gid
    end
    if not seen then
      u.groups[#u.groups + 1] = gid
    end
  end
  return u
end

return M
