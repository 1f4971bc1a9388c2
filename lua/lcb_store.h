/*
 * What lcb_store.c and lcb_digest.c share with the other binding files: taking a store argument,
 * and moving digests between their C form and Lua's "sha256:<hex>" strings.
 */
#ifndef CBUILD_LCB_STORE_H
#define CBUILD_LCB_STORE_H

#include "lcb.h"

#include "cbuild/digest.h"
#include "cbuild/store.h"

#define LCB_STORE_MT "cbuild.core.store"

/* The store at IDX; raises unless it is an open cbuild.core.store.  Keep the userdata alive
 * (e.g. as a user value) for as long as C holds the pointer. */
struct cb_store *lcb_checkstore(lua_State *L, int idx);
/* Push "sha256:<hex>". */
void lcb_pushdigest(lua_State *L, const struct cb_digest *d);
/* Parse the string at IDX into OUT; raises (bad argument) on anything but "sha256:<64 hex>". */
void lcb_checkdigest(lua_State *L, int idx, struct cb_digest *out);
/* Optional digest field FIELD of the table at IDX: 1 and OUT set when present, 0 when absent or
 * nil; raises when it is not a valid digest string. */
int lcb_optdigestfield(lua_State *L, int idx, const char *field, struct cb_digest *out);

#endif
