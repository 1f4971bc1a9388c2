/* Deterministic tar writing: layers straight into a store blob, plain tars onto an fd. */
#include "cbuild/archive.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive-internal.h"
#include "util.h"

#define CHUNK (128 * 1024)
/* A layer's bytes on their way to the blob.  Not 1 MiB: 1 MiB writes into ext4's page cache ran
 * 8x slower than 256 KiB ones on the benchmark machine (kernel 6.18), 0.3 s per 100 MB. */
#define SINK_BUF (256 * 1024)
#ifdef EFTYPE
#define EFTYPE_FALLBACK EFTYPE
#else
#define EFTYPE_FALLBACK EINVAL
#endif

/* One entry of a layer index: its identity and where its bytes lie in the blob. */
struct index_rec {
  uint8_t id[CB_DIGEST_LEN];
  uint64_t off, len;
};

static const char INDEX_MAGIC[] = "cbuild-tar-index 1\n";

struct tar_index {
  char *path;
  struct index_rec *prev; /* the earlier layer's entries, sorted by id */
  size_t nprev;
  int prev_fd; /* its blob, -1 when there is none */
  struct cb_digest prev_digest;
  uint64_t run_off, run_len; /* earlier bytes due next in the stream, not yet read */
  struct index_rec *rec;     /* this layer's, in order */
  size_t n, cap;
  uint64_t reused;
};

struct cb_tar_writer {
  struct archive *a;
  struct archive_entry *entry; /* reused for every header */
  struct cb_blob_writer *blob; /* layer: the blob being written */
  int fd;                      /* plain: the output (not owned) */
  struct cb_sha256 h;          /* plain: hash of the bytes written */
  uint64_t size;
  struct cb_error *sink_err; /* failure inside the write callback */
  bool failed;
  bool hashing;  /* h is initialised */
  bool dropping; /* aborting: swallow what libarchive still flushes */
  char *buf;     /* CHUNK bytes for streaming file contents */
  char *sink;    /* layer: SINK_BUF bytes not yet in the blob (libarchive itself buffers none) */
  size_t fill;
  struct tar_index *ix; /* indexed layer writer, else NULL */
};

int
cb__archive_error(struct cb_error **err, struct archive *a, const char *what)
{
  const char *msg = archive_error_string(a);
  int errnum = archive_errno(a);

  /* libarchive says EINVAL/EILSEQ (or -1) for bad data and misuse, a real errno otherwise */
  if (errnum > 0 && errnum != EINVAL && errnum != EILSEQ && errnum != EFTYPE_FALLBACK)
    return cb_error_set(err, CB_E_SYS, errnum, "%s: %s", what, msg ? msg : "I/O error");
  return cb_error_set(err, CB_E_INVALID, 0, "%s: %s", what, msg ? msg : "archive error");
}

int
cb__tar_clean_name(const char *name, char **out, struct cb_error **err)
{
  size_t n = strlen(name);
  char *res = cb__xmalloc(n + 1);
  size_t len = 0;
  const char *p = name;

  while (*p != '\0') {
    const char *end = strchr(p, '/');
    size_t clen = end ? (size_t)(end - p) : strlen(p);
    if (clen == 2 && p[0] == '.' && p[1] == '.') {
      free(res);
      return cb_error_set(err, CB_E_UNSAFE, 0, "archive entry '%s' escapes its root with '..'",
                          name);
    }
    if (clen > 0 && !(clen == 1 && p[0] == '.')) {
      if (len > 0)
        res[len++] = '/';
      memcpy(res + len, p, clen);
      len += clen;
    }
    p += clen;
    if (*p == '/')
      p++;
  }
  res[len] = '\0';
  *out = res;
  return 0;
}

static int
sink_flush(struct cb_tar_writer *w)
{
  if (w->fill > 0 && cb_blob_writer_write(w->blob, w->sink, w->fill, &w->sink_err) < 0)
    return -1;
  w->fill = 0;
  return 0;
}

/* Append to a layer's stream (not counted in w->size: callers do). */
static int
sink_put(struct cb_tar_writer *w, const void *buf, size_t len)
{
  const char *p = buf;

  while (len > 0) {
    size_t n = SINK_BUF - w->fill < len ? SINK_BUF - w->fill : len;
    memcpy(w->sink + w->fill, p, n);
    w->fill += n;
    p += n;
    len -= n;
    if (w->fill == SINK_BUF && sink_flush(w) < 0)
      return -1;
  }
  return 0;
}

