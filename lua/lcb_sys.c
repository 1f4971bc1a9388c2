/* lua/lcb_sys.c: binding for core/src/sys.c (require "cbuild.core.sys"). */
#include "lcb.h"

#include <stdlib.h>
#include <unistd.h>

#include "cbuild/sys.h"

static int
lsys_geteuid(lua_State *L)
{
  lua_pushinteger(L, (lua_Integer)geteuid());
  return 1;
}

static int
lsys_getuid(lua_State *L)
{
  lua_pushinteger(L, (lua_Integer)getuid());
  return 1;
}

static int
lsys_getpid(lua_State *L)
{
  lua_pushinteger(L, (lua_Integer)getpid());
  return 1;
}

/* sys.time() -> seconds since the epoch as a float (CLOCK_REALTIME) */
static int
lsys_time(lua_State *L)
{
  int64_t sec;
  long nsec;
  cb_sys_clock_realtime(&sec, &nsec);
  lua_pushnumber(L, (lua_Number)sec + (lua_Number)nsec / 1e9);
  return 1;
}

/* sys.clock_gettime() -> sec, nsec (integers, CLOCK_REALTIME) */
static int
lsys_clock_gettime(lua_State *L)
{
  int64_t sec;
  long nsec;
  cb_sys_clock_realtime(&sec, &nsec);
  lua_pushinteger(L, (lua_Integer)sec);
  lua_pushinteger(L, (lua_Integer)nsec);
  return 2;
}

/* sys.isatty(fd) -> bool */
static int
lsys_isatty(lua_State *L)
{
  lua_Integer fd = luaL_checkinteger(L, 1);
  luaL_argcheck(L, fd >= 0 && fd <= 0x7fffffff, 1, "fd out of range");
  lua_pushboolean(L, cb_sys_isatty((int)fd));
  return 1;
}

/* sys.uname() -> {sysname=, release=, machine=} | nil, msg, code */
static int
lsys_uname(lua_State *L)
{
  struct cb_uname u;
  struct cb_error *err = NULL;

  if (cb_sys_uname(&u, &err) < 0)
    return lcb_pushfail(L, &err);
  lua_createtable(L, 0, 3);
  lua_pushstring(L, u.sysname);
  lua_setfield(L, -2, "sysname");
  lua_pushstring(L, u.release);
  lua_setfield(L, -2, "release");
  lua_pushstring(L, u.machine);
  lua_setfield(L, -2, "machine");
  return 1;
}

static int
lsys_hostname(lua_State *L)
{
  struct cb_error *err = NULL;
  char *h = cb_sys_hostname(&err);
  if (h == NULL)
    return lcb_pushfail(L, &err);
  lua_pushstring(L, h);
  free(h);
  return 1;
}

static int
lsys_nproc(lua_State *L)
{
  lua_pushinteger(L, (lua_Integer)cb_sys_nproc());
  return 1;
}

/* sys.umask() -> current mask; sys.umask(new) -> previous mask */
static int
lsys_umask(lua_State *L)
{
  if (lua_isnoneornil(L, 1)) {
    lua_pushinteger(L, (lua_Integer)cb_sys_umask_get());
  } else {
    lua_Integer m = luaL_checkinteger(L, 1);
    luaL_argcheck(L, m >= 0 && m <= 0777, 1, "mask out of range");
    lua_pushinteger(L, (lua_Integer)cb_sys_umask_set((mode_t)m));
  }
  return 1;
}

static const luaL_Reg sys_funcs[] = { { "geteuid", lsys_geteuid },
                                      { "getuid", lsys_getuid },
                                      { "getpid", lsys_getpid },
                                      { "time", lsys_time },
                                      { "clock_gettime", lsys_clock_gettime },
                                      { "isatty", lsys_isatty },
                                      { "uname", lsys_uname },
                                      { "hostname", lsys_hostname },
                                      { "nproc", lsys_nproc },
                                      { "umask", lsys_umask },
                                      { NULL, NULL } };

int
luaopen_cbuild_core_sys(lua_State *L)
{
  luaL_newlib(L, sys_funcs);
  return 1;
}
