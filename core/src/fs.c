#include "cbuild/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "util.h"

int
cb_fs_stat(const char *path, struct stat *st, struct cb_error **err)
{
  if (stat(path, st) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "stat '%s'", path);
  return 0;
}

int
cb_fs_lstat(const char *path, struct stat *st, struct cb_error **err)
{
  if (lstat(path, st) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "lstat '%s'", path);
  return 0;
}

int
cb_fs_exists(const char *path)
{
  struct stat st;
  return lstat(path, &st) == 0;
}

static int
cmp_names(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Read the names of the open directory FD (consumed) into a sorted NULL-terminated vector. */
static int
read_names_fd(int fd, const char *path, char ***names, size_t *count, struct cb_error **err)
{
  DIR *d = fdopendir(fd);
  char **v = NULL;
  size_t n = 0, cap = 0;
  struct dirent *de;

  if (d == NULL) {
    int e = errno;
    close(fd);
    return cb_error_set(err, CB_E_SYS, e, "opendir '%s'", path);
  }
  for (;;) {
    errno = 0;
    de = readdir(d);
    if (de == NULL)
      break;
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    if (n + 1 >= cap) {
      cap = cap ? cap * 2 : 16;
      v = cb__xrealloc(v, cap * sizeof *v);
    }
    v[n++] = cb__xstrdup(de->d_name);
  }
  if (errno != 0) {
    int e = errno;
    closedir(d);
    if (v != NULL)
      v[n] = NULL;
    cb_fs_strv_free(v);
    return cb_error_set(err, CB_E_SYS, e, "readdir '%s'", path);
  }
  closedir(d);
  if (v == NULL)
    v = cb__xmalloc(sizeof *v);
  qsort(v, n, sizeof *v, cmp_names);
  v[n] = NULL;
  *names = v;
  if (count != NULL)
    *count = n;
  return 0;
}

int
cb_fs_readdir(const char *path, char ***names, size_t *count, struct cb_error **err)
{
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return cb_error_set(err, CB_E_SYS, errno, "opendir '%s'", path);
  return read_names_fd(fd, path, names, count, err);
}

void
cb_fs_strv_free(char **v)
{
  if (v == NULL)
    return;
  for (char **p = v; *p != NULL; p++)
    free(*p);
  free(v);
}

int
cb_fs_mkdir_p(const char *path, mode_t mode, struct cb_error **err)
{
  struct stat st;

  if (path[0] == '\0')
    return cb_error_set(err, CB_E_SYS, ENOENT, "mkdir ''");
  if (cb__mkdir_p_at(AT_FDCWD, path, mode, err) < 0)
    return -1;
  /* EEXIST is fine only when what exists is a directory (or a symlink to one) */
  if (stat(path, &st) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "mkdir '%s'", path);
  if (!S_ISDIR(st.st_mode))
    return cb_error_set(err, CB_E_SYS, ENOTDIR, "mkdir '%s'", path);
  return 0;
}

/* ---- rm -rf ---------------------------------------------------------------------------- */

/* The mount a file descriptor lives on: statx's mount id where the kernel has it (it tells
 * bind mounts of the same filesystem apart), else the device number. */
static uint64_t
mount_id_at(int dirfd, const char *name)
{
  struct statx stx;
  if (statx(dirfd, name, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH, STATX_MNT_ID, &stx) == 0 &&
      (stx.stx_mask & STATX_MNT_ID))
    return stx.stx_mnt_id;
  if (statx(dirfd, name, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH, STATX_BASIC_STATS, &stx) == 0)
    return ((uint64_t)stx.stx_dev_major << 32) | stx.stx_dev_minor | (1ull << 63);
  return 0;
}

static int
open_dir_nofollow(int dirfd, const char *name)
{
  int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == EACCES) { /* a directory we may not read: we own it or we are root */
    if (fchmodat(dirfd, name, 0700, 0) == 0)
      fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    else
      errno = EACCES;
  }
  return fd;
}

