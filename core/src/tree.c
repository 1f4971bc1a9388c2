/* A context directory walked, hashed and written into a layer in C: see cbuild/tree.h. */
#include "cbuild/tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "util.h"

struct cb_tree {
  char *root;
  struct cb_tree_entry *v;
  size_t n, cap;
  char **blocks; /* the entries' names are carved out of these, freed with the tree */
  size_t nblocks, blocks_cap;
  char *block;       /* the block names are copied into now */
  size_t block_left; /* bytes free at its end */
};

#define NAME_BLOCK (64 * 1024)

/* A directory whose every entry is kept, left for later: walked by two threads at the end. */
struct pending {
  int fd;
  char *rel;
  size_t len;
};

/* At most this many directories wait, each with its fd open. */
#define PENDING_MAX 64

struct walk {
  struct cb_tree *t;
  cb_tree_filter filter;
  void *arg;
  char *path; /* rel of the directory being read, grown as needed */
  size_t cap;
  struct pending *pending; /* NULL: walk every directory at once */
  size_t npending;
};

static void
entry_release(struct cb_tree_entry *e)
{
  free((char *)e->target);
}

static char *
tree_block(struct cb_tree *t, size_t size)
{
  if (t->nblocks == t->blocks_cap) {
    t->blocks_cap = t->blocks_cap ? t->blocks_cap * 2 : 16;
    t->blocks = cb__xrealloc(t->blocks, t->blocks_cap * sizeof *t->blocks);
  }
  return t->blocks[t->nblocks++] = cb__xmalloc(size);
}

/* A copy of S that lives as long as T: 20,000 names cost a few blocks, not 20,000 mallocs
 * and frees (a name dropped with its looked-into directory stays unused in its block). */
static char *
tree_strdup(struct cb_tree *t, const char *s)
{
  size_t n = strlen(s) + 1;
  char *p;

  if (n > NAME_BLOCK / 4)
    return memcpy(tree_block(t, n), s, n);
  if (t->block_left < n) {
    t->block = tree_block(t, NAME_BLOCK);
    t->block_left = NAME_BLOCK;
  }
  p = t->block + NAME_BLOCK - t->block_left;
  t->block_left -= n;
  return memcpy(p, s, n);
}

/* Append the entry NAME of directory DFD (rel REL) as lstat ST describes it. */
static int
push_entry(struct cb_tree *t, int dfd, const char *name, const char *rel, const struct stat *st,
           struct cb_error **err)
{
  struct cb_tree_entry *e;

  if (t->n == t->cap) {
    t->cap = t->cap ? t->cap * 2 : 64;
    t->v = cb__xrealloc(t->v, t->cap * sizeof *t->v);
  }
  e = &t->v[t->n];
  memset(e, 0, sizeof *e);
  if (S_ISLNK(st->st_mode)) {
    size_t len = (size_t)st->st_size + 1;
    char *buf = cb__xmalloc(len + 1);
    ssize_t k;
    /* a target may grow between lstat and readlink: retry with room to tell */
    while ((k = readlinkat(dfd, name, buf, len)) >= 0 && (size_t)k == len) {
      len *= 2;
      buf = cb__xrealloc(buf, len + 1);
    }
    if (k < 0) {
      free(buf);
      return cb_error_set(err, CB_E_SYS, errno, "readlink '%s'", rel);
    }
    buf[k] = '\0';
    e->target = buf;
  }
  e->rel = tree_strdup(t, rel);
  e->mode = st->st_mode;
  e->uid = st->st_uid;
  e->gid = st->st_gid;
  e->devmajor = major(st->st_rdev);
  e->devminor = minor(st->st_rdev);
  e->size = st->st_size;
  e->mtime = st->st_mtim.tv_sec;
  e->mtime_ns = st->st_mtim.tv_nsec;
  e->ctime = st->st_ctim.tv_sec;
  e->ctime_ns = st->st_ctim.tv_nsec;
  e->ino = st->st_ino;
  t->n++;
  return 0;
}

/* Drop entries from index MARK on (a looked-into directory that kept nothing). */
static void
truncate_to(struct cb_tree *t, size_t mark)
{
  while (t->n > mark)
    entry_release(&t->v[--t->n]);
}

/* Walk directory DFD (owned, closed here) whose rel is w->path[0..len); ALL: keep everything.
 * *kept gets the number of direct entries kept. */
