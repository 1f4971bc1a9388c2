-- Container records: <root>/containers/<id>/state.json, a docker-shaped container object (what
-- `inspect` prints) plus a private "Cbuild" part (image layers, the monitor's pid, stubs, cgroup).
-- Every write is an atomic replace (write, rename) under the store lock, without fsync: a record
-- describes processes that a crash ends anyway, and the rule below reads a running record whose
-- supervisor is gone as exited, so a lost last write shows what the next command would make of it.
--
-- The rule for dead supervisors: a running container is owned by one live process, its monitor
-- (-d) or the foreground cbuild, whose pid and start time the record keeps.  When that process
-- is gone (kill -9, a reboot) the container's init went with it (it gets SIGKILL when its parent
-- dies), and the record reads as exited with code 255 from then on (ps -a, inspect, wait).  What
-- the dead process left (the cgroup, the rootfs mount) is cleaned by runtime.reap: `rm`,
-- `system prune` and the next `run` do it.
--
-- Engine module: failures raise cbuild.errors.
local fs = require "cbuild.core.fs"
local json = require "cbuild.core.json"
local sys = require "cbuild.core.sys"
local errors = require "cbuild.errors"
local imgconfig = require "cbuild.image.config"
local names = require "cbuild.container.names"

local M = {}

M.ZERO_TIME = "0001-01-01T00:00:00Z"

local made = {} -- containers/ dirs this process made sure of

--- containers/ under the store root (created).
function M.base(imgs)
  local dir = imgs.root .. "/containers"
  if not made[dir] then
    errors.need("create '" .. dir .. "'", fs.mkdir_p(dir, tonumber("711", 8)))
    made[dir] = true
  end
  return dir
end

function M.dir(imgs, id)
  return M.base(imgs) .. "/" .. id
end

--- RFC 3339 with nanoseconds, UTC, as docker writes its times.
function M.now()
  local sec, nsec = sys.clock_gettime()
  return imgconfig.timestamp(sec, nsec)
end

--- A new 64-hex id: 32 random bytes in hex, as docker's are (no hash: the first SHA-256 of a
--- process costs a millisecond of OpenSSL set-up that a run may otherwise not need).
function M.new_id()
  local f = assert(io.open("/dev/urandom", "rb"))
  local bytes = f:read(32)
  f:close()
  return (bytes:gsub(".", function(b)
    return string.format("%02x", b:byte())
  end))
end

-- The start time of pid (clock ticks since boot, /proc/<pid>/stat field 22), or nil when it
-- is gone or a zombie (dead, its parent not reaping it: an init that never waits).
function M.starttime(pid)
  local text = pid and fs.read_file("/proc/" .. pid .. "/stat")
  if not text then
    return nil
  end
  local rest = text:match "%) (.*)$"
  if not rest or rest:match "^[ZX]" then
    return nil
  end
  local i = 0
  for field in (rest or ""):gmatch "%S+" do
    i = i + 1
    if i == 20 then -- field 22 counted from after "pid (comm)"
      return field
    end
  end
  return nil
end

--- True when the process that supervises c (foreground cbuild or monitor) still runs.
function M.monitor_alive(c)
  local cb = c.Cbuild or {}
  if not cb.monitor_pid then
    return false
  end
  local st = M.starttime(cb.monitor_pid)
  return st ~= nil and st == cb.monitor_start
end

-- A running record whose monitor is gone is stale: it reads as exited (docker shows 255 for a
-- container whose daemon died under it).
local function refresh(c)
  if (c.State.Running or c.State.Restarting) and not M.monitor_alive(c) then
    c.State.Running = false
    c.State.Restarting = false
    c.State.Status = "exited"
    c.State.Pid = 0
    if c.State.ExitCode == 0 then
      c.State.ExitCode = 255
    end
    c.State.Error = "container monitor is gone"
    if c.State.FinishedAt == M.ZERO_TIME then
      c.State.FinishedAt = c.State.StartedAt
    end
    c.stale = true
  end
  return c
end

local function read(imgs, id)
  local text = fs.read_file(M.dir(imgs, id) .. "/state.json")
  if not text then
    return nil
  end
  local c = json.decode(text)
  if type(c) ~= "table" or type(c.State) ~= "table" then
    return nil
  end
  return refresh(c)
end

--- The record of id (full), or nil.
function M.load(imgs, id)
  return read(imgs, id)
end

