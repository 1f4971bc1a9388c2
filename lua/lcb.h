/*
 * The bridge between Lua and the C core: the only place that includes both <lua.h> and
 * <cbuild/...>.  One lcb_<subsys>.c per core subsystem, each with its luaopen_cbuild_core_<x>.
 *
 * Conventions (STYLE.md 3.3): check arguments first; misuse raises; environmental failure
 * returns nil, msg, code through lcb_pushfail; userdata are created "finished" before the C
 * resource is acquired; __gc and __close are the same idempotent function.
 */
#ifndef CBUILD_LCB_H
#define CBUILD_LCB_H

#include <lauxlib.h>
#include <lua.h>

#include "cbuild/error.h"

/* Push nil, (*err)->msg, cb_error_code(*err); free *err; return 3. */
int lcb_pushfail(lua_State *L, struct cb_error **err);
/* Push nil, msg, code for an errno failure; return 3. */
int lcb_pusherrno(lua_State *L, int errnum, const char *what);
/* Create metatable NAME with META (may hold "__index" = NULL) and METHODS as its __index. */
void lcb_newclass(lua_State *L, const char *name, const luaL_Reg *meta, const luaL_Reg *methods);
/* Optional boolean field of the table at index IDX (absent or nil gives DEF). */
int lcb_optboolfield(lua_State *L, int idx, const char *field, int def);
/* Optional integer field of the table at index IDX (absent or nil gives DEF). */
lua_Integer lcb_optintfield(lua_State *L, int idx, const char *field, lua_Integer def);
/* Optional string field of the table at index IDX (absent or nil gives DEF; stays on no stack). */
const char *lcb_optstrfield(lua_State *L, int idx, const char *field, const char *def);

/* Every C module; main.c preloads them and cbuild.so exports them (so: default visibility). */
#define LCB_EXPORT __attribute__((visibility("default")))
LCB_EXPORT int luaopen_cbuild_core(lua_State *L);
LCB_EXPORT int luaopen_cbuild_core_digest(lua_State *L);
LCB_EXPORT int luaopen_cbuild_core_json(lua_State *L);
LCB_EXPORT int luaopen_cbuild_core_store(lua_State *L);
LCB_EXPORT int luaopen_cbuild_core_archive(lua_State *L);
LCB_EXPORT int luaopen_cbuild_core_fs(lua_State *L);
LCB_EXPORT int luaopen_cbuild_core_sys(lua_State *L);
LCB_EXPORT int luaopen_cbuild_core_cgroup(lua_State *L);
LCB_EXPORT int luaopen_cbuild_core_http(lua_State *L);
LCB_EXPORT int luaopen_cbuild_core_sandbox(lua_State *L);
LCB_EXPORT int luaopen_cbuild_core_mount(lua_State *L);
LCB_EXPORT int luaopen_cbuild_core_pty(lua_State *L);
LCB_EXPORT int luaopen_cbuild_core_proc(lua_State *L);

#endif
