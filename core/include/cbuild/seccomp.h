/*
 * seccomp filters for containers, in docker's terms: docker's default profile (moby
 * profiles/seccomp/default.json: everything not allowed fails with EPERM, namespace-creating
 * clone flags refused, clone3 answered with ENOSYS so libc falls back to clone, a few syscalls
 * allowed only with the capability that makes them useful), or a profile in docker's JSON format.
 *
 * Contract:
 * - A profile is compiled (libseccomp) into a classic BPF program in the caller, once; loading it
 *   in a child is a single seccomp(2) call that never allocates, so it is safe between a raw
 *   clone and exec.
 * - Rules are chosen for the container's capability set CAPS (bit N = capability N), as docker
 *   does with the "includes"/"excludes" "caps" of a rule; "arches" and "minKernel" are matched
 *   against this machine.  On x86_64 the filter covers x86_64, i386 and x32 (docker's archMap).
 * - Syscall names libseccomp does not know are skipped, as runc does.
 * - Compiling takes libseccomp ~10 ms, so cb_seccomp_for keeps each program it compiled: in memory
 *   for the life of the process and, given a cache directory, in a file named by the digest of
 *   everything the program depends on (profile, CAPS, libseccomp version, kernel), as crun does.
 */
#ifndef CBUILD_SECCOMP_H
#define CBUILD_SECCOMP_H

#include <stddef.h>
#include <stdint.h>

#include "cbuild/common.h"
#include "cbuild/error.h"

/* Which filter a sandbox or an exec'ed process gets (never any when privileged). */
enum cb_seccomp_mode {
  CB_SECCOMP_DEFAULT = 0, /* docker's default profile */
  CB_SECCOMP_UNCONFINED,  /* none (--security-opt seccomp=unconfined) */
  CB_SECCOMP_PROFILE,     /* a docker JSON profile, given as text */
};

struct cb_seccomp; /* a compiled filter */

/* docker's default profile for a container with capabilities CAPS.  NULL with *err on failure. */
CB_API struct cb_seccomp *cb_seccomp_default(uint64_t caps, struct cb_error **err);
/* The docker JSON profile TEXT (defaultAction, defaultErrnoRet, architectures or archMap,
 * syscalls[{name|names, action, errnoRet, args, includes, excludes}]) for CAPS.  CB_E_INVALID for
 * a malformed profile. */
CB_API struct cb_seccomp *cb_seccomp_from_json(const char *text, uint64_t caps,
                                               struct cb_error **err);
/* What MODE (and PROFILE, the JSON text for CB_SECCOMP_PROFILE) asks for: a filter, or NULL with
 * *err untouched for CB_SECCOMP_UNCONFINED.  NULL with *err set on failure.  CACHE_DIR (may be
 * NULL; created when missing) keeps compiled programs across processes. */
CB_API struct cb_seccomp *cb_seccomp_for(enum cb_seccomp_mode mode, const char *profile,
                                         uint64_t caps, const char *cache_dir,
                                         struct cb_error **err);
/* Number of BPF instructions. */
CB_API size_t cb_seccomp_size(const struct cb_seccomp *f);
/* Install F in the calling thread: needs no_new_privs or CAP_SYS_ADMIN.  One syscall, no
 * allocation.  0, or -1 with errno. */
CB_API int cb_seccomp_load(const struct cb_seccomp *f);
/* NULL is fine. */
CB_API void cb_seccomp_free(struct cb_seccomp *f);

#endif
