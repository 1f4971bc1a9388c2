/*
 * Applying a layer below a directory.  libarchive only parses; every write is ours, done with
 * *at() calls on a directory fd that openat2(RESOLVE_IN_ROOT) found below the root, with the
 * final component a plain name that is never followed.  So ".." in a name (refused outright),
 * an absolute symlink or a symlink planted by an earlier entry all stay inside the root.
 */
#include "cbuild/archive.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "archive-internal.h"
#include "util.h"

#define WHITEOUT_PREFIX      ".wh."
#define WHITEOUT_OPAQUE      ".wh..wh..opq"
#define OVERLAY_XATTR_PREFIX "trusted.overlay."
#define OVERLAY_OPAQUE       "trusted.overlay.opaque"

/* A set of the names this layer put in place (and their parents), for opaque directories. */
struct nameset {
  char **slots;
  size_t cap, len;
};

static uint64_t
hash_name(const char *s)
{
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return h;
}

static bool
nameset_has(const struct nameset *set, const char *name)
{
  if (set->cap == 0)
    return false;
  for (size_t i = hash_name(name) & (set->cap - 1);; i = (i + 1) & (set->cap - 1)) {
    if (set->slots[i] == NULL)
      return false;
    if (strcmp(set->slots[i], name) == 0)
      return true;
  }
}

static void
nameset_put_one(struct nameset *set, char *name)
{
  size_t i = hash_name(name) & (set->cap - 1);
  while (set->slots[i] != NULL)
    i = (i + 1) & (set->cap - 1);
  set->slots[i] = name;
  set->len++;
}

static void
nameset_add(struct nameset *set, const char *name)
{
  if (nameset_has(set, name))
    return;
  if ((set->len + 1) * 2 > set->cap) {
    struct nameset bigger = { .cap = set->cap ? set->cap * 2 : 64 };
    bigger.slots = cb__xcalloc(bigger.cap, sizeof(char *));
    for (size_t i = 0; i < set->cap; i++)
      if (set->slots[i] != NULL)
        nameset_put_one(&bigger, set->slots[i]);
    free(set->slots);
    *set = bigger;
  }
  nameset_put_one(set, cb__xstrdup(name));
}

static void
nameset_release(struct nameset *set)
{
  for (size_t i = 0; i < set->cap; i++)
    free(set->slots[i]);
  free(set->slots);
}

/* Directory metadata set once every entry is in, deepest last-seen first. */
struct dirfix {
  char *name;
  uint32_t mode;
  int64_t mtime;
};

struct apply {
  struct cb_tar_reader *r;
  int root;
  unsigned flags;
  bool privileged;
  struct nameset seen;
  struct dirfix *fixes;
  size_t nfixes, fixcap;
};

/* Set by tests to exercise the fallback below on kernels that have openat2. */
bool cb__apply_no_openat2 = false;

/* RESOLVE_IN_ROOT done by hand, one component at a time, for kernels before 5.6 and for
 * valgrind (which does not know openat2): ".." never climbs above the root, and a symlink's
 * target is walked again from the root (absolute) or from where it sits (relative). */
