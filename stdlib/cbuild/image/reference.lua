-- Image references with docker's grammar and normalization (distribution/reference):
--   busybox                -> docker.io/library/busybox:latest
--   host:5000/a/b:tag      -> host:5000/a/b:tag
--   name@sha256:<hex>      -> docker.io/library/name@sha256:<hex>
-- Library module: parse returns nil, msg on bad input (messages as docker prints them).
local M = {}

M.default_domain = "docker.io"
M.default_tag = "latest"

local function valid_component(c)
  -- [a-z0-9]+ ( (\.|_|__|-+) [a-z0-9]+ )*
  if not c:match "^[a-z0-9]" or not c:match "[a-z0-9]$" then
    return false
  end
  local rest = c
  while #rest > 0 do
    local alnum = rest:match "^[a-z0-9]+"
    if not alnum then
      return false
    end
    rest = rest:sub(#alnum + 1)
    if #rest > 0 then
      local sep = rest:match "^__" or rest:match "^[._]" or rest:match "^%-+"
      if not sep then
        return false
      end
      rest = rest:sub(#sep + 1)
      if #rest == 0 then
        return false
      end
    end
  end
  return true
end

local function valid_domain(d)
  if d:match "^%[[%x:]+%](:%d+)?$" then -- IPv6 literal
    return true
  end
  local host, port = d:match "^([^:]+):(%d+)$"
  host = host or d
  if port == nil and d:find(":", 1, true) then
    return false
  end
  for label in (host .. "."):gmatch "([^.]*)%." do
    if not (label:match "^[%w]$" or label:match "^[%w][%w%-]*[%w]$") then
      return false
    end
  end
  return true
end

local function is_domain(first)
  return first:find("[.:]") ~= nil or first == "localhost" or first:match "%u" ~= nil
end

--- Parse and normalize a reference. Returns a table {domain, path, tag, digest} with
--- methods, or nil, msg.
function M.parse(s)
  if type(s) ~= "string" or s == "" then
    return nil, "invalid reference format"
  end
  local rest, digest = s, nil
  local at = s:find("@", 1, true)
  if at then
    rest, digest = s:sub(1, at - 1), s:sub(at + 1)
    local algo, hex = digest:match "^([%w+._-]+):(%x+)$"
    if not algo then
      return nil, "invalid reference format"
    end
    if algo == "sha256" and (#hex ~= 64 or hex:match "%u") then
      return nil, "invalid checksum digest format"
    end
  end
  local tag
  local lastslash = rest:match ".*()/" or 0
  local colon = rest:find(":[^:/]*$")
  if colon and colon > lastslash then
    tag = rest:sub(colon + 1)
    rest = rest:sub(1, colon - 1)
    if not tag:match "^[%w_][%w_.%-]*$" or #tag > 128 then
      return nil, "invalid reference format"
    end
  end
  local domain, path
  local first, remainder = rest:match "^([^/]+)/(.+)$"
  if first and is_domain(first) then
    domain, path = first, remainder
    if not valid_domain(domain) then
      return nil, "invalid reference format"
    end
  else
    domain, path = M.default_domain, rest
  end
  if domain == "index.docker.io" then
    domain = M.default_domain
  end
  if path:match "%u" then
    return nil, "invalid reference format: repository name (" .. path .. ") must be lowercase"
  end
  for comp in (path .. "/"):gmatch "([^/]*)/" do
    if not valid_component(comp) then
      return nil, "invalid reference format"
    end
  end
  if domain == M.default_domain and not path:find("/", 1, true) then
    path = "library/" .. path
  end
  if #domain + 1 + #path > 255 then
    return nil, "invalid reference format: repository name must not be more than 255 characters"
  end
  if not tag and not digest then
    tag = M.default_tag
  end
  return setmetatable({ domain = domain, path = path, tag = tag, digest = digest }, M.Ref)
end

M.Ref = {}
M.Ref.__index = M.Ref

--- "docker.io/library/busybox" (no tag or digest).
function M.Ref:name()
  return self.domain .. "/" .. self.path
end

--- The full normalized reference: name:tag, name@digest or name:tag@digest.
function M.Ref:full()
  local s = self:name()
  if self.tag then
    s = s .. ":" .. self.tag
  end
  if self.digest then
    s = s .. "@" .. self.digest
  end
  return s
end

M.Ref.__tostring = M.Ref.full

--- The repository as docker shows it: "busybox", "yujiang/helloworld", "host:5000/x".
function M.Ref:familiar_name()
  if self.domain == M.default_domain then
    return (self.path:gsub("^library/", ""))
  end
  return self:name()
end

--- A copy with another tag (and no digest).
function M.Ref:with_tag(tag)
  return setmetatable({ domain = self.domain, path = self.path, tag = tag }, M.Ref)
end

--- Like parse, but raises a user error naming the input.
function M.must(s)
  local ref, err = M.parse(s)
  if not ref then
    require("cbuild.errors").raise("%s: %s", err, tostring(s))
  end
  return ref
end

return M