/* Is the pending run of earlier bytes where both streams start (nothing else written yet)? */
static bool
run_is_prefix(const struct cb_tar_writer *w)
{
  return w->ix->run_off == 0 && w->fill == 0 && cb_blob_writer_size(w->blob) == 0;
}

/* Read the pending run of earlier bytes into the stream.  A run that starts both streams (the
 * entries before the first change) is copied in the kernel and not hashed again: the store
 * resumes the blob's hash from the earlier blob's. */
static int
flush_run(struct cb_tar_writer *w)
{
  struct tar_index *ix = w->ix;

  if (ix != NULL && ix->run_len > 0 && run_is_prefix(w)) {
    if (cb_blob_writer_copy_prefix(w->blob, &ix->prev_digest, ix->run_len, &w->sink_err) < 0)
      return -1;
    ix->run_off = ix->run_len;
    ix->run_len = 0;
  }
  while (ix != NULL && ix->run_len > 0) {
    size_t want = SINK_BUF - w->fill < ix->run_len ? SINK_BUF - w->fill : (size_t)ix->run_len;
    ssize_t n = pread(ix->prev_fd, w->sink + w->fill, want, (off_t)ix->run_off);
    if (n <= 0)
      return cb_error_set(&w->sink_err, CB_E_SYS, n < 0 ? errno : EIO, "read the earlier layer");
    w->fill += (size_t)n;
    ix->run_off += (uint64_t)n;
    ix->run_len -= (uint64_t)n;
    if (w->fill == SINK_BUF && sink_flush(w) < 0)
      return -1;
  }
  return 0;
}

static la_ssize_t
sink_write(struct archive *a, void *client, const void *buf, size_t len)
{
  struct cb_tar_writer *w = client;
  (void)a;
  if (w->dropping)
    return (la_ssize_t)len;
  if (w->blob != NULL) {
    if (flush_run(w) < 0 || sink_put(w, buf, len) < 0)
      return -1;
  } else {
    if (cb_write_all(w->fd, buf, len) < 0) {
      cb_error_set(&w->sink_err, CB_E_SYS, errno, "write tar stream");
      return -1;
    }
    cb_sha256_update(&w->h, buf, len);
  }
  w->size += len;
  return (la_ssize_t)len;
}

/* After a libarchive failure: prefer the sink's own error, which says what really broke. */
static int
writer_fail(struct cb_tar_writer *w, struct cb_error **err, const char *what)
{
  w->failed = true;
  if (w->sink_err != NULL) {
    *err = cb_steal_ptr(&w->sink_err);
    return cb_error_wrap(err, "%s", what);
  }
  return cb__archive_error(err, w->a, what);
}

static struct cb_tar_writer *
writer_new(struct cb_blob_writer *blob, int fd, struct cb_error **err)
{
  struct cb_tar_writer *w = cb__xcalloc(1, sizeof *w);

  w->blob = blob;
  w->fd = fd;
  if (blob == NULL) {
    cb_sha256_init(&w->h);
    w->hashing = true;
  }
  w->buf = cb__xmalloc(CHUNK);
  if (blob != NULL)
    w->sink = cb__xmalloc(SINK_BUF);
  w->entry = archive_entry_new();
  w->a = archive_write_new();
  if (w->a == NULL || w->entry == NULL)
    cb__die_oom();
  /* ustar headers, PAX records only when needed; xattrs only as SCHILY.xattr (as Go's tar),
   * no LIBARCHIVE.xattr duplicates; no padding of the last block (ends with 2 zero blocks). */
  if (archive_write_set_format_pax_restricted(w->a) != ARCHIVE_OK ||
      archive_write_set_format_option(w->a, "pax", "xattrheader", "SCHILY") < ARCHIVE_OK ||
      archive_write_add_filter_none(w->a) != ARCHIVE_OK ||
      /* a layer: unbuffered, so every entry ends in the sink, where its bytes can be counted
       * (and, indexed, taken from an earlier blob); the sink buffers instead */
      archive_write_set_bytes_per_block(w->a, blob != NULL ? 0 : 64 * 1024) != ARCHIVE_OK ||
      archive_write_set_bytes_in_last_block(w->a, 1) != ARCHIVE_OK ||
      archive_write_open(w->a, w, NULL, sink_write, NULL) != ARCHIVE_OK) {
    writer_fail(w, err, "start tar stream");
    cb_tar_writer_abort(w);
    return NULL;
  }
  return w;
}

