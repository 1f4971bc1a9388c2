-- cbuild version
local M = { summary = "Show the cbuild version information" }

function M.run()
  local core = require "cbuild.core"
  local imgconfig = require "cbuild.image.config"
  io.stdout:write(string.format(
    "Client: cbuild\n Version:    %s\n Lua:        %s\n OS/Arch:    %s\n",
    core.version, _VERSION, imgconfig.platform_string(imgconfig.host_platform())))
  return 0
end

return M
