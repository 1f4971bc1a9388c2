/* lua/lcb_sandbox.c: binding for core/src/sandbox.c (require "cbuild.core.sandbox").
 *
 * sandbox.spawn{...} -> proc | nil, msg, code.  seccomp = nil or "default" (docker's profile for
 * the capabilities kept), "unconfined", or a docker JSON profile's text; never any when
 * privileged.  seccomp_cache = a directory keeping compiled filters across processes.  A proc owns
 * the container: collecting or closing it kills (SIGKILL) and reaps a container still running. Exec
 * failures (127/126) come back from wait/poll as exec_error, since they happen after spawn
 * returned. */
#include "lcb.h"

#include <signal.h>
#include <string.h>

#include "cbuild/sandbox.h"

#define PROC_MT "cbuild.core.sandbox.proc"

LCB_EXPORT int luaopen_cbuild_core_sandbox(lua_State *L);

struct lproc {
  struct cb_sandbox *sb; /* NULL once closed or collected */
};

static struct cb_sandbox *
checkproc(lua_State *L)
{
  struct lproc *p = luaL_checkudata(L, 1, PROC_MT);
  if (p->sb == NULL)
    luaL_error(L, "attempt to use a closed sandbox process");
  return p->sb;
}

static void
read_mounts(lua_State *L, int idx, struct cb_sandbox_config *cfg)
{
  struct cb_sandbox_mount *m;
  lua_Integer len;

  if (lua_getfield(L, idx, "mounts") == LUA_TNIL)
    return; /* nil placeholder stays */
  luaL_checktype(L, -1, LUA_TTABLE);
  len = luaL_len(L, -1);
  m = lua_newuserdatauv(L, ((size_t)len + 1) * sizeof *m, 0);
  memset(m, 0, ((size_t)len + 1) * sizeof *m);
  for (lua_Integer i = 1; i <= len; i++) {
    int t;
    const char *type;
    lua_Integer mode;
    lua_geti(L, -2, i);
    t = lua_gettop(L);
    if (!lua_istable(L, t))
      luaL_error(L, "mounts[%d] must be a table", (int)i);
    type = lcb_optstrfield(L, t, "type", "bind");
    if (strcmp(type, "bind") == 0)
      m[i - 1].type = CB_SANDBOX_BIND;
    else if (strcmp(type, "tmpfs") == 0)
      m[i - 1].type = CB_SANDBOX_TMPFS;
    else
      luaL_error(L, "mounts[%d]: unknown type '%s' (bind or tmpfs)", (int)i, type);
    m[i - 1].source = lcb_optstrfield(L, t, "source", NULL);
    m[i - 1].target = lcb_optstrfield(L, t, "target", NULL);
    if (m[i - 1].target == NULL)
      luaL_error(L, "mounts[%d]: target missing", (int)i);
    if (m[i - 1].type == CB_SANDBOX_BIND && m[i - 1].source == NULL)
      luaL_error(L, "mounts[%d]: bind needs a source", (int)i);
    m[i - 1].readonly = lcb_optboolfield(L, t, "readonly", 0);
    m[i - 1].size = (uint64_t)lcb_optintfield(L, t, "size", 0);
    mode = lcb_optintfield(L, t, "mode", 0);
    if (mode < 0 || mode > 07777)
      luaL_error(L, "mounts[%d]: bad mode", (int)i);
    m[i - 1].mode = (mode_t)mode;
    lua_pop(L, 1); /* strings stay referenced by the mounts table */
  }
  lua_remove(L, -2);
  cfg->mounts = m;
  cfg->nmounts = (size_t)len;
}

/* sandbox.spawn{rootfs=, argv=, ...} -> proc | nil, msg, code */
static int
lsandbox_spawn(lua_State *L)
{
  struct cb_sandbox_config cfg;
  struct lcb_procfields f;
  struct cb_error *err = NULL;
  struct lproc *p;

  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  luaL_checkstack(L, 24, "sandbox.spawn");
  cb_sandbox_config_init(&cfg);
  cfg.rootfs = lcb_optstrfield(L, 1, "rootfs", NULL);
  if (cfg.rootfs == NULL)
    return luaL_error(L, "sandbox.spawn: field 'rootfs' missing");
  lcb_checkprocfields(L, 1, "sandbox.spawn", &f);
  LCB_SET_PROCFIELDS(&cfg, &f);
  cfg.caps = f.caps;
  cfg.ncaps = f.ncaps;
  cfg.hostname = lcb_optstrfield(L, 1, "hostname", NULL);
  cfg.netns = lcb_optstrfield(L, 1, "netns", NULL);
  read_mounts(L, 1, &cfg);
  if (lua_getfield(L, 1, "etc_files") != LUA_TNIL) {
    int t = lua_gettop(L);
    luaL_checktype(L, t, LUA_TTABLE);
    cfg.resolv_conf = lcb_optstrfield(L, t, "resolv_conf", NULL);
    cfg.hosts = lcb_optstrfield(L, t, "hosts", NULL);
    cfg.etc_hostname = lcb_optstrfield(L, t, "hostname", NULL);
  }
  cfg.readonly_rootfs = lcb_optboolfield(L, 1, "readonly_rootfs", 0);
  cfg.host_pid = lcb_optboolfield(L, 1, "host_pid", 0);
  cfg.host_ipc = lcb_optboolfield(L, 1, "host_ipc", 0);
  cfg.host_uts = lcb_optboolfield(L, 1, "host_uts", 0);
  {
    lua_Integer shm = lcb_optintfield(L, 1, "shm_size", 0);
    luaL_argcheck(L, shm >= 0, 1, "shm_size must not be negative");
    cfg.shm_size = (uint64_t)shm;
  }
  cfg.setsid = lcb_optboolfield(L, 1, "setsid", 0);

  p = lua_newuserdatauv(L, sizeof *p, 0);
  p->sb = NULL; /* finished before anything can fail */
  luaL_setmetatable(L, PROC_MT);
  p->sb = cb_sandbox_spawn(&cfg, &err);
  if (p->sb == NULL)
    return lcb_pushfail(L, &err);
  return 1;
}

