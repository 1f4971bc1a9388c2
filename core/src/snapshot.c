/*
 * Layers from trees: an overlay upper dir as it is (whiteout devices and opaque xattrs turned
 * into their tar form), or the difference of two trees for the copy driver.  One recursive
 * walk, a directory listing per level, entries straight into a tar writer.
 */
#include "cbuild/snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "archive-internal.h"
#include "util.h"

#define WHITEOUT_PREFIX ".wh."
#define WHITEOUT_OPAQUE ".wh..wh..opq"
#define OVERLAY_OPAQUE  "trusted.overlay.opaque"
#define CMP_CHUNK       (64 * 1024)

/* The xattrs of one file that belong in a layer, sorted by name. */
struct xset {
  char *names; /* listxattr's NUL-separated list */
  size_t ncap;
  char *vals; /* values, back to back */
  size_t vcap, vlen;
  size_t *voff;
  struct cb_tar_xattr *v;
  size_t n, cap;
};

/* An inode with more names than written so far: where its first name went. */
struct hlink {
  struct hlink *next;
  dev_t dev;
  ino_t ino;
  nlink_t left; /* names still to come */
  char *name;
};

/* A directory on the way down: its fd (borrowed) and whether its entry is written yet. */
struct level {
  int fd;
  bool emitted;
  size_t pathlen;
};

struct walker {
  struct cb_tar_writer *w;
  const struct cb_layer_opts *o;
  bool overlay;
  char **exclude;
  size_t nexclude;
  int *lowers; /* fds of the overlay's lower dirs, topmost first */
  size_t nlowers;
  char *path; /* the entry at hand, relative to the root */
  size_t len, cap;
  struct level *levels;
  size_t depth, lcap;
  struct hlink *buckets[1024];
  struct xset xa, xb;
  char *cmp_a, *cmp_b;
};

