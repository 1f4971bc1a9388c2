#include "cbuild/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

/* SHA256_CTX rather than EVP: its state is public, so a blob's hash can be saved at marks and
 * resumed from one (the functions are deprecated in OpenSSL 3, not gone) */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include "util.h"

#define TMP_NAME_LEN 32

struct cb_store {
  char *root; /* absolute, no trailing slash */
  int root_fd;
  int blobs_fd; /* blobs/sha256 */
  int tmp_fd;
  int lock_fd;         /* <root>/lock, opened on first lock */
  unsigned lock_depth; /* nested cb_store_lock calls */
};

/*
 * Big blobs are hashed on a second core while the first writes them: SHA-256 runs at about
 * the speed of reading and writing, so a 1 GiB layer takes one pass instead of two.  The
 * writer copies into 1 MiB slots; the hashing thread takes full slots in order.
 */
#define HASH_SLOT      (1024 * 1024)
#define HASH_SLOTS     4
#define HASH_THREAD_AT (4 * 1024 * 1024) /* smaller blobs are hashed inline */

/*
 * Marks: the hash state after every MARK_EVERY bytes, kept with a blob written with
 * cb_blob_writer_keep_marks as an xattr of its file (MARKS_MAX of them at most, every power of
 * two MiB), so that a writer starting with a prefix of that blob resumes the hash at the last
 * mark before the prefix's end.  The xattr is set before the blob is named and lives and dies
 * with its file; a blob without it (another filesystem, an older cbuild) is hashed from 0.
 */
#define MARK_EVERY  (1024 * 1024)
#define MARKS_MAX   64
#define MARKS_XATTR "user.cbuild.sha256-marks"
#define MARKS_MAGIC 0x314d4243u /* "CBM1" */

struct mark {
  uint64_t off;  /* a multiple of MARK_EVERY */
  uint32_t h[8]; /* SHA256_CTX.h after off bytes */
};

struct blob_hash {
  SHA256_CTX c;
  uint64_t len; /* bytes hashed */
  struct mark *marks;
  size_t n, cap;
};

static void
bhash_init(struct blob_hash *b)
{
  memset(b, 0, sizeof *b);
  SHA256_Init(&b->c);
}

static void
bhash_mark(struct blob_hash *b)
{
  if (b->n == b->cap) {
    b->cap = b->cap ? b->cap * 2 : 32;
    b->marks = cb__xrealloc(b->marks, b->cap * sizeof *b->marks);
  }
  b->marks[b->n].off = b->len;
  memcpy(b->marks[b->n].h, b->c.h, sizeof b->marks[b->n].h);
  b->n++;
}

/* Hash DATA, keeping a mark at every multiple of MARK_EVERY it passes. */
static void
bhash_update(struct blob_hash *b, const void *data, size_t len)
{
  const char *p = data;

  while (len > 0) {
    uint64_t to = (b->len / MARK_EVERY + 1) * MARK_EVERY;
    size_t n = len < to - b->len ? len : (size_t)(to - b->len);
    SHA256_Update(&b->c, p, n);
    b->len += n;
    p += n;
    len -= n;
    if (b->len == to)
      bhash_mark(b);
  }
}

/* Continue from mark M (the state after M->off bytes of the same stream). */
static void
bhash_resume(struct blob_hash *b, const struct mark *m)
{
  SHA256_Init(&b->c);
  memcpy(b->c.h, m->h, sizeof b->c.h);
  b->c.Nl = (SHA_LONG)(m->off << 3); /* the length in bits, low and high words */
  b->c.Nh = (SHA_LONG)(m->off >> 29);
  b->len = m->off;
}

struct hasher {
  pthread_t tid;
  pthread_mutex_t mu;
  pthread_cond_t cv; /* any change of head, tail or stop */
  struct blob_hash *h;
  struct cb_blob_writer *w; /* whose prefix is copied while waiting for a free slot */
  char *buf[HASH_SLOTS];
  size_t len[HASH_SLOTS];
  uint64_t head, tail; /* slots [tail, head) wait for hashing; head % N is being filled */
  size_t fill;         /* bytes in the slot being filled */
  bool stop;           /* no more slots: hash what is queued and end */
  bool drop;           /* end without hashing the queue (the blob is thrown away) */
};

struct cb_blob_writer {
  struct cb_store *s;
  int fd;                  /* the temp file, flocked until commit or abort */
  char name[TMP_NAME_LEN]; /* its name in tmp/, "" once renamed into blobs/ */
  struct blob_hash h;
  uint64_t size;
  uint64_t fed;     /* bytes given to cb_blob_writer_write */
  uint64_t flushed; /* bytes whose writeback has been started */
  int pre_fd;       /* a prefix still to copy in from this blob (see copy_prefix), or -1 */
  uint64_t pre_len, pre_done;
  int pre_err;       /* errno of a failed prefix copy, else 0 */
  struct hasher *hz; /* NULL while hashing inline */
  bool hz_tried;     /* the hashing thread was started (or could not be) */
  bool keep_marks;
};

