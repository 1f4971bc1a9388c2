-- cbuild exec [-i] [-t] [-e K=V] [-u USER] [-w DIR] CONTAINER COMMAND [ARG...]: run a command in
-- a running container: its namespaces, root, cgroup, user and capabilities.
local cgroup = require "cbuild.core.cgroup"
local proc = require "cbuild.core.proc"
local sys = require "cbuild.core.sys"
local errors = require "cbuild.errors"
local imgconfig = require "cbuild.image.config"
local ccli = require "cbuild.container.cli"
local runtime = require "cbuild.container.runtime"
local state = require "cbuild.container.state"

local M = { summary = "Execute a command in a running container" }

function M.flags(p)
  p:add_help "--help"
  p:flag("-i --interactive", "Keep STDIN open even if not attached.")
  p:flag("-t --tty", "Allocate a pseudo-TTY.")
  p:option("-e --env", "Set environment variables."):count "*"
  p:option("-u --user", "Username or UID (format: <name|uid>[:<group|gid>]).")
  p:option("-w --workdir", "Working directory inside the container.")
  p:flag("--privileged", "Give extended privileges to the command.")
  p:argument("container", "Container name or ID.")
  p:argument("command", "Command and arguments."):args "+"
end

local setup, parse = ccli.raw_verb("exec", M.summary, M.flags)
M.setup = setup

function M.run(args, ctx)
  local o = parse(args)
  return ccli.exit125(function()
    local imgs = ctx:store()
    local c = state.must_lookup(imgs, o.container)
    if not c.State.Running then
      errors.raise("container %s is not running", c.Id)
    end
    local rootfs = state.dir(imgs, c.Id) .. "/rootfs"
    local who = runtime.resolve_user(rootfs, o.user or c.Config.User)
    local env = c.Config.Env
    for _, kv in ipairs(o.env or {}) do
      local k, v = kv:match "^([^=]+)=(.*)$"
      if not k then
        k, v = kv, os.getenv(kv)
      end
      if v then
        env = imgconfig.env_set(env, k, v)
      end
    end
    env = runtime.environment(env, who)
    local cg = cgroup.open(c.Cbuild.cgroup)
    local master, slave
    if o.tty then
      master, slave = errors.need("open a pty", require("cbuild.core.pty").open())
      runtime.copy_winsize(master)
    end
    local p = errors.need("exec", proc.enter {
      target = c.State.Pid,
      argv = o.command,
      env = env,
      cwd = o.workdir or (c.Config.WorkingDir ~= "" and c.Config.WorkingDir) or "/",
      uid = who.uid,
      gid = who.gid,
      groups = who.groups,
      network = c.HostConfig.NetworkMode,
      privileged = o.privileged or c.Cbuild.privileged,
      caps = (not o.privileged) and c.Cbuild.caps or nil,
      stdin = slave,
      stdout = slave,
      stderr = slave,
      ctty = o.tty,
      cgroup_procs = cg and cg:procs_paths() or nil,
    })
    if cg then
      cg:close()
    end
    local status
    if o.tty then
      sys.close(slave)
      status = runtime.relay_pty(master, o.interactive, nil, function()
        return errors.need("wait", p:wait())
      end, function(sig)
        p:kill(sig)
      end)
      sys.close(master)
    else
      status = errors.need("wait", p:wait())
    end
    p:close()
    if status.exec_error then
      io.stderr:write("cbuild: error: OCI runtime exec failed: ", status.exec_error, "\n")
    end
    return status.code
  end)
end

return M