static int
cmp_names(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
free_names(char **names, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
}

/* The names in directory FD, sorted by bytes (FD itself is left open and unmoved). */
static int
list_sorted(int fd, const char *what, char ***names, size_t *count, struct cb_error **err)
{
  int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  size_t n = 0, cap = 0;
  char **v = NULL;
  struct dirent *de;
  DIR *d;

  if (dfd < 0)
    return cb_error_set(err, CB_E_SYS, errno, "open '%s'", what);
  d = fdopendir(dfd);
  if (d == NULL) {
    close(dfd);
    return cb_error_set(err, CB_E_SYS, errno, "open '%s'", what);
  }
  errno = 0;
  while ((de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 16;
      v = cb__xrealloc(v, cap * sizeof *v);
    }
    v[n++] = cb__xstrdup(de->d_name);
    errno = 0;
  }
  if (errno != 0) {
    int e = errno;
    closedir(d);
    free_names(v, n);
    return cb_error_set(err, CB_E_SYS, e, "read directory '%s'", what);
  }
  closedir(d);
  if (n > 1)
    qsort(v, n, sizeof *v, cmp_names);
  *names = v;
  *count = n;
  return 0;
}

static const char *
shown(const char *rel)
{
  return rel[0] ? rel : ".";
}

static size_t
path_push(struct walker *wk, const char *name)
{
  size_t old = wk->len, n = strlen(name);
  if (wk->len + n + 2 > wk->cap) {
    wk->cap = (wk->len + n + 2) * 2;
    wk->path = cb__xrealloc(wk->path, wk->cap);
  }
  if (wk->len > 0)
    wk->path[wk->len++] = '/';
  memcpy(wk->path + wk->len, name, n + 1);
  wk->len += n;
  return old;
}

static void
path_pop(struct walker *wk, size_t old)
{
  wk->len = old;
  wk->path[old] = '\0';
}

static void
level_push(struct walker *wk, int fd, bool emitted)
{
  if (wk->depth == wk->lcap) {
    wk->lcap = wk->lcap ? wk->lcap * 2 : 16;
    wk->levels = cb__xrealloc(wk->levels, wk->lcap * sizeof *wk->levels);
  }
  wk->levels[wk->depth++] = (struct level){ .fd = fd, .emitted = emitted, .pathlen = wk->len };
}

static bool
excluded(const struct walker *wk)
{
  for (size_t i = 0; i < wk->nexclude; i++)
    if (strcmp(wk->exclude[i], wk->path) == 0)
      return true;
  return false;
}

static int64_t
clamp(const struct walker *wk, int64_t t)
{
  return wk->o->clamp && t > wk->o->clamp_mtime ? wk->o->clamp_mtime : t;
}

static bool
keep_xattr(const struct walker *wk, const char *name)
{
  if (strcmp(name, "security.capability") == 0)
    return true;
  if (strncmp(name, "user.", 5) != 0)
    return false;
  return !(wk->overlay && strncmp(name, "user.overlay.", 13) == 0);
}

static int
cmp_xattr(const void *a, const void *b)
{
  return strcmp(((const struct cb_tar_xattr *)a)->name, ((const struct cb_tar_xattr *)b)->name);
}

static ssize_t
xlist(int fd, const char *path, char *buf, size_t len)
{
  return fd >= 0 ? flistxattr(fd, buf, len) : llistxattr(path, buf, len);
}

static ssize_t
xget(int fd, const char *path, const char *name, void *buf, size_t len)
{
  return fd >= 0 ? fgetxattr(fd, name, buf, len) : lgetxattr(path, name, buf, len);
}

/* Read into X the kept xattrs of FD, or (FD < 0) of NAME in DIRFD without following it. */
static int
read_xattrs(struct walker *wk, struct xset *x, int fd, int dirfd, const char *name,
            struct cb_error **err)
{
  cb_autofree char *path = NULL;
  ssize_t n;

  x->n = 0;
  x->vlen = 0;
  if (fd < 0)
    path = cb__xasprintf("/proc/self/fd/%d/%s", dirfd, name);
  if (x->ncap == 0) {
    x->ncap = 1024;
    x->names = cb__xmalloc(x->ncap);
  }
  while ((n = xlist(fd, path, x->names, x->ncap)) < 0 && errno == ERANGE) {
    n = xlist(fd, path, NULL, 0);
    if (n < 0)
      break;
    x->ncap = (size_t)n * 2 + 64;
    x->names = cb__xrealloc(x->names, x->ncap);
  }
  if (n < 0) {
    if (errno == ENOTSUP)
      return 0;
    return cb_error_set(err, CB_E_SYS, errno, "list xattrs of '%s'", shown(wk->path));
  }
  for (char *p = x->names; p < x->names + n; p += strlen(p) + 1) {
    ssize_t r;
    if (!keep_xattr(wk, p))
      continue;
    if (x->vcap - x->vlen < 256) { /* a size 0 read would only ask for the length */
      x->vcap = x->vcap * 2 + 1024;
      x->vals = cb__xrealloc(x->vals, x->vcap);
    }
    for (;;) {
      r = xget(fd, path, p, x->vals + x->vlen, x->vcap - x->vlen);
      if (r >= 0 || errno != ERANGE)
        break;
      r = xget(fd, path, p, NULL, 0);
      if (r < 0)
        break;
      x->vcap = (x->vlen + (size_t)r) * 2 + 64;
      x->vals = cb__xrealloc(x->vals, x->vcap);
    }
    if (r < 0) {
      if (errno == ENODATA)
        continue; /* removed since the listing */
      return cb_error_set(err, CB_E_SYS, errno, "read xattr '%s' of '%s'", p, shown(wk->path));
    }
    if (x->n == x->cap) {
      x->cap = x->cap ? x->cap * 2 : 4;
      x->v = cb__xrealloc(x->v, x->cap * sizeof *x->v);
      x->voff = cb__xrealloc(x->voff, x->cap * sizeof *x->voff);
    }
    x->v[x->n] = (struct cb_tar_xattr){ .name = p, .len = (size_t)r };
    x->voff[x->n++] = x->vlen;
    x->vlen += (size_t)r;
  }
  for (size_t i = 0; i < x->n; i++) /* vals may have moved while growing */
    x->v[i].value = x->vals + x->voff[i];
  if (x->n > 1)
    qsort(x->v, x->n, sizeof *x->v, cmp_xattr);
  return 0;
}

static void
xset_release(struct xset *x)
{
  free(x->names);
  free(x->vals);
  free(x->voff);
  free(x->v);
}

static bool
xset_equal(const struct xset *a, const struct xset *b)
{
  if (a->n != b->n)
    return false;
  for (size_t i = 0; i < a->n; i++)
    if (strcmp(a->v[i].name, b->v[i].name) != 0 || a->v[i].len != b->v[i].len ||
        memcmp(a->v[i].value, b->v[i].value, a->v[i].len) != 0)
      return false;
  return true;
}

static size_t
link_bucket(dev_t dev, ino_t ino)
{
  uint64_t h = ((uint64_t)ino * 0x9E3779B97F4A7C15ULL) ^ (uint64_t)dev;
  return (size_t)(h >> 54); /* 1024 buckets */
}

/* The first name written for ST's inode (which then has one name fewer to come), or NULL after
 * remembering REL as that first name. */
static char *
link_lookup(struct walker *wk, const struct stat *st, const char *rel)
{
  struct hlink **pp = &wk->buckets[link_bucket(st->st_dev, st->st_ino)];

  for (struct hlink *l = *pp; l != NULL; pp = &l->next, l = l->next) {
    if (l->dev != st->st_dev || l->ino != st->st_ino)
      continue;
    if (--l->left == 0) { /* its last name: forget it, the caller frees the name */
      char *name = l->name;
      *pp = l->next;
      free(l);
      return name;
    }
    return cb__xstrdup(l->name);
  }
  struct hlink *n = cb__xmalloc(sizeof *n);
  *n = (struct hlink){ .next = wk->buckets[link_bucket(st->st_dev, st->st_ino)],
                       .dev = st->st_dev,
                       .ino = st->st_ino,
                       .left = st->st_nlink - 1,
                       .name = cb__xstrdup(rel) };
  wk->buckets[link_bucket(st->st_dev, st->st_ino)] = n;
  return NULL;
}

static int
add(struct walker *wk, const struct cb_tar_entry *e, struct cb_error **err)
{
  return cb_tar_writer_add(wk->w, e, err);
}

/* A .wh. entry hiding REL (a clean relative name). */
static int
write_whiteout(struct walker *wk, const char *rel, const char *hidden, int64_t uid, int64_t gid,
               int64_t mtime, struct cb_error **err)
{
  const char *slash = strrchr(rel, '/');
  cb_autofree char *name = NULL;

  if (hidden[0] == '\0')
    name = cb__xasprintf("%s%s" WHITEOUT_OPAQUE, rel, rel[0] ? "/" : "");
  else if (slash == NULL)
    name = cb__xasprintf(WHITEOUT_PREFIX "%s", hidden);
  else
    name = cb__xasprintf("%.*s/" WHITEOUT_PREFIX "%s", (int)(slash - rel), rel, hidden);
  struct cb_tar_entry e = {
    .name = name, .type = CB_TAR_FILE, .mode = 0600, .uid = uid, .gid = gid, .mtime = mtime
  };
  return add(wk, &e, err);
}

/* The opaque marker of directory REL, with the directory's permissions, owner and time. */
static int
write_opaque(struct walker *wk, const char *rel, const struct stat *st, struct cb_error **err)
{
  cb_autofree char *name = cb__xasprintf("%s/" WHITEOUT_OPAQUE, rel);
  struct cb_tar_entry e = { .name = name,
                            .type = CB_TAR_FILE,
                            .mode = st->st_mode & 0777,
                            .uid = st->st_uid,
                            .gid = st->st_gid,
                            .mtime = clamp(wk, st->st_mtim.tv_sec) };
  return add(wk, &e, err);
}

/* One entry for REL, described by ST: NAME in DIRFD, FD an open fd on it (files and
 * directories) or -1. */
static int
write_entry(struct walker *wk, const char *rel, int dirfd, const char *name, int fd,
            const struct stat *st, struct cb_error **err)
{
  struct cb_tar_entry e = { .name = rel,
                            .mode = st->st_mode & 07777,
                            .uid = st->st_uid,
                            .gid = st->st_gid,
                            .mtime = clamp(wk, st->st_mtim.tv_sec) };
  cb_autofree char *first = NULL;
  char target[PATH_MAX];

  if (wk->overlay && S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0)) {
    const char *slash = strrchr(rel, '/');
    return write_whiteout(wk, rel, slash ? slash + 1 : rel, st->st_uid, st->st_gid, e.mtime, err);
  }
  switch (st->st_mode & S_IFMT) {
  case S_IFREG:
    e.type = CB_TAR_FILE;
    break;
  case S_IFDIR:
    e.type = CB_TAR_DIR;
    break;
  case S_IFLNK: {
    ssize_t n = readlinkat(dirfd, name, target, sizeof target - 1);
    if (n < 0)
      return cb_error_set(err, CB_E_SYS, errno, "read link '%s'", rel);
    target[n] = '\0';
    e.type = CB_TAR_SYMLINK;
    e.linkname = target;
    break;
  }
  case S_IFCHR:
  case S_IFBLK:
    e.type = S_ISCHR(st->st_mode) ? CB_TAR_CHAR : CB_TAR_BLOCK;
    e.devmajor = major(st->st_rdev);
    e.devminor = minor(st->st_rdev);
    break;
  case S_IFIFO:
    e.type = CB_TAR_FIFO;
    break;
  default:
    return 0; /* sockets have no place in a layer */
  }
  if (e.type != CB_TAR_DIR && st->st_nlink > 1 && (first = link_lookup(wk, st, rel)) != NULL) {
    e.type = CB_TAR_HARDLINK;
    e.linkname = first;
    e.mode = st->st_mode & 07777;
    return add(wk, &e, err);
  }
  if (read_xattrs(wk, &wk->xa, fd, dirfd, name, err) < 0)
    return -1;
  e.xattrs = wk->xa.v;
  e.nxattrs = wk->xa.n;
  if (e.type == CB_TAR_FILE && st->st_size > 0) {
    e.src = CB_TAR_SRC_FD;
    e.src_fd = fd;
    e.size = (uint64_t)st->st_size;
  }
  if (add(wk, &e, err) < 0)
    return -1;
  if (wk->overlay && e.type == CB_TAR_DIR) {
    char v[2];
    ssize_t n = fgetxattr(fd, OVERLAY_OPAQUE, v, sizeof v);
    if (n == 1 && v[0] == 'y')
      return write_opaque(wk, rel, st, err);
  }
  return 0;
}

