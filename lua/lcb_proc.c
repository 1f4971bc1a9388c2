/* lua/lcb_proc.c: binding for core/src/proc.c (require "cbuild.core.proc").
 *
 *   proc.spawn_detached(argv, [{stdin=, stdout=, stderr=, keep_fd=}]) -> pid | nil, msg, code
 *   proc.kill(pid, sig) -> true, gone | nil, msg, code      (sig: number or "TERM"/"SIGTERM")
 *   proc.signum(name_or_number) -> number | nil             (nil for an unknown name)
 *   proc.setrlimit(name, soft, hard) -> true | nil, msg, code (docker's --ulimit names; -1 =
 *                                          unlimited; this process, inherited by children)
 *   proc.enter{target=, argv=, env=, cwd=, uid=, gid=, groups=, network=, privileged=, caps=,
 *              stdin=, stdout=, stderr=, ctty=, cgroup_procs=} -> p | nil, msg, code
 *   p:pid() p:wait() p:poll() p:kill([sig]) p:close()        (wait/poll as sandbox procs)
 *
 * caps: names of the capabilities to keep ("CHOWN", "cap_chown"); absent = docker's default set.
 * A p still running when closed or collected is killed and reaped.
 */
#include "lcb.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/capability.h>

#include "cbuild/proc.h"

#define EPROC_MT     "cbuild.core.proc.enter"
#define DEFAULT_CAPS UINT64_C(0x00000000a80425fb)

LCB_EXPORT int luaopen_cbuild_core_proc(lua_State *L);

