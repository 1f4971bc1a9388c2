/*
 * Blob compression for push and save: gzip through libdeflate in independent 1 MiB members,
 * compressed on every core, and zstd with one worker per core.  A gzip member whose samples do
 * not compress (random bytes, already compressed files) is stored instead: deflating it would
 * cost 10-20 ms per MiB for nothing.  Both stream in bounded
 * memory, and their bytes depend only on the input and the level, never on the core count.
 * Decompression goes through libarchive's filters (the "raw" format: one stream, no tar).
 */
#include "cbuild/archive.h"

#include <errno.h>
#include <libdeflate.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "archive-internal.h"
#include "util.h"

#define GZ_CHUNK    (1024 * 1024)
#define MAX_THREADS 64
/* incompressible when each of GZ_PROBES windows of GZ_PROBE bytes, deflated at level 1, keeps
 * more than GZ_KEEP/128 of its size */
#define GZ_PROBES 4
#define GZ_PROBE  (16 * 1024)
#define GZ_KEEP   125

static int
ncores(void)
{
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  if (n < 1)
    return 1;
  return n > MAX_THREADS ? MAX_THREADS : (int)n;
}

/* Fill BUF with up to LEN bytes of FD (short only at EOF). */
static ssize_t
read_full(int fd, void *buf, size_t len)
{
  size_t got = 0;
  while (got < len) {
    ssize_t n = cb_read_retry(fd, (char *)buf + got, len - got);
    if (n < 0)
      return -1;
    if (n == 0)
      break;
    got += (size_t)n;
  }
  return (ssize_t)got;
}

struct gz_job {
  struct libdeflate_compressor *c;
  struct libdeflate_compressor *probe; /* level 1, for the samples */
  struct libdeflate_compressor *store; /* level 0 */
  char *in;
  size_t inlen;
  char *out;
  size_t outcap, outlen;
};

/* Do samples spread over the chunk all fail to shrink?  Depends only on the bytes, so the
 * output stays deterministic. */
static bool
gz_incompressible(struct gz_job *j)
{
  if (j->store == NULL || j->inlen < GZ_PROBES * GZ_PROBE)
    return false;
  for (size_t i = 0; i < GZ_PROBES; i++) {
    size_t off = i * (j->inlen - GZ_PROBE) / (GZ_PROBES - 1);
    size_t n = libdeflate_deflate_compress(j->probe, j->in + off, GZ_PROBE, j->out, j->outcap);
    if (n == 0 || n * 128 < (size_t)GZ_PROBE * GZ_KEEP)
      return false;
  }
  return true;
}

static void *
gz_run(void *arg)
{
  struct gz_job *j = arg;
  struct libdeflate_compressor *c = gz_incompressible(j) ? j->store : j->c;
  j->outlen = libdeflate_gzip_compress(c, j->in, j->inlen, j->out, j->outcap);
  return NULL;
}

static int
gzip_stream(int fd, struct cb_blob_writer *w, int level, struct cb_error **err)
{
  int n = ncores();
  struct gz_job jobs[MAX_THREADS];
  pthread_t tids[MAX_THREADS];
  bool first = true;
  int ret = 0;

  memset(jobs, 0, sizeof jobs);
  for (int i = 0; i < n; i++) {
    jobs[i].c = libdeflate_alloc_compressor(level);
    if (jobs[i].c == NULL) {
      n = i;
      ret = cb_error_set(err, CB_E_INVALID, 0, "gzip: cannot use level %d", level);
      goto out;
    }
    if (level > 0) {
      jobs[i].probe = libdeflate_alloc_compressor(1);
      jobs[i].store = libdeflate_alloc_compressor(0);
      if (jobs[i].probe == NULL || jobs[i].store == NULL)
        cb__die_oom();
    }
    jobs[i].in = cb__xmalloc(GZ_CHUNK);
    jobs[i].outcap = libdeflate_gzip_compress_bound(jobs[i].c, GZ_CHUNK);
    jobs[i].out = cb__xmalloc(jobs[i].outcap);
  }
  for (;;) {
    int k = 0;
    bool eof = false;
    while (k < n && !eof) {
      ssize_t got = read_full(fd, jobs[k].in, GZ_CHUNK);
      if (got < 0) {
        ret = cb_error_set(err, CB_E_SYS, errno, "read blob");
        goto out;
      }
      eof = got < GZ_CHUNK;
      if (got == 0 && !(first && k == 0))
        break; /* an empty input still gets one (empty) member, so it is valid gzip */
      jobs[k++].inlen = (size_t)got;
    }
    first = false;
    if (k == 0)
      break;
    int started = 1;
    for (int i = 1; i < k; i++, started++)
      if (pthread_create(&tids[i], NULL, gz_run, &jobs[i]) != 0)
        break;
    gz_run(&jobs[0]);
    for (int i = started; i < k; i++)
      gz_run(&jobs[i]); /* threads that could not start: do their work here */
    for (int i = 1; i < started; i++)
      pthread_join(tids[i], NULL);
    for (int i = 0; i < k; i++) {
      if (jobs[i].outlen == 0) {
        ret = cb_error_set(err, CB_E_INVALID, 0, "gzip: compression failed");
        goto out;
      }
      if (cb_blob_writer_write(w, jobs[i].out, jobs[i].outlen, err) < 0) {
        ret = -1;
        goto out;
      }
    }
    if (eof)
      break;
  }
out:
  for (int i = 0; i < n; i++) {
    libdeflate_free_compressor(jobs[i].c);
    if (jobs[i].probe != NULL)
      libdeflate_free_compressor(jobs[i].probe);
    if (jobs[i].store != NULL)
      libdeflate_free_compressor(jobs[i].store);
    free(jobs[i].in);
    free(jobs[i].out);
  }
  return ret;
}

