-- OCI image configs as Lua tables: the empty (scratch) config, platform names, history
-- entries, and the Docker extension fields BuildKit keeps (Healthcheck, OnBuild, Shell).
-- Pure tables in and out: no I/O here.
local json = require "cbuild.core.json"

local M = {}

M.DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
M.HISTORY_COMMENT = "buildkit.dockerfile.v0"

local GOARCH = {
  x86_64 = "amd64", aarch64 = "arm64", arm64 = "arm64", i386 = "386", i686 = "386",
  armv7l = "arm", armv6l = "arm", ppc64le = "ppc64le", s390x = "s390x", riscv64 = "riscv64",
}

--- The host platform as {os, architecture, variant}.
function M.host_platform()
  local machine = require("cbuild.core.sys").uname().machine
  local p = { os = "linux", architecture = GOARCH[machine] or machine }
  if machine == "armv7l" then
    p.variant = "v7"
  elseif machine == "armv6l" then
    p.variant = "v6"
  end
  return p
end

--- "linux/amd64[/v7]"
function M.platform_string(p)
  return p.os .. "/" .. p.architecture .. (p.variant and ("/" .. p.variant) or "")
end

--- Parse "linux/amd64[/variant]" (os may be omitted: "arm64"); nil, msg when malformed.
function M.parse_platform(s)
  local parts = {}
  for part in (s .. "/"):gmatch "([^/]*)/" do
    parts[#parts + 1] = part:lower()
  end
  if #parts == 1 then
    table.insert(parts, 1, "linux")
  end
  if #parts < 2 or #parts > 3 or parts[1] == "" or parts[2] == "" then
    return nil, "invalid platform '" .. s .. "': expected os/arch[/variant]"
  end
  local arch = GOARCH[parts[2]] or parts[2]
  if arch == "aarch64" then
    arch = "arm64"
  end
  return { os = parts[1], architecture = arch, variant = parts[3] }
end

--- RFC 3339 UTC time with nanoseconds, as Go's time.Time marshals: 2024-05-01T10:00:00.123Z
function M.timestamp(sec, nsec)
  local s = os.date("!%Y-%m-%dT%H:%M:%S", sec)
  if nsec and nsec > 0 then
    s = s .. ("." .. string.format("%09d", nsec)):gsub("0+$", "")
  end
  return s .. "Z"
end

--- Parse a timestamp written by timestamp() (or Go) back to seconds; nil when malformed.
function M.parse_timestamp(s)
  local y, mo, d, h, mi, sec = tostring(s):match "^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)"
  if not y then
    return nil
  end
  local t = { year = tonumber(y), month = tonumber(mo), day = tonumber(d), hour = tonumber(h),
    min = tonumber(mi), sec = tonumber(sec), isdst = false }
  -- os.time reads local time; correct by the offset of the epoch in local time
  local utc = os.time(t)
  local off = os.time(os.date("!*t", utc)) - utc
  local base = utc - off
  local tz = s:match "([+-]%d%d):?(%d%d)$"
  if tz then
    local sign, hh, mm = s:match "([+-])(%d%d):?(%d%d)$"
    local delta = tonumber(hh) * 3600 + tonumber(mm) * 60
    base = sign == "+" and base - delta or base + delta
  end
  return base
end

local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7, Aug = 8, Sep = 9, Oct = 10,
  Nov = 11, Dec = 12 }

--- An HTTP date ("Wed, 21 Oct 2015 07:28:00 GMT") as unix seconds; nil when malformed.
function M.parse_http_date(s)
  local d, mon, y, hh, mm, ss = tostring(s):match "(%d+) (%a+) (%d+) (%d+):(%d+):(%d+)"
  if not d or not MONTHS[mon] then
    return nil
  end
  return M.parse_timestamp(string.format("%04d-%02d-%02dT%s:%s:%sZ", tonumber(y), MONTHS[mon], tonumber(d),
    hh, mm, ss))
end

--- The config of an empty image (FROM scratch), as BuildKit makes it.
function M.scratch(platform)
  platform = platform or M.host_platform()
  return {
    architecture = platform.architecture,
    os = platform.os,
    variant = platform.variant,
    config = { Env = json.array { "PATH=" .. M.DEFAULT_PATH }, WorkingDir = "/" },
    rootfs = { type = "layers", diff_ids = json.array {} },
    history = json.array {},
  }
end

--- A deep copy of a decoded config (tables copied, arrays keep their array marking).
function M.copy(t)
  if type(t) ~= "table" then
    return t
  end
  local out = {}
  for k, v in pairs(t) do
    out[k] = M.copy(v)
  end
  return setmetatable(out, getmetatable(t))
end

--- Append a history entry.  layer: whether this step added a layer.
function M.add_history(cfg, created_by, created, layer)
  cfg.history = cfg.history or json.array {}
  json.array(cfg.history)
  cfg.history[#cfg.history + 1] = {
    created = created,
    created_by = created_by,
    comment = M.HISTORY_COMMENT,
    empty_layer = (not layer) or nil,
  }
end

--- Env list -> ordered list of {key, value} and a lookup map.
function M.env_map(env)
  local map, order = {}, {}
  for _, kv in ipairs(env or {}) do
    local k, v = kv:match "^([^=]*)=(.*)$"
    if not k then
      k, v = kv, ""
    end
    if map[k] == nil then
      order[#order + 1] = k
    end
    map[k] = v
  end
  return map, order
end

--- Set one variable in an Env list (replacing in place, or appending), as docker does.
function M.env_set(env, key, value)
  local out = json.array {}
  local done = false
  for _, kv in ipairs(env or {}) do
    local k = kv:match "^([^=]*)="
    if (k or kv) == key then
      if not done then
        out[#out + 1] = key .. "=" .. value
        done = true
      end
    else
      out[#out + 1] = kv
    end
  end
  if not done then
    out[#out + 1] = key .. "=" .. value
  end
  return out
end

return M