static int
walk_dir(struct walk *w, int dfd, size_t len, bool all, size_t *kept, struct cb_error **err)
{
  DIR *d = fdopendir(dfd);
  struct dirent *de;
  int ret = 0;

  *kept = 0;
  if (d == NULL) {
    int e = errno;
    close(dfd);
    return cb_error_set(err, CB_E_SYS, e, "open directory '%s'", w->t->root);
  }
  while ((errno = 0, de = readdir(d)) != NULL) {
    const char *name = de->d_name;
    size_t nlen = strlen(name), rlen = len + (len > 0) + nlen;
    enum cb_tree_verdict v = CB_TREE_KEEP_ALL;
    struct stat st;
    size_t mark, below = 0;

    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
      continue;
    if (rlen + 1 > w->cap) {
      w->cap = rlen * 2 + 64;
      w->path = cb__xrealloc(w->path, w->cap);
    }
    if (len > 0)
      w->path[len] = '/';
    memcpy(w->path + len + (len > 0), name, nlen + 1);
    if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) < 0)
      continue; /* gone since readdir */
    if (!all && w->filter(w->arg, w->path, S_ISDIR(st.st_mode), &v, err) < 0) {
      if (*err == NULL)
        cb_error_set(err, CB_E_INVALID, 0, "walk stopped at '%s'", w->path);
      ret = -1;
      break;
    }
    if (v == CB_TREE_SKIP || (v == CB_TREE_LOOK && !S_ISDIR(st.st_mode)))
      continue;
    mark = w->t->n;
    if (push_entry(w->t, dirfd(d), name, w->path, &st, err) < 0) {
      ret = -1;
      break;
    }
    if (S_ISDIR(st.st_mode)) {
      int sub = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub >= 0 && (all || v == CB_TREE_KEEP_ALL) && w->pending != NULL &&
          w->npending < PENDING_MAX) {
        struct pending *p = &w->pending[w->npending++];
        p->fd = sub;
        p->rel = cb__xstrdup(w->path);
        p->len = rlen;
        (*kept)++;
        continue;
      }
      if (sub >= 0 && walk_dir(w, sub, rlen, all || v == CB_TREE_KEEP_ALL, &below, err) < 0) {
        ret = -1;
        break;
      }
      if (sub < 0 && errno != ENOENT && errno != ENOTDIR) {
        ret = cb_error_set(err, CB_E_SYS, errno, "open directory '%s'", w->path);
        break;
      }
    }
    if (v == CB_TREE_LOOK && below == 0) {
      truncate_to(w->t, mark);
      continue;
    }
    (*kept)++;
  }
  if (ret == 0 && errno != 0)
    ret = cb_error_set(err, CB_E_SYS, errno, "read directory '%s'", w->t->root);
  closedir(d);
  return ret;
}

/* The pending directories, shared by the two threads that walk them. */
struct pool {
  struct walk *main;
  pthread_mutex_t mu;
  size_t next; /* the first not taken */
};

/* One thread's part: its entries in a tree of its own, merged into the main one after. */
struct worker {
  struct pool *pool;
  struct cb_tree t;
  struct cb_error *err;
};

static void *
worker_run(void *arg)
{
  struct worker *k = arg;
  struct walk *m = k->pool->main;
  struct walk w = { .t = &k->t };
  size_t below;

  for (;;) {
    struct pending *p;
    pthread_mutex_lock(&k->pool->mu);
    p = k->pool->next < m->npending ? &m->pending[k->pool->next++] : NULL;
    pthread_mutex_unlock(&k->pool->mu);
    if (p == NULL)
      break;
    if (p->len + 1 > w.cap) {
      w.cap = p->len * 2 + 64;
      w.path = cb__xrealloc(w.path, w.cap);
    }
    memcpy(w.path, p->rel, p->len + 1);
    if (k->err == NULL) {
      walk_dir(&w, p->fd, p->len, true, &below, &k->err);
    } else {
      close(p->fd);
    }
    p->fd = -1;
  }
  free(w.path);
  return NULL;
}

