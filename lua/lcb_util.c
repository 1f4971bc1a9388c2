#include "lcb.h"

#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cbuild/seccomp.h"

int
lcb_pushfail(lua_State *L, struct cb_error **err)
{
  luaL_pushfail(L);
  lua_pushstring(L, *err != NULL ? (*err)->msg : "unknown error");
  lua_pushstring(L, cb_error_code(*err));
  cb_error_free(err);
  return 3;
}

int
lcb_pusherrno(lua_State *L, int errnum, const char *what)
{
  struct cb_error *err = NULL;
  cb_error_set(&err, CB_E_SYS, errnum, "%s", what);
  return lcb_pushfail(L, &err);
}

void
lcb_newclass(lua_State *L, const char *name, const luaL_Reg *meta, const luaL_Reg *methods)
{
  luaL_newmetatable(L, name);
  luaL_setfuncs(L, meta, 0);
  if (methods != NULL) {
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
}

int
lcb_optboolfield(lua_State *L, int idx, const char *field, int def)
{
  int v = def;
  if (lua_isnoneornil(L, idx))
    return def;
  luaL_checktype(L, idx, LUA_TTABLE);
  if (lua_getfield(L, idx, field) != LUA_TNIL)
    v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

lua_Integer
lcb_optintfield(lua_State *L, int idx, const char *field, lua_Integer def)
{
  lua_Integer v = def;
  if (lua_isnoneornil(L, idx))
    return def;
  luaL_checktype(L, idx, LUA_TTABLE);
  if (lua_getfield(L, idx, field) != LUA_TNIL) {
    int isnum;
    v = lua_tointegerx(L, -1, &isnum);
    if (!isnum)
      luaL_error(L, "field '%s' must be an integer", field);
  }
  lua_pop(L, 1);
  return v;
}

const char *
lcb_optstrfield(lua_State *L, int idx, const char *field, const char *def)
{
  const char *v = def;
  if (lua_isnoneornil(L, idx))
    return def;
  luaL_checktype(L, idx, LUA_TTABLE);
  if (lua_getfield(L, idx, field) != LUA_TNIL) {
    v = lua_tostring(L, -1);
    if (v == NULL)
      luaL_error(L, "field '%s' must be a string", field);
  }
  /* the string stays referenced by the table at IDX, so popping it keeps it alive */
  lua_pop(L, 1);
  return v;
}

int
lcb_optfdfield(lua_State *L, int idx, const char *field)
{
  lua_Integer fd = lcb_optintfield(L, idx, field, -1);
  if (fd < -1 || fd > 1 << 30)
    luaL_error(L, "field '%s' must be a file descriptor", field);
  return (int)fd;
}

const char **
lcb_checkstrarray(lua_State *L, int idx, const char *field, size_t *n)
{
  const char **v;
  lua_Integer len;

  *n = 0;
  if (field == NULL)
    lua_pushvalue(L, idx);
  else if (lua_getfield(L, idx, field) == LUA_TNIL)
    return NULL; /* the nil stays: each call pushes exactly one value */
  if (!lua_istable(L, -1)) {
    if (field == NULL)
      luaL_typeerror(L, idx, "table of strings");
    else
      luaL_error(L, "field '%s' must be a table of strings", field);
  }
  len = luaL_len(L, -1);
  v = lua_newuserdatauv(L, ((size_t)len + 1) * sizeof *v, 0);
  for (lua_Integer i = 1; i <= len; i++) {
    lua_geti(L, -2, i);
    v[i - 1] = lua_tostring(L, -1);
    if (v[i - 1] == NULL && field == NULL)
      luaL_argerror(L, idx, lua_pushfstring(L, "item %d is not a string", (int)i));
    else if (v[i - 1] == NULL)
      luaL_error(L, "field '%s' must be a table of strings (item %d)", field, (int)i);
    lua_pop(L, 1); /* still referenced by the table below */
  }
  v[len] = NULL;
  lua_remove(L, -2); /* the table, kept alive by the one at IDX */
  *n = (size_t)len;
  return v;
}

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

int
lcb_tosignal(lua_State *L, int idx)
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

int
lcb_checksignal(lua_State *L, int idx)
{
  int sig = lcb_tosignal(L, idx);
  if (sig < 0)
    luaL_argerror(L, idx, "unknown signal");
  return sig;
}

int
lcb_pushexitstatus(lua_State *L, bool exited, int code, int signal, const char *exec_error)
{
  lua_createtable(L, 0, 4);
  lua_pushboolean(L, exited);
  lua_setfield(L, -2, "exited");
  lua_pushinteger(L, code);
  lua_setfield(L, -2, "code");
  if (signal != 0) {
    lua_pushinteger(L, signal);
    lua_setfield(L, -2, "signal");
  }
  if (exec_error != NULL) {
    lua_pushstring(L, exec_error);
    lua_setfield(L, -2, "exec_error");
  }
  return 1;
}

/* An optional uid or gid field. */
static lua_Integer
optid(lua_State *L, int idx, const char *field, const char *who)
{
  lua_Integer id = lcb_optintfield(L, idx, field, 0);
  if (id < 0 || id > UINT32_MAX - 1)
    luaL_error(L, "%s: bad %s", who, field);
  return id;
}

void
lcb_checkprocfields(lua_State *L, int idx, const char *who, struct lcb_procfields *f)
{
  const char *network, *seccomp;
  size_t n;

  luaL_checkstack(L, 8, who);
  memset(f, 0, sizeof *f);
  f->argv = lcb_checkstrarray(L, idx, "argv", &n);
  if (f->argv == NULL || n == 0)
    luaL_error(L, "%s: field 'argv' must be a non-empty table of strings", who);
  f->env = lcb_checkstrarray(L, idx, "env", &n);
  f->cwd = lcb_optstrfield(L, idx, "cwd", NULL);
  f->uid = (uid_t)optid(L, idx, "uid", who);
  f->gid = (gid_t)optid(L, idx, "gid", who);
  if (lua_getfield(L, idx, "groups") != LUA_TNIL) {
    lua_Integer len;
    gid_t *g;
    luaL_checktype(L, -1, LUA_TTABLE);
    len = luaL_len(L, -1);
    g = lua_newuserdatauv(L, ((size_t)len + 1) * sizeof *g, 0);
    for (lua_Integer i = 1; i <= len; i++) {
      int isnum;
      lua_Integer id;
      lua_geti(L, -2, i);
      id = lua_tointegerx(L, -1, &isnum);
      if (!isnum || id < 0 || id > UINT32_MAX - 1)
        luaL_error(L, "%s: groups[%d] must be a gid", who, (int)i);
      g[i - 1] = (gid_t)id;
      lua_pop(L, 1);
    }
    f->groups = g;
    f->ngroups = (size_t)len;
  }
  network = lcb_optstrfield(L, idx, "network", "none");
  if (strcmp(network, "host") == 0)
    f->host_network = true;
  else if (strcmp(network, "none") != 0)
    luaL_error(L, "%s: network must be 'host' or 'none', not '%s'", who, network);
  f->privileged = lcb_optboolfield(L, idx, "privileged", 0);
  f->caps = lcb_checkstrarray(L, idx, "caps", &f->ncaps);
  f->stdio[0] = lcb_optfdfield(L, idx, "stdin");
  f->stdio[1] = lcb_optfdfield(L, idx, "stdout");
  f->stdio[2] = lcb_optfdfield(L, idx, "stderr");
  f->ctty = lcb_optboolfield(L, idx, "ctty", 0);
  f->cgroup_procs = lcb_checkstrarray(L, idx, "cgroup_procs", &f->ncgroup_procs);
  seccomp = lcb_optstrfield(L, idx, "seccomp", "default");
  if (strcmp(seccomp, "default") == 0) {
    f->seccomp = CB_SECCOMP_DEFAULT;
  } else if (strcmp(seccomp, "unconfined") == 0) {
    f->seccomp = CB_SECCOMP_UNCONFINED;
  } else {
    f->seccomp = CB_SECCOMP_PROFILE;
    f->seccomp_profile = seccomp;
  }
  f->seccomp_cache = lcb_optstrfield(L, idx, "seccomp_cache", NULL);
}
