-- A tiny scheduler for the solver: one coroutine per independent branch of the build graph.
-- Lua runs one at a time; a branch that waits for its sandboxed step's fds (or for a state
-- another branch is building) yields, and the scheduler polls every waited fd at once, so
-- independent RUN steps overlap (DESIGN.md, "how it runs in parallel").
local sys = require "cbuild.core.sys"

local M = {}

local Sched = {}
Sched.__index = Sched

--- A scheduler; jobs = how many sandboxed steps may run at once.
function M.new(jobs)
  return setmetatable({ tasks = {}, running = 0, jobs = math.max(1, jobs or 1) }, Sched)
end

local current -- the scheduler whose loop is running (nil outside one)

--- Start fn as a task (it runs at the next turn of the loop); returns the task.
function Sched:spawn(fn)
  local t = { co = coroutine.create(fn), ready = true }
  self.tasks[#self.tasks + 1] = t
  return t
end

--- Inside a task: wait until one of fds is readable (or timeout_ms passes; -1 = forever).
--- Returns the readiness table of sys.poll.  Outside a task, polls directly.
function M.poll(fds, timeout_ms)
  if current and coroutine.isyieldable() then
    return coroutine.yield { fds = fds, timeout = timeout_ms }
  end
  return sys.poll(fds, timeout_ms or -1)
end

--- Inside a task: wait until cond() is true (another task makes it so).
function M.wait_until(cond)
  while not cond() do
    if not (current and coroutine.isyieldable()) then
      error("wait_until outside the scheduler would wait forever", 2)
    end
    coroutine.yield { cond = cond }
  end
end

--- Take a slot for a sandboxed step (at most `jobs` at once); returns a release function.
function M.slot()
  local s = current
  if not s then
    return function() end
  end
  M.wait_until(function()
    return s.running < s.jobs
  end)
  s.running = s.running + 1
  return function()
    s.running = s.running - 1
  end
end

local function resume(self, t, value)
  local prev = current
  current = self
  local ok, req = coroutine.resume(t.co, value)
  current = prev
  if not ok then
    t.done, t.err = true, req
  elseif coroutine.status(t.co) == "dead" then
    t.done, t.result = true, req
  else
    t.req, t.ready = req, false
  end
end

--- Run fn as the main task and every task it spawns until all finish; returns fn's results,
--- or raises the first error (after the other tasks have finished or failed too).
function Sched:run(fn)
  local main = self:spawn(fn)
  while true do
    local progressed, fds, pending = false, {}, false
    for _, t in ipairs(self.tasks) do
      if not t.done then
        pending = true
        if t.ready then
          resume(self, t, t.value)
          t.value = nil
          progressed = true
        elseif t.req and t.req.cond and t.req.cond() then
          t.ready = true
          progressed = true
        end
      end
    end
    if not pending then
      break
    end
    if not progressed then
      local timeout = -1
      for _, t in ipairs(self.tasks) do
        if not t.done and t.req and t.req.fds then
          for _, fd in ipairs(t.req.fds) do
            fds[#fds + 1] = fd
          end
          if t.req.timeout and t.req.timeout >= 0 and (timeout < 0 or t.req.timeout < timeout) then
            timeout = t.req.timeout
          end
        end
      end
      if #fds == 0 and timeout < 0 then
        error "build scheduler: every branch is waiting on another (a dependency cycle?)"
      end
      local ready = sys.poll(fds, timeout) or {}
      for _, t in ipairs(self.tasks) do
        if not t.done and t.req and t.req.fds then
          local mine = {}
          local any = t.req.timeout ~= nil and t.req.timeout >= 0 and next(ready) == nil
          for _, fd in ipairs(t.req.fds) do
            if ready[fd] then
              mine[fd] = true
              any = true
            end
          end
          if any then
            t.ready, t.value = true, mine
          end
        end
      end
    end
  end
  for _, t in ipairs(self.tasks) do
    if t.err then
      error(t.err, 0)
    end
  end
  return main.result
end

return M
