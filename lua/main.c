/*
 * The `cbuild` executable: a Lua 5.4 state with the C core preloaded and stdlib/ on the path,
 * handing argv to require("cbuild.cli").main.  Shaped after lua.c: all work happens inside
 * lua_pcall, so an error in the CLI itself still ends with a message, not an abort.
 *
 * Exit status: whatever cli.main returns; 70 (EX_SOFTWARE) when Lua raised past it (a bug).
 */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lcb.h"

static const luaL_Reg preloads[] = { { "cbuild.core", luaopen_cbuild_core },
                                     { "cbuild.core.digest", luaopen_cbuild_core_digest },
                                     { "cbuild.core.json", luaopen_cbuild_core_json },
                                     { "cbuild.core.store", luaopen_cbuild_core_store },
                                     { "cbuild.core.archive", luaopen_cbuild_core_archive },
                                     { "cbuild.core.fs", luaopen_cbuild_core_fs },
                                     { "cbuild.core.sys", luaopen_cbuild_core_sys },
                                     { "cbuild.core.cgroup", luaopen_cbuild_core_cgroup },
                                     { "cbuild.core.http", luaopen_cbuild_core_http },
                                     { "cbuild.core.sandbox", luaopen_cbuild_core_sandbox },
                                     { "cbuild.core.mount", luaopen_cbuild_core_mount },
                                     { "cbuild.core.pty", luaopen_cbuild_core_pty },
                                     { "cbuild.core.proc", luaopen_cbuild_core_proc },
                                     { "cbuild.core.net", luaopen_cbuild_core_net },
                                     { NULL, NULL } };

static int
file_exists(const char *dir, const char *rel)
{
  char path[PATH_MAX];
  if (snprintf(path, sizeof path, "%s/%s", dir, rel) >= (int)sizeof path)
    return 0;
  return access(path, R_OK) == 0;
}

/*
 * Where stdlib lives: $CBUILD_STDLIB, else the installed copy next to the executable
 * (<prefix>/bin/cbuild -> <prefix>/share/cbuild/lua), else the source tree this binary was
 * built from, so build/cbuild runs without installing (with build_tree_searcher in front).
 */
static const char *
find_stdlib(char *buf, size_t len)
{
  const char *env = getenv("CBUILD_STDLIB");
  char exe[PATH_MAX];
  ssize_t n;

  if (env != NULL && env[0] != '\0')
    return env;
  n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    char *slash;
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    if (slash != NULL) {
      *slash = '\0';
      if (snprintf(buf, len, "%s/../share/cbuild/lua", exe) < (int)len &&
          file_exists(buf, "cbuild/cli/init.lua"))
        return buf;
    }
  }
  return CBUILD_SOURCE_STDLIB;
}

static bool
newer_or_same(const struct timespec *a, const struct timespec *b)
{
  return a->tv_sec > b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec >= b->tv_nsec);
}

/*
 * Running from the build tree, a searcher ahead of Lua's own: a module's bytecode from the
 * build (CMake's stdlib-bytecode target: stdlib and argparse), unless its source in stdlib/
 * changed since it was compiled; then Lua's searcher compiles the source, so build/cbuild never
 * runs stale Lua between builds.
 */
static int
build_tree_searcher(lua_State *L)
{
  static const char *const suffixes[] = { ".lua", "/init.lua" };
  const char *rel = luaL_gsub(L, luaL_checkstring(L, 1), ".", "/");

  for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
    char src[PATH_MAX], bin[PATH_MAX];
    struct stat ss, bs;
    if (snprintf(src, sizeof src, "%s/%s%s", CBUILD_SOURCE_STDLIB, rel, suffixes[i]) >=
            (int)sizeof src ||
        snprintf(bin, sizeof bin, "%s/%s%s", CBUILD_BUILD_STDLIB, rel, suffixes[i]) >=
            (int)sizeof bin ||
        stat(bin, &bs) < 0)
      continue;
    /* not compiled since its source changed: the source it is (a module compiled from
     * elsewhere, argparse, has no source here) */
    if (stat(src, &ss) == 0 && !newer_or_same(&bs.st_mtim, &ss.st_mtim))
      return 0;
    if (luaL_loadfilex(L, bin, "b") != LUA_OK)
      return luaL_error(L, "error loading module '%s' from file '%s':\n\t%s", lua_tostring(L, 1),
                        bin, lua_tostring(L, -1));
    lua_pushstring(L, bin);
    return 2;
  }
  return 0;
}

/* Put build_tree_searcher second in package.searchers, after the preload searcher. */
static void
add_build_tree_searcher(lua_State *L)
{
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "searchers");
  for (lua_Integer i = (lua_Integer)luaL_len(L, -1); i >= 2; i--) {
    lua_rawgeti(L, -1, i);
    lua_rawseti(L, -2, i + 1);
  }
  lua_pushcfunction(L, build_tree_searcher);
  lua_rawseti(L, -2, 2);
  lua_pop(L, 2);
}

static int
msghandler(lua_State *L)
{
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL)
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  luaL_traceback(L, L, msg, 1);
  return 1;
}

static int
pmain(lua_State *L)
{
  int argc = (int)lua_tointeger(L, 1);
  char **argv = lua_touserdata(L, 2);
  char buf[PATH_MAX];
  const char *stdlib = find_stdlib(buf, sizeof buf);

  luaL_openlibs(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  for (const luaL_Reg *p = preloads; p->name != NULL; p++) {
    lua_pushcfunction(L, p->func);
    lua_setfield(L, -2, p->name);
  }
  lua_pop(L, 1);

  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", stdlib, stdlib, lua_tostring(L, -1));
  lua_setfield(L, -3, "path");
  lua_pop(L, 2);
  if (strcmp(stdlib, CBUILD_SOURCE_STDLIB) == 0)
    add_build_tree_searcher(L);

  lua_createtable(L, argc, 1); /* the global `arg`, as lua.c makes it */
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i);
  }
  lua_setglobal(L, "arg");

  lua_getglobal(L, "require");
  lua_pushliteral(L, "cbuild.cli");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "main");
  lua_createtable(L, argc, 0);
  for (int i = 1; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i);
  }
  lua_call(L, 1, 1);
  return 1;
}

int
main(int argc, char **argv)
{
  lua_State *L = luaL_newstate();
  int status;

  /* A reader that goes away (`cbuild logs | head`) is an EPIPE to handle, not a reason to die
   * mid-way; sandboxed children get every signal back to its default before they exec. */
  signal(SIGPIPE, SIG_IGN);

  if (L == NULL) {
    fprintf(stderr, "cbuild: cannot create Lua state: not enough memory\n");
    return 70;
  }
  lua_pushcfunction(L, msghandler);
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  if (lua_pcall(L, 2, 1, 1) != LUA_OK) {
    fprintf(stderr, "cbuild: internal error: %s\n", lua_tostring(L, -1));
    status = 70;
  } else {
    status = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : 0;
  }
  lua_close(L);
  return status;
}