static int
resolve_walk(int root, const char *rel, uint64_t oflags)
{
  size_t depth = 0, cap = 16;
  int *stack = cb__xmalloc(cap * sizeof *stack);
  char *todo = cb__xstrdup(rel);
  char *p = todo;
  int links = 0, saved, fd = -1;

  stack[0] = root;
  while (*p != '\0') {
    char *end = strchr(p, '/');
    char *next = end ? end + 1 : p + strlen(p);
    struct stat st;
    if (end != NULL)
      *end = '\0';
    if (p[0] == '\0' || strcmp(p, ".") == 0) {
      p = next;
      continue;
    }
    if (strcmp(p, "..") == 0) {
      if (depth > 0)
        close(stack[depth--]);
      p = next;
      continue;
    }
    fd = openat(stack[depth], p, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0)
      goto fail;
    if (S_ISLNK(st.st_mode)) {
      char target[4096];
      ssize_t n = readlinkat(fd, "", target, sizeof target - 1);
      close(fd);
      fd = -1;
      if (n < 0)
        goto fail;
      if (++links > 40) {
        errno = ELOOP;
        goto fail;
      }
      target[n] = '\0';
      if (target[0] == '/')
        while (depth > 0)
          close(stack[depth--]);
      char *again = cb__xasprintf("%s/%s", target, next);
      free(todo);
      todo = p = again;
      continue;
    }
    if (depth + 1 == cap)
      stack = cb__xrealloc(stack, (cap *= 2) * sizeof *stack);
    stack[++depth] = fd;
    fd = -1;
    p = next;
  }
  if (oflags & O_PATH) {
    struct stat st;
    if (fstat(stack[depth], &st) < 0)
      goto fail;
    if ((oflags & O_DIRECTORY) && !S_ISDIR(st.st_mode)) {
      errno = ENOTDIR;
      goto fail;
    }
    fd = depth > 0 ? stack[depth--] : fcntl(root, F_DUPFD_CLOEXEC, 0);
  } else {
    fd = openat(stack[depth], ".", (int)oflags | O_CLOEXEC);
  }
  saved = errno;
  while (depth > 0)
    close(stack[depth--]);
  free(stack);
  free(todo);
  errno = saved;
  return fd;
fail:
  saved = errno;
  if (fd >= 0)
    close(fd);
  while (depth > 0)
    close(stack[depth--]);
  free(stack);
  free(todo);
  errno = saved;
  return -1;
}

static int
resolve(struct apply *ap, const char *rel, uint64_t oflags)
{
  static bool no_openat2;
  struct open_how how = {
    .flags = oflags | O_CLOEXEC,
    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
  };
  long fd;

  if (!no_openat2 && !cb__apply_no_openat2) {
    fd = syscall(SYS_openat2, ap->root, rel[0] ? rel : ".", &how, sizeof how);
    if (fd >= 0 || errno != ENOSYS)
      return (int)fd;
    no_openat2 = true;
  }
  return resolve_walk(ap->root, rel, oflags);
}

/* An O_PATH fd on directory DIR (a clean relative name, "" = root), creating what is missing. */
static int
open_dir(struct apply *ap, const char *dir, bool create, struct cb_error **err)
{
  cb_autofree char *prefix = NULL;
  cb_autoclose int cur = -1;
  int fd = resolve(ap, dir, O_PATH | O_DIRECTORY);
  const char *p;

  if (fd >= 0 || errno != ENOENT || !create) {
    if (fd < 0)
      cb_error_set(err, CB_E_SYS, errno, "open directory '%s'", dir);
    return fd;
  }
  /* walk down from the root, resolving each prefix anew and making the missing ones */
  prefix = cb__xstrdup(dir);
  cur = resolve(ap, "", O_PATH | O_DIRECTORY);
  if (cur < 0)
    return cb_error_set(err, CB_E_SYS, errno, "open root");
  for (p = dir;;) {
    const char *end = strchr(p, '/');
    size_t upto = end ? (size_t)(end - dir) : strlen(dir);
    cb_autofree char *comp = strndup(p, end ? (size_t)(end - p) : strlen(p));
    if (comp == NULL)
      cb__die_oom();
    prefix[upto] = '\0';
    fd = resolve(ap, prefix, O_PATH | O_DIRECTORY);
    if (fd < 0 && errno == ENOENT) {
      if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST)
        return cb_error_set(err, CB_E_SYS, errno, "create directory '%s'", prefix);
      fd = resolve(ap, prefix, O_PATH | O_DIRECTORY);
    }
    if (fd < 0)
      return cb_error_set(err, CB_E_SYS, errno, "open directory '%s'", prefix);
    close(cur);
    cur = fd;
    if (end == NULL)
      break;
    prefix[upto] = '/';
    p = end + 1;
  }
  return cb_steal_fd(&cur);
}

/* Split a clean name into its directory (allocated) and its last component (inside name). */
static char *
split_name(const char *name, const char **base)
{
  const char *slash = strrchr(name, '/');
  if (slash == NULL) {
    *base = name;
    return cb__xstrdup("");
  }
  *base = slash + 1;
  char *dir = strndup(name, (size_t)(slash - name));
  if (dir == NULL)
    cb__die_oom();
  return dir;
}

