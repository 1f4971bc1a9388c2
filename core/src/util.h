/*
 * Internal helpers shared by the files of core/src: allocation that aborts on OOM, cleanup
 * attributes, retrying I/O, and temp files that vanish unless kept.  Not part of the public API
 * (cb__).
 */
#ifndef CBUILD_UTIL_H
#define CBUILD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cbuild/common.h"
#include "cbuild/error.h"

__attribute__((noreturn)) void cb__die_oom(void);
void *cb__xmalloc(size_t n);
void *cb__xcalloc(size_t n, size_t size);
void *cb__xrealloc(void *p, size_t n);
char *cb__xstrdup(const char *s);
char *cb__xasprintf(const char *fmt, ...) CB_PRINTF(1, 2);

void cb__freep(void *pp);
void cb__closep(int *fdp);
#define cb_autofree  __attribute__((cleanup(cb__freep)))
#define cb_autoclose __attribute__((cleanup(cb__closep)))

/* Return *fdp and set it to -1: ownership moves to the caller (crun's get_and_reset). */
static inline int
cb_steal_fd(int *fdp)
{
  int fd = *fdp;
  *fdp = -1;
  return fd;
}

static inline void *
cb_steal_ptr(void *pp)
{
  void **p = pp;
  void *v = *p;
  *p = NULL;
  return v;
}

/* read(2)/write(2) retried on EINTR; cb_write_all loops until every byte is written. */
ssize_t cb_read_retry(int fd, void *buf, size_t len);
int cb_write_all(int fd, const void *buf, size_t len);
/* Read a whole file below dirfd (AT_FDCWD for a plain path); *out is NUL-terminated. */
int cb__read_file_at(int dirfd, const char *path, char **out, size_t *len, struct cb_error **err);
/* Replace dirfd/name atomically: write to a temp file beside it, fsync, rename, fsync dir. */
int cb__atomic_write_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                        struct cb_error **err);
/* mkdir -p relative to dirfd (AT_FDCWD for absolute/cwd-relative paths). */
int cb__mkdir_p_at(int dirfd, const char *path, mode_t mode, struct cb_error **err);

/* An O_TMPFILE-less temp file in a directory: unlinked on cleanup unless keep is set. */
struct cb_tmpfile {
  int dirfd; /* not owned */
  int fd;
  char name[64];
  bool keep;
};
#define CB_TMPFILE_INIT                                                                            \
  {                                                                                                \
    .dirfd = -1, .fd = -1, .name = "", .keep = false                                               \
  }
int cb_tmpfile_open(struct cb_tmpfile *t, int dirfd, struct cb_error **err);
void cb_tmpfile_release(struct cb_tmpfile *t);
#define cb_autotmp __attribute__((cleanup(cb_tmpfile_release)))

#endif
