#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

void
cb__die_oom(void)
{
  static const char msg[] = "cbuild: out of memory\n";
  ssize_t r = write(2, msg, sizeof msg - 1);
  (void)r;
  abort();
}

void *
cb__xmalloc(size_t n)
{
  void *p = malloc(n ? n : 1);
  if (p == NULL)
    cb__die_oom();
  return p;
}

void *
cb__xcalloc(size_t n, size_t size)
{
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (p == NULL)
    cb__die_oom();
  return p;
}

void *
cb__xrealloc(void *p, size_t n)
{
  void *q = realloc(p, n ? n : 1);
  if (q == NULL)
    cb__die_oom();
  return q;
}

char *
cb__xstrdup(const char *s)
{
  char *p = strdup(s);
  if (p == NULL)
    cb__die_oom();
  return p;
}

char *
cb__xasprintf(const char *fmt, ...)
{
  va_list ap;
  char *s = NULL;
  int r;

  va_start(ap, fmt);
  r = vasprintf(&s, fmt, ap);
  va_end(ap);
  if (r < 0)
    cb__die_oom();
  return s;
}

void
cb__freep(void *pp)
{
  void **p = pp;
  free(*p);
  *p = NULL;
}

void
cb__closep(int *fdp)
{
  if (*fdp >= 0) {
    int saved = errno; /* cleanup must not clobber the errno being reported */
    close(*fdp);
    errno = saved;
  }
  *fdp = -1;
}

ssize_t
cb_read_retry(int fd, void *buf, size_t len)
{
  ssize_t n;
  do
    n = read(fd, buf, len);
  while (n < 0 && errno == EINTR);
  return n;
}

int
cb_write_all(int fd, const void *buf, size_t len)
{
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int
cb__read_file_at(int dirfd, const char *path, char **out, size_t *len, struct cb_error **err)
{
  cb_autoclose int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
  char *buf = NULL;
  size_t cap = 0, used = 0;

  if (fd < 0)
    return cb_error_set(err, CB_E_SYS, errno, "open '%s'", path);
  for (;;) {
    ssize_t n;
    if (cap - used < 65536) {
      cap = cap ? cap * 2 : 65536;
      buf = cb__xrealloc(buf, cap + 1);
    }
    n = cb_read_retry(fd, buf + used, cap - used);
    if (n < 0) {
      free(buf);
      return cb_error_set(err, CB_E_SYS, errno, "read '%s'", path);
    }
    if (n == 0)
      break;
    used += (size_t)n;
  }
  buf[used] = '\0';
  *out = buf;
  if (len != NULL)
    *len = used;
  return 0;
}

int
cb_tmpfile_open(struct cb_tmpfile *t, int dirfd, struct cb_error **err)
{
  for (int tries = 0; tries < 100; tries++) {
    uint64_t r;
    if (getrandom(&r, sizeof r, 0) != sizeof r)
      r = (uint64_t)getpid() * 2654435761u + (uint64_t)tries;
    snprintf(t->name, sizeof t->name, ".tmp-%016llx", (unsigned long long)r);
    t->fd = openat(dirfd, t->name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (t->fd >= 0) {
      t->dirfd = dirfd;
      t->keep = false;
      return 0;
    }
    if (errno != EEXIST)
      return cb_error_set(err, CB_E_SYS, errno, "create temp file");
  }
  return cb_error_set(err, CB_E_SYS, EEXIST, "create temp file");
}

void
cb_tmpfile_release(struct cb_tmpfile *t)
{
  int saved = errno;
  if (t->fd >= 0)
    close(t->fd);
  if (t->dirfd >= 0 && !t->keep && t->name[0] != '\0')
    unlinkat(t->dirfd, t->name, 0);
  t->fd = -1;
  t->dirfd = -1;
  t->name[0] = '\0';
  errno = saved;
}

int
cb__atomic_write_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                    struct cb_error **err)
{
  cb_autotmp struct cb_tmpfile tmp = CB_TMPFILE_INIT;
  const char *slash = strrchr(name, '/');
  cb_autoclose int pfd = -1;
  const char *base = name;

  if (slash != NULL) { /* the temp file must live in the same directory for rename(2) */
    cb_autofree char *parent = strndup(name, (size_t)(slash - name));
    if (parent == NULL)
      cb__die_oom();
    pfd = openat(dirfd, parent[0] ? parent : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pfd < 0)
      return cb_error_set(err, CB_E_SYS, errno, "open directory of '%s'", name);
    base = slash + 1;
  } else {
    pfd = dirfd == AT_FDCWD ? open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                            : fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    if (pfd < 0)
      return cb_error_set(err, CB_E_SYS, errno, "open directory of '%s'", name);
  }
  if (cb_tmpfile_open(&tmp, pfd, err) < 0)
    return cb_error_wrap(err, "write '%s'", name);
  if (cb_write_all(tmp.fd, data, len) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "write '%s'", name);
  if (fchmod(tmp.fd, mode) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "chmod '%s'", name);
  if (fsync(tmp.fd) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "fsync '%s'", name);
  if (renameat(pfd, tmp.name, pfd, base) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "rename to '%s'", name);
  tmp.keep = true;
  fsync(pfd); /* make the rename itself durable; failure here loses nothing already named */
  return 0;
}

int
cb__mkdir_p_at(int dirfd, const char *path, mode_t mode, struct cb_error **err)
{
  cb_autofree char *parent = NULL;
  char *slash;

  /* the whole path first: usually it exists, or only its last part is missing */
  if (mkdirat(dirfd, path, mode) == 0 || errno == EEXIST)
    return 0;
  if (errno != ENOENT)
    return cb_error_set(err, CB_E_SYS, errno, "mkdir '%s'", path);
  parent = cb__xstrdup(path);
  for (slash = parent + strlen(parent); slash > parent && slash[-1] == '/'; slash--)
    slash[-1] = '\0'; /* "a/b/" names a/b */
  slash = strrchr(parent, '/');
  if (slash == NULL || slash == parent)
    return cb_error_set(err, CB_E_SYS, ENOENT, "mkdir '%s'", path);
  *slash = '\0';
  if (cb__mkdir_p_at(dirfd, parent, mode, err) < 0)
    return -1;
  if (mkdirat(dirfd, path, mode) < 0 && errno != EEXIST)
    return cb_error_set(err, CB_E_SYS, errno, "mkdir '%s'", path);
  return 0;
}