/* Move the entries and name blocks of SRC to the end of DST; SRC is left empty. */
static void
tree_take(struct cb_tree *dst, struct cb_tree *src)
{
  if (dst->n + src->n > dst->cap) {
    dst->cap = dst->n + src->n;
    dst->v = cb__xrealloc(dst->v, dst->cap * sizeof *dst->v);
  }
  if (src->n > 0)
    memcpy(dst->v + dst->n, src->v, src->n * sizeof *src->v);
  dst->n += src->n;
  for (size_t i = 0; i < src->nblocks; i++) {
    if (dst->nblocks == dst->blocks_cap) {
      dst->blocks_cap = dst->blocks_cap ? dst->blocks_cap * 2 : 16;
      dst->blocks = cb__xrealloc(dst->blocks, dst->blocks_cap * sizeof *dst->blocks);
    }
    dst->blocks[dst->nblocks++] = src->blocks[i];
  }
  free(src->v);
  free(src->blocks);
  memset(src, 0, sizeof *src);
}

/* Walk the directories W left pending, on this thread and a second one (fstatat is most of a
 * walk, and the kernel does it for both at once); 0 or -1 with *err. */
static int
walk_pending(struct walk *w, struct cb_error **err)
{
  struct pool pool = { .main = w };
  struct worker k[2];
  pthread_t tid;
  bool two;
  int ret = 0;

  memset(k, 0, sizeof k);
  pthread_mutex_init(&pool.mu, NULL);
  for (int i = 0; i < 2; i++) {
    k[i].pool = &pool;
    k[i].t.root = w->t->root;
  }
  two = w->npending > 1 && sysconf(_SC_NPROCESSORS_ONLN) > 1 &&
        pthread_create(&tid, NULL, worker_run, &k[1]) == 0;
  worker_run(&k[0]);
  if (two)
    pthread_join(tid, NULL);
  pthread_mutex_destroy(&pool.mu);
  for (int i = 0; i < 2; i++) {
    if (k[i].err != NULL && ret == 0) {
      *err = cb_steal_ptr(&k[i].err);
      ret = -1;
    }
    cb_error_free(&k[i].err);
    tree_take(w->t, &k[i].t);
  }
  return ret;
}

static void
pending_free(struct walk *w)
{
  for (size_t i = 0; i < w->npending; i++) {
    if (w->pending[i].fd >= 0)
      close(w->pending[i].fd);
    free(w->pending[i].rel);
  }
  free(w->pending);
}

static int
cmp_rel(const void *a, const void *b)
{
  return strcmp(((const struct cb_tree_entry *)a)->rel, ((const struct cb_tree_entry *)b)->rel);
}

struct cb_tree *
cb_tree_walk(const char *root, cb_tree_filter filter, void *arg, struct cb_error **err)
{
  struct cb_tree *t = cb__xcalloc(1, sizeof *t);
  struct walk w = { .t = t, .filter = filter, .arg = arg };
  struct stat st;
  size_t kept;
  int dfd;

  t->root = cb__xstrdup(root);
  if (lstat(root, &st) < 0) {
    cb_error_set(err, CB_E_SYS, errno, "lstat '%s'", root);
    goto fail;
  }
  if (push_entry(t, AT_FDCWD, root, "", &st, err) < 0)
    goto fail;
  if (S_ISDIR(st.st_mode)) {
    dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
      cb_error_set(err, CB_E_SYS, errno, "open directory '%s'", root);
      goto fail;
    }
    w.pending = cb__xmalloc(PENDING_MAX * sizeof *w.pending);
    if (walk_dir(&w, dfd, 0, filter == NULL, &kept, err) < 0 || walk_pending(&w, err) < 0)
      goto fail;
  }
  free(w.path);
  pending_free(&w);
  qsort(t->v, t->n, sizeof *t->v, cmp_rel); /* "" (the root) stays first */
  return t;
fail:
  free(w.path);
  pending_free(&w);
  cb_tree_free(t);
  return NULL;
}

void
cb_tree_free(struct cb_tree *t)
{
  if (t == NULL)
    return;
  truncate_to(t, 0);
  for (size_t i = 0; i < t->nblocks; i++)
    free(t->blocks[i]);
  free(t->blocks);
  free(t->v);
  free(t->root);
  free(t);
}

const char *
cb_tree_root(const struct cb_tree *t)
{
  return t->root;
}

size_t
cb_tree_count(const struct cb_tree *t)
{
  return t->n;
}

