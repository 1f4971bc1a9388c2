#include "lcb.h"

#include <string.h>

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