/* Write the entries of the directories on the way down that are not written yet. */
static int
flush(struct walker *wk, struct cb_error **err)
{
  for (size_t i = 1; i < wk->depth; i++) {
    struct level *lv = &wk->levels[i];
    cb_autofree char *rel = NULL;
    struct stat st;
    if (lv->emitted)
      continue;
    if (fstat(lv->fd, &st) < 0)
      return cb_error_set(err, CB_E_SYS, errno, "stat '%.*s'", (int)lv->pathlen, wk->path);
    rel = cb__xasprintf("%.*s", (int)lv->pathlen, wk->path);
    if (write_entry(wk, rel, -1, NULL, lv->fd, &st, err) < 0)
      return -1;
    lv->emitted = true;
  }
  return 0;
}

static int add_tree(struct walker *wk, int dfd, struct cb_error **err);

/* Open NAME of DFD for an entry: files and directories get an fd, the rest -1 (and 0). */
static int
open_for_entry(struct walker *wk, int dfd, const char *name, const struct stat *st, int *fd,
               struct cb_error **err)
{
  *fd = -1;
  if (S_ISREG(st->st_mode))
    *fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
  else if (S_ISDIR(st->st_mode))
    *fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  else
    return 0;
  if (*fd < 0)
    return cb_error_set(err, CB_E_SYS, errno, "open '%s'", wk->path);
  return 0;
}

