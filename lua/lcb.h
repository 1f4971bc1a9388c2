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
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/types.h>

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
/* Optional file descriptor field (absent or nil gives -1). */
int lcb_optfdfield(lua_State *L, int idx, const char *field);
/* The strings of field FIELD of the table at IDX (absolute), or of that table itself when FIELD
 * is NULL, as a NULL-terminated array, *n of them, in a userdata pushed on the stack (the strings
 * stay referenced by the table).  An absent field pushes nil and gives NULL, *n = 0. */
const char **lcb_checkstrarray(lua_State *L, int idx, const char *field, size_t *n);
/* The signal at IDX: a number, or a name ("TERM", "SIGterm", "RTMIN+3"); -1 if none. */
int lcb_tosignal(lua_State *L, int idx);
/* lcb_tosignal, raising for an unknown signal. */
int lcb_checksignal(lua_State *L, int idx);
/* Push how a process ended: {exited=, code=, signal= (when killed), exec_error=}; return 1. */
int lcb_pushexitstatus(lua_State *L, bool exited, int code, int signal, const char *exec_error);

/* What sandbox.spawn and proc.enter both take: the command's environment, user, capabilities,
 * stdio and cgroups. */
struct lcb_procfields {
  const char *const *argv; /* never empty */
  const char *const *env;  /* NULL when absent */
  const char *cwd;
  uid_t uid;
  gid_t gid;
  const gid_t *groups;
  size_t ngroups;
  bool host_network; /* network = "host"; else "none" */
  bool privileged;
  const char *const *caps; /* names as given; NULL when absent */
  size_t ncaps;
  int stdio[3]; /* stdin, stdout, stderr; -1 when absent */
  bool ctty;
  const char *const *cgroup_procs;
  size_t ncgroup_procs;
  int seccomp;                 /* enum cb_seccomp_mode */
  const char *seccomp_profile; /* its JSON text for CB_SECCOMP_PROFILE */
  const char *seccomp_cache;   /* directory for compiled filters, or NULL */
};
/* Read argv, env, cwd, uid, gid, groups, network, privileged, caps, stdin, stdout, stderr, ctty,
 * cgroup_procs, seccomp (nil or "default": docker's profile, "unconfined", or a docker JSON
 * profile) and seccomp_cache from the table at IDX (absolute); a bad field raises "WHO: ...".  The
 * arrays live in values pushed on the stack: leave them there until the config has been used. */
void lcb_checkprocfields(lua_State *L, int idx, const char *who, struct lcb_procfields *f);
/* Copy them, but caps, into *CFG: a cb_sandbox_config or a cb_proc_enter_config (same names). */
#define LCB_SET_PROCFIELDS(cfg, f)                                                                 \
  do {                                                                                             \
    (cfg)->argv = (f)->argv;                                                                       \
    (cfg)->env = (f)->env;                                                                         \
    (cfg)->cwd = (f)->cwd;                                                                         \
    (cfg)->uid = (f)->uid;                                                                         \
    (cfg)->gid = (f)->gid;                                                                         \
    (cfg)->groups = (f)->groups;                                                                   \
    (cfg)->ngroups = (f)->ngroups;                                                                 \
    (cfg)->host_network = (f)->host_network;                                                       \
    (cfg)->privileged = (f)->privileged;                                                           \
    memcpy((cfg)->stdio, (f)->stdio, sizeof(cfg)->stdio);                                          \
    (cfg)->ctty = (f)->ctty;                                                                       \
    (cfg)->cgroup_procs = (f)->cgroup_procs;                                                       \
    (cfg)->ncgroup_procs = (f)->ncgroup_procs;                                                     \
    (cfg)->seccomp = (enum cb_seccomp_mode)(f)->seccomp;                                           \
    (cfg)->seccomp_profile = (f)->seccomp_profile;                                                 \
    (cfg)->seccomp_cache = (f)->seccomp_cache;                                                     \
  } while (0)

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
LCB_EXPORT int luaopen_cbuild_core_net(lua_State *L);

#endif