struct cb_tar_writer *
cb_tar_writer_new_layer(struct cb_store *s, struct cb_error **err)
{
  struct cb_blob_writer *blob = cb_blob_writer_new(s, err);
  if (blob == NULL)
    return NULL;
  return writer_new(blob, -1, err);
}

/* The first 8 bytes of an id, as a number that orders as memcmp does. */
static uint64_t
id_head(const uint8_t *id)
{
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = v << 8 | id[i];
  return v;
}

static int
cmp_rec(const void *a, const void *b)
{
  const uint8_t *x = ((const struct index_rec *)a)->id, *y = ((const struct index_rec *)b)->id;
  uint64_t hx = id_head(x), hy = id_head(y);

  if (hx != hy) /* ids are digests: this decides nearly every time */
    return hx < hy ? -1 : 1;
  return memcmp(x + 8, y + 8, CB_DIGEST_LEN - 8);
}

/* The index file: magic, the blob's digest and size, a record count, records sorted by id
 * (host byte order: it never leaves this machine). */
#define INDEX_HEAD (sizeof INDEX_MAGIC - 1 + CB_DIGEST_LEN + 16)

/* Take the earlier layer named by IX->path, when it is usable; anything else means none. */
static void
index_load(struct cb_store *s, struct tar_index *ix)
{
  cb_autofree char *data = NULL;
  struct cb_error *err = NULL;
  struct cb_digest d;
  uint64_t size, count;
  struct stat st;
  size_t len;
  const char *p;

  ix->prev_fd = -1;
  if (cb__read_file_at(AT_FDCWD, ix->path, &data, &len, &err) < 0) {
    cb_error_free(&err);
    return;
  }
  if (len < INDEX_HEAD || memcmp(data, INDEX_MAGIC, sizeof INDEX_MAGIC - 1) != 0)
    return;
  p = data + sizeof INDEX_MAGIC - 1;
  memcpy(d.bytes, p, CB_DIGEST_LEN);
  memcpy(&size, p + CB_DIGEST_LEN, 8);
  memcpy(&count, p + CB_DIGEST_LEN + 8, 8);
  if (count > (len - INDEX_HEAD) / sizeof(struct index_rec) ||
      len != INDEX_HEAD + count * sizeof(struct index_rec))
    return;
  ix->prev_digest = d;
  ix->prev_fd = cb_store_open_blob(s, &d, &err);
  if (ix->prev_fd < 0 || fstat(ix->prev_fd, &st) < 0 || (uint64_t)st.st_size != size) {
    cb_error_free(&err);
    cb__closep(&ix->prev_fd);
    return;
  }
  ix->prev = cb__xmalloc(count ? count * sizeof *ix->prev : 1);
  memcpy(ix->prev, data + INDEX_HEAD, count * sizeof *ix->prev);
  ix->nprev = (size_t)count;
  for (size_t i = 0; i < ix->nprev; i++) {
    const struct index_rec *r = &ix->prev[i];
    if (r->off > size || r->len > size - r->off || (i > 0 && cmp_rec(r - 1, r) >= 0)) {
      ix->nprev = 0; /* not what we wrote: use none of it */
      break;
    }
  }
}

/* Replace the index file with this layer's entries (blob D of SIZE bytes); best effort. */
static void
index_save(struct tar_index *ix, const struct cb_digest *d, uint64_t size)
{
  cb_autofree char *buf = NULL, *dir = NULL;
  struct cb_error *err = NULL;
  uint64_t count = ix->n;
  size_t len = INDEX_HEAD + ix->n * sizeof *ix->rec;
  char *p, *slash;

  if (ix->n > 1) /* qsort of NULL, 0 is undefined (UBSan says so) */
    qsort(ix->rec, ix->n, sizeof *ix->rec, cmp_rec);
  buf = cb__xmalloc(len);
  p = buf;
  memcpy(p, INDEX_MAGIC, sizeof INDEX_MAGIC - 1);
  p += sizeof INDEX_MAGIC - 1;
  memcpy(p, d->bytes, CB_DIGEST_LEN);
  memcpy(p + CB_DIGEST_LEN, &size, 8);
  memcpy(p + CB_DIGEST_LEN + 8, &count, 8);
  if (ix->n > 0)
    memcpy(buf + INDEX_HEAD, ix->rec, ix->n * sizeof *ix->rec);
  dir = cb__xstrdup(ix->path);
  slash = strrchr(dir, '/');
  if (slash != NULL && slash != dir) {
    *slash = '\0';
    if (cb__mkdir_p_at(AT_FDCWD, dir, 0700, &err) < 0) {
      cb_error_free(&err);
      return;
    }
  }
  if (cb__atomic_write_at(AT_FDCWD, ix->path, buf, len, 0600, &err) < 0)
    cb_error_free(&err);
}