static const char OCI_LAYOUT[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
static const char EMPTY_INDEX[] = "{\"schemaVersion\":2,\"manifests\":[]}";

/* Create tmp/<random> and flock it.  The flock is what tells a concurrent cb_store_open that the
 * file is in use.  Between creat and flock a cleaner may have taken the lock first and unlinked
 * the file: st_nlink == 0 tells us so, and we simply try another name. */
static int
tmp_create(int tmp_fd, char name[TMP_NAME_LEN], struct cb_error **err)
{
  for (int tries = 0; tries < 100; tries++) {
    cb_autoclose int fd = -1;
    struct stat st;
    uint64_t r;

    if (getrandom(&r, sizeof r, 0) != sizeof r)
      r = (uint64_t)getpid() * 2654435761u ^ (uint64_t)tries << 40;
    snprintf(name, TMP_NAME_LEN, "blob-%016llx", (unsigned long long)r);
    fd = openat(tmp_fd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
      if (errno == EEXIST)
        continue;
      return cb_error_set(err, CB_E_SYS, errno, "create temp file in tmp/");
    }
    while (flock(fd, LOCK_EX) < 0) {
      if (errno != EINTR) {
        int saved = errno;
        unlinkat(tmp_fd, name, 0);
        return cb_error_set(err, CB_E_SYS, saved, "flock 'tmp/%s'", name);
      }
    }
    if (fstat(fd, &st) < 0)
      return cb_error_set(err, CB_E_SYS, errno, "stat 'tmp/%s'", name);
    if (st.st_nlink == 0)
      continue; /* removed by a concurrent cleaner before we held the lock */
    return cb_steal_fd(&fd);
  }
  return cb_error_set(err, CB_E_SYS, EEXIST, "create temp file in tmp/");
}

/* Remove every regular file in tmp/ whose flock we can take: its writer is gone. */
static void
tmp_cleanup(int tmp_fd)
{
  int dfd = openat(tmp_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *dir;
  struct dirent *de;

  if (dfd < 0)
    return;
  dir = fdopendir(dfd);
  if (dir == NULL) {
    close(dfd);
    return;
  }
  while ((de = readdir(dir)) != NULL) {
    cb_autoclose int fd = -1;
    struct stat st, cur;

    if (de->d_type == DT_DIR || strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    /* O_NOFOLLOW skips symlinks, O_NONBLOCK keeps a fifo from hanging us */
    fd = openat(tmp_fd, de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
      continue;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0)
      continue; /* in use by a live writer */
    /* unlink only the very file we hold locked, not a namesake created meanwhile */
    if (fstatat(tmp_fd, de->d_name, &cur, AT_SYMLINK_NOFOLLOW) == 0 && cur.st_dev == st.st_dev &&
        cur.st_ino == st.st_ino)
      unlinkat(tmp_fd, de->d_name, 0);
  }
  closedir(dir);
}

/* Create ROOT/NAME with DATA unless it exists.  link(2) never replaces, so concurrent creators
 * cannot clobber each other (or a later update), and a crash leaves the name absent or whole. */
static int
create_once(struct cb_store *s, const char *name, const char *data, struct cb_error **err)
{
  char tmp[TMP_NAME_LEN];
  cb_autoclose int fd = -1;
  int ret = 0;

  if (faccessat(s->root_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
    return 0;
  fd = tmp_create(s->tmp_fd, tmp, err);
  if (fd < 0)
    return cb_error_wrap(err, "create '%s'", name);
  if (cb_write_all(fd, data, strlen(data)) < 0 || fchmod(fd, 0644) < 0 || fsync(fd) < 0)
    ret = cb_error_set(err, CB_E_SYS, errno, "write '%s'", name);
  else if (linkat(s->tmp_fd, tmp, s->root_fd, name, 0) < 0 && errno != EEXIST)
    ret = cb_error_set(err, CB_E_SYS, errno, "link '%s'", name);
  unlinkat(s->tmp_fd, tmp, 0);
  if (ret == 0)
    fsync(s->root_fd);
  return ret;
}

static int
ensure_dir(int dirfd, const char *name, struct cb_error **err)
{
  if (mkdirat(dirfd, name, 0755) < 0 && errno != EEXIST)
    return cb_error_set(err, CB_E_SYS, errno, "mkdir '%s'", name);
  return 0;
}

static int
store_init(struct cb_store *s, const char *root, unsigned flags, struct cb_error **err)
{
  static const char *const dirs[] = { "blobs", "blobs/sha256", "snapshots",
                                      "cache", "containers",   "tmp" };
  bool create = (flags & CB_STORE_CREATE) != 0;

  if (create && cb__mkdir_p_at(AT_FDCWD, root, 0755, err) < 0)
    return -1;
  s->root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (s->root_fd < 0)
    return cb_error_set(err, CB_E_SYS, errno, "'%s'", root);
  s->root = realpath(root, NULL);
  if (s->root == NULL)
    return cb_error_set(err, CB_E_SYS, errno, "resolve '%s'", root);
  if (!create && faccessat(s->root_fd, "oci-layout", F_OK, 0) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "no 'oci-layout' in '%s'", root);
  /* cbuild's own directories are made even without CREATE: a layout written by skopeo or
   * umoci lacks tmp/ and the rest, and we can use it all the same */
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
    if (ensure_dir(s->root_fd, dirs[i], err) < 0)
      return -1;
  s->blobs_fd = openat(s->root_fd, "blobs/sha256", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (s->blobs_fd < 0)
    return cb_error_set(err, CB_E_SYS, errno, "open 'blobs/sha256'");
  s->tmp_fd = openat(s->root_fd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (s->tmp_fd < 0)
    return cb_error_set(err, CB_E_SYS, errno, "open 'tmp'");
  tmp_cleanup(s->tmp_fd);
  if (create) {
    /* oci-layout last: its presence marks a complete layout */
    if (create_once(s, "index.json", EMPTY_INDEX, err) < 0 ||
        create_once(s, "oci-layout", OCI_LAYOUT, err) < 0)
      return -1;
  }
  return 0;
}

struct cb_store *
cb_store_open(const char *root, unsigned flags, struct cb_error **err)
{
  struct cb_store *s = cb__xcalloc(1, sizeof *s);

  s->root_fd = s->blobs_fd = s->tmp_fd = s->lock_fd = -1;
  if (store_init(s, root, flags, err) < 0) {
    cb_error_wrap(err, "open store");
    cb_store_free(s);
    return NULL;
  }
  return s;
}

void
cb_store_free(struct cb_store *s)
{
  if (s == NULL)
    return;
  cb__closep(&s->root_fd);
  cb__closep(&s->blobs_fd);
  cb__closep(&s->tmp_fd);
  cb__closep(&s->lock_fd); /* drops the flock, whatever the nesting depth */
  free(s->root);
  free(s);
}

const char *
cb_store_root(const struct cb_store *s)
{
  return s->root;
}

int
cb_store_root_fd(const struct cb_store *s)
{
  return s->root_fd;
}

int
cb_store_tmp_fd(const struct cb_store *s)
{
  return s->tmp_fd;
}

int
cb_store_tmp_open(struct cb_store *s, char *name, size_t namelen, struct cb_error **err)
{
  char tmp[TMP_NAME_LEN];
  int fd;

  if (namelen < TMP_NAME_LEN)
    return cb_error_set(err, CB_E_INVALID, 0, "temp name buffer too small");
  fd = tmp_create(s->tmp_fd, tmp, err);
  if (fd >= 0)
    memcpy(name, tmp, TMP_NAME_LEN);
  return fd;
}

int
cb_store_has_blob(struct cb_store *s, const struct cb_digest *d, uint64_t *size)
{
  char hex[CB_DIGEST_HEX_LEN + 1];
  struct stat st;

  cb_digest_hex(d, hex, sizeof hex);
  if (fstatat(s->blobs_fd, hex, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
    return 0;
  if (size != NULL)
    *size = (uint64_t)st.st_size;
  return 1;
}

char *
cb_store_blob_path(struct cb_store *s, const struct cb_digest *d)
{
  char hex[CB_DIGEST_HEX_LEN + 1];

  cb_digest_hex(d, hex, sizeof hex);
  return cb__xasprintf("%s/blobs/sha256/%s", s->root, hex);
}

int
cb_store_open_blob(struct cb_store *s, const struct cb_digest *d, struct cb_error **err)
{
  char hex[CB_DIGEST_HEX_LEN + 1];
  int fd;

  cb_digest_hex(d, hex, sizeof hex);
  fd = openat(s->blobs_fd, hex, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0)
    return fd;
  if (errno == ENOENT)
    return cb_error_set(err, CB_E_NOTFOUND, ENOENT, "blob sha256:%s not found", hex);
  return cb_error_set(err, CB_E_SYS, errno, "open blob sha256:%s", hex);
}

int
cb_store_read_blob(struct cb_store *s, const struct cb_digest *d, char **out, size_t *len,
                   struct cb_error **err)
{
  cb_autoclose int fd = cb_store_open_blob(s, d, err);
  struct stat st;
  size_t cap, used = 0;
  char *buf;

  if (fd < 0)
    return -1;
  if (fstat(fd, &st) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "stat blob");
  cap = (size_t)st.st_size + 1; /* blobs never change, but do not trust the size blindly */
  buf = cb__xmalloc(cap);
  for (;;) {
    ssize_t n;
    if (used == cap - 1) {
      cap *= 2;
      buf = cb__xrealloc(buf, cap);
    }
    n = cb_read_retry(fd, buf + used, cap - 1 - used);
    if (n < 0) {
      free(buf);
      return cb_error_set(err, CB_E_SYS, errno, "read blob");
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
cb_store_verify_blob(struct cb_store *s, const struct cb_digest *d, struct cb_error **err)
{
  char want[CB_DIGEST_STR_LEN], got[CB_DIGEST_STR_LEN];
  cb_autoclose int fd = cb_store_open_blob(s, d, err);
  struct cb_digest actual;

  if (fd < 0)
    return -1;
  cb_digest_string(d, want, sizeof want);
  if (cb_digest_fd(fd, &actual, NULL, err) < 0)
    return cb_error_wrap(err, "verify blob %s", want);
  if (!cb_digest_equal(d, &actual)) {
    cb_digest_string(&actual, got, sizeof got);
    return cb_error_set(err, CB_E_DIGEST, 0, "blob %s is corrupt: its bytes hash to %s", want, got);
  }
  return 0;
}

int
cb_store_remove_blob(struct cb_store *s, const struct cb_digest *d, struct cb_error **err)
{
  char hex[CB_DIGEST_HEX_LEN + 1];

  cb_digest_hex(d, hex, sizeof hex);
  if (unlinkat(s->blobs_fd, hex, 0) < 0 && errno != ENOENT)
    return cb_error_set(err, CB_E_SYS, errno, "remove blob sha256:%s", hex);
  return 0;
}

struct cb_blob_writer *
cb_blob_writer_new(struct cb_store *s, struct cb_error **err)
{
  struct cb_blob_writer *w = cb__xcalloc(1, sizeof *w);

  w->s = s;
  w->pre_fd = -1;
  w->fd = tmp_create(s->tmp_fd, w->name, err);
  if (w->fd < 0) {
    free(w);
    return NULL;
  }
  bhash_init(&w->h);
  return w;
}

static void *
hasher_run(void *arg)
{
  struct hasher *hz = arg;

  pthread_mutex_lock(&hz->mu);
  for (;;) {
    while (hz->tail == hz->head && !hz->stop)
      pthread_cond_wait(&hz->cv, &hz->mu);
    if (hz->tail == hz->head || hz->drop)
      break; /* stopped and drained, or dropped */
    unsigned i = (unsigned)(hz->tail % HASH_SLOTS);
    pthread_mutex_unlock(&hz->mu);
    bhash_update(hz->h, hz->buf[i], hz->len[i]);
    pthread_mutex_lock(&hz->mu);
    hz->tail++;
    pthread_cond_broadcast(&hz->cv);
  }
  pthread_mutex_unlock(&hz->mu);
  return NULL;
}

static bool prefix_step(struct cb_blob_writer *w);

static struct hasher *
hasher_start(struct blob_hash *h, struct cb_blob_writer *w)
{
  struct hasher *hz;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);

  if (cores < 2)
    return NULL;
  hz = cb__xcalloc(1, sizeof *hz);
  hz->h = h;
  hz->w = w;
  pthread_mutex_init(&hz->mu, NULL);
  pthread_cond_init(&hz->cv, NULL);
  for (int i = 0; i < HASH_SLOTS; i++)
    hz->buf[i] = cb__xmalloc(HASH_SLOT);
  if (pthread_create(&hz->tid, NULL, hasher_run, hz) != 0) {
    for (int i = 0; i < HASH_SLOTS; i++)
      free(hz->buf[i]);
    pthread_cond_destroy(&hz->cv);
    pthread_mutex_destroy(&hz->mu);
    free(hz);
    return NULL; /* hash inline */
  }
  return hz;
}

/* Queue the slot being filled and wait until the next one is free, copying in a piece of the
 * writer's pending prefix instead of waiting idle where there is one. */
static void
hasher_push(struct hasher *hz)
{
  pthread_mutex_lock(&hz->mu);
  hz->len[hz->head % HASH_SLOTS] = hz->fill;
  hz->head++;
  hz->fill = 0;
  pthread_cond_broadcast(&hz->cv);
  while (hz->head - hz->tail >= HASH_SLOTS) {
    pthread_mutex_unlock(&hz->mu);
    bool worked = prefix_step(hz->w);
    pthread_mutex_lock(&hz->mu);
    if (!worked && hz->head - hz->tail >= HASH_SLOTS)
      pthread_cond_wait(&hz->cv, &hz->mu);
  }
  pthread_mutex_unlock(&hz->mu);
}

static void
hasher_feed(struct hasher *hz, const char *data, size_t len)
{
  while (len > 0) {
    size_t n = HASH_SLOT - hz->fill;
    if (n > len)
      n = len;
    memcpy(hz->buf[hz->head % HASH_SLOTS] + hz->fill, data, n);
    hz->fill += n;
    data += n;
    len -= n;
    if (hz->fill == HASH_SLOT)
      hasher_push(hz);
  }
}

/* Hash what is left (unless dropping) and end the thread; *hzp becomes NULL. */
static void
hasher_stop(struct hasher **hzp, bool drop)
{
  struct hasher *hz = *hzp;

  if (hz == NULL)
    return;
  if (hz->fill > 0 && !drop)
    hasher_push(hz);
  pthread_mutex_lock(&hz->mu);
  hz->drop = drop;
  hz->stop = true;
  pthread_cond_broadcast(&hz->cv);
  pthread_mutex_unlock(&hz->mu);
  pthread_join(hz->tid, NULL);
  for (int i = 0; i < HASH_SLOTS; i++)
    free(hz->buf[i]);
  pthread_cond_destroy(&hz->cv);
  pthread_mutex_destroy(&hz->mu);
  free(hz);
  *hzp = NULL;
}

/* Start writing back what the writer has put in the page cache, every WRITEBACK_AT bytes (and
 * a copied prefix once copied), so that the fsync of commit finds most of a big blob on
 * disk already, instead of starting all of it then.  Advisory: a failure is ignored. */
#define WRITEBACK_AT (8 * 1024 * 1024)

static void
writeback(struct cb_blob_writer *w, uint64_t at)
{
  if (w->size - w->flushed < at)
    return;
  (void)sync_file_range(w->fd, (off64_t)w->flushed, (off64_t)(w->size - w->flushed),
                        SYNC_FILE_RANGE_WRITE);
  w->flushed = w->size;
}

int
cb_blob_writer_write(struct cb_blob_writer *w, const void *data, size_t len, struct cb_error **err)
{
  if (cb_write_all(w->fd, data, len) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "write blob 'tmp/%s'", w->name);
  if (!w->hz_tried && w->fed + len >= HASH_THREAD_AT) {
    w->hz = hasher_start(&w->h, w); /* once, when the blob turns out big */
    w->hz_tried = true;
  }
  if (w->hz != NULL)
    hasher_feed(w->hz, data, len);
  else
    bhash_update(&w->h, data, len);
  w->size += len;
  w->fed += len;
  writeback(w, WRITEBACK_AT);
  return 0;
}

uint64_t
cb_blob_writer_size(const struct cb_blob_writer *w)
{
  return w->size;
}

void
cb_blob_writer_keep_marks(struct cb_blob_writer *w)
{
  w->keep_marks = true;
}

/* The marks as saved: magic, count, marks, then the sha256 of all that. */
struct marks_head {
  uint32_t magic, count;
};

/* Save W's marks (at most MARKS_MAX, thinned to every power of two MiB) on its file; best
 * effort: a blob without them is only slower to resume. */
static void
marks_save(struct cb_blob_writer *w)
{
  struct blob_hash *b = &w->h;
  uint64_t stride = MARK_EVERY;
  char buf[sizeof(struct marks_head) + MARKS_MAX * sizeof(struct mark) + CB_DIGEST_LEN];
  struct marks_head head = { MARKS_MAGIC, 0 };
  size_t len = sizeof head;
  struct cb_digest sum;

  for (;;) {
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++)
      n += b->marks[i].off % stride == 0;
    if (n <= MARKS_MAX)
      break;
    stride *= 2;
  }
  for (size_t i = 0; i < b->n; i++) {
    if (b->marks[i].off % stride == 0 && b->marks[i].off <= w->size) {
      memcpy(buf + len, &b->marks[i], sizeof b->marks[i]);
      len += sizeof b->marks[i];
      head.count++;
    }
  }
  if (head.count == 0)
    return;
  memcpy(buf, &head, sizeof head);
  cb_sha256_buf(buf, len, &sum);
  memcpy(buf + len, sum.bytes, CB_DIGEST_LEN);
  (void)fsetxattr(w->fd, MARKS_XATTR, buf, len + CB_DIGEST_LEN, 0);
}

/* The marks saved on blob FD of SIZE bytes into *OUT (caller frees); 0 when there are none or
 * they are not what marks_save wrote. */
static size_t
marks_load(int fd, uint64_t size, struct mark **out)
{
  char buf[sizeof(struct marks_head) + MARKS_MAX * sizeof(struct mark) + CB_DIGEST_LEN];
  struct marks_head head;
  struct cb_digest sum;
  ssize_t got = fgetxattr(fd, MARKS_XATTR, buf, sizeof buf);
  size_t body;
  struct mark *m;

  *out = NULL;
  if (got < (ssize_t)(sizeof head + CB_DIGEST_LEN))
    return 0;
  memcpy(&head, buf, sizeof head);
  body = sizeof head + head.count * sizeof *m;
  if (head.magic != MARKS_MAGIC || head.count > MARKS_MAX || (size_t)got != body + CB_DIGEST_LEN)
    return 0;
  cb_sha256_buf(buf, body, &sum);
  if (memcmp(sum.bytes, buf + body, CB_DIGEST_LEN) != 0)
    return 0;
  m = cb__xmalloc(head.count * sizeof *m + 1);
  memcpy(m, buf + sizeof head, head.count * sizeof *m);
  for (size_t i = 0; i < head.count; i++) {
    if (m[i].off == 0 || m[i].off % MARK_EVERY != 0 || m[i].off > size ||
        (i > 0 && m[i].off <= m[i - 1].off)) {
      free(m);
      return 0;
    }
  }
  *out = m;
  return head.count;
}

/* Copy LEN bytes of IN to OUT, both from offset OFF: in the kernel where the filesystem can
 * (copy_file_range), else through a buffer.  Neither file position moves. */
static int
copy_range(int in, int out, uint64_t off, uint64_t len)
{
  loff_t pos = (loff_t)off, opos = (loff_t)off;
  char *buf;

  while (len > 0) {
    size_t want = len < (1u << 30) ? (size_t)len : (1u << 30);
    ssize_t n = copy_file_range(in, &pos, out, &opos, want, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n == 0) {
      errno = EIO; /* the source shrank */
      return -1;
    }
    if (n < 0)
      break;
    len -= (uint64_t)n;
  }
  if (len == 0)
    return 0;
  if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP)
    return -1;
  buf = cb__xmalloc(HASH_SLOT / 4);
  while (len > 0) {
    size_t want = len < HASH_SLOT / 4 ? (size_t)len : HASH_SLOT / 4;
    ssize_t n = pread(in, buf, want, pos), done = 0;
    while (n > 0 && done < n) {
      ssize_t k = pwrite(out, buf + done, (size_t)(n - done), pos + done);
      if (k < 0 && errno == EINTR)
        continue;
      if (k <= 0) {
        n = -1;
        break;
      }
      done += k;
    }
    if (n <= 0) {
      if (n == 0)
        errno = EIO; /* the source shrank */
      free(buf);
      return -1;
    }
    pos += n;
    len -= (uint64_t)n;
  }
  free(buf);
  return 0;
}

/*
 * A copied prefix is not copied at once: the writer goes on past it (the bytes after the first
 * change, whose hashing on the second core is what a rebuild waits for), and copies it in
 * PREFIX_STEP pieces whenever it would otherwise wait for the hashing thread, the rest at
 * commit.  So the copy costs a rebuild no time of its own where the hashing is the longer.
 */
#define PREFIX_STEP (1024 * 1024)

/* Copy the next piece of W's pending prefix; false when there is none. */
static bool
prefix_step(struct cb_blob_writer *w)
{
  uint64_t n;

  if (w == NULL || w->pre_fd < 0)
    return false;
  n = w->pre_len - w->pre_done < PREFIX_STEP ? w->pre_len - w->pre_done : PREFIX_STEP;
  if (copy_range(w->pre_fd, w->fd, w->pre_done, n) < 0) {
    w->pre_err = errno ? errno : EIO;
    n = w->pre_len - w->pre_done; /* give up: commit reports it */
  }
  w->pre_done += n;
  if (w->pre_done == w->pre_len) {
    cb__closep(&w->pre_fd);
    if (w->pre_err == 0)
      (void)sync_file_range(w->fd, 0, (off64_t)w->pre_len, SYNC_FILE_RANGE_WRITE);
  }
  return true;
}

int
cb_blob_writer_copy_prefix(struct cb_blob_writer *w, const struct cb_digest *src, uint64_t len,
                           struct cb_error **err)
{
  cb_autoclose int fd = -1;
  cb_autofree struct mark *marks = NULL;
  cb_autofree char *buf = NULL;
  struct stat st;
  size_t n, use = 0;
  uint64_t pos = 0;

  if (w->size != 0 || w->pre_fd >= 0)
    return cb_error_set(err, CB_E_INVALID, 0, "copy a blob's prefix into a writer not empty");
  fd = cb_store_open_blob(w->s, src, err);
  if (fd < 0)
    return -1;
  if (fstat(fd, &st) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "stat blob");
  if (len > (uint64_t)st.st_size)
    return cb_error_set(err, CB_E_INVALID, 0, "blob prefix of %llu bytes: the blob has %llu",
                        (unsigned long long)len, (unsigned long long)st.st_size);
  if (lseek(w->fd, (off_t)len, SEEK_SET) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "seek in blob 'tmp/%s'", w->name);
  /* the bytes up to the last mark within the prefix need no hashing: the marks were taken on
   * this very blob; those from there on are read and hashed (and marked) again */
  n = marks_load(fd, (uint64_t)st.st_size, &marks);
  while (use < n && marks[use].off <= len)
    use++;
  if (use > 0) {
    bhash_resume(&w->h, &marks[use - 1]);
    free(w->h.marks);
    w->h.marks = cb_steal_ptr(&marks);
    w->h.n = w->h.cap = use;
    pos = w->h.len;
  }
  buf = cb__xmalloc(HASH_SLOT / 4);
  while (pos < len) {
    size_t want = len - pos < HASH_SLOT / 4 ? (size_t)(len - pos) : HASH_SLOT / 4;
    ssize_t got = pread(fd, buf, want, (off_t)pos);
    if (got <= 0)
      return cb_error_set(err, CB_E_SYS, got < 0 ? errno : EIO, "read blob");
    bhash_update(&w->h, buf, (size_t)got);
    pos += (uint64_t)got;
  }
  w->size = w->flushed = len;
  if (len > 0) {
    w->pre_fd = cb_steal_fd(&fd);
    w->pre_len = len;
  }
  return 0;
}

static int
writer_finish(struct cb_blob_writer *w, const struct cb_digest *expect, struct cb_digest *out,
              uint64_t *size, struct cb_error **err)
{
  char hex[CB_DIGEST_HEX_LEN + 1];
  struct cb_digest d;

  while (prefix_step(w))
    ;
  if (w->pre_err != 0)
    return cb_error_set(err, CB_E_SYS, w->pre_err, "copy into blob 'tmp/%s'", w->name);
  /* the bytes must be on disk before the name is: a crash after rename finds them whole */
  if (fsync(w->fd) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "fsync blob 'tmp/%s'", w->name);
  hasher_stop(&w->hz, false); /* the last slots were hashed while the disk caught up */
  if (w->keep_marks)
    marks_save(w);
  SHA256_Final(d.bytes, &w->h.c);
  if (expect != NULL && !cb_digest_equal(expect, &d)) {
    char want[CB_DIGEST_STR_LEN], got[CB_DIGEST_STR_LEN];
    cb_digest_string(expect, want, sizeof want);
    cb_digest_string(&d, got, sizeof got);
    return cb_error_set(err, CB_E_DIGEST, 0, "digest mismatch: expected %s, got %s", want, got);
  }
  cb_digest_hex(&d, hex, sizeof hex);
  /* an existing blob holds these very bytes, so replacing it is harmless (and heals it) */
  if (renameat(w->s->tmp_fd, w->name, w->s->blobs_fd, hex) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "rename blob to 'blobs/sha256/%s'", hex);
  w->name[0] = '\0';
  fsync(w->s->blobs_fd); /* durability of the name; the bytes are already safe */
  if (out != NULL)
    *out = d;
  if (size != NULL)
    *size = w->size;
  return 0;
}

int
cb_blob_writer_commit(struct cb_blob_writer *w, const struct cb_digest *expect,
                      struct cb_digest *out, uint64_t *size, struct cb_error **err)
{
  int ret = writer_finish(w, expect, out, size, err);
  cb_blob_writer_abort(w); /* after a successful rename there is nothing left to unlink */
  return ret;
}

void
cb_blob_writer_abort(struct cb_blob_writer *w)
{
  if (w == NULL)
    return;
  /* unlink while we still hold the flock, then close */
  hasher_stop(&w->hz, true);
  cb__closep(&w->pre_fd);
  if (w->name[0] != '\0')
    unlinkat(w->s->tmp_fd, w->name, 0);
  cb__closep(&w->fd);
  free(w->h.marks);
  free(w);
}

int
cb_store_put(struct cb_store *s, const void *data, size_t len, struct cb_digest *out,
             struct cb_error **err)
{
  struct cb_blob_writer *w;
  struct cb_digest d;

  cb_sha256_buf(data, len, &d);
  if (cb_store_has_blob(s, &d, NULL)) {
    *out = d;
    return 0;
  }
  w = cb_blob_writer_new(s, err);
  if (w == NULL)
    return -1;
  if (cb_blob_writer_write(w, data, len, err) < 0) {
    cb_blob_writer_abort(w);
    return -1;
  }
  return cb_blob_writer_commit(w, &d, out, NULL, err);
}

int
cb_store_ingest_fd(struct cb_store *s, int src_fd, const struct cb_digest *expect,
                   struct cb_digest *out, uint64_t *size, struct cb_error **err)
{
  const size_t cap = 1 << 16;
  cb_autofree char *buf = cb__xmalloc(cap);
  struct cb_blob_writer *w = cb_blob_writer_new(s, err);

  if (w == NULL)
    return -1;
  for (;;) {
    ssize_t n = cb_read_retry(src_fd, buf, cap);
    if (n < 0) {
      cb_blob_writer_abort(w);
      return cb_error_set(err, CB_E_SYS, errno, "read");
    }
    if (n == 0)
      break;
    if (cb_blob_writer_write(w, buf, (size_t)n, err) < 0) {
      cb_blob_writer_abort(w);
      return -1;
    }
  }
  return cb_blob_writer_commit(w, expect, out, size, err);
}

int
cb_store_ingest_file(struct cb_store *s, const char *path, const struct cb_digest *expect,
                     struct cb_digest *out, uint64_t *size, struct cb_error **err)
{
  cb_autoclose int fd = open(path, O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    return cb_error_set(err, CB_E_SYS, errno, "open '%s'", path);
  if (cb_store_ingest_fd(s, fd, expect, out, size, err) < 0)
    return cb_error_wrap(err, "ingest '%s'", path);
  return 0;
}

int
cb_store_lock(struct cb_store *s, struct cb_error **err)
{
  if (s->lock_depth > 0) {
    s->lock_depth++;
    return 0;
  }
  if (s->lock_fd < 0) {
    s->lock_fd = openat(s->root_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (s->lock_fd < 0)
      return cb_error_set(err, CB_E_SYS, errno, "open '%s/lock'", s->root);
  }
  while (flock(s->lock_fd, LOCK_EX) < 0)
    if (errno != EINTR)
      return cb_error_set(err, CB_E_SYS, errno, "lock '%s/lock'", s->root);
  s->lock_depth = 1;
  return 0;
}

void
cb_store_unlock(struct cb_store *s)
{
  if (s->lock_depth == 0)
    return;
  if (--s->lock_depth == 0)
    flock(s->lock_fd, LOCK_UN);
}

/* REL names a file inside the root: relative, not empty, no ".." component. */
static int
check_rel(const char *rel, struct cb_error **err)
{
  const char *p = rel;

  if (rel[0] == '\0' || rel[0] == '/')
    return cb_error_set(err, CB_E_UNSAFE, 0, "path '%s' is not inside the store", rel);
  while (*p != '\0') {
    size_t n = strcspn(p, "/");
    if (n == 2 && p[0] == '.' && p[1] == '.')
      return cb_error_set(err, CB_E_UNSAFE, 0, "path '%s' is not inside the store", rel);
    p += n;
    while (*p == '/')
      p++;
  }
  return 0;
}

int
cb_store_read_file(struct cb_store *s, const char *rel, char **out, size_t *len,
                   struct cb_error **err)
{
  if (check_rel(rel, err) < 0)
    return -1;
  return cb__read_file_at(s->root_fd, rel, out, len, err);
}

int
cb_store_write_file(struct cb_store *s, const char *rel, const void *data, size_t len,
                    struct cb_error **err)
{
  cb_autoclose int pfd = -1;
  cb_autoclose int fd = -1;
  const char *slash, *base = rel;
  char tmp[TMP_NAME_LEN];
  int ret = 0;

  if (check_rel(rel, err) < 0)
    return -1;
  slash = strrchr(rel, '/');
  if (slash != NULL) {
    cb_autofree char *parent = strndup(rel, (size_t)(slash - rel));
    if (parent == NULL)
      cb__die_oom();
    if (cb__mkdir_p_at(s->root_fd, parent, 0755, err) < 0)
      return cb_error_wrap(err, "write '%s'", rel);
    pfd = openat(s->root_fd, parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pfd < 0)
      return cb_error_set(err, CB_E_SYS, errno, "open directory of '%s'", rel);
    base = slash + 1;
    if (base[0] == '\0')
      return cb_error_set(err, CB_E_INVALID, 0, "write '%s': not a file name", rel);
  } else {
    pfd = fcntl(s->root_fd, F_DUPFD_CLOEXEC, 0);
    if (pfd < 0)
      return cb_error_set(err, CB_E_SYS, errno, "open directory of '%s'", rel);
  }
  /* the temp file lives in tmp/ (same filesystem) so a crash leaves it where open cleans up */
  fd = tmp_create(s->tmp_fd, tmp, err);
  if (fd < 0)
    return cb_error_wrap(err, "write '%s'", rel);
  if (cb_write_all(fd, data, len) < 0 || fchmod(fd, 0644) < 0 || fsync(fd) < 0)
    ret = cb_error_set(err, CB_E_SYS, errno, "write '%s'", rel);
  else if (renameat(s->tmp_fd, tmp, pfd, base) < 0)
    ret = cb_error_set(err, CB_E_SYS, errno, "rename to '%s'", rel);
  if (ret < 0) {
    unlinkat(s->tmp_fd, tmp, 0);
    return ret;
  }
  fsync(pfd);
  return 0;
}