/* Empty the directory FD (owned by the caller), whose path is PATH, on mount MNT. */
static int
empty_dir(int fd, const char *path, uint64_t mnt, int depth, struct cb_error **err)
{
  char **names = NULL;
  int dupfd;

  if (depth > 4096)
    return cb_error_set(err, CB_E_SYS, ELOOP, "remove '%s'", path);
  dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dupfd < 0)
    return cb_error_set(err, CB_E_SYS, errno, "remove '%s'", path);
  if (read_names_fd(dupfd, path, &names, NULL, err) < 0)
    return -1;
  for (char **p = names; *p != NULL; p++) {
    struct stat st;
    if (fstatat(fd, *p, &st, AT_SYMLINK_NOFOLLOW) < 0) {
      if (errno == ENOENT)
        continue;
      cb_error_set(err, CB_E_SYS, errno, "lstat '%s/%s'", path, *p);
      goto fail;
    }
    if (S_ISDIR(st.st_mode)) {
      cb_autofree char *sub = cb__xasprintf("%s/%s", path, *p);
      cb_autoclose int subfd = open_dir_nofollow(fd, *p);
      if (subfd < 0) {
        cb_error_set(err, CB_E_SYS, errno, "open '%s'", sub);
        goto fail;
      }
      if (mount_id_at(subfd, "") != mnt) {
        cb_error_set(err, CB_E_UNSAFE, 0, "remove '%s': refusing to cross into another mount", sub);
        goto fail;
      }
      if (empty_dir(subfd, sub, mnt, depth + 1, err) < 0)
        goto fail;
      if (unlinkat(fd, *p, AT_REMOVEDIR) < 0 && errno != ENOENT) {
        cb_error_set(err, CB_E_SYS, errno, "rmdir '%s'", sub);
        goto fail;
      }
    } else if (unlinkat(fd, *p, 0) < 0 && errno != ENOENT) {
      cb_error_set(err, CB_E_SYS, errno, "unlink '%s/%s'", path, *p);
      goto fail;
    }
  }
  cb_fs_strv_free(names);
  return 0;
fail:
  cb_fs_strv_free(names);
  return -1;
}

int
cb_fs_rm_rf(const char *path, struct cb_error **err)
{
  struct stat st;
  cb_autofree char *real = NULL;
  cb_autoclose int fd = -1;

  if (path[0] == '\0')
    return cb_error_set(err, CB_E_UNSAFE, 0, "remove '': refusing an empty path");
  if (lstat(path, &st) < 0) {
    if (errno == ENOENT)
      return 0;
    return cb_error_set(err, CB_E_SYS, errno, "lstat '%s'", path);
  }
  if (!S_ISDIR(st.st_mode)) {
    if (unlink(path) < 0 && errno != ENOENT)
      return cb_error_set(err, CB_E_SYS, errno, "unlink '%s'", path);
    return 0;
  }
  real = realpath(path, NULL);
  if (real != NULL && strcmp(real, "/") == 0)
    return cb_error_set(err, CB_E_UNSAFE, 0, "remove '%s': refusing to remove '/'", path);
  fd = open_dir_nofollow(AT_FDCWD, path);
  if (fd < 0)
    return cb_error_set(err, CB_E_SYS, errno, "open '%s'", path);
  if (empty_dir(fd, path, mount_id_at(fd, ""), 0, err) < 0)
    return -1;
  if (rmdir(path) < 0 && errno != ENOENT)
    return cb_error_set(err, CB_E_SYS, errno, "rmdir '%s'", path);
  return 0;
}

/* ---- small wrappers -------------------------------------------------------------------- */

char *
cb_fs_mkdtemp(const char *prefix, struct cb_error **err)
{
  char *tmpl = cb__xasprintf("%sXXXXXX", prefix);
  if (mkdtemp(tmpl) == NULL) {
    cb_error_set(err, CB_E_SYS, errno, "mkdtemp '%sXXXXXX'", prefix);
    free(tmpl);
    return NULL;
  }
  return tmpl;
}

static char *
readlink_at(int dirfd, const char *path, struct cb_error **err)
{
  size_t cap = 256;
  for (;;) {
    char *buf = cb__xmalloc(cap);
    ssize_t n = readlinkat(dirfd, path, buf, cap);
    if (n < 0) {
      cb_error_set(err, CB_E_SYS, errno, "readlink '%s'", path);
      free(buf);
      return NULL;
    }
    if ((size_t)n < cap) {
      buf[n] = '\0';
      return buf;
    }
    free(buf);
    cap *= 2;
  }
}

char *
cb_fs_readlink(const char *path, struct cb_error **err)
{
  return readlink_at(AT_FDCWD, path, err);
}

char *
cb_fs_realpath(const char *path, struct cb_error **err)
{
  char *r = realpath(path, NULL);
  if (r == NULL)
    cb_error_set(err, CB_E_SYS, errno, "realpath '%s'", path);
  return r;
}

int
cb_fs_read_file(const char *path, char **data, size_t *len, struct cb_error **err)
{
  return cb__read_file_at(AT_FDCWD, path, data, len, err);
}

int
cb_fs_write_file(const char *path, const void *data, size_t len, mode_t mode, unsigned flags,
                 struct cb_error **err)
{
  cb_autoclose int fd = -1;

