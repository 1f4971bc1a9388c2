-- cbuild unpause CONTAINER...: thaw paused containers (see pause.lua).
local pause = require "cbuild.cli.pause"

return { summary = "Unpause all processes within one or more containers", setup = pause.setup,
  run = pause.verb(false) }