static const struct {
  const char *name;
  int sig;
} signames[] = {
  { "HUP", SIGHUP },       { "INT", SIGINT },   { "QUIT", SIGQUIT },     { "ILL", SIGILL },
  { "TRAP", SIGTRAP },     { "ABRT", SIGABRT }, { "IOT", SIGIOT },       { "BUS", SIGBUS },
  { "FPE", SIGFPE },       { "KILL", SIGKILL }, { "USR1", SIGUSR1 },     { "SEGV", SIGSEGV },
  { "USR2", SIGUSR2 },     { "PIPE", SIGPIPE }, { "ALRM", SIGALRM },     { "TERM", SIGTERM },
  { "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD }, { "CONT", SIGCONT },     { "STOP", SIGSTOP },
  { "TSTP", SIGTSTP },     { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU },     { "URG", SIGURG },
  { "XCPU", SIGXCPU },     { "XFSZ", SIGXFSZ }, { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },
  { "WINCH", SIGWINCH },   { "IO", SIGIO },     { "PWR", SIGPWR },       { "SYS", SIGSYS },
};

/* The signal at IDX (a number or a name), or -1. */
static int
tosignal(lua_State *L, int idx)
{
  if (lua_type(L, idx) == LUA_TNUMBER) {
    lua_Integer n = lua_tointeger(L, idx);
    return n > 0 && n < NSIG ? (int)n : -1;
  }
  if (lua_type(L, idx) == LUA_TSTRING) {
    const char *name = lua_tostring(L, idx);
    char *end;
    long n = strtol(name, &end, 10);
    if (*name != '\0' && *end == '\0')
      return n > 0 && n < NSIG ? (int)n : -1;
    if (strncasecmp(name, "SIG", 3) == 0)
      name += 3;
    for (size_t i = 0; i < sizeof signames / sizeof *signames; i++)
      if (strcasecmp(name, signames[i].name) == 0)
        return signames[i].sig;
    if (strncasecmp(name, "RTMIN+", 6) == 0) {
      n = strtol(name + 6, &end, 10);
      if (*end == '\0' && n >= 0 && SIGRTMIN + n <= SIGRTMAX)
        return SIGRTMIN + (int)n;
    }
  }
  return -1;
}

static int
checksignal(lua_State *L, int idx)
{
  int sig = tosignal(L, idx);
  if (sig < 0)
    luaL_argerror(L, idx, "unknown signal");
  return sig;
}

static int
optfd(lua_State *L, int idx, const char *field)
{
  lua_Integer fd = lcb_optintfield(L, idx, field, -1);
  if (fd < -1 || fd > 1 << 30)
    luaL_error(L, "field '%s' must be a file descriptor", field);
  return (int)fd;
}

/* The strings of the table at IDX (or field FIELD of it) as a NULL-terminated array in a userdata
 * left on the stack; an absent field pushes nil and gives NULL. */
static const char **
strarray(lua_State *L, int idx, const char *field, size_t *n)
{
  const char **v;
  lua_Integer len;

  *n = 0;
  if (field != NULL) {
    if (lua_getfield(L, idx, field) == LUA_TNIL)
      return NULL;
  } else {
    lua_pushvalue(L, idx);
  }
  if (!lua_istable(L, -1))
    luaL_error(L, "'%s' must be a table of strings", field != NULL ? field : "argv");
  len = luaL_len(L, -1);
  v = lua_newuserdatauv(L, ((size_t)len + 1) * sizeof *v, 0);
  for (lua_Integer i = 1; i <= len; i++) {
    lua_geti(L, -2, i);
    v[i - 1] = lua_tostring(L, -1);
    if (v[i - 1] == NULL)
      luaL_error(L, "'%s' must be a table of strings (item %d)", field != NULL ? field : "argv",
                 (int)i);
    lua_pop(L, 1);
  }
  v[len] = NULL;
  lua_remove(L, -2);
  *n = (size_t)len;
  return v;
}

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
  stdio[0] = optfd(L, 2, "stdin");
  stdio[1] = optfd(L, 2, "stdout");
  stdio[2] = optfd(L, 2, "stderr");
  keep = optfd(L, 2, "keep_fd");
  argv = strarray(L, 1, NULL, &n);
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
  int sig = checksignal(L, 2);
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
  int sig = tosignal(L, 1);
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

static uint64_t
capmask(lua_State *L, int idx)
{
  uint64_t mask = 0;
  lua_Integer len;

  if (lua_getfield(L, idx, "caps") == LUA_TNIL) {
    lua_pop(L, 1);
    return DEFAULT_CAPS;
  }
  luaL_checktype(L, -1, LUA_TTABLE);
  len = luaL_len(L, -1);
  for (lua_Integer i = 1; i <= len; i++) {
    char buf[64];
    const char *name;
    cap_value_t cap;
    size_t j;
    lua_geti(L, -1, i);
    name = lua_tostring(L, -1);
    if (name == NULL)
      luaL_error(L, "caps[%d] must be a string", (int)i);
    if (strncasecmp(name, "cap_", 4) == 0)
      name += 4;
    snprintf(buf, sizeof buf, "cap_%s", name);
    for (j = 0; buf[j] != '\0'; j++)
      buf[j] = (char)(buf[j] >= 'A' && buf[j] <= 'Z' ? buf[j] - 'A' + 'a' : buf[j]);
    if (cap_from_name(buf, &cap) < 0 || cap < 0 || cap > 63)
      luaL_error(L, "unknown capability '%s'", lua_tostring(L, -1));
    mask |= UINT64_C(1) << cap;
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return mask;
}

/* proc.enter{...} -> p | nil, msg, code */
static int
lproc_enter(lua_State *L)
{
  struct cb_proc_enter_config cfg;
  struct cb_error *err = NULL;
  struct leproc *e;
  const char *network;
  lua_Integer id;
  size_t n;

  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  luaL_checkstack(L, 16, "proc.enter");
  cb_proc_enter_config_init(&cfg);
  id = lcb_optintfield(L, 1, "target", 0);
  if (id <= 0 || id > 0x7fffffff)
    return luaL_error(L, "proc.enter: field 'target' must be a pid");
  cfg.target = (pid_t)id;
  cfg.argv = strarray(L, 1, "argv", &n);
  if (cfg.argv == NULL || n == 0)
    return luaL_error(L, "proc.enter: field 'argv' must be a non-empty table of strings");
  cfg.env = strarray(L, 1, "env", &n);
  cfg.cwd = lcb_optstrfield(L, 1, "cwd", NULL);
  id = lcb_optintfield(L, 1, "uid", 0);
  if (id < 0 || id > UINT32_MAX - 1)
    return luaL_error(L, "proc.enter: bad uid");
  cfg.uid = (uid_t)id;
  id = lcb_optintfield(L, 1, "gid", 0);
  if (id < 0 || id > UINT32_MAX - 1)
    return luaL_error(L, "proc.enter: bad gid");
  cfg.gid = (gid_t)id;
  if (lua_getfield(L, 1, "groups") != LUA_TNIL) {
    lua_Integer len;
    gid_t *g;
    luaL_checktype(L, -1, LUA_TTABLE);
    len = luaL_len(L, -1);
    g = lua_newuserdatauv(L, ((size_t)len + 1) * sizeof *g, 0);
    for (lua_Integer i = 1; i <= len; i++) {
      int isnum;
      lua_geti(L, -2, i);
      id = lua_tointegerx(L, -1, &isnum);
      if (!isnum || id < 0 || id > UINT32_MAX - 1)
        return luaL_error(L, "proc.enter: groups[%d] must be a gid", (int)i);
      g[i - 1] = (gid_t)id;
      lua_pop(L, 1);
    }
    cfg.groups = g;
    cfg.ngroups = (size_t)len;
  }
  network = lcb_optstrfield(L, 1, "network", "none");
  cfg.host_network = strcmp(network, "host") == 0;
  cfg.privileged = lcb_optboolfield(L, 1, "privileged", 0);
  cfg.caps = capmask(L, 1);
  cfg.stdio[0] = optfd(L, 1, "stdin");
  cfg.stdio[1] = optfd(L, 1, "stdout");
  cfg.stdio[2] = optfd(L, 1, "stderr");
  cfg.ctty = lcb_optboolfield(L, 1, "ctty", 0);
  cfg.cgroup_procs = strarray(L, 1, "cgroup_procs", &cfg.ncgroup_procs);

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
    lua_pushboolean(L, 0);
    return 1;
  }
  lua_createtable(L, 0, 4);
  lua_pushboolean(L, st.exited);
  lua_setfield(L, -2, "exited");
  lua_pushinteger(L, st.code);
  lua_setfield(L, -2, "code");
  if (st.signal != 0) {
    lua_pushinteger(L, st.signal);
    lua_setfield(L, -2, "signal");
  }
  if (st.exec_error != NULL) {
    lua_pushstring(L, st.exec_error);
    lua_setfield(L, -2, "exec_error");
  }
  return 1;
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
  int sig = lua_isnoneornil(L, 2) ? SIGKILL : checksignal(L, 2);

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
