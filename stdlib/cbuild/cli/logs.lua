-- cbuild logs [-f] [--tail N] [-t] [--since T] CONTAINER: the json-file log of a container.
local fs = require "cbuild.core.fs"
local sys = require "cbuild.core.sys"
local errors = require "cbuild.errors"
local logs = require "cbuild.container.logs"
local state = require "cbuild.container.state"

local M = { summary = "Fetch the logs of a container" }

function M.setup(cmd)
  cmd:flag("-f --follow", "Follow log output.")
  cmd:option("-n --tail", "Number of lines to show from the end of the logs (or 'all').", "all")
  cmd:flag("-t --timestamps", "Show timestamps.")
  cmd:option("--since", "Show logs since a timestamp (RFC 3339 or unix) or relative (e.g. 42m).")
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

function M.run(args, ctx)
  local imgs = ctx:store()
  local c = state.must_lookup(imgs, args.container)
  local since
  if args.since then
    since = logs.parse_since(args.since)
    if not since then
      errors.raise("invalid value for \"since\": %s", args.since)
    end
  end
  local text = fs.read_file(c.LogPath) or ""
  local entries = logs.parse(text)
  local first = 1
  if args.tail ~= "all" then
    local n = tonumber(args.tail)
    if not n or n < 0 then
      errors.raise("invalid value for \"tail\": %s", args.tail)
    end
    first = math.max(1, #entries - n + 1)
  end
  for i = first, #entries do
    if not since or logs.entry_time(entries[i]) >= since then
      emit(entries[i], args.timestamps)
    end
  end
  if not args.follow then
    return 0
  end
  local offset = #text
  local partial = ""
  while true do
    local now = fs.read_file(c.LogPath) or ""
    if #now > offset then
      local chunk = partial .. now:sub(offset + 1)
      offset = #now
      local complete = chunk:match "^(.*\n)" or ""
      partial = chunk:sub(#complete + 1)
      for _, e in ipairs(logs.parse(complete)) do
        emit(e, args.timestamps)
      end
    else
      local cur = state.load(imgs, c.Id)
      if not cur or not cur.State.Running then
        return 0
      end
      sys.poll({}, 200)
    end
  end
end

return M
