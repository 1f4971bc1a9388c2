/* require "cbuild.core": the whole C core as one table of submodules, plus the version. */
#include "lcb.h"

#include <stdio.h>

static const luaL_Reg submodules[] = {
  { "digest", luaopen_cbuild_core_digest },   { "json", luaopen_cbuild_core_json },
  { "store", luaopen_cbuild_core_store },     { "archive", luaopen_cbuild_core_archive },
  { "fs", luaopen_cbuild_core_fs },           { "sys", luaopen_cbuild_core_sys },
  { "cgroup", luaopen_cbuild_core_cgroup },   { "http", luaopen_cbuild_core_http },
  { "sandbox", luaopen_cbuild_core_sandbox }, { "mount", luaopen_cbuild_core_mount },
  { "pty", luaopen_cbuild_core_pty },         { "proc", luaopen_cbuild_core_proc },
  { "net", luaopen_cbuild_core_net },         { NULL, NULL }
};

int
luaopen_cbuild_core(lua_State *L)
{
  lua_newtable(L);
  for (const luaL_Reg *m = submodules; m->name != NULL; m++) {
    char modname[64];
    snprintf(modname, sizeof modname, "cbuild.core.%s", m->name);
    luaL_requiref(L, modname, m->func, 0);
    lua_setfield(L, -2, m->name);
  }
  lua_pushliteral(L, CBUILD_VERSION);
  lua_setfield(L, -2, "version");
  return 1;
}
