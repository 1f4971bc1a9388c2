/*
 * Embedding cbuild: a C program that builds an image from a recipe held in a string, and gives
 * the recipe a function of its own (greeting) to call.
 *
 *   cc examples/embed/embed.c $(pkg-config --cflags --libs cbuild) -o embed
 *   ./embed [STORE [TAG]]      (default store: $CBUILD_ROOT or cbuild's default)
 *
 * Prints the image ID.
 */
#include <cbuild.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>

static const char recipe[] =
    "local cb = require 'cbuild'\n"
    "return cb.scratch()\n"
    "  :write('/etc/greeting', greeting('embedded') .. '\\n', { mode = '0644' })\n"
    "  :label { ['org.example.built-by'] = 'embed.c' }\n"
    "  :cmd { '/etc/greeting' }\n";

/* greeting(name) -> "hello, NAME, from C": a host function the recipe can call. */
static int
greeting(lua_State *L)
{
  const char *name = luaL_checkstring(L, 1);
  lua_pushfstring(L, "hello, %s, from C", name);
  return 1;
}

int
main(int argc, char **argv)
{
  struct cb_embed_options opts = { .root = argc > 1 ? argv[1] : NULL, .quiet = 1 };
  const char *tag = argc > 2 ? argv[2] : "embed-example:latest";
  struct cb_error *err = NULL;
  struct cb_embed *e;
  char *id = NULL;

  e = cb_embed_new(&opts, &err);
  if (e == NULL) {
    fprintf(stderr, "embed: %s\n", err->msg);
    cb_error_free(&err);
    return 1;
  }
  if (cb_embed_register(e, "greeting", greeting, &err) < 0 ||
      cb_embed_run_string(e, recipe, "recipe.lua", tag, &id, &err) < 0) {
    fprintf(stderr, "embed: %s\n", err->msg);
    cb_error_free(&err);
    cb_embed_free(e);
    return 1;
  }
  printf("%s\n", id);
  free(id);
  cb_embed_free(e);
  return 0;
}
