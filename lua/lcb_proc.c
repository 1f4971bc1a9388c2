/* lua/lcb_proc.c: binding for core/src/proc.c (require "cbuild.core.proc").
 *
 *   proc.spawn_detached(argv, [{stdin=, stdout=, stderr=, keep_fd=}]) -> pid | nil, msg, code
 *   proc.kill(pid, sig) -> true, gone | nil, msg, code      (sig: number or "TERM"/"SIGTERM")
 *   proc.signum(name_or_number) -> number | nil             (nil for an unknown name)
 *   proc.setrlimit(name, soft, hard) -> true | nil, msg, code (docker's --ulimit names; -1 =
 *                                          unlimited; this process, inherited by children)
 *   proc.enter{target=, argv=, env=, cwd=, uid=, gid=, groups=, network=, privileged=, caps=,
 *              stdin=, stdout=, stderr=, ctty=, cgroup_procs=, seccomp=, seccomp_cache=}
 *                                        -> p | nil, msg, code
 *   p:pid() p:wait() p:poll() p:kill([sig]) p:close()        (wait/poll as sandbox procs)
 *
 * caps: names of the capabilities to keep ("CHOWN", "cap_chown"); absent = docker's default set.
 * seccomp: nil or "default" (docker's profile), "unconfined", or a docker JSON profile's text;
 * seccomp_cache: a directory keeping compiled filters (as sandbox.spawn).
 * A p still running when closed or collected is killed and reaped.
 */
#include "lcb.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/capability.h>

#include "cbuild/proc.h"
#include "cbuild/sandbox.h"

#define EPROC_MT "cbuild.core.proc.enter"

LCB_EXPORT int luaopen_cbuild_core_proc(lua_State *L);

/* proc.spawn_detached(argv, [opts]) -> pid | nil, msg, code */
static int
lproc_spawn_detached(lua_State *L)
{
  struct cb_error *err = NULL;
  const char **argv;
  int stdio[3], keep;
  size_t n;
  pid_t pid;

  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 2);
  stdio[0] = lcb_optfdfield(L, 2, "stdin");
  stdio[1] = lcb_optfdfield(L, 2, "stdout");
  stdio[2] = lcb_optfdfield(L, 2, "stderr");
  keep = lcb_optfdfield(L, 2, "keep_fd");
  argv = lcb_checkstrarray(L, 1, NULL, &n);
  if (n == 0)
    return luaL_argerror(L, 1, "empty argv");
  pid = cb_proc_spawn_detached(argv, stdio, keep, &err);
  if (pid < 0)
    return lcb_pushfail(L, &err);
  lua_pushinteger(L, pid);
  return 1;
}

/* proc.kill(pid, sig) -> true, gone | nil, msg, code */
static int
lproc_kill(lua_State *L)
{
  lua_Integer pid = luaL_checkinteger(L, 1);
  int sig = lcb_checksignal(L, 2);
  struct cb_error *err = NULL;
  bool gone;

  luaL_argcheck(L, pid > 0 && pid <= 0x7fffffff, 1, "bad pid");
  if (cb_proc_kill((pid_t)pid, sig, &gone, &err) < 0)
    return lcb_pushfail(L, &err);
  lua_pushboolean(L, 1);
  lua_pushboolean(L, gone);
  return 2;
}

/* proc.signum(sig) -> number | nil */
static int
lproc_signum(lua_State *L)
{
  int sig = lcb_tosignal(L, 1);
  if (sig < 0)
    lua_pushnil(L);
  else
    lua_pushinteger(L, sig);
  return 1;
}

