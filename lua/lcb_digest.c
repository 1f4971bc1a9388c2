/* STUB: replaced by the owner of the digest binding. */
#include "lcb.h"

int
luaopen_cbuild_core_digest(lua_State *L)
{
  lua_newtable(L);
  return 1;
}