static int
zstd_stream(int fd, uint64_t total, struct cb_blob_writer *w, int level, struct cb_error **err)
{
  ZSTD_CCtx *c = ZSTD_createCCtx();
  size_t inlen = ZSTD_CStreamInSize(), outlen = ZSTD_CStreamOutSize();
  cb_autofree char *in = cb__xmalloc(inlen);
  cb_autofree char *out = cb__xmalloc(outlen);
  size_t r;
  int ret = 0;

  if (c == NULL)
    cb__die_oom();
  r = ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
  if (!ZSTD_isError(r))
    r = ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
  if (!ZSTD_isError(r))
    r = ZSTD_CCtx_setPledgedSrcSize(c, total);
  if (ZSTD_isError(r)) {
    ret = cb_error_set(err, CB_E_INVALID, 0, "zstd: %s", ZSTD_getErrorName(r));
    goto out;
  }
  /* without multithreading support in libzstd this fails: one worker gives the same bytes */
  if (ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_nbWorkers, ncores())))
    (void)ZSTD_CCtx_setParameter(c, ZSTD_c_nbWorkers, 1);
  for (;;) {
    ssize_t got = read_full(fd, in, inlen);
    if (got < 0) {
      ret = cb_error_set(err, CB_E_SYS, errno, "read blob");
      goto out;
    }
    bool last = (size_t)got < inlen;
    ZSTD_inBuffer ib = { in, (size_t)got, 0 };
    bool done;
    do {
      ZSTD_outBuffer ob = { out, outlen, 0 };
      r = ZSTD_compressStream2(c, &ob, &ib, last ? ZSTD_e_end : ZSTD_e_continue);
      if (ZSTD_isError(r)) {
        ret = cb_error_set(err, CB_E_INVALID, 0, "zstd: %s", ZSTD_getErrorName(r));
        goto out;
      }
      if (ob.pos > 0 && cb_blob_writer_write(w, out, ob.pos, err) < 0) {
        ret = -1;
        goto out;
      }
      done = last ? r == 0 : ib.pos == ib.size;
    } while (!done);
    if (last)
      break;
  }
out:
  ZSTD_freeCCtx(c);
  return ret;
}

int
cb_blob_compress(struct cb_store *s, const struct cb_digest *in, enum cb_compression how, int level,
                 struct cb_digest *out, uint64_t *size, struct cb_error **err)
{
  cb_autoclose int fd = -1;
  struct cb_blob_writer *w;
  struct stat st;
  int r;

