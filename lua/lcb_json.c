/* STUB: replaced by the owner of the json binding. */
#include "lcb.h"

int
luaopen_cbuild_core_json(lua_State *L)
{
  lua_newtable(L);
  return 1;
}
