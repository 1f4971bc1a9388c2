-- cbuild login [-u USER] [-p PASSWORD | --password-stdin] [SERVER]: check credentials against a
-- registry, then save them in the docker-compatible config.json (mode 0600).
local errors = require "cbuild.errors"
local reference = require "cbuild.image.reference"
local client_mod = require "cbuild.registry.client"
local config = require "cbuild.registry.config"
local pull_cli = require "cbuild.cli.pull"

local M = { summary = "Log in to a registry" }

function M.setup(cmd)
  cmd:argument("server", "Registry host[:port] (default docker.io)."):args "?"
  cmd:option("-u --username", "Username.")
  cmd:option("-p --password", "Password (prefer --password-stdin).")
  cmd:flag("--password-stdin", "Take the password from stdin.")
  cmd:option("--tls-verify", "Require HTTPS and verify certificates (false: allow http).")
  cmd:option("--authfile", "Path of the credentials file (default $DOCKER_CONFIG/config.json).")
end

--- The registry host named by a login/logout argument ("https://host/v1/" or "host").
function M.host(server)
  if not server or server == "" then
    return reference.default_domain
  end
  local h = server:gsub("^https?://", ""):gsub("/.*$", "")
  if h == "index.docker.io" or h == "registry-1.docker.io" then
    return reference.default_domain
  end
  return h
end

local function prompt(label, hide)
  io.stderr:write(label)
  io.stderr:flush()
  if hide then
    os.execute "stty -echo 2>/dev/null"
  end
  local line = io.stdin:read "l"
  if hide then
    os.execute "stty echo 2>/dev/null"
    io.stderr:write "\n"
  end
  return line
end

function M.run(args)
  local host = M.host(args.server)
  local user, password = args.username, args.password
  if args.password_stdin then
    if args.password then
      errors.raise "--password and --password-stdin are mutually exclusive"
    end
    if not user then
      errors.raise "Must provide --username with --password-stdin"
    end
    password = (io.stdin:read "a" or ""):gsub("[\r\n]+$", "")
  elseif args.password then
    io.stderr:write "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n"
  end
  if not user then
    user = prompt "Username: "
  end
  if not password then
    password = prompt("Password: ", true)
  end
  if not user or user == "" then
    errors.raise "Error: Non-null Username Required"
  end
  local client = client_mod.new(host, { tls_verify = pull_cli.tls_verify(args.tls_verify),
    creds = { username = user, password = password or "" } })
  local ok, err = client:login { username = user, password = password or "" }
  if not ok then
    errors.raise("login to %s: %s", host, err)
  end
  errors.need("save credentials", config.store_credentials(host, user, password or "", args.authfile))
  io.stdout:write "Login Succeeded\n"
  return 0
end

return M
