/*
 * cbuild-luac: the build step that turns stdlib/ into Lua bytecode.  Loading a precompiled
 * chunk is about ten times cheaper than compiling its source, and a command loads twenty to
 * fifty modules: ~10 ms of every start.  Built against the same liblua as cbuild, so the
 * bytecode always matches the interpreter that loads it (luac5.4 could be another build).
 *
 *   cbuild-luac SRCDIR OUTDIR REL...
 *
 * compiles SRCDIR/REL into OUTDIR/REL for each REL, making directories as needed.  Chunks keep
 * their debug information and their source name (@SRCDIR/REL), so errors and tracebacks name
 * the source line, and stdlib's own frames still share one directory prefix.
 */
#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static int
writer(lua_State *L, const void *p, size_t n, void *ud)
{
  (void)L;
  return fwrite(p, 1, n, ud) == n ? 0 : 1;
}

/* mkdir -p of the directories above path. */
static int
make_parents(char *path)
{
  for (char *s = strchr(path + 1, '/'); s != NULL; s = strchr(s + 1, '/')) {
    *s = '\0';
    int rc = mkdir(path, 0755);
    *s = '/';
    if (rc < 0 && errno != EEXIST)
      return -1;
  }
  return 0;
}

static int
compile(lua_State *L, const char *src, char *out)
{
  FILE *f;
  int bad;

  if (luaL_loadfile(L, src) != LUA_OK) {
    fprintf(stderr, "cbuild-luac: %s\n", lua_tostring(L, -1));
    return -1;
  }
  if (make_parents(out) < 0 || (f = fopen(out, "wb")) == NULL) {
    fprintf(stderr, "cbuild-luac: %s: %s\n", out, strerror(errno));
    return -1;
  }
  bad = lua_dump(L, writer, f, 0);
  bad |= ferror(f);
  bad |= fclose(f);
  lua_pop(L, 1);
  if (bad) {
    fprintf(stderr, "cbuild-luac: write %s failed\n", out);
    return -1;
  }
  return 0;
}

int
main(int argc, char **argv)
{
  lua_State *L;
  int status = 0;

  if (argc < 3) {
    fprintf(stderr, "usage: cbuild-luac SRCDIR OUTDIR REL...\n");
    return 2;
  }
  L = luaL_newstate();
  if (L == NULL)
    return 1;
  for (int i = 3; i < argc && status == 0; i++) {
    char src[4096], out[4096];
    if (snprintf(src, sizeof src, "%s/%s", argv[1], argv[i]) >= (int)sizeof src ||
        snprintf(out, sizeof out, "%s/%s", argv[2], argv[i]) >= (int)sizeof out) {
      fprintf(stderr, "cbuild-luac: path too long: %s\n", argv[i]);
      status = 1;
    } else if (compile(L, src, out) < 0) {
      status = 1;
    }
  }
  lua_close(L);
  return status;
}