/* The names in directory FD (not "." and ".."), read before anything in it changes. */
static int
list_dir(int fd, const char *what, char ***names, size_t *count, struct cb_error **err)
{
  int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d;
  struct dirent *de;
  size_t n = 0, cap = 0;
  char **v = NULL;

  if (dfd < 0)
    return cb_error_set(err, CB_E_SYS, errno, "open '%s'", what);
  d = fdopendir(dfd);
  if (d == NULL) {
    close(dfd);
    return cb_error_set(err, CB_E_SYS, errno, "open '%s'", what);
  }
  while ((de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 16;
      v = cb__xrealloc(v, cap * sizeof *v);
    }
    v[n++] = cb__xstrdup(de->d_name);
  }
  closedir(d);
  *names = v;
  *count = n;
  return 0;
}

static void
free_names(char **names, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
}

/* rm -rf of DIRFD/NAME, never following a symlink. */
static int
remove_all(int dirfd, const char *name, struct cb_error **err)
{
  struct stat st;

  if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT)
      return 0;
    return cb_error_set(err, CB_E_SYS, errno, "stat '%s'", name);
  }
  if (S_ISDIR(st.st_mode)) {
    cb_autoclose int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    char **names;
    size_t n;
    int ret = 0;
    if (fd < 0)
      return cb_error_set(err, CB_E_SYS, errno, "open '%s'", name);
    if (list_dir(fd, name, &names, &n, err) < 0)
      return -1;
    for (size_t i = 0; i < n && ret == 0; i++)
      ret = remove_all(fd, names[i], err);
    free_names(names, n);
    if (ret < 0)
      return -1;
    if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
      return cb_error_set(err, CB_E_SYS, errno, "remove '%s'", name);
    return 0;
  }
  if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
    return cb_error_set(err, CB_E_SYS, errno, "remove '%s'", name);
  return 0;
}