const struct cb_tree_entry *
cb_tree_get(const struct cb_tree *t, size_t i)
{
  return i < t->n ? &t->v[i] : NULL;
}

long
cb_tree_find(const struct cb_tree *t, const char *rel)
{
  size_t lo = 0, hi = t->n;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(t->v[mid].rel, rel);
    if (c == 0)
      return (long)mid;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return -1;
}

const char *
cb_tree_type_name(uint32_t mode)
{
  switch (mode & S_IFMT) {
  case S_IFREG:
    return "file";
  case S_IFDIR:
    return "dir";
  case S_IFLNK:
    return "symlink";
  case S_IFCHR:
    return "char";
  case S_IFBLK:
    return "block";
  case S_IFIFO:
    return "fifo";
  case S_IFSOCK:
    return "socket";
  default:
    return "unknown";
  }
}

/* string.pack(">s4", s) */
static void
put_s4(struct cb_sha256 *h, const char *s)
{
  size_t n = strlen(s);
  uint8_t len[4] = { (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n };
  cb_sha256_update(h, len, sizeof len);
  cb_sha256_update(h, s, n);
}

static void
put_u32(struct cb_sha256 *h, uint32_t v)
{
  uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
  cb_sha256_update(h, b, sizeof b);
}

int
cb_tree_digest(struct cb_tree *t, struct cb_hashcache *c, uint32_t uid, uint32_t gid,
               struct cb_digest *out, struct cb_error **err)
{
  size_t nreg = 0, bytes = 0, rlen = strlen(t->root), k = 0;
  cb_autofree const char **paths = NULL;
  cb_autofree const struct cb_tree_entry **es = NULL;
  cb_autofree struct cb_digest *digests = NULL;
  cb_autofree char *buf = NULL;
  struct cb_sha256 h;
  char *p;

  for (size_t i = 0; i < t->n; i++) {
    if (S_ISREG(t->v[i].mode)) {
      nreg++;
      bytes += rlen + strlen(t->v[i].rel) + 2;
    }
  }
  /* the files' digests first, all at once: those not cached are read on two threads */
  paths = cb__xmalloc((nreg ? nreg : 1) * sizeof *paths);
  es = cb__xmalloc((nreg ? nreg : 1) * sizeof *es);
  digests = cb__xmalloc((nreg ? nreg : 1) * sizeof *digests);
  p = buf = cb__xmalloc(bytes ? bytes : 1);
  for (size_t i = 0; i < t->n; i++) {
    const struct cb_tree_entry *e = &t->v[i];
    size_t elen = strlen(e->rel);
    if (!S_ISREG(e->mode))
      continue;
    paths[k] = p;
    es[k++] = e;
    memcpy(p, t->root, rlen);
    p += rlen;
    if (elen > 0)
      *p++ = '/';
    memcpy(p, e->rel, elen + 1);
    p += elen + 1;
  }
  if (cb_hashcache_files(c, paths, es, nreg, digests, err) < 0)
    return -1;

  cb_sha256_init(&h);
  k = 0;
  for (size_t i = 0; i < t->n; i++) {
    struct cb_tree_entry *e = &t->v[i];
    char extra[CB_DIGEST_STR_LEN > 32 ? CB_DIGEST_STR_LEN : 32] = "";
    const char *x = extra;

    if (S_ISREG(e->mode)) {
      e->digest = digests[k++];
      e->hashed = true;
      cb_digest_string(&e->digest, extra, sizeof extra);
    } else if (S_ISLNK(e->mode)) {
      x = e->target;
    } else if (S_ISCHR(e->mode) || S_ISBLK(e->mode)) {
      snprintf(extra, sizeof extra, "%u,%u", e->devmajor, e->devminor);
    }
    put_s4(&h, e->rel[0] == '\0' ? "." : e->rel);
    put_s4(&h, cb_tree_type_name(e->mode));
    put_u32(&h, e->mode & 07777);
    put_u32(&h, uid);
    put_u32(&h, gid);
    put_s4(&h, x);
  }
  cb_sha256_final(&h, out);
  cb_sha256_release(&h);
  return 0;
}

/* Tar order: byte order with "/" below every other byte, so a directory's entries follow it
 * before any sibling whose name merely starts with the directory's. */
static int
cmp_tar(const void *a, const void *b)
{
  const unsigned char *x = (const unsigned char *)(*(const struct cb_tree_entry *const *)a)->rel;
  const unsigned char *y = (const unsigned char *)(*(const struct cb_tree_entry *const *)b)->rel;

  for (;; x++, y++) {
    unsigned cx = *x == '/' ? 1 : (*x == 0 ? 0 : *x + 1u);
    unsigned cy = *y == '/' ? 1 : (*y == 0 ? 0 : *y + 1u);
    if (cx != cy)
      return cx < cy ? -1 : 1;
    if (cx == 0)
      return 0;
  }
}

static int
tar_type(uint32_t mode, enum cb_tar_type *out)
{
  switch (mode & S_IFMT) {
  case S_IFREG:
    *out = CB_TAR_FILE;
    return 0;
  case S_IFDIR:
    *out = CB_TAR_DIR;
    return 0;
  case S_IFLNK:
    *out = CB_TAR_SYMLINK;
    return 0;
  case S_IFCHR:
    *out = CB_TAR_CHAR;
    return 0;
  case S_IFBLK:
    *out = CB_TAR_BLOCK;
    return 0;
  case S_IFIFO:
    *out = CB_TAR_FIFO;
    return 0;
  default:
    return -1;
  }
}

int
cb_tree_write(const struct cb_tree *t, struct cb_tar_writer *w, const struct cb_tree_write_opts *o,
              struct cb_error **err)
{
  const char *prefix = o->prefix ? o->prefix : "";
  size_t plen = strlen(prefix), rlen = strlen(t->root), ncap = 0, scap = 0;
  const struct cb_tree_entry **order = cb__xmalloc((t->n ? t->n : 1) * sizeof *order);
  char *name = NULL, *src = NULL;
  int ret = 0;

  bool sorted = true;

  for (size_t i = 0; i < t->n; i++) {
    order[i] = &t->v[i];
    sorted = sorted && (i == 0 || cmp_tar(&order[i - 1], &order[i]) < 0);
  }
  if (!sorted) /* byte order is tar order unless a name has a byte below "/" where another has "/"
                */
    qsort(order, t->n, sizeof *order, cmp_tar);
  for (size_t i = 0; i < t->n; i++) {
    const struct cb_tree_entry *e = order[i];
    size_t elen = strlen(e->rel);
    struct cb_tar_entry te = { 0 };
    struct cb_tar_ident ident = { e->size, e->mtime, e->mtime_ns, e->ctime, e->ctime_ns, e->ino };

    if (elen == 0)
      continue; /* the root: the caller writes it under its own name */
    if (tar_type(e->mode, &te.type) < 0) {
      ret = cb_error_set(err, CB_E_INVALID, 0, "'%s': cannot archive a %s", e->rel,
                         cb_tree_type_name(e->mode));
      break;
    }
    if (plen + elen + 2 > ncap) {
      ncap = (plen + elen + 2) * 2;
      name = cb__xrealloc(name, ncap);
    }
    memcpy(name, prefix, plen);
    if (plen > 0)
      name[plen] = '/';
    memcpy(name + plen + (plen > 0), e->rel, elen + 1);
    te.name = name;
    te.mode = e->mode & 07777;
    if (o->chmod >= 0 && te.type != CB_TAR_SYMLINK)
      te.mode = (uint32_t)o->chmod;
    te.uid = o->uid;
    te.gid = o->gid;
    te.mtime = o->epoch >= 0 && e->mtime > o->epoch ? o->epoch : e->mtime;
    te.linkname = e->target;
    if (te.type == CB_TAR_CHAR || te.type == CB_TAR_BLOCK) {
      te.devmajor = e->devmajor;
      te.devminor = e->devminor;
    }
    if (te.type == CB_TAR_FILE) {
      if (rlen + elen + 2 > scap) {
        scap = (rlen + elen + 2) * 2;
        src = cb__xrealloc(src, scap);
      }
      memcpy(src, t->root, rlen);
      src[rlen] = '/';
      memcpy(src + rlen + 1, e->rel, elen + 1);
      te.src = CB_TAR_SRC_PATH;
      te.src_path = src;
      if (e->hashed) {
        te.content = &e->digest;
        te.content_ident = &ident;
      }
    }
    if (cb_tar_writer_add(w, &te, err) < 0) {
      ret = -1;
      break;
    }
  }
  free(order);
  free(name);
  free(src);
  return ret;
}