int
cb_tar_index_blob(const char *index, struct cb_digest *out, struct cb_error **err)
{
  char head[INDEX_HEAD];
  cb_autoclose int fd = open(index, O_RDONLY | O_CLOEXEC);
  ssize_t n;

  if (fd < 0 && errno == ENOENT)
    return 0;
  if (fd < 0)
    return cb_error_set(err, CB_E_SYS, errno, "open '%s'", index);
  n = cb_read_retry(fd, head, sizeof head);
  if (n < 0)
    return cb_error_set(err, CB_E_SYS, errno, "read '%s'", index);
  if ((size_t)n < sizeof head || memcmp(head, INDEX_MAGIC, sizeof INDEX_MAGIC - 1) != 0)
    return 0;
  memcpy(out->bytes, head + sizeof INDEX_MAGIC - 1, CB_DIGEST_LEN);
  return 1;
}

static void
index_free(struct tar_index *ix)
{
  if (ix == NULL)
    return;
  cb__closep(&ix->prev_fd);
  free(ix->prev);
  free(ix->rec);
  free(ix->path);
  free(ix);
}

struct cb_tar_writer *
cb_tar_writer_new_layer_indexed(struct cb_store *s, const char *index, struct cb_error **err)
{
  struct cb_tar_writer *w = cb_tar_writer_new_layer(s, err);
  struct tar_index *ix;

  if (w == NULL)
    return NULL;
  ix = cb__xcalloc(1, sizeof *ix);
  ix->path = cb__xstrdup(index);
  index_load(s, ix);
  w->ix = ix;
  cb_blob_writer_keep_marks(w->blob);
  return w;
}

uint64_t
cb_tar_writer_reused(const struct cb_tar_writer *w)
{
  return w->ix != NULL ? w->ix->reused : 0;
}

struct cb_tar_writer *
cb_tar_writer_new_fd(int fd, struct cb_error **err)
{
  return writer_new(NULL, fd, err);
}

static mode_t
filetype(enum cb_tar_type t)
{
  switch (t) {
  case CB_TAR_DIR:
    return AE_IFDIR;
  case CB_TAR_SYMLINK:
    return AE_IFLNK;
  case CB_TAR_CHAR:
    return AE_IFCHR;
  case CB_TAR_BLOCK:
    return AE_IFBLK;
  case CB_TAR_FIFO:
    return AE_IFIFO;
  case CB_TAR_FILE:
  case CB_TAR_HARDLINK:
  default:
    return AE_IFREG;
  }
}

/* Stream exactly SIZE bytes of FD (or of reader R) as the current entry's data. */
static int
write_stream(struct cb_tar_writer *w, int fd, struct cb_tar_reader *r, uint64_t size,
             const char *name, struct cb_error **err)
{
  uint64_t left = size;

  while (left > 0) {
    size_t want = left < CHUNK ? (size_t)left : CHUNK;
    ssize_t n;
    if (r != NULL) {
      n = cb_tar_reader_read(r, w->buf, want, err);
      if (n < 0)
        return cb_error_wrap(err, "read '%s'", name);
    } else {
      n = cb_read_retry(fd, w->buf, want);
      if (n < 0)
        return cb_error_set(err, CB_E_SYS, errno, "read '%s'", name);
    }
    if (n == 0)
      return cb_error_set(err, CB_E_INVALID, 0, "'%s' shrank while being archived", name);
    if (archive_write_data(w->a, w->buf, (size_t)n) != n)
      return writer_fail(w, err, "write tar data");
    left -= (uint64_t)n;
  }
  return 0;
}

