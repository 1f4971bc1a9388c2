-- Registry authentication: WWW-Authenticate challenges, HTTP basic, and the bearer token flow
-- of the distribution spec (ask the realm for a token for a scope, with credentials if any).
-- Library module: returns nil, msg, code on failure.  Never puts a secret in a message.
local http = require "cbuild.core.http"
local json = require "cbuild.core.json"
local config = require "cbuild.registry.config"

local M = {}

--- Parse a WWW-Authenticate value into a list of {scheme = "bearer", params = {realm=,...}}.
function M.parse_challenges(value)
  local out = {}
  local s = value or ""
  local pos = 1
  local cur
  while pos <= #s do
    local ws = s:match("^[%s,]*", pos)
    pos = pos + #ws
    if pos > #s then
      break
    end
    -- a key=value parameter, or a new scheme token
    local key = s:match("^([%w_%-%.]+)%s*=", pos)
    if key and cur then
      pos = pos + #s:match("^[%w_%-%.]+%s*=%s*", pos)
      local val
      if s:sub(pos, pos) == '"' then
        local buf = {}
        pos = pos + 1
        while pos <= #s do
          local c = s:sub(pos, pos)
          if c == "\\" then
            buf[#buf + 1] = s:sub(pos + 1, pos + 1)
            pos = pos + 2
          elseif c == '"' then
            pos = pos + 1
            break
          else
            buf[#buf + 1] = c
            pos = pos + 1
          end
        end
        val = table.concat(buf)
      else
        val = s:match("^[^,%s]*", pos)
        pos = pos + #val
      end
      cur.params[key:lower()] = val
    else
      local scheme = s:match("^(%S+)", pos)
      scheme = scheme:gsub(",$", "")
      pos = pos + #scheme
      cur = { scheme = scheme:lower(), params = {} }
      out[#out + 1] = cur
    end
  end
  return out
end

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c)
    return string.format("%%%02X", c:byte())
  end))
end
M.urlencode = urlencode

--- The Authorization value for HTTP basic.
function M.basic(creds)
  return "Basic " .. config.b64encode(creds.username .. ":" .. creds.password)
end

--- Ask a token server for a token: challenge params {realm, service, scope}, scopes (list of
--- "repository:name:pull,push"), creds or nil, http options {insecure=}.
--- Returns token, expires_in or nil, msg, code.
function M.fetch_token(params, scopes, creds, opts)
  local realm = params.realm
  if not realm or not realm:match "^https?://" then
    return nil, "registry sent a bearer challenge without a usable realm", "EHTTP"
  end
  local q = {}
  if params.service then
    q[#q + 1] = "service=" .. urlencode(params.service)
  end
  for _, sc in ipairs(scopes) do
    q[#q + 1] = "scope=" .. urlencode(sc)
  end
  if creds then
    q[#q + 1] = "account=" .. urlencode(creds.username)
  end
  local url = realm .. (#q > 0 and ((realm:find("?", 1, true) and "&" or "?") .. table.concat(q, "&")) or "")
  local headers = {}
  if creds then
    headers[1] = "Authorization: " .. M.basic(creds)
  end
  local resp, err, code = http.request { url = url, headers = headers, insecure = opts.insecure,
    retries = 2, timeout = 60 }
  if not resp then
    return nil, "get token: " .. err, code
  end
  if resp.status == 401 or resp.status == 403 then
    return nil, "unauthorized: " .. (M.error_text(resp) or "incorrect username or password"), "EAUTH"
  end
  if resp.status ~= 200 then
    return nil, string.format("get token: %s answered %d", realm, resp.status), "EHTTP"
  end
  local doc = json.decode(resp.body)
  local token = type(doc) == "table" and (doc.token or doc.access_token)
  if type(token) ~= "string" or token == "" then
    return nil, "get token: " .. realm .. " sent no token", "EHTTP"
  end
  return token, tonumber(doc.expires_in) or 60
end

--- The first message of a distribution error body ({"errors":[{code, message}]}), as docker
--- prints it: "unauthorized: authentication required"; nil when the body has none.
function M.error_text(resp)
  local doc = resp.body and resp.body ~= "" and json.decode(resp.body)
  if type(doc) == "table" and type(doc.errors) == "table" and type(doc.errors[1]) == "table" then
    local e = doc.errors[1]
    local code = type(e.code) == "string" and e.code:lower() or "error"
    return code .. ": " .. tostring(e.message or "")
  end
  if type(doc) == "table" and type(doc.details) == "string" then
    return doc.details
  end
  return nil
end

return M