/* proc.setrlimit(name, soft, hard) -> true | nil, msg, code */
static int
lproc_setrlimit(lua_State *L)
{
  const char *name = luaL_checkstring(L, 1);
  lua_Integer soft = luaL_checkinteger(L, 2), hard = luaL_checkinteger(L, 3);
  struct cb_error *err = NULL;

  luaL_argcheck(L, soft >= -1, 2, "must be >= -1");
  luaL_argcheck(L, hard >= -1, 3, "must be >= -1");
  if (cb_proc_setrlimit(name, (int64_t)soft, (int64_t)hard, &err) < 0)
    return lcb_pushfail(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

struct leproc {
  struct cb_proc *p;
};

static struct cb_proc *
checkeproc(lua_State *L)
{
  struct leproc *e = luaL_checkudata(L, 1, EPROC_MT);
  if (e->p == NULL)
    luaL_error(L, "attempt to use a closed exec process");
  return e->p;
}

/* The mask of the N capability names CAPS; NULL gives docker's default set. */
static uint64_t
capmask(lua_State *L, const char *const *caps, size_t n)
{
  uint64_t mask = 0;

  if (caps == NULL)
    return CB_SANDBOX_DEFAULT_CAPS_MASK;
  for (size_t i = 0; i < n; i++) {
    const char *name = caps[i];
    char buf[64];
    cap_value_t cap;
    if (strncasecmp(name, "cap_", 4) == 0)
      name += 4;
    snprintf(buf, sizeof buf, "cap_%s", name);
    for (size_t j = 0; buf[j] != '\0'; j++)
      buf[j] = (char)(buf[j] >= 'A' && buf[j] <= 'Z' ? buf[j] - 'A' + 'a' : buf[j]);
    if (cap_from_name(buf, &cap) < 0 || cap < 0 || cap > 63)
      luaL_error(L, "unknown capability '%s'", caps[i]);
    mask |= UINT64_C(1) << cap;
  }
  return mask;
}

/* proc.enter{...} -> p | nil, msg, code */
static int
lproc_enter(lua_State *L)
{
  struct cb_proc_enter_config cfg;
  struct lcb_procfields f;
  struct cb_error *err = NULL;
  struct leproc *e;
  lua_Integer id;

  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  luaL_checkstack(L, 16, "proc.enter");
  cb_proc_enter_config_init(&cfg);
  id = lcb_optintfield(L, 1, "target", 0);
  if (id <= 0 || id > 0x7fffffff)
    return luaL_error(L, "proc.enter: field 'target' must be a pid");
  cfg.target = (pid_t)id;
  lcb_checkprocfields(L, 1, "proc.enter", &f);
  LCB_SET_PROCFIELDS(&cfg, &f);
  cfg.caps = capmask(L, f.caps, f.ncaps);

  e = lua_newuserdatauv(L, sizeof *e, 0);
  e->p = NULL;
  luaL_setmetatable(L, EPROC_MT);
  e->p = cb_proc_enter(&cfg, &err);
  if (e->p == NULL)
    return lcb_pushfail(L, &err);
  return 1;
}

static int
leproc_pid(lua_State *L)
{
  lua_pushinteger(L, cb_proc_pid(checkeproc(L)));
  return 1;
}

static int
wait_common(lua_State *L, bool nohang)
{
  struct cb_proc *p = checkeproc(L);
  struct cb_proc_status st;
  struct cb_error *err = NULL;
  int r = cb_proc_enter_wait(p, nohang, &st, &err);

  if (r < 0)
    return lcb_pushfail(L, &err);
  if (r == 0) {
    lua_pushboolean(L, 0); /* still running */
    return 1;
  }
  return lcb_pushexitstatus(L, st.exited, st.code, st.signal, st.exec_error);
}

static int
leproc_wait(lua_State *L)
{
  return wait_common(L, false);
}

static int
leproc_poll(lua_State *L)
{
  return wait_common(L, true);
}

static int
leproc_kill(lua_State *L)
{
  struct cb_proc *p = checkeproc(L);
  struct cb_error *err = NULL;
  int sig = lua_isnoneornil(L, 2) ? SIGKILL : lcb_checksignal(L, 2);

  if (cb_proc_enter_kill(p, sig, &err) < 0)
    return lcb_pushfail(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

static int
leproc_gc(lua_State *L)
{
  struct leproc *e = luaL_checkudata(L, 1, EPROC_MT);
  if (e->p != NULL) {
    cb_proc_free(e->p);
    e->p = NULL;
  }
  return 0;
}

static const luaL_Reg eproc_methods[] = { { "pid", leproc_pid },   { "wait", leproc_wait },
                                          { "poll", leproc_poll }, { "kill", leproc_kill },
                                          { "close", leproc_gc },  { NULL, NULL } };
static const luaL_Reg eproc_meta[] = { { "__gc", leproc_gc },
                                       { "__close", leproc_gc },
                                       { NULL, NULL } };
static const luaL_Reg proc_funcs[] = {
  { "spawn_detached", lproc_spawn_detached }, { "kill", lproc_kill },   { "signum", lproc_signum },
  { "setrlimit", lproc_setrlimit },           { "enter", lproc_enter }, { NULL, NULL }
};

int
luaopen_cbuild_core_proc(lua_State *L)
{
  lcb_newclass(L, EPROC_MT, eproc_meta, eproc_methods);
  luaL_newlib(L, proc_funcs);
  return 1;
}