/* Open directory REL below ROOT one component at a time, never following a symlink (O_NOFOLLOW
 * on every step), so a lower's symlink cannot lead the lookup out of it.  -1 with errno. */
static int
open_dir_beneath(int root, const char *rel)
{
  cb_autofree char *copy = cb__xstrdup(rel);
  int fd = fcntl(root, F_DUPFD_CLOEXEC, 0);
  char *save = NULL;

  for (char *c = strtok_r(copy, "/", &save); c != NULL && fd >= 0; c = strtok_r(NULL, "/", &save)) {
    int next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int saved = errno;
    close(fd);
    errno = saved;
    fd = next;
  }
  return fd;
}

/* True when the upper directory FD (stat ST) is an unchanged copy-up: not opaque, and the
 * topmost lower that has wk->path has a directory there with the same mode, owner, mtime and
 * xattrs. */
static bool
copied_up_only(struct walker *wk, int fd, const struct stat *st)
{
  char v[2];
  ssize_t n = fgetxattr(fd, OVERLAY_OPAQUE, v, sizeof v);
  if (n == 1 && v[0] == 'y')
    return false;
  for (size_t i = 0; i < wk->nlowers; i++) {
    cb_autoclose int lfd = open_dir_beneath(wk->lowers[i], wk->path);
    struct cb_error *ignored = NULL;
    struct stat ls;
    bool same;
    if (lfd < 0 && errno == ENOENT)
      continue;
    if (lfd < 0) /* not a directory there, or a symlink on the way */
      return false;
    same = fstat(lfd, &ls) == 0 && ls.st_mode == st->st_mode && ls.st_uid == st->st_uid &&
           ls.st_gid == st->st_gid && ls.st_mtim.tv_sec == st->st_mtim.tv_sec &&
           ls.st_mtim.tv_nsec == st->st_mtim.tv_nsec &&
           read_xattrs(wk, &wk->xa, fd, -1, NULL, &ignored) == 0 &&
           read_xattrs(wk, &wk->xb, lfd, -1, NULL, &ignored) == 0 && xset_equal(&wk->xa, &wk->xb);
    cb_error_free(&ignored);
    return same;
  }
  return false;
}

