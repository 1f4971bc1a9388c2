-- cbuild logs [-f] [--tail N] [-t] [--since T] [--until T] CONTAINER: the json-file log of a
-- container.
local errors = require "cbuild.errors"
local logs = require "cbuild.container.logs"
local state = require "cbuild.container.state"

local M = { summary = "Fetch the logs of a container" }

function M.setup(cmd)
  cmd:flag("-f --follow", "Follow log output.")
  cmd:option("-n --tail", "Number of lines to show from the end of the logs (or 'all').", "all")
  cmd:flag("-t --timestamps", "Show timestamps.")
  cmd:option("--since", "Show logs since a timestamp (RFC 3339 or unix) or relative (e.g. 42m).")
  cmd:option("--until", "Show logs before a timestamp (RFC 3339 or unix) or relative (e.g. 42m).")
  cmd:argument("container", "Container name or ID.")
end

local function emit(e, timestamps)
  local out = e.stream == "stderr" and io.stderr or io.stdout
  if timestamps then
    out:write(e.time, " ")
  end
  out:write(e.log)
  out:flush()
end

local function time_arg(name, value)
  if not value then
    return nil
  end
  local t = logs.parse_since(value, require("cbuild.core.sys").time())
  if not t then
    errors.raise('invalid value for "%s": %s', name, value)
  end
  return t
end

function M.run(args, ctx)
  local imgs = ctx:store()
  local c = state.must_lookup(imgs, args.container)
  local since, till = time_arg("since", args.since), time_arg("until", args["until"])
  local function wanted(e)
    local t = (since or till) and logs.entry_time(e)
    return (not since or t >= since) and (not till or t <= till)
  end
  local entries, offset = logs.read_from(c.LogPath, 0)
  local first = 1
  if args.tail ~= "all" then
    local n = tonumber(args.tail)
    if not n or n < 0 then
      errors.raise("invalid value for \"tail\": %s", args.tail)
    end
    first = math.max(1, #entries - n + 1)
  end
  for i = first, #entries do
    if wanted(entries[i]) then
      emit(entries[i], args.timestamps)
    end
  end
  if not args.follow or (till and till <= os.time()) then
    return 0
  end
  logs.follow(c.LogPath, offset, function(e)
    if wanted(e) then
      emit(e, args.timestamps)
    end
  end, function()
    local cur = state.load(imgs, c.Id)
    return not cur or not cur.State.Running or (till ~= nil and os.time() > till)
  end, 200)
  return 0
end

return M
