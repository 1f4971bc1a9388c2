-- A client for one registry host (OCI distribution API): picks http or https, answers auth
-- challenges (anonymous, basic, bearer tokens cached per scope, renewed on 401), and turns
-- registry error bodies into docker's messages ("unauthorized: authentication required").
-- Library module: returns nil, msg, code on failure.
local http = require "cbuild.core.http"
local auth = require "cbuild.registry.auth"
local config = require "cbuild.registry.config"

local M = {}

M.ACCEPT_MANIFESTS = table.concat({
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
}, ", ")

local Client = {}
Client.__index = Client

--- A client for host ("127.0.0.1:5000", "docker.io").  opts: tls_verify (false allows http and
--- unverified https), authfile, creds ({username, password}: use these, not the file's).
function M.new(host, opts)
  opts = opts or {}
  local self = setmetatable({ host = host, tokens = {}, opts = opts }, Client)
  local api = host == "docker.io" and "registry-1.docker.io" or host
  if config.is_loopback(host) then
    self.schemes = { "http" }
  elseif opts.tls_verify == false or config.is_insecure(host) then
    self.schemes = { "https", "http" }
    self.insecure = true
  else
    self.schemes = { "https" }
  end
  self.api = api
  self.base = self.schemes[1] .. "://" .. api
  if opts.creds then
    self.creds = opts.creds
  else
    local creds, err = config.credentials(host, opts.authfile)
    if err then
      self.config_error = err
    end
    self.creds = creds
  end
  return self
end

local function scope_key(scopes)
  local s = {}
  for i, v in ipairs(scopes or {}) do
    s[i] = v
  end
  table.sort(s)
  return table.concat(s, " ")
end

-- The Authorization header for scopes, from the challenge learned so far (nil: anonymous).
function Client:authorization(scopes, fresh)
  local ch = self.challenge
  if not ch then
    return nil
  end
  if ch.scheme == "basic" then
    if not self.creds then
      return nil
    end
    return auth.basic(self.creds)
  end
  if ch.scheme ~= "bearer" then
    return nil
  end
  local key = scope_key(scopes)
  local cached = self.tokens[key]
  if cached and not fresh and os.time() < cached.expires then
    return "Bearer " .. cached.token
  end
  local token, expires_or_err, code = auth.fetch_token(ch.params, scopes or {}, self.creds,
    { insecure = self.insecure })
  if not token then
    return nil, expires_or_err, code
  end
  self.tokens[key] = { token = token, expires = os.time() + math.max(expires_or_err - 10, 10) }
  return "Bearer " .. token
end

local function learn(self, resp)
  local value = resp.headers["www-authenticate"]
  if not value then
    return false
  end
  for _, ch in ipairs(auth.parse_challenges(value)) do
    if ch.scheme == "bearer" or ch.scheme == "basic" then
      self.challenge = ch
      return true
    end
  end
  return false
end

local function with_auth(req, authorization)
  local out = {}
  for k, v in pairs(req) do
    out[k] = v
  end
  local headers = {}
  for k, v in pairs(req.headers or {}) do
    if type(k) == "number" then
      headers[#headers + 1] = v
    else
      headers[#headers + 1] = k .. ": " .. v
    end
  end
  if authorization then
    headers[#headers + 1] = "Authorization: " .. authorization
  end
  out.headers = headers
  return out
end

--- The http.request table for req (path = "/v2/...", or url) with auth for scopes added.
function Client:prepare(req, scopes, fresh)
  local authorization, err, code = self:authorization(scopes, fresh)
  if err then
    return nil, err, code
  end
  local r = with_auth(req, authorization)
  r.url = r.url or (self.base .. r.path)
  r.path = nil
  r.insecure = self.insecure
  r.connect_timeout = r.connect_timeout or 30
  return r
end

--- Perform req ({method, path|url, headers, body, sink, expect, ...}) with auth for scopes;
--- a 401 is answered once (new challenge, or a renewed token).  Returns the answer (any
--- status) or nil, msg, code.
function Client:request(req, scopes)
  local r, err, code = self:prepare(req, scopes)
  if not r then
    return nil, err, code
  end
  local resp
  resp, err, code = http.request(r)
  if not resp then
    return nil, err, code
  end
  if resp.status == 401 and learn(self, resp) then
    if self.challenge.scheme == "basic" and not self.creds then
      return resp
    end
    r, err, code = self:prepare(req, self:scopes_for(scopes), true)
    if not r then
      return nil, err, code
    end
    resp, err, code = http.request(r)
  end
  return resp, err, code
end

-- The scopes to ask for: ours plus the one the challenge named.
function Client:scopes_for(scopes)
  local out = {}
  for i, s in ipairs(scopes or {}) do
    out[i] = s
  end
  local named = self.challenge and self.challenge.params.scope
  if named then
    local seen = false
    for _, s in ipairs(out) do
      seen = seen or s == named
    end
    if not seen and #out == 0 then
      out[#out + 1] = named
    end
  end
  return out
end

--- GET /v2/: learn the auth scheme and, for a host allowed to, fall back from https to http.
--- Returns the answer or nil, msg, code.
function Client:ping()
  local last, lcode
  for i, scheme in ipairs(self.schemes) do
    self.base = scheme .. "://" .. self.api
    local resp, err, code = http.request { url = self.base .. "/v2/", insecure = self.insecure,
      retries = 1, connect_timeout = 15, timeout = 60 }
    if resp then
      if resp.status == 401 then
        learn(self, resp)
      end
      return resp
    end
    last, lcode = err, code
    if i == #self.schemes then
      break
    end
  end
  return nil, last, lcode
end

--- A message for an unexpected answer: docker's text from the error body when there is one.
function Client:status_error(resp, what)
  local text = auth.error_text(resp)
  if resp.status == 401 then
    text = text or "unauthorized: authentication required"
    if not self.creds then
      text = text .. " (run 'cbuild login " .. self.host .. "' first)"
    end
    return what .. ": " .. text, "EAUTH"
  end
  if resp.status == 403 then
    return what .. ": " .. (text or "denied: requested access to the resource is denied"), "EAUTH"
  end
  if resp.status == 404 then
    return what .. ": " .. (text or "not found"), "ENOTFOUND"
  end
  return string.format("%s: %s (HTTP %d)", what, text or "unexpected answer", resp.status), "EHTTP"
end

--- Check credentials against the registry (for login): true or nil, msg, code.
function Client:login(creds)
  self.creds = creds
  local resp, err, code = self:ping()
  if not resp then
    return nil, err, code
  end
  if resp.status == 200 then
    return true -- the registry wants no auth
  end
  if resp.status ~= 401 or not self.challenge then
    return nil, self:status_error(resp, "login to " .. self.host)
  end
  if self.challenge.scheme == "bearer" then
    local ok, lerr, lcode = self:authorization({}, true)
    if not ok then
      return nil, lerr, lcode
    end
    return true
  end
  local r = self:prepare({ path = "/v2/", retries = 1 }, {})
  resp, err, code = http.request(r)
  if not resp then
    return nil, err, code
  end
  if resp.status == 200 then
    return true
  end
  local text = auth.error_text(resp) or "unauthorized: incorrect username or password"
  return nil, text, "EAUTH"
end

--- Resolve a Location header against the base URL.
function Client:absolute(location)
  if location:match "^https?://" then
    return location
  end
  if location:sub(1, 1) == "/" then
    return self.base .. location
  end
  return self.base .. "/" .. location
end

return M
