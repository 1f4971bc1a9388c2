-- Registry settings: credentials in a docker-compatible config.json, and which hosts may speak
-- plain http or unverified TLS.
--
-- Credentials file, first match wins: the path given (--authfile), $REGISTRY_AUTH_FILE,
-- $DOCKER_CONFIG/config.json, ~/.docker/config.json.  Entries are docker's
-- {"auths": {"HOST": {"auth": base64("user:password")}}}; other keys in the file are kept.
-- The file is written atomically with mode 0600.
--
-- cbuild's own settings: $CBUILD_CONFIG, else ~/.config/cbuild/config.json (XDG_CONFIG_HOME),
-- else /etc/cbuild/config.json: {"insecure-registries": ["host:port", ...]}.
-- Library module: returns nil, msg on failure.
local fs = require "cbuild.core.fs"
local json = require "cbuild.core.json"

local M = {}

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

--- Standard base64 with padding.
function M.b64encode(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = (a << 16) | ((b or 0) << 8) | (c or 0)
    local chunk = {}
    for j = 1, 4 do
      local k = (n >> (6 * (4 - j))) & 63
      chunk[j] = B64:sub(k + 1, k + 1)
    end
    if not b then
      chunk[3], chunk[4] = "=", "="
    elseif not c then
      chunk[4] = "="
    end
    out[#out + 1] = table.concat(chunk)
  end
  return table.concat(out)
end

--- Decode base64 (standard or URL alphabet, padding optional); nil when malformed.
function M.b64decode(s)
  s = s:gsub("[%s=]", ""):gsub("-", "+"):gsub("_", "/")
  local out, bits, n = {}, 0, 0
  for ch in s:gmatch "." do
    local v = B64:find(ch, 1, true)
    if not v then
      return nil
    end
    bits = (bits << 6) | (v - 1)
    n = n + 6
    if n >= 8 then
      n = n - 8
      out[#out + 1] = string.char((bits >> n) & 255)
    end
  end
  return table.concat(out)
end

local function home()
  return os.getenv "HOME" or "/root"
end

--- The credentials file to use (it need not exist).
function M.auth_path(explicit)
  if explicit and explicit ~= "" then
    return explicit
  end
  local env = os.getenv "REGISTRY_AUTH_FILE"
  if env and env ~= "" then
    return env
  end
  local dc = os.getenv "DOCKER_CONFIG"
  if dc and dc ~= "" then
    return dc .. "/config.json"
  end
  return home() .. "/.docker/config.json"
end

local function read_json(path)
  if not fs.exists(path) then
    return {}
  end
  local text, err = fs.read_file(path)
  if not text then
    return nil, err
  end
  if text:match "^%s*$" then
    return {}
  end
  local doc, derr = json.decode(text)
  if type(doc) ~= "table" then
    return nil, "parse '" .. path .. "': " .. tostring(derr or "not a JSON object")
  end
  return doc
end

-- docker keys auths by "host" or, for Docker Hub, by its old v1 URL.
local function auth_keys(host)
  if host == "docker.io" then
    return { "https://index.docker.io/v1/", "docker.io", "index.docker.io", "registry-1.docker.io" }
  end
  return { host, "https://" .. host, "http://" .. host }
end

--- Credentials for host: {username, password} or nil (no entry); nil, msg when unreadable.
function M.credentials(host, path)
  path = M.auth_path(path)
  local doc, err = read_json(path)
  if not doc then
    return nil, err
  end
  local auths = doc.auths or {}
  for _, k in ipairs(auth_keys(host)) do
    local e = auths[k]
    if type(e) == "table" then
      if type(e.auth) == "string" and e.auth ~= "" then
        local plain = M.b64decode(e.auth) or ""
        local user, pw = plain:match "^([^:]*):(.*)$"
        if user then
          return { username = user, password = pw }
        end
      elseif e.username then
        return { username = e.username, password = e.password or "" }
      end
    end
  end
  return nil
end

local function save(path, doc)
  local dir = path:match "^(.*)/[^/]*$"
  if dir and dir ~= "" then
    local ok, err = fs.mkdir_p(dir, tonumber("700", 8))
    if not ok then
      return nil, err
    end
  end
  local text = json.encode(doc, { indent = 1 })
  return fs.write_file(path, text .. "\n", { mode = tonumber("600", 8), atomic = true })
end

--- Save credentials for host; returns the file path or nil, msg.
function M.store_credentials(host, username, password, path)
  path = M.auth_path(path)
  local doc, err = read_json(path)
  if not doc then
    return nil, err
  end
  doc.auths = doc.auths or json.object {}
  json.object(doc.auths)
  local key = host == "docker.io" and "https://index.docker.io/v1/" or host
  doc.auths[key] = { auth = M.b64encode(username .. ":" .. password) }
  local ok, serr = save(path, doc)
  if not ok then
    return nil, serr
  end
  return path
end

--- Forget credentials for host: returns true when something was removed, false when there was
--- nothing to remove; nil, msg on failure.
function M.remove_credentials(host, path)
  path = M.auth_path(path)
  local doc, err = read_json(path)
  if not doc then
    return nil, err
  end
  local removed = false
  for _, k in ipairs(auth_keys(host)) do
    if doc.auths and doc.auths[k] then
      doc.auths[k] = nil
      removed = true
    end
  end
  if not removed then
    return false
  end
  json.object(doc.auths)
  local ok, serr = save(path, doc)
  if not ok then
    return nil, serr
  end
  return true
end

--- cbuild's own settings file path.
function M.settings_path()
  local env = os.getenv "CBUILD_CONFIG"
  if env and env ~= "" then
    return env
  end
  local xdg = os.getenv "XDG_CONFIG_HOME"
  local user = ((xdg and xdg ~= "") and xdg or (home() .. "/.config")) .. "/cbuild/config.json"
  if fs.exists(user) then
    return user
  end
  return "/etc/cbuild/config.json"
end

--- True when host is listed under "insecure-registries" in cbuild's settings.
function M.is_insecure(host)
  local doc = read_json(M.settings_path()) or {}
  for _, h in ipairs(doc["insecure-registries"] or {}) do
    if h == host then
      return true
    end
  end
  return false
end

--- True for hosts docker talks plain http to without being told: localhost and 127.0.0.0/8.
function M.is_loopback(host)
  local name = host:match "^%[(.*)%]" or host:match "^([^:]+)" or host
  return name == "localhost" or name == "::1" or name:match "^127%.%d+%.%d+%.%d+$" ~= nil
end

return M
