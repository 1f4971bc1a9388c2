/*
 * libcbuild: cbuild as a library.  Embed the builder in a C program: make a Lua state with
 * cbuild loaded, give recipes functions of your own, and build images from recipes (Lua
 * programs using `require "cbuild"`, see docs/lua-api.md) held in strings or files.
 *
 *   struct cb_error *err = NULL;
 *   struct cb_embed *e = cb_embed_new(&(struct cb_embed_options){ .root = "/tmp/store" }, &err);
 *   cb_embed_register(e, "greeting", my_lua_function);
 *   char *id = NULL;
 *   if (cb_embed_run_string(e, "return require('cbuild').scratch():write('/g', greeting())",
 *                           "recipe.lua", "example:latest", &id, &err) < 0)
 *     fprintf(stderr, "%s\n", err->msg);
 *   free(id);
 *   cb_embed_free(e);
 *
 * Build with `cc prog.c $(pkg-config --cflags --libs cbuild)`.
 *
 * Contract: functions that can fail return 0 (or a non-NULL pointer) on success and leave *err
 * alone; on failure they return -1 (or NULL) and set *err once (cbuild/error.h): release it
 * with cb_error_free.  A recipe's own mistakes come back the same way, with the message the
 * CLI prints ("recipe.lua:7: COPY: \"x\" not found in build context").  A struct cb_embed is
 * not thread-safe: use one per thread.  Nothing here prints, except the build progress
 * (stderr) unless options.quiet is set.
 *
 * The Lua stdlib (cbuild's *.lua) is found at $CBUILD_STDLIB, options.stdlib, next to the
 * library (<libdir>/../share/cbuild/lua), at the install path compiled in, and last in the
 * source tree the library was built from.
 */
#ifndef CBUILD_H
#define CBUILD_H

#include <lua.h>

#include "cbuild/common.h"
#include "cbuild/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Options of cb_embed_new; a zeroed struct (or NULL) gives the defaults. */
struct cb_embed_options {
  const char *root;    /* image store directory; NULL: $CBUILD_ROOT, else cbuild's default */
  const char *context; /* build context directory; NULL: the current directory */
  const char *stdlib;  /* cbuild's Lua stdlib directory; NULL: found as described above */
  int allow_host_exec; /* non-zero: recipes get the full Lua library (host commands, files) */
  int quiet;           /* non-zero: no progress output */
};

struct cb_embed;

/* The library's version, e.g. "0.1.0". */
CB_API const char *cb_version(void);

/* A Lua 5.4 state with the standard libraries and cbuild loaded.  NULL and *err when the state
 * cannot be made or the stdlib cannot be found. */
CB_API struct cb_embed *cb_embed_new(const struct cb_embed_options *opts, struct cb_error **err);

/* Close the state and free E (NULL is fine). */
CB_API void cb_embed_free(struct cb_embed *e);

/* The Lua state, for embedders that want to push their own values or run code: it stays owned
 * by E.  Leave the stack as you found it. */
CB_API lua_State *cb_embed_lua(struct cb_embed *e);

/* Make FN a global of every recipe E runs (and cb.host.NAME), e.g. a function that reads the
 * embedder's own configuration.  FN runs on E's state with the usual lua_CFunction rules. */
CB_API int cb_embed_register(struct cb_embed *e, const char *name, lua_CFunction fn,
                             struct cb_error **err);

/* Set a build arg (cb.args.NAME, and what img:arg(NAME) picks up), like --build-arg. */
CB_API int cb_embed_set_arg(struct cb_embed *e, const char *name, const char *value,
                            struct cb_error **err);

/* Run the recipe TEXT (named NAME in messages; NULL: "recipe.lua") and build what it returns.
 * TAG (may be NULL) names the image; a recipe with several outputs builds them all and TAG
 * is refused.  On success *IMAGE_ID (when IMAGE_ID is not NULL) is the image ID
 * ("sha256:<hex>") of the last output, malloc'd: free it. */
CB_API int cb_embed_run_string(struct cb_embed *e, const char *text, const char *name,
                               const char *tag, char **image_id, struct cb_error **err);

/* As cb_embed_run_string, with the recipe read from the file PATH. */
CB_API int cb_embed_run_file(struct cb_embed *e, const char *path, const char *tag, char **image_id,
                             struct cb_error **err);

/* require "cbuild" from a stock lua5.4 (cbuild.so on package.cpath): the recipe API. */
CB_API int luaopen_cbuild(lua_State *L);

#ifdef __cplusplus
}
#endif

#endif