  if (how != CB_COMPRESS_GZIP && how != CB_COMPRESS_ZSTD)
    return cb_error_set(err, CB_E_INVALID, 0, "unknown compression %d", (int)how);
  if (how == CB_COMPRESS_GZIP && level > 12)
    return cb_error_set(err, CB_E_INVALID, 0, "gzip level %d is out of range 0-12", level);
  if (how == CB_COMPRESS_ZSTD && (level > ZSTD_maxCLevel() || level == 0))
    return cb_error_set(err, CB_E_INVALID, 0, "zstd level %d is out of range 1-%d", level,
                        ZSTD_maxCLevel());
  if (level < 0)
    level = how == CB_COMPRESS_GZIP ? 6 : 3;
  fd = cb_store_open_blob(s, in, err);
  if (fd < 0)
    return -1;
  if (fstat(fd, &st) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "stat blob");
  w = cb_blob_writer_new(s, err);
  if (w == NULL)
    return -1;
  if (how == CB_COMPRESS_GZIP)
    r = gzip_stream(fd, w, level, err);
  else
    r = zstd_stream(fd, (uint64_t)st.st_size, w, level, err);
  if (r < 0) {
    cb_blob_writer_abort(w);
    return cb_error_wrap(err, "compress blob");
  }
  if (cb_blob_writer_commit(w, NULL, out, size, err) < 0)
    return cb_error_wrap(err, "compress blob");
  return 0;
}

static bool
has_magic(const unsigned char *b, size_t n, const char *magic, size_t len)
{
  return n >= len && memcmp(b, magic, len) == 0;
}

/* gzip, zstd, xz or bzip2 (with its block magic, so a tar whose first name starts "BZh" is not) */
static bool
compressed(const unsigned char *b, size_t n)
{
  static const char xz[] = { '\xfd', '7', 'z', 'X', 'Z', '\0' };
  return has_magic(b, n, "\x1f\x8b", 2) || has_magic(b, n, "\x28\xb5\x2f\xfd", 4) ||
         has_magic(b, n, xz, sizeof xz) ||
         (n >= 10 && has_magic(b, n, "BZh", 3) && b[3] >= '1' && b[3] <= '9' &&
          memcmp(b + 4, "\x31\x41\x59\x26\x53\x59", 6) == 0);
}

int
cb_blob_decompress(struct cb_store *s, const struct cb_digest *in, struct cb_digest *out,
                   uint64_t *size, struct cb_error **err)
{
  unsigned char head[10];
  ssize_t n;
  int fd = cb_store_open_blob(s, in, err);
  struct archive *a;
  struct archive_entry *e;
  struct cb_blob_writer *w;
  cb_autofree char *buf = NULL;

  if (fd < 0)
    return -1;
  n = pread(fd, head, sizeof head, 0);
  if (n < 0) {
    cb_error_set(err, CB_E_SYS, errno, "read blob");
    close(fd);
    return -1;
  }
  if (!compressed(head, (size_t)n)) {
    struct stat st;
    int r = fstat(fd, &st);
    close(fd);
    if (r < 0)
      return cb_error_set(err, CB_E_SYS, errno, "stat blob");
    *out = *in; /* not compressed: the blob is its own uncompressed form */
    if (size != NULL)
      *size = (uint64_t)st.st_size;
    return 0;
  }
  a = archive_read_new();
  if (a == NULL)
    cb__die_oom();
  archive_read_support_filter_gzip(a);
  archive_read_support_filter_zstd(a);
  archive_read_support_filter_xz(a);
  archive_read_support_filter_bzip2(a);
  archive_read_support_format_raw(a);
  archive_read_support_format_empty(a);
  int hr = ARCHIVE_FATAL;
  if (archive_read_open_fd(a, fd, 64 * 1024) != ARCHIVE_OK ||
      (hr = archive_read_next_header(a, &e)) < ARCHIVE_WARN) {
    cb__archive_error(err, a, "decompress blob");
    archive_read_free(a);
    close(fd);
    return -1;
  }
  w = cb_blob_writer_new(s, err);
  if (w == NULL) {
    archive_read_free(a);
    close(fd);
    return -1;
  }
  buf = cb__xmalloc(64 * 1024);
  while (hr != ARCHIVE_EOF) { /* EOF: "empty" matched, the stream decompresses to nothing */
    la_ssize_t got = archive_read_data(a, buf, 64 * 1024);
    if (got < 0) {
      cb__archive_error(err, a, "decompress blob");
      break;
    }
    if (got == 0)
      break;
    if (cb_blob_writer_write(w, buf, (size_t)got, err) < 0)
      break;
  }
  archive_read_free(a);
  close(fd);
  if (*err != NULL) {
    cb_blob_writer_abort(w);
    return -1;
  }
  return cb_blob_writer_commit(w, NULL, out, size, err);
}