/* Below an opaque directory DIRFD (named REL), remove what this layer did not put there. */
static int
remove_unseen(struct apply *ap, int dirfd, const char *rel, struct cb_error **err)
{
  char **names;
  size_t n;
  int ret = 0;

  if (list_dir(dirfd, rel, &names, &n, err) < 0)
    return -1;
  for (size_t i = 0; i < n && ret == 0; i++) {
    cb_autofree char *child = cb__xasprintf("%s%s%s", rel, rel[0] ? "/" : "", names[i]);
    struct stat st;
    if (!nameset_has(&ap->seen, child)) {
      ret = remove_all(dirfd, names[i], err);
    } else if (fstatat(dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
      cb_autoclose int sub =
          openat(dirfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0)
        ret = cb_error_set(err, CB_E_SYS, errno, "open '%s'", child);
      else
        ret = remove_unseen(ap, sub, child, err);
    }
  }
  free_names(names, n);
  return ret;
}

/* A failure to set an owner or an xattr that an unprivileged run cannot help. */
static bool
tolerable(struct apply *ap, int errnum)
{
  return errnum == ENOTSUP || (!ap->privileged && (errnum == EPERM || errnum == EINVAL));
}

static int
set_owner(struct apply *ap, int dirfd, const char *base, int fd, const struct cb_tar_header *h,
          struct cb_error **err)
{
  int r = fd >= 0 ? fchown(fd, (uid_t)h->uid, (gid_t)h->gid)
                  : fchownat(dirfd, base, (uid_t)h->uid, (gid_t)h->gid, AT_SYMLINK_NOFOLLOW);
  if (r < 0 && !tolerable(ap, errno))
    return cb_error_set(err, CB_E_SYS, errno, "chown");
  return 0;
}

static int
set_xattrs(struct apply *ap, int dirfd, const char *base, int fd, const struct cb_tar_header *h,
           struct cb_error **err)
{
  cb_autofree char *path = NULL;

  for (size_t i = 0; i < h->nxattrs; i++) {
    const struct cb_tar_xattr *x = &h->xattrs[i];
    int r;
    if (strncmp(x->name, OVERLAY_XATTR_PREFIX, sizeof OVERLAY_XATTR_PREFIX - 1) == 0)
      continue;
    if (fd >= 0) {
      r = fsetxattr(fd, x->name, x->value, x->len, 0);
    } else {
      /* no fd can be opened on a symlink or a device safely: go through the parent's fd */
      if (path == NULL)
        path = cb__xasprintf("/proc/self/fd/%d/%s", dirfd, base);
      r = lsetxattr(path, x->name, x->value, x->len, 0);
    }
    if (r < 0 && !tolerable(ap, errno))
      return cb_error_set(err, CB_E_SYS, errno, "set xattr '%s'", x->name);
  }
  return 0;
}

static int
write_data(struct apply *ap, int fd, const struct cb_tar_header *h, struct cb_error **err)
{
  const void *buf;
  size_t len;
  la_int64_t off;
  int r;

  while ((r = archive_read_data_block(ap->r->a, &buf, &len, &off)) == ARCHIVE_OK) {
    const char *p = buf;
    while (len > 0) {
      ssize_t n = pwrite(fd, p, len, (off_t)off);
      if (n < 0) {
        if (errno == EINTR)
          continue;
        return cb_error_set(err, CB_E_SYS, errno, "write");
      }
      p += n;
      len -= (size_t)n;
      off += n;
    }
  }
  if (r != ARCHIVE_EOF)
    return cb__archive_error(err, ap->r->a, "read archive data");
  if (ftruncate(fd, (off_t)h->size) < 0) /* a sparse file may end in a hole */
    return cb_error_set(err, CB_E_SYS, errno, "truncate");
  return 0;
}

static void
defer_dir(struct apply *ap, const char *name, const struct cb_tar_header *h)
{
  if (ap->nfixes == ap->fixcap) {
    ap->fixcap = ap->fixcap ? ap->fixcap * 2 : 32;
    ap->fixes = cb__xrealloc(ap->fixes, ap->fixcap * sizeof *ap->fixes);
  }
  ap->fixes[ap->nfixes++] =
      (struct dirfix){ .name = cb__xstrdup(name), .mode = h->mode, .mtime = h->mtime };
}

static int
make_node(struct apply *ap, int dirfd, const char *base, const char *name,
          const struct cb_tar_header *h, struct cb_error **err)
{
  struct timespec ts[2] = { { .tv_sec = (time_t)h->mtime }, { .tv_sec = (time_t)h->mtime } };
  cb_autoclose int fd = -1;
  struct stat st;

  if (fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (!(h->type == CB_TAR_DIR && S_ISDIR(st.st_mode)) && remove_all(dirfd, base, err) < 0)
      return -1;
  } else if (errno != ENOENT) {
    return cb_error_set(err, CB_E_SYS, errno, "stat");
  }

  switch (h->type) {
  case CB_TAR_DIR:
    if (mkdirat(dirfd, base, 0700) < 0 && errno != EEXIST)
      return cb_error_set(err, CB_E_SYS, errno, "mkdir");
    fd = openat(dirfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
      return cb_error_set(err, CB_E_SYS, errno, "open directory");
    if (set_owner(ap, dirfd, base, fd, h, err) < 0 || set_xattrs(ap, dirfd, base, fd, h, err) < 0)
      return -1;
    defer_dir(ap, name, h); /* mode and mtime once its children are in */
    return 0;

  case CB_TAR_FILE:
    fd = openat(dirfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
      return cb_error_set(err, CB_E_SYS, errno, "create");
    if (write_data(ap, fd, h, err) < 0 || set_owner(ap, dirfd, base, fd, h, err) < 0)
      return -1;
    if (fchmod(fd, h->mode) < 0) /* after chown, which clears setuid */
      return cb_error_set(err, CB_E_SYS, errno, "chmod");
    if (set_xattrs(ap, dirfd, base, fd, h, err) < 0)
      return -1;
    if (futimens(fd, ts) < 0)
      return cb_error_set(err, CB_E_SYS, errno, "set times");
    return 0;

  case CB_TAR_HARDLINK: {
    cb_autofree char *target = NULL;
    cb_autofree char *tdir = NULL;
    cb_autoclose int tfd = -1;
    const char *tbase;
    if (cb__tar_clean_name(h->linkname ? h->linkname : "", &target, err) < 0)
      return -1;
    if (target[0] == '\0')
      return cb_error_set(err, CB_E_INVALID, 0, "hard link without a target");
    tdir = split_name(target, &tbase);
    tfd = open_dir(ap, tdir, false, err);
    if (tfd < 0)
      return cb_error_wrap(err, "hard link to '%s'", target);
    if (linkat(tfd, tbase, dirfd, base, 0) < 0)
      return cb_error_set(err, CB_E_SYS, errno, "hard link to '%s'", target);
    return 0;
  }

  case CB_TAR_SYMLINK:
    if (symlinkat(h->linkname ? h->linkname : "", dirfd, base) < 0)
      return cb_error_set(err, CB_E_SYS, errno, "symlink");
    break;

  case CB_TAR_CHAR:
  case CB_TAR_BLOCK:
  case CB_TAR_FIFO: {
    mode_t type = h->type == CB_TAR_CHAR ? S_IFCHR : h->type == CB_TAR_BLOCK ? S_IFBLK : S_IFIFO;
    if (mknodat(dirfd, base, type | 0600, makedev(h->devmajor, h->devminor)) < 0) {
      if (tolerable(ap, errno))
        return 0; /* an unprivileged run cannot make devices: leave them out, as rootless does */
      return cb_error_set(err, CB_E_SYS, errno, "mknod");
    }
    /* just made by us, so not a symlink: fchmodat may follow */
    if (fchmodat(dirfd, base, h->mode, 0) < 0)
      return cb_error_set(err, CB_E_SYS, errno, "chmod");
    break;
  }
  default:
    return 0;
  }
  /* symlinks and nodes: owner, xattrs and times by name, never following */
  if (set_owner(ap, dirfd, base, -1, h, err) < 0 || set_xattrs(ap, dirfd, base, -1, h, err) < 0)
    return -1;
  if (h->type == CB_TAR_CHAR || h->type == CB_TAR_BLOCK || h->type == CB_TAR_FIFO) {
    if (fchmodat(dirfd, base, h->mode, 0) < 0) /* again: chown cleared setuid */
      return cb_error_set(err, CB_E_SYS, errno, "chmod");
  }
  if (utimensat(dirfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "set times");
  return 0;
}

static void
remember(struct apply *ap, const char *name)
{
  cb_autofree char *p = cb__xstrdup(name);
  nameset_add(&ap->seen, p);
  for (char *s = strrchr(p, '/'); s != NULL; s = strrchr(p, '/')) {
    *s = '\0';
    nameset_add(&ap->seen, p);
  }
}

/* A whiteout kept in overlayfs form, for a snapshot that is mounted as a lower dir. */
static int
overlay_whiteout(struct apply *ap, const struct cb_tar_header *h, const char *dir, const char *base,
                 struct cb_error **err)
{
  cb_autoclose int dirfd = open_dir(ap, dir, true, err);
  const char *hidden = base + sizeof WHITEOUT_PREFIX - 1;

  if (dirfd < 0)
    return -1;
  if (strcmp(base, WHITEOUT_OPAQUE) == 0) {
    cb_autoclose int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
      return cb_error_set(err, CB_E_SYS, errno, "open '%s'", dir);
    if (fsetxattr(fd, OVERLAY_OPAQUE, "y", 1, 0) < 0)
      return cb_error_set(err, CB_E_SYS, errno, "mark '%s' opaque (set %s)", dir[0] ? dir : ".",
                          OVERLAY_OPAQUE);
    return 0;
  }
  if (hidden[0] == '\0' || strcmp(hidden, ".") == 0 || strcmp(hidden, "..") == 0 ||
      strncmp(hidden, WHITEOUT_PREFIX, sizeof WHITEOUT_PREFIX - 1) == 0)
    return cb_error_set(err, CB_E_INVALID, 0, "invalid whiteout '%s'", base);
  /* overlayfs knows a whiteout as a 0/0 character device; owner and time as the entry's */
  struct cb_tar_header wh = {
    .name = hidden, .type = CB_TAR_CHAR, .uid = h->uid, .gid = h->gid, .mtime = h->mtime
  };
  cb_autofree char *name = cb__xasprintf("%s%s%s", dir, dir[0] ? "/" : "", hidden);
  if (make_node(ap, dirfd, hidden, name, &wh, err) < 0)
    return -1;
  if (fstatat(dirfd, hidden, &(struct stat){ 0 }, AT_SYMLINK_NOFOLLOW) < 0)
    return cb_error_set(err, CB_E_SYS, ENOTSUP, "whiteout '%s' needs mknod (root)", name);
  return 0;
}

static int
apply_entry(struct apply *ap, const struct cb_tar_header *h, const char *name,
            struct cb_error **err)
{
  cb_autofree char *dir = NULL;
  cb_autoclose int dirfd = -1;
  const char *base;

  if (name[0] == '\0') { /* "./": the root's own metadata */
    cb_autoclose int fd = -1;
    if (h->type != CB_TAR_DIR)
      return 0;
    fd = resolve(ap, "", O_RDONLY | O_DIRECTORY);
    if (fd < 0)
      return cb_error_set(err, CB_E_SYS, errno, "open root");
    if (set_owner(ap, -1, NULL, fd, h, err) < 0 || set_xattrs(ap, -1, NULL, fd, h, err) < 0)
      return -1;
    defer_dir(ap, "", h);
    return 0;
  }
  if (h->type == 0)
    return 0; /* sockets: nothing to make */
  dir = split_name(name, &base);

  if ((ap->flags & CB_APPLY_OVERLAY) &&
      strncmp(base, WHITEOUT_PREFIX, sizeof WHITEOUT_PREFIX - 1) == 0)
    return overlay_whiteout(ap, h, dir, base, err);

  if ((ap->flags & CB_APPLY_WHITEOUTS) &&
      strncmp(base, WHITEOUT_PREFIX, sizeof WHITEOUT_PREFIX - 1) == 0) {
    dirfd = open_dir(ap, dir, false, err);
    if (dirfd < 0) {
      if ((*err)->kind == CB_E_SYS && (*err)->errnum == ENOENT) {
        cb_error_free(err); /* nothing below to hide */
        return 0;
      }
      return -1;
    }
    if (strcmp(base, WHITEOUT_OPAQUE) == 0) {
      cb_autoclose int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0)
        return cb_error_set(err, CB_E_SYS, errno, "open '%s'", dir);
      remember(ap, dir);
      return remove_unseen(ap, fd, dir, err);
    }
    return remove_all(dirfd, base + sizeof WHITEOUT_PREFIX - 1, err);
  }

  remember(ap, name);
  dirfd = open_dir(ap, dir, true, err);
  if (dirfd < 0)
    return -1;
  return make_node(ap, dirfd, base, name, h, err);
}

static int
fix_dirs(struct apply *ap, struct cb_error **err)
{
  for (size_t i = ap->nfixes; i-- > 0;) {
    struct dirfix *f = &ap->fixes[i];
    struct timespec ts[2] = { { .tv_sec = (time_t)f->mtime }, { .tv_sec = (time_t)f->mtime } };
    cb_autofree char *dir = NULL;
    cb_autoclose int dirfd = -1;
    cb_autoclose int fd = -1;
    const char *base;

    if (f->name[0] == '\0') {
      fd = resolve(ap, "", O_RDONLY | O_DIRECTORY);
    } else {
      dir = split_name(f->name, &base);
      dirfd = resolve(ap, dir, O_PATH | O_DIRECTORY);
      if (dirfd < 0)
        continue; /* removed by a later whiteout */
      fd = openat(dirfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0)
      continue; /* replaced by something that is not a directory */
    if (fchmod(fd, f->mode) < 0 || futimens(fd, ts) < 0)
      return cb_error_set(err, CB_E_SYS, errno, "set metadata of '%s'", f->name);
  }
  return 0;
}

int
cb_tar_apply(struct cb_tar_reader *r, const char *dest, unsigned flags, struct cb_error **err)
{
  struct apply ap = { .r = r, .flags = flags, .privileged = geteuid() == 0 };
  struct cb_tar_header h;
  int ret;

  ap.root = open(dest, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (ap.root < 0)
    return cb_error_set(err, CB_E_SYS, errno, "open '%s'", dest);
  while ((ret = cb_tar_reader_next(r, &h, err)) > 0) {
    cb_autofree char *name = NULL;
    if (cb__tar_clean_name(h.name, &name, err) < 0 || apply_entry(&ap, &h, name, err) < 0) {
      cb_error_wrap(err, "apply '%s'", h.name);
      ret = -1;
      break;
    }
  }
  if (ret == 0)
    ret = fix_dirs(&ap, err);
  if (ret < 0)
    cb_error_wrap(err, "extract into '%s'", dest);
  for (size_t i = 0; i < ap.nfixes; i++)
    free(ap.fixes[i].name);
  free(ap.fixes);
  nameset_release(&ap.seen);
  close(ap.root);
  return ret < 0 ? -1 : 0;
}