  if (flags & CB_FS_WRITE_ATOMIC)
    return cb__atomic_write_at(AT_FDCWD, path, data, len, mode, err);
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0)
    return cb_error_set(err, CB_E_SYS, errno, "open '%s'", path);
  if (cb_write_all(fd, data, len) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "write '%s'", path);
  if (fchmod(fd, mode) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "chmod '%s'", path);
  if (close(cb_steal_fd(&fd)) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "close '%s'", path);
  return 0;
}

/* Copy to EOF: copy_file_range (reflinks on btrfs/xfs), then sendfile, then read/write. */
static int
copy_fd(int in, int out)
{
  static const size_t chunk = (size_t)1 << 30;
  ssize_t n;
  char buf[65536];

  for (;;) {
    n = copy_file_range(in, NULL, out, NULL, chunk, 0);
    if (n == 0)
      return 0;
    if (n < 0)
      break;
  }
  if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP && errno != EBADF)
    return -1;
  for (;;) {
    n = sendfile(out, in, NULL, chunk);
    if (n == 0)
      return 0;
    if (n < 0)
      break;
  }
  if (errno != EINVAL && errno != ENOSYS)
    return -1;
  for (;;) {
    n = cb_read_retry(in, buf, sizeof buf);
    if (n < 0)
      return -1;
    if (n == 0)
      return 0;
    if (cb_write_all(out, buf, (size_t)n) < 0)
      return -1;
  }
}

int
cb_fs_copy_file(const char *src, const char *dst, int mode, struct cb_error **err)
{
  cb_autoclose int in = open(src, O_RDONLY | O_CLOEXEC);
  cb_autoclose int out = -1;
  struct stat st;
  mode_t m;

  if (in < 0)
    return cb_error_set(err, CB_E_SYS, errno, "open '%s'", src);
  if (fstat(in, &st) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "stat '%s'", src);
  if (!S_ISREG(st.st_mode))
    return cb_error_set(err, CB_E_INVALID, 0, "copy '%s': not a regular file", src);
  m = mode >= 0 ? (mode_t)mode : (st.st_mode & 07777);
  out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out < 0)
    return cb_error_set(err, CB_E_SYS, errno, "open '%s'", dst);
  if (copy_fd(in, out) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "copy '%s' to '%s'", src, dst);
  if (fchmod(out, m) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "chmod '%s'", dst);
  if (close(cb_steal_fd(&out)) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "close '%s'", dst);
  return 0;
}

/* ---- resolve in root ------------------------------------------------------------------- */

static int
openat2_in_root(int rootfd, const char *path)
{
  struct open_how how = {
    .flags = O_PATH | O_CLOEXEC,
    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
  };
  long r;
  do
    r = syscall(SYS_openat2, rootfd, path[0] ? path : ".", &how, sizeof how);
  while (r < 0 && errno == EAGAIN);
  return (int)r;
}

static char *
fd_path(int fd, struct cb_error **err)
{
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  return cb_fs_readlink(proc, err);
}

/* The same walk as RESOLVE_IN_ROOT done name by name in user space (filepath-securejoin's
 * way), for kernels or sandboxes without openat2 (valgrind included) and for MISSING_OK.
 * CUR is the resolved path relative to the root, free of symlinks; REST what is left to walk.
 * Once a name is missing, later names are appended without looking ("missing" counts them, so
 * a ".." that climbs back out of them makes the walk look at the disk again). */
static char *
walk_in_root(int rootfd, const char *rootreal, const char *path, bool missing_ok,
             struct cb_error **err)
{
  cb_autofree char *cur = cb__xstrdup("");
  cb_autofree char *rest = cb__xstrdup(path);
  size_t missing = 0;
  int links = 0;
  size_t off = 0; /* start of the unwalked part of rest */