/* NAME of DFD (wk->path already names it), with all below it when a directory. */
static int
add_stat(struct walker *wk, int dfd, const char *name, const struct stat *st, struct cb_error **err)
{
  cb_autoclose int fd = -1;
  bool lazy;
  int ret;

  if (open_for_entry(wk, dfd, name, st, &fd, err) < 0)
    return -1;
  lazy = S_ISDIR(st->st_mode) && wk->nlowers > 0 && copied_up_only(wk, fd, st);
  if (!lazy && (flush(wk, err) < 0 || write_entry(wk, wk->path, dfd, name, fd, st, err) < 0))
    return -1;
  if (!S_ISDIR(st->st_mode))
    return 0;
  level_push(wk, fd, !lazy);
  ret = add_tree(wk, fd, err);
  wk->depth--;
  return ret;
}

static int
add_one(struct walker *wk, int dfd, const char *name, struct cb_error **err)
{
  size_t old = path_push(wk, name);
  struct stat st;
  int ret = 0;

  if (!excluded(wk)) {
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
      if (errno != ENOENT) /* gone since the listing: nothing to write */
        ret = cb_error_set(err, CB_E_SYS, errno, "stat '%s'", wk->path);
    } else {
      ret = add_stat(wk, dfd, name, &st, err);
    }
  }
  path_pop(wk, old);
  return ret;
}

static int
add_tree(struct walker *wk, int dfd, struct cb_error **err)
{
  char **names;
  size_t n;
  int ret = 0;

  if (list_sorted(dfd, shown(wk->path), &names, &n, err) < 0)
    return -1;
  for (size_t i = 0; i < n && ret == 0; i++)
    ret = add_one(wk, dfd, names[i], err);
  free_names(names, n);
  return ret;
}

