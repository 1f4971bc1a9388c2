-- Health checks, as docker runs them: the image's HEALTHCHECK (or run's --health-* flags) run
-- inside the container every Interval by a checker process of its own (`container _health ID`,
-- started with the container and ended with it), each probe bounded by Timeout; Retries failures
-- in a row make it "unhealthy", a success "healthy", and failures within StartPeriod do not
-- count.  The result is State.Health in the container's record: Status, FailingStreak and the
-- last five probes (Log), which inspect, ps and `wait` read.
local fs = require "cbuild.core.fs"
local proc = require "cbuild.core.proc"
local sys = require "cbuild.core.sys"
local errors = require "cbuild.errors"
local json = require "cbuild.core.json"
local state = require "cbuild.container.state"

local M = {}

local SECOND = 1000000000
M.DEFAULTS = { Interval = 30 * SECOND, Timeout = 30 * SECOND, StartPeriod = 0, Retries = 3 }
M.LOG_KEEP = 5
M.OUTPUT_MAX = 4096

local function duration(flag, s)
  local ns, msg = require("cbuild.dockerfile.instructions").parse_duration(s)
  if not ns then
    require("cbuild.container.config").fail("invalid argument \"%s\" for \"%s\" flag: %s", s, flag, msg)
  end
  return ns
end

--- The container's Healthcheck: the image's, with run's flags over it ({Test = {"NONE"}} for
--- --no-healthcheck); nil when there is none.
function M.config(image_hc, opts)
  local hc = {}
  for k, v in pairs(image_hc or {}) do
    hc[k] = v
  end
  if opts.no_healthcheck then
    if opts.health_cmd then
      require("cbuild.container.config").fail "--no-healthcheck conflicts with --health-* options"
    end
    return { Test = { "NONE" } }
  end
  if opts.health_cmd then
    hc.Test = { "CMD-SHELL", opts.health_cmd }
  end
  if opts.health_interval then
    hc.Interval = duration("--health-interval", opts.health_interval)
  end
  if opts.health_timeout then
    hc.Timeout = duration("--health-timeout", opts.health_timeout)
  end
  if opts.health_start_period then
    hc.StartPeriod = duration("--health-start-period", opts.health_start_period)
  end
  if opts.health_retries then
    hc.Retries = math.tointeger(tonumber(opts.health_retries))
      or require("cbuild.container.config").fail("invalid --health-retries '%s'", opts.health_retries)
  end
  if next(hc) == nil then
    return nil
  end
  return hc
end

-- The probe's argv, or nil when the check is off (no test, NONE).
local function argv_of(hc)
  local test = hc and hc.Test
  if type(test) ~= "table" or #test == 0 or test[1] == "NONE" then
    return nil
  end
  if test[1] == "CMD-SHELL" then
    return { "/bin/sh", "-c", test[2] or "" }
  end
  if test[1] == "CMD" then
    return { table.unpack(test, 2) }
  end
  return nil
end

local function setting(hc, k)
  local v = hc[k]
  if v == nil or v == 0 then
    return M.DEFAULTS[k]
  end
  return v
end

--- Is a health check configured for c?
function M.enabled(c)
  return argv_of(c.Config.Healthcheck) ~= nil
end

--- Run c's probe once: {Start, End, ExitCode, Output} (ExitCode -1 when it timed out or could
--- not start, as docker records).
function M.probe(imgs, c)
  local hc = c.Config.Healthcheck
  local rfd, wfd = errors.need("pipe", sys.pipe())
  local started = state.now()
  local ok, p = pcall(require("cbuild.container.runtime").enter, imgs, c,
    { argv = argv_of(hc), stdout = wfd, stderr = wfd })
  sys.close(wfd)
  if not ok then
    sys.close(rfd)
    return { Start = started, End = state.now(), ExitCode = -1, Output = errors.is(p) and p.msg or tostring(p) }
  end
  local deadline = sys.time() + setting(hc, "Timeout") / SECOND
  local out, open = {}, true
  local status
  while true do
    status = p:poll()
    if status and not open then
      break
    end
    local left = deadline - sys.time()
    if left <= 0 then
      break
    end
    local ready = sys.poll(open and { rfd } or {}, math.min(math.floor(left * 1000) + 1, 50)) or {}
    if ready[rfd] then
      local data = sys.read(rfd)
      if not data or data == "" then
        open = false
      elseif #table.concat(out) < M.OUTPUT_MAX then
        out[#out + 1] = data
      end
    end
  end
  sys.close(rfd)
  local text = table.concat(out):sub(1, M.OUTPUT_MAX)
  local code
  if status then
    code = status.code
  else
    p:kill "KILL"
    p:wait()
    code = -1
    text = string.format("Health check exceeded timeout (%s)", require("cbuild.cli.format").duration(
      setting(hc, "Timeout") / SECOND))
  end
  p:close()
  return { Start = started, End = state.now(), ExitCode = code, Output = text }
end

--- Record result r in c's State.Health; returns the new status.  in_start_period: failures
--- do not count yet.
function M.record(imgs, id, r, in_start_period)
  local status
  state.update(imgs, id, function(s)
    local h = s.State.Health or { Status = "starting", FailingStreak = 0, Log = {} }
    local log = h.Log or {}
    log[#log + 1] = r
    while #log > M.LOG_KEEP do
      table.remove(log, 1)
    end
    h.Log = json.array(log)
    if r.ExitCode == 0 then
      h.Status, h.FailingStreak = "healthy", 0
    elseif not in_start_period then
      h.FailingStreak = (h.FailingStreak or 0) + 1
      if h.FailingStreak >= setting(s.Config.Healthcheck, "Retries") then
        h.Status = "unhealthy"
      end
    end
    s.State.Health = h
    status = h.Status
  end)
  return status
end

--- Start c's checker process (if c has a check); records its pid.  Called once the
--- container runs; the record's State.Health starts as "starting".
function M.start(imgs, c)
  if not M.enabled(c) then
    return
  end
  local exe = errors.need("find the cbuild executable", fs.readlink "/proc/self/exe")
  local pid = errors.need("start the health checker",
    proc.spawn_detached { exe, "--root", imgs.root, "container", "_health", c.Id })
  state.update(imgs, c.Id, function(s)
    s.State.Health = { Status = "starting", FailingStreak = 0, Log = json.array {} }
    s.Cbuild.health_pid = pid
  end)
end

--- End c's checker (at the container's end).
function M.stop(c)
  local pid = c.Cbuild and c.Cbuild.health_pid
  if pid then
    proc.kill(pid, 9)
  end
end

--- The checker's loop: probe every Interval while the container runs (the same run: its
--- StartedAt), the first after one Interval as docker does.
function M.loop(imgs, id)
  local c = state.load(imgs, id)
  if not c or not M.enabled(c) then
    return 0
  end
  local hc = c.Config.Healthcheck
  local started_at = c.State.StartedAt
  local t0 = sys.time()
  while true do
    sys.poll({}, math.floor(setting(hc, "Interval") / 1000000))
    c = state.load(imgs, id)
    if not c or not c.State.Running or c.State.StartedAt ~= started_at then
      return 0
    end
    if not fs.exists("/proc/" .. c.State.Pid) then -- its supervisor was killed, not yet reaped
      return 0
    end
    local r = M.probe(imgs, c)
    M.record(imgs, id, r, sys.time() - t0 < (hc.StartPeriod or 0) / SECOND)
  end
end

return M