  for (;;) {
    while (rest[off] == '/')
      off++;
    if (rest[off] == '\0')
      break;
    size_t len = strcspn(rest + off, "/");
    char name[NAME_MAX + 1];
    if (len > NAME_MAX) {
      cb_error_set(err, CB_E_SYS, ENAMETOOLONG, "resolve '%s' in '%s'", path, rootreal);
      return NULL;
    }
    memcpy(name, rest + off, len);
    name[len] = '\0';
    off += len;
    if (strcmp(name, ".") == 0)
      continue;
    if (strcmp(name, "..") == 0) { /* clamp at the root */
      char *slash = strrchr(cur, '/');
      if (slash != NULL)
        *slash = '\0';
      else
        cur[0] = '\0';
      if (missing > 0)
        missing--;
      continue;
    }
    char *next = cur[0] ? cb__xasprintf("%s/%s", cur, name) : cb__xstrdup(name);
    struct stat st;
    if (missing > 0) {
      missing++;
    } else if (fstatat(rootfd, next, &st, AT_SYMLINK_NOFOLLOW) < 0) {
      if (errno != ENOENT || !missing_ok) {
        cb_error_set(err, CB_E_SYS, errno, "resolve '%s' in '%s'", path, rootreal);
        free(next);
        return NULL;
      }
      missing = 1;
    } else if (S_ISLNK(st.st_mode)) {
      char *target;
      if (++links > 40) {
        cb_error_set(err, CB_E_SYS, ELOOP, "resolve '%s' in '%s'", path, rootreal);
        free(next);
        return NULL;
      }
      target = readlink_at(rootfd, next, err);
      free(next);
      if (target == NULL) {
        cb_error_wrap(err, "resolve '%s' in '%s'", path, rootreal);
        return NULL;
      }
      char *spliced = cb__xasprintf("%s/%s", target, rest + off);
      if (target[0] == '/')
        cur[0] = '\0';
      free(target);
      free(rest);
      rest = spliced;
      off = 0;
      continue;
    }
    free(cur);
    cur = next;
  }
  return cur[0] == '\0'               ? cb__xstrdup(rootreal)
         : strcmp(rootreal, "/") == 0 ? cb__xasprintf("/%s", cur)
                                      : cb__xasprintf("%s/%s", rootreal, cur);
}

char *
cb_fs_resolve_in_root(const char *root, const char *path, unsigned flags, struct cb_error **err)
{
  cb_autoclose int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  cb_autofree char *rootreal = NULL;
  bool missing_ok = flags & CB_FS_RESOLVE_MISSING_OK;
  cb_autoclose int fd = -1;

  if (rootfd < 0) {
    cb_error_set(err, CB_E_SYS, errno, "open root '%s'", root);
    return NULL;
  }
  rootreal = fd_path(rootfd, err);
  if (rootreal == NULL)
    return NULL;
  fd = openat2_in_root(rootfd, path);
  if (fd >= 0)
    return fd_path(fd, err);
  if (errno == ENOSYS || errno == EPERM || (errno == ENOENT && missing_ok))
    return walk_in_root(rootfd, rootreal, path, missing_ok, err);
  cb_error_set(err, CB_E_SYS, errno, "resolve '%s' in '%s'", path, rootreal);
  return NULL;
}

/* ---- metadata and links ---------------------------------------------------------------- */

int
cb_fs_chmod(const char *path, mode_t mode, struct cb_error **err)
{
  if (chmod(path, mode) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "chmod '%s'", path);
  return 0;
}

int
cb_fs_chown(const char *path, uid_t uid, gid_t gid, unsigned flags, struct cb_error **err)
{
  int r = (flags & CB_FS_NOFOLLOW) ? lchown(path, uid, gid) : chown(path, uid, gid);
  if (r < 0)
    return cb_error_set(err, CB_E_SYS, errno, "chown '%s'", path);
  return 0;
}

int
cb_fs_utimes(const char *path, const struct timespec times[2], unsigned flags,
             struct cb_error **err)
{
  int at = (flags & CB_FS_NOFOLLOW) ? AT_SYMLINK_NOFOLLOW : 0;
  if (utimensat(AT_FDCWD, path, times, at) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "utimes '%s'", path);
  return 0;
}

int
cb_fs_symlink(const char *target, const char *linkpath, struct cb_error **err)
{
  if (symlink(target, linkpath) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "symlink '%s'", linkpath);
  return 0;
}

int
cb_fs_link(const char *oldpath, const char *newpath, struct cb_error **err)
{
  if (link(oldpath, newpath) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "link '%s' to '%s'", newpath, oldpath);
  return 0;
}

int
cb_fs_rename(const char *oldpath, const char *newpath, struct cb_error **err)
{
  if (rename(oldpath, newpath) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "rename '%s' to '%s'", oldpath, newpath);
  return 0;
}

int
cb_fs_unlink(const char *path, unsigned flags, struct cb_error **err)
{
  int r = (flags & CB_FS_UNLINK_DIR) ? rmdir(path) : unlink(path);
  if (r < 0)
    return cb_error_set(err, CB_E_SYS, errno, "%s '%s'",
                        (flags & CB_FS_UNLINK_DIR) ? "rmdir" : "unlink", path);
  return 0;
}

int
cb_fs_mknod(const char *path, mode_t mode, dev_t dev, struct cb_error **err)
{
  if (mknod(path, mode, dev) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "mknod '%s'", path);
  return 0;
}