static locale_t utf8_loc;
static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;

static void
utf8_locale_init(void)
{
  utf8_loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0); /* 0 when absent: then as is */
}

static locale_t
utf8_locale(void)
{
  pthread_once(&utf8_once, utf8_locale_init);
  return utf8_loc;
}

/* The identity of entry E under NAME for an index: a digest over everything its bytes depend
 * on.  False when its content is not known without reading it. */
static bool
entry_id(const struct cb_tar_entry *e, const char *name, uint8_t id[CB_DIGEST_LEN])
{
  struct cb_sha256 h;
  struct cb_digest d;
  int64_t f[8];

  memset(f, 0, sizeof f);
  f[0] = e->type;
  f[1] = e->mode;
  f[2] = e->uid;
  f[3] = e->gid;
  f[4] = e->mtime;
  f[5] = e->devmajor;
  f[6] = e->devminor;
  if (e->type == CB_TAR_FILE) {
    switch (e->src) {
    case CB_TAR_SRC_NONE:
      break;
    case CB_TAR_SRC_DATA:
      f[7] = (int64_t)e->size;
      break;
    case CB_TAR_SRC_PATH:
      if (e->content == NULL || e->content_ident == NULL)
        return false;
      f[7] = e->content_ident->size;
      break;
    case CB_TAR_SRC_FD:
    case CB_TAR_SRC_READER:
    default:
      return false;
    }
  }
  cb_sha256_init(&h);
  cb_sha256_update(&h, f, sizeof f);
  cb_sha256_update(&h, name, strlen(name) + 1);
  if (e->linkname != NULL)
    cb_sha256_update(&h, e->linkname, strlen(e->linkname) + 1);
  for (size_t i = 0; i < e->nxattrs; i++) {
    uint64_t n = e->xattrs[i].len;
    cb_sha256_update(&h, e->xattrs[i].name, strlen(e->xattrs[i].name) + 1);
    cb_sha256_update(&h, &n, sizeof n);
    cb_sha256_update(&h, e->xattrs[i].value, e->xattrs[i].len);
  }
  if (e->type == CB_TAR_FILE && e->src == CB_TAR_SRC_DATA)
    cb_sha256_update(&h, e->data, e->size);
  else if (e->type == CB_TAR_FILE && e->src == CB_TAR_SRC_PATH)
    cb_sha256_update(&h, e->content->bytes, CB_DIGEST_LEN);
  cb_sha256_final(&h, &d);
  cb_sha256_release(&h);
  memcpy(id, d.bytes, CB_DIGEST_LEN);
  return true;
}

static const struct index_rec *
index_find(const struct tar_index *ix, const uint8_t id[CB_DIGEST_LEN])
{
  struct index_rec key;

  if (ix->nprev == 0)
    return NULL;
  memcpy(key.id, id, CB_DIGEST_LEN);
  return bsearch(&key, ix->prev, ix->nprev, sizeof key, cmp_rec);
}

static void
index_add(struct tar_index *ix, const uint8_t id[CB_DIGEST_LEN], uint64_t off, uint64_t len)
{
  if (ix->n == ix->cap) {
    ix->cap = ix->cap ? ix->cap * 2 : 256;
    ix->rec = cb__xrealloc(ix->rec, ix->cap * sizeof *ix->rec);
  }
  memcpy(ix->rec[ix->n].id, id, CB_DIGEST_LEN);
  ix->rec[ix->n].off = off;
  ix->rec[ix->n].len = len;
  ix->n++;
}

/* Put the bytes of an earlier entry R into the stream, as they are in the earlier blob: runs
 * of entries that lay one after another there are read in one go. */
static int
copy_prev(struct cb_tar_writer *w, const struct index_rec *r, struct cb_error **err)
{
  struct tar_index *ix = w->ix;

  if (ix->run_len > 0 && ix->run_off + ix->run_len != r->off && flush_run(w) < 0) {
    *err = cb_steal_ptr(&w->sink_err);
    return -1;
  }
  if (ix->run_len == 0)
    ix->run_off = r->off;
  ix->run_len += r->len;
  w->size += r->len;
  /* past the prefix, a long run goes out as it grows rather than at its end: its bytes are
   * then hashed (on the second core) while the entries after it are still being looked up */
  if (ix->run_len >= SINK_BUF && !run_is_prefix(w) && flush_run(w) < 0) {
    *err = cb_steal_ptr(&w->sink_err);
    return -1;
  }
  return 0;
}

