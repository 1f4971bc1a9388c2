-- cbuild logout [SERVER]: forget the credentials saved for a registry.
local errors = require "cbuild.errors"
local config = require "cbuild.registry.config"
local login = require "cbuild.cli.login"

local M = { summary = "Log out from a registry" }

function M.setup(cmd)
  cmd:argument("server", "Registry host[:port] (default docker.io)."):args "?"
  cmd:option("--authfile", "Path of the credentials file (default $DOCKER_CONFIG/config.json).")
end

function M.run(args)
  local host = login.host(args.server)
  local removed = errors.need("logout", config.remove_credentials(host, args.authfile))
  if removed then
    io.stdout:write("Removing login credentials for ", host, "\n")
  else
    io.stdout:write("Not logged in to ", host, "\n")
  end
  return 0
end

return M