local function write(imgs, c)
  local copy = {}
  for k, v in pairs(c) do
    if k ~= "stale" then
      copy[k] = v
    end
  end
  local path = M.dir(imgs, c.Id) .. "/state.json"
  errors.need("write container state", fs.write_file(path .. ".tmp", json.encode(copy, { indent = 2 }),
    { mode = tonumber("600", 8), atomic = false }))
  errors.need("write container state", fs.rename(path .. ".tmp", path))
end

--- Write a new or whole record (under the lock).
function M.save(imgs, c)
  errors.need("lock the store", imgs.blobs:locked(function()
    write(imgs, c)
    return true
  end))
  return c
end

--- Read id, apply fn(c) under the lock and write it back; returns c (nil when gone).
function M.update(imgs, id, fn)
  local c
  errors.need("lock the store", imgs.blobs:locked(function()
    c = read(imgs, id)
    if c then
      fn(c)
      write(imgs, c)
    end
    return true
  end))
  return c
end

--- Every record, newest first.
function M.list(imgs)
  local out = {}
  for _, id in ipairs(fs.readdir(M.base(imgs)) or {}) do
    local c = id:match "^%x+$" and #id == 64 and read(imgs, id)
    if c then
      out[#out + 1] = c
    end
  end
  table.sort(out, function(a, b)
    return a.Created > b.Created
  end)
  return out
end

--- Find a container by full id, name (with or without "/") or unique id prefix.
--- Returns the record or nil, "No such container: X".
function M.lookup(imgs, ref)
  local all = M.list(imgs)
  local want = ref:gsub("^/", "")
  for _, c in ipairs(all) do
    if c.Id == ref or c.Name == "/" .. want then
      return c
    end
  end
  if ref:match "^%x+$" then
    local found
    for _, c in ipairs(all) do
      if c.Id:sub(1, #ref) == ref then
        if found then
          return nil, "multiple containers found with provided prefix: " .. ref
        end
        found = c
      end
    end
    if found then
      return found
    end
  end
  return nil, "No such container: " .. ref
end

--- Like lookup, but raises a user error.
function M.must_lookup(imgs, ref)
  local c, err = M.lookup(imgs, ref)
  if not c then
    errors.raise("%s", err)
  end
  return c
end

--- A name for a new container: given (checked for clashes) or generated.  existing: the
--- records to check against (default: every record, read now).
function M.pick_name(imgs, wanted, existing)
  local taken = {}
  for _, c in ipairs(existing or M.list(imgs)) do
    taken[c.Name] = c.Id
  end
  if wanted then
    if not wanted:match "^/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$" then
      errors.raise("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", wanted)
    end
    wanted = wanted:gsub("^/", "")
    if taken["/" .. wanted] then
      errors.raise('Conflict. The container name "/%s" is already in use by container "%s". '
        .. "You have to remove (or rename) that container to be able to reuse that name.", wanted,
        taken["/" .. wanted])
    end
    return "/" .. wanted
  end
  for retry = 0, 10 do
    local n = "/" .. names.generate(retry)
    if not taken[n] then
      return n
    end
  end
  errors.raise "could not generate a free container name"
end

local function parse_time(ts)
  return ts and ts ~= M.ZERO_TIME and imgconfig.parse_timestamp(ts) or nil
end
M.parse_time = parse_time

--- docker's STATUS column: "Up 5 seconds", "Exited (0) 3 minutes ago", "Created".
function M.status_text(c, now)
  local format = require "cbuild.cli.format"
  now = now or os.time()
  local s = c.State
  if s.Running then
    local started = parse_time(s.StartedAt) or now
    local h = s.Health and s.Health.Status
    local health = h == "starting" and " (health: starting)" or h and (" (" .. h .. ")") or ""
    return "Up " .. format.duration(now - started) .. (s.Paused and " (Paused)" or health)
  end
  if s.Status == "created" then
    return "Created"
  end
  if s.Restarting then
    local finished = parse_time(s.FinishedAt) or now
    return string.format("Restarting (%d) %s ago", s.ExitCode, format.duration(now - finished))
  end
  if s.Status == "removing" then
    return "Removal In Progress"
  end
  local finished = parse_time(s.FinishedAt)
  if not finished then
    return "Exited (" .. s.ExitCode .. ")"
  end
  return string.format("Exited (%d) %s ago", s.ExitCode, format.duration(now - finished))
end

return M