/* proc:pid() -> integer */
static int
lproc_pid(lua_State *L)
{
  lua_pushinteger(L, cb_sandbox_pid(checkproc(L)));
  return 1;
}

/* proc:pidfd() -> integer (readable when the container's init has exited; owned by proc) */
static int
lproc_pidfd(lua_State *L)
{
  lua_pushinteger(L, cb_sandbox_pidfd(checkproc(L)));
  return 1;
}

static int
wait_common(lua_State *L, bool nohang)
{
  struct cb_sandbox *sb = checkproc(L);
  struct cb_sandbox_status st;
  struct cb_error *err = NULL;
  int r = cb_sandbox_wait(sb, nohang, &st, &err);

  if (r < 0)
    return lcb_pushfail(L, &err);
  if (r == 0) {
    lua_pushboolean(L, 0); /* still running */
    return 1;
  }
  return lcb_pushexitstatus(L, st.exited, st.code, st.signal, st.exec_error);
}

/* proc:wait() -> {exited=, code=, signal=, exec_error=} | nil, msg, code */
static int
lproc_wait(lua_State *L)
{
  return wait_common(L, false);
}

/* proc:poll() -> status table as wait, or false while it runs */
static int
lproc_poll(lua_State *L)
{
  return wait_common(L, true);
}

/* proc:kill([sig]) -> true | nil, msg, code; sig is a number or a name ("TERM", "SIGKILL") */
static int
lproc_kill(lua_State *L)
{
  struct cb_sandbox *sb = checkproc(L);
  struct cb_error *err = NULL;
  int sig = lua_isnoneornil(L, 2) ? SIGKILL : lcb_checksignal(L, 2);

  if (cb_sandbox_kill(sb, sig, &err) < 0)
    return lcb_pushfail(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

/* proc:stubs() -> {"/etc/resolv.conf", ...}: mountpoints this run created in the rootfs */
static int
lproc_stubs(lua_State *L)
{
  const char *const *s = cb_sandbox_stubs(checkproc(L));
  lua_newtable(L);
  for (lua_Integer i = 1; *s != NULL; s++, i++) {
    lua_pushstring(L, *s);
    lua_rawseti(L, -2, i);
  }
  return 1;
}

/* proc:remove_stubs() -> true | nil, msg, code (after the container ended) */
static int
lproc_remove_stubs(lua_State *L)
{
  struct cb_error *err = NULL;
  if (cb_sandbox_remove_stubs(checkproc(L), &err) < 0)
    return lcb_pushfail(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

/* __gc and __close: kill and reap a container still running; safe to call twice */
static int
lproc_gc(lua_State *L)
{
  struct lproc *p = luaL_checkudata(L, 1, PROC_MT);
  if (p->sb != NULL) {
    cb_sandbox_free(p->sb);
    p->sb = NULL;
  }
  return 0;
}

static int
lproc_tostring(lua_State *L)
{
  struct lproc *p = luaL_checkudata(L, 1, PROC_MT);
  if (p->sb == NULL)
    lua_pushliteral(L, "sandbox proc (closed)");
  else
    lua_pushfstring(L, "sandbox proc (pid %d)", (int)cb_sandbox_pid(p->sb));
  return 1;
}

static const luaL_Reg proc_methods[] = { { "pid", lproc_pid },
                                         { "pidfd", lproc_pidfd },
                                         { "wait", lproc_wait },
                                         { "poll", lproc_poll },
                                         { "kill", lproc_kill },
                                         { "stubs", lproc_stubs },
                                         { "remove_stubs", lproc_remove_stubs },
                                         { "close", lproc_gc },
                                         { NULL, NULL } };
static const luaL_Reg proc_meta[] = {
  { "__gc", lproc_gc }, { "__close", lproc_gc }, { "__tostring", lproc_tostring }, { NULL, NULL }
};
static const luaL_Reg sandbox_funcs[] = { { "spawn", lsandbox_spawn }, { NULL, NULL } };

int
luaopen_cbuild_core_sandbox(lua_State *L)
{
  lcb_newclass(L, PROC_MT, proc_meta, proc_methods);
  luaL_newlib(L, sandbox_funcs);
  return 1;
}