/* Does the open file's stat ST still match what its content digest was computed from? */
static bool
same_ident(const struct cb_tar_ident *id, const struct stat *st)
{
  return id != NULL && id->size == st->st_size && id->mtime == st->st_mtim.tv_sec &&
         id->mtime_ns == st->st_mtim.tv_nsec && id->ctime == st->st_ctim.tv_sec &&
         id->ctime_ns == st->st_ctim.tv_nsec && id->ino == (uint64_t)st->st_ino;
}

/* Write E under NAME through libarchive.  *KNOWN becomes false when a file turns out not to
 * be what its content digest was computed from. */
static int
writer_add(struct cb_tar_writer *w, const struct cb_tar_entry *e, const char *name, bool *known,
           struct cb_error **err)
{
  struct archive_entry *ae = w->entry;
  cb_autoclose int fd = -1;
  uint64_t size = 0;
  int r;

  if (e->type == CB_TAR_FILE) {
    switch (e->src) {
    case CB_TAR_SRC_DATA:
    case CB_TAR_SRC_FD:
      size = e->size;
      break;
    case CB_TAR_SRC_PATH: {
      struct stat st;
      fd = open(e->src_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
      if (fd < 0)
        return cb_error_set(err, CB_E_SYS, errno, "open '%s'", e->src_path);
      if (fstat(fd, &st) < 0)
        return cb_error_set(err, CB_E_SYS, errno, "stat '%s'", e->src_path);
      if (!S_ISREG(st.st_mode))
        return cb_error_set(err, CB_E_INVALID, 0, "'%s' is not a regular file", e->src_path);
      size = (uint64_t)st.st_size;
      if (!same_ident(e->content_ident, &st))
        *known = false;
      break;
    }
    case CB_TAR_SRC_READER:
      size = e->reader->cur ? (uint64_t)archive_entry_size(e->reader->cur) : 0;
      break;
    case CB_TAR_SRC_NONE:
    default:
      break;
    }
  }

  archive_entry_clear(ae);
  archive_entry_set_pathname(ae, name);
  archive_entry_set_filetype(ae, (unsigned)filetype(e->type));
  archive_entry_set_perm(ae, (mode_t)(e->mode & 07777));
  archive_entry_set_uid(ae, e->uid);
  archive_entry_set_gid(ae, e->gid);
  archive_entry_set_mtime(ae, (time_t)e->mtime, 0);
  archive_entry_set_size(ae, (la_int64_t)size);
  if (e->type == CB_TAR_SYMLINK)
    archive_entry_set_symlink(ae, e->linkname);
  if (e->type == CB_TAR_HARDLINK)
    archive_entry_set_hardlink(ae, e->linkname);
  if (e->type == CB_TAR_CHAR || e->type == CB_TAR_BLOCK) {
    archive_entry_set_rdevmajor(ae, e->devmajor);
    archive_entry_set_rdevminor(ae, e->devminor);
  }
  for (size_t i = 0; i < e->nxattrs; i++)
    archive_entry_xattr_add_entry(ae, e->xattrs[i].name, e->xattrs[i].value, e->xattrs[i].len);

  /* names are UTF-8 whatever the process locale: write them as a UTF-8 PAX path, as Go's tar
   * does, rather than as hdrcharset=BINARY */
  locale_t old = (locale_t)0;
  if (utf8_locale() != (locale_t)0)
    old = uselocale(utf8_locale());
  r = archive_write_header(w->a, ae);
  if (old != (locale_t)0)
    uselocale(old);
  if (r < ARCHIVE_WARN)
    return writer_fail(w, err, "write tar header");
  if (size == 0)
    return 0;
  switch (e->src) {
  case CB_TAR_SRC_DATA:
    if (archive_write_data(w->a, e->data, (size_t)size) != (la_ssize_t)size)
      return writer_fail(w, err, "write tar data");
    return 0;
  case CB_TAR_SRC_PATH:
    return write_stream(w, fd, NULL, size, e->src_path, err);
  case CB_TAR_SRC_FD:
    return write_stream(w, e->src_fd, NULL, size, name, err);
  case CB_TAR_SRC_READER:
    return write_stream(w, -1, e->reader, size, name, err);
  case CB_TAR_SRC_NONE:
  default:
    return 0;
  }
}

int
cb_tar_writer_add(struct cb_tar_writer *w, const struct cb_tar_entry *e, struct cb_error **err)
{
  cb_autofree char *name = NULL;

  if (w->failed)
    return cb_error_set(err, CB_E_INVALID, 0, "tar writer is unusable after an earlier error");
  if (e->name == NULL || e->type < CB_TAR_FILE || e->type > CB_TAR_FIFO)
    return cb_error_set(err, CB_E_INVALID, 0, "invalid tar entry");
  if ((e->type == CB_TAR_SYMLINK || e->type == CB_TAR_HARDLINK) && e->linkname == NULL)
    return cb_error_set(err, CB_E_INVALID, 0, "tar entry '%s' needs a link target", e->name);
  if (cb__tar_clean_name(e->name, &name, err) < 0)
    return -1;
  if (name[0] == '\0') {
    if (e->type != CB_TAR_DIR)
      return cb_error_set(err, CB_E_INVALID, 0, "tar entry '%s' has an empty name", e->name);
    free(name);
    name = cb__xstrdup("."); /* the root directory itself */
  }
  if (w->ix != NULL) {
    uint8_t id[CB_DIGEST_LEN];
    bool known = entry_id(e, name, id);
    const struct index_rec *r = known ? index_find(w->ix, id) : NULL;
    uint64_t off = w->size;

    if (r != NULL) {
      if (copy_prev(w, r, err) < 0) {
        w->failed = true;
        return cb_error_wrap(err, "add '%s'", name);
      }
      w->ix->reused++;
    } else if (writer_add(w, e, name, &known, err) < 0 ||
               archive_write_finish_entry(w->a) != ARCHIVE_OK) {
      if (*err == NULL)
        writer_fail(w, err, "write tar data");
      w->failed = true;
      return cb_error_wrap(err, "add '%s'", name);
    }
    if (known)
      index_add(w->ix, id, off, w->size - off);
    return 0;
  }
  bool known = true;
  if (writer_add(w, e, name, &known, err) < 0) {
    w->failed = true;
    return cb_error_wrap(err, "add '%s'", name);
  }
  return 0;
}

int
cb_tar_writer_finish(struct cb_tar_writer *w, struct cb_digest *out, uint64_t *size,
                     struct cb_error **err)
{
  struct cb_digest d;
  uint64_t n;