/* 1 when the contents of NAME in LFD and UFD differ, 0 when equal, -1 on error. */
static int
content_differs(struct walker *wk, int lfd, int ufd, const char *name, struct cb_error **err)
{
  cb_autoclose int a = openat(lfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
  cb_autoclose int b = openat(ufd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);

  if (a < 0 || b < 0)
    return cb_error_set(err, CB_E_SYS, errno, "open '%s'", wk->path);
  if (wk->cmp_a == NULL) {
    wk->cmp_a = cb__xmalloc(CMP_CHUNK);
    wk->cmp_b = cb__xmalloc(CMP_CHUNK);
  }
  for (;;) {
    ssize_t na = cb_read_retry(a, wk->cmp_a, CMP_CHUNK);
    ssize_t nb = cb_read_retry(b, wk->cmp_b, CMP_CHUNK);
    if (na < 0 || nb < 0)
      return cb_error_set(err, CB_E_SYS, errno, "read '%s'", wk->path);
    if (na != nb || memcmp(wk->cmp_a, wk->cmp_b, (size_t)na) != 0)
      return 1;
    if (na == 0)
      return 0;
  }
}

/* 1 when NAME changed between LFD (LS) and UFD (US), 0 when not, -1 on error. */
static int
changed(struct walker *wk, int lfd, int ufd, const char *name, const struct stat *ls,
        const struct stat *us, struct cb_error **err)
{
  if (ls->st_mode != us->st_mode || ls->st_uid != us->st_uid || ls->st_gid != us->st_gid ||
      ls->st_mtim.tv_sec != us->st_mtim.tv_sec || ls->st_mtim.tv_nsec != us->st_mtim.tv_nsec)
    return 1;
  if (S_ISREG(us->st_mode) && ls->st_size != us->st_size)
    return 1;
  if ((S_ISCHR(us->st_mode) || S_ISBLK(us->st_mode)) && ls->st_rdev != us->st_rdev)
    return 1;
  if (S_ISLNK(us->st_mode)) {
    char a[PATH_MAX], b[PATH_MAX];
    ssize_t na = readlinkat(lfd, name, a, sizeof a);
    ssize_t nb = readlinkat(ufd, name, b, sizeof b);
    if (na < 0 || nb < 0)
      return cb_error_set(err, CB_E_SYS, errno, "read link '%s'", wk->path);
    if (na != nb || memcmp(a, b, (size_t)na) != 0)
      return 1;
  }
  if (read_xattrs(wk, &wk->xa, -1, lfd, name, err) < 0 ||
      read_xattrs(wk, &wk->xb, -1, ufd, name, err) < 0)
    return -1;
  if (!xset_equal(&wk->xa, &wk->xb))
    return 1;
  if (S_ISREG(us->st_mode) && us->st_size > 0 &&
      (wk->o->has_since ? us->st_ctim.tv_sec >= wk->o->since : us->st_mtim.tv_nsec == 0))
    return content_differs(wk, lfd, ufd, name, err);
  return 0;
}

static int diff_dir(struct walker *wk, int lfd, int ufd, char **ln, size_t nl, char **un, size_t nu,
                    struct cb_error **err);

/* Both trees hold NAME as a directory (wk->path names it). */
static int
diff_both_dirs(struct walker *wk, int lfd, int ufd, const char *name, const struct stat *ls,
               const struct stat *us, struct cb_error **err)
{
  cb_autoclose int lsub = openat(lfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  cb_autoclose int usub = openat(ufd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  char **ln = NULL, **un = NULL;
  size_t nl = 0, nu = 0;
  bool opaque;
  int ret;

  if (lsub < 0 || usub < 0)
    return cb_error_set(err, CB_E_SYS, errno, "open '%s'", wk->path);
  if (list_sorted(lsub, wk->path, &ln, &nl, err) < 0)
    return -1;
  if (list_sorted(usub, wk->path, &un, &nu, err) < 0) {
    free_names(ln, nl);
    return -1;
  }
  /* replaced wholesale: several names below it before, none of them now */
  opaque = nl >= 2;
  for (size_t i = 0, j = 0; opaque && i < nl && j < nu;) {
    int c = strcmp(ln[i], un[j]);
    if (c == 0)
      opaque = false;
    else if (c < 0)
      i++;
    else
      j++;
  }
  if (opaque) {
    ret = flush(wk, err);
    if (ret == 0)
      ret = write_entry(wk, wk->path, ufd, name, usub, us, err);
    if (ret == 0)
      ret = write_opaque(wk, wk->path, us, err);
    level_push(wk, usub, true);
    for (size_t j = 0; j < nu && ret == 0; j++)
      ret = add_one(wk, usub, un[j], err);
    wk->depth--;
  } else {
    int ch = changed(wk, lfd, ufd, name, ls, us, err);
    ret = ch < 0 ? -1 : 0;
    if (ch > 0) { /* its own entry now; otherwise only once something below it changed */
      ret = flush(wk, err);
      if (ret == 0)
        ret = write_entry(wk, wk->path, ufd, name, usub, us, err);
    }
    if (ret == 0) {
      level_push(wk, usub, ch > 0);
      ret = diff_dir(wk, lsub, usub, ln, nl, un, nu, err);
      wk->depth--;
    }
  }
  free_names(ln, nl);
  free_names(un, nu);
  return ret;
}

/* NAME is in both trees. */
static int
diff_one(struct walker *wk, int lfd, int ufd, const char *name, struct cb_error **err)
{
  size_t old = path_push(wk, name);
  struct stat ls, us;
  int ret = 0;

  if (excluded(wk)) {
    path_pop(wk, old);
    return 0;
  }
  if (fstatat(ufd, name, &us, AT_SYMLINK_NOFOLLOW) < 0) {
    ret = cb_error_set(err, CB_E_SYS, errno, "stat '%s'", wk->path);
  } else if (fstatat(lfd, name, &ls, AT_SYMLINK_NOFOLLOW) < 0) {
    ret = cb_error_set(err, CB_E_SYS, errno, "stat lower '%s'", wk->path);
  } else if (S_ISDIR(ls.st_mode) && S_ISDIR(us.st_mode)) {
    ret = diff_both_dirs(wk, lfd, ufd, name, &ls, &us, err);
  } else {
    ret = changed(wk, lfd, ufd, name, &ls, &us, err);
    if (ret > 0)
      ret = add_stat(wk, ufd, name, &us, err);
  }
  path_pop(wk, old);
  return ret < 0 ? -1 : 0;
}

static int
diff_dir(struct walker *wk, int lfd, int ufd, char **ln, size_t nl, char **un, size_t nu,
         struct cb_error **err)
{
  size_t i = 0, j = 0;
  int ret = 0;

  while (ret == 0 && (i < nl || j < nu)) {
    int c = i < nl && j < nu ? strcmp(ln[i], un[j]) : i < nl ? -1 : 1;
    if (c > 0) {
      ret = add_one(wk, ufd, un[j++], err);
    } else if (c == 0) {
      ret = diff_one(wk, lfd, ufd, un[j], err);
      i++;
      j++;
    } else { /* gone: a whiteout, timed as the directory that lost it */
      size_t old = path_push(wk, ln[i]);
      struct stat dst;
      if (!excluded(wk)) {
        if (fstat(ufd, &dst) < 0)
          ret = cb_error_set(err, CB_E_SYS, errno, "stat '%.*s'", (int)old, wk->path);
        if (ret == 0)
          ret = flush(wk, err);
        if (ret == 0)
          ret = write_whiteout(wk, wk->path, ln[i], 0, 0, clamp(wk, dst.st_mtim.tv_sec), err);
      }
      path_pop(wk, old);
      i++;
    }
  }
  return ret;
}

static int
walker_init(struct walker *wk, struct cb_tar_writer *w, const struct cb_layer_opts *o, bool overlay,
            struct cb_error **err)
{
  static const struct cb_layer_opts none = { 0 };

  memset(wk, 0, sizeof *wk);
  wk->w = w;
  wk->o = o ? o : &none;
  wk->overlay = overlay;
  wk->cap = 256;
  wk->path = cb__xmalloc(wk->cap);
  wk->path[0] = '\0';
  if (wk->o->nexclude > 0)
    wk->exclude = cb__xcalloc(wk->o->nexclude, sizeof *wk->exclude);
  for (size_t i = 0; i < wk->o->nexclude; i++) {
    if (cb__tar_clean_name(wk->o->exclude[i], &wk->exclude[i], err) < 0)
      return -1;
    wk->nexclude++;
  }
  if (overlay && wk->o->nlowers > 0)
    wk->lowers = cb__xcalloc(wk->o->nlowers, sizeof *wk->lowers);
  for (size_t i = 0; overlay && i < wk->o->nlowers; i++) {
    wk->lowers[i] = open(wk->o->lowers[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (wk->lowers[i] < 0)
      return cb_error_set(err, CB_E_SYS, errno, "open lower '%s'", wk->o->lowers[i]);
    wk->nlowers++;
  }
  return 0;
}

static void
walker_release(struct walker *wk)
{
  for (size_t i = 0; i < wk->nexclude; i++)
    free(wk->exclude[i]);
  free(wk->exclude);
  for (size_t i = 0; i < wk->nlowers; i++)
    close(wk->lowers[i]);
  free(wk->lowers);
  for (size_t i = 0; i < sizeof wk->buckets / sizeof *wk->buckets; i++) {
    for (struct hlink *l = wk->buckets[i], *next; l != NULL; l = next) {
      next = l->next;
      free(l->name);
      free(l);
    }
  }
  xset_release(&wk->xa);
  xset_release(&wk->xb);
  free(wk->levels);
  free(wk->path);
  free(wk->cmp_a);
  free(wk->cmp_b);
}

int
cb_tar_add_dir(struct cb_tar_writer *w, const char *dir, const struct cb_layer_opts *o,
               struct cb_error **err)
{
  cb_autoclose int root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  struct walker wk;
  int ret;

  if (root < 0)
    return cb_error_set(err, CB_E_SYS, errno, "open '%s'", dir);
  ret = walker_init(&wk, w, o, o && o->overlay, err);
  if (ret == 0) {
    level_push(&wk, root, true);
    ret = add_tree(&wk, root, err);
  }
  walker_release(&wk);
  if (ret < 0)
    return cb_error_wrap(err, "layer from '%s'", dir);
  return 0;
}

int
cb_tar_add_diff(struct cb_tar_writer *w, const char *lower, const char *upper,
                const struct cb_layer_opts *o, struct cb_error **err)
{
  cb_autoclose int lroot = open(lower, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  cb_autoclose int uroot = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  char **ln = NULL, **un = NULL;
  size_t nl = 0, nu = 0;
  struct walker wk;
  int ret;

  if (lroot < 0)
    return cb_error_set(err, CB_E_SYS, errno, "open '%s'", lower);
  if (uroot < 0)
    return cb_error_set(err, CB_E_SYS, errno, "open '%s'", upper);
  ret = walker_init(&wk, w, o, false, err);
  if (ret == 0)
    ret = list_sorted(lroot, lower, &ln, &nl, err);
  if (ret == 0)
    ret = list_sorted(uroot, upper, &un, &nu, err);
  if (ret == 0) {
    level_push(&wk, uroot, true);
    ret = diff_dir(&wk, lroot, uroot, ln, nl, un, nu, err);
  }
  free_names(ln, nl);
  free_names(un, nu);
  walker_release(&wk);
  if (ret < 0)
    return cb_error_wrap(err, "layer from changes '%s' -> '%s'", lower, upper);
  return 0;
}

static int
layer_finish(struct cb_tar_writer *w, int ret, struct cb_digest *out, uint64_t *size,
             struct cb_error **err)
{
  if (ret < 0) {
    cb_tar_writer_abort(w);
    return -1;
  }
  return cb_tar_writer_finish(w, out, size, err);
}

int
cb_layer_from_dir(struct cb_store *s, const char *dir, const struct cb_layer_opts *o,
                  struct cb_digest *out, uint64_t *size, struct cb_error **err)
{
  struct cb_tar_writer *w = cb_tar_writer_new_layer(s, err);
  if (w == NULL)
    return -1;
  return layer_finish(w, cb_tar_add_dir(w, dir, o, err), out, size, err);
}

int
cb_layer_from_diff(struct cb_store *s, const char *lower, const char *upper,
                   const struct cb_layer_opts *o, struct cb_digest *out, uint64_t *size,
                   struct cb_error **err)
{
  struct cb_tar_writer *w = cb_tar_writer_new_layer(s, err);
  if (w == NULL)
    return -1;
  return layer_finish(w, cb_tar_add_diff(w, lower, upper, o, err), out, size, err);
}