  if (w->failed) {
    cb_tar_writer_abort(w);
    return cb_error_set(err, CB_E_INVALID, 0, "tar writer is unusable after an earlier error");
  }
  if (archive_write_close(w->a) != ARCHIVE_OK) {
    writer_fail(w, err, "finish tar stream");
    cb_tar_writer_abort(w);
    return -1;
  }
  if (w->blob != NULL) {
    int r = flush_run(w) < 0 ? -1 : sink_flush(w);
    if (r < 0) {
      *err = cb_steal_ptr(&w->sink_err);
      cb_tar_writer_abort(w);
      return cb_error_wrap(err, "finish tar stream");
    }
    r = cb_blob_writer_commit(cb_steal_ptr(&w->blob), NULL, &d, &n, err);
    if (r == 0 && w->ix != NULL)
      index_save(w->ix, &d, n);
    cb_tar_writer_abort(w);
    if (r < 0)
      return cb_error_wrap(err, "store layer");
  } else {
    cb_sha256_final(&w->h, &d);
    n = w->size;
    cb_tar_writer_abort(w);
  }
  if (out != NULL)
    *out = d;
  if (size != NULL)
    *size = n;
  return 0;
}

void
cb_tar_writer_abort(struct cb_tar_writer *w)
{
  if (w == NULL)
    return;
  w->dropping = true;
  if (w->a != NULL)
    archive_write_free(w->a); /* closes first when still open: harmless, the sink drops it */
  if (w->entry != NULL)
    archive_entry_free(w->entry);
  if (w->blob != NULL)
    cb_blob_writer_abort(w->blob);
  if (w->hashing)
    cb_sha256_release(&w->h);
  cb_error_free(&w->sink_err);
  index_free(w->ix);
  free(w->sink);
  free(w->buf);
  free(w);
}
