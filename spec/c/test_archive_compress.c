/* Unit tests for cb_blob_compress/cb_blob_decompress, checked against the real gzip and zstd. */
#include "cbuild/archive.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"

static char *tmp;

/* Decompress the blob with an external tool and compare it with the original blob. */
static bool
tool_roundtrip(struct cb_store *s, const struct cb_digest *z, const struct cb_digest *orig,
               const char *tool)
{
  char *zp = cb_store_blob_path(s, z), *op = cb_store_blob_path(s, orig), *cmd = NULL;
  bool good;
  if (asprintf(&cmd, "%s < %s | cmp -s - %s", tool, zp, op) < 0)
    abort();
  good = system(cmd) == 0;
  free(cmd);
  free(zp);
  free(op);
  return good;
}

static void
roundtrip(struct cb_store *s, const char *what, const void *data, size_t len)
{
  struct cb_error *err = NULL;
  struct cb_digest orig, gz, gz2, zs, zs2, back;
  uint64_t size = 0, bsize = 0;
  char a[CB_DIGEST_STR_LEN], b[CB_DIGEST_STR_LEN];

  if (cb_store_put(s, data, len, &orig, &err) < 0) {
    ok(false, "%s: put: %s", what, err->msg);
    cb_error_free(&err);
    return;
  }
  ok(cb_blob_compress(s, &orig, CB_COMPRESS_GZIP, 6, &gz, &size, &err) == 0, "%s: gzip %s", what,
     err ? err->msg : "");
  cb_error_free(&err);
  ok(tool_roundtrip(s, &gz, &orig, "gzip -dc"), "%s: gzip -d gives the input back", what);
  ok(cb_blob_compress(s, &orig, CB_COMPRESS_GZIP, 6, &gz2, NULL, &err) == 0 &&
         memcmp(&gz, &gz2, sizeof gz) == 0,
     "%s: gzip is deterministic", what);
  cb_error_free(&err);
  ok(cb_blob_decompress(s, &gz, &back, &bsize, &err) == 0 &&
         memcmp(&back, &orig, sizeof back) == 0 && bsize == len,
     "%s: decompress(gzip) gives the input's digest", what);
  cb_error_free(&err);

  ok(cb_blob_compress(s, &orig, CB_COMPRESS_ZSTD, 3, &zs, &size, &err) == 0, "%s: zstd %s", what,
     err ? err->msg : "");
  cb_error_free(&err);
  ok(tool_roundtrip(s, &zs, &orig, "zstd -dc"), "%s: zstd -d gives the input back", what);
  ok(cb_blob_compress(s, &orig, CB_COMPRESS_ZSTD, 3, &zs2, NULL, &err) == 0 &&
         memcmp(&zs, &zs2, sizeof zs) == 0,
     "%s: zstd is deterministic", what);
  cb_error_free(&err);
  ok(cb_blob_decompress(s, &zs, &back, NULL, &err) == 0 && memcmp(&back, &orig, sizeof back) == 0,
     "%s: decompress(zstd) gives the input's digest", what);
  cb_error_free(&err);
  ok(cb_blob_decompress(s, &orig, &back, &bsize, &err) == 0 &&
         memcmp(&back, &orig, sizeof back) == 0 && bsize == len,
     "%s: decompress of a plain blob is the blob itself", what);
  cb_error_free(&err);
  cb_digest_string(&gz, a, sizeof a);
  cb_digest_string(&zs, b, sizeof b);
  printf("# %s: gzip %s, zstd %s\n", what, a, b);
}

int
main(void)
{
  struct cb_error *err = NULL;
  struct cb_store *s;
  char *root = NULL;
  size_t big = 5 * 1024 * 1024 + 12345; /* several gzip members and zstd jobs */
  unsigned char *data = malloc(big);
  uint32_t x = 12345;

  tmp = tap_tmpdir("archive-compress");
  if (asprintf(&root, "%s/store", tmp) < 0)
    abort();
  s = cb_store_open(root, CB_STORE_CREATE, &err);
  if (!ok(s != NULL, "open store"))
    return tap_done();
  /* half text-like, half noise: compressible but not trivially */
  for (size_t i = 0; i < big; i++) {
    x = x * 1103515245 + 12345;
    data[i] = (i / 4096) % 2 ? (unsigned char)(x >> 24) : (unsigned char)("layer "[i % 6]);
  }
  roundtrip(s, "empty", "", 0);
  roundtrip(s, "small", "hello, world\n", 13);
  roundtrip(s, "5 MiB", data, big);

  /* xz from the real tool decompresses too */
  struct cb_digest orig, xz, back;
  char *cmd = NULL, *op;
  cb_store_put(s, data, 100000, &orig, &err);
  op = cb_store_blob_path(s, &orig);
  if (asprintf(&cmd, "xz -c < %s > %s/x.xz", op, tmp) < 0 || system(cmd) != 0)
    abort();
  free(cmd);
  if (asprintf(&cmd, "%s/x.xz", tmp) < 0)
    abort();
  FILE *f = fopen(cmd, "r");
  int fd = fileno(f);
  ok(cb_store_ingest_fd(s, fd, NULL, &xz, NULL, &err) == 0 &&
         cb_blob_decompress(s, &xz, &back, NULL, &err) == 0 &&
         memcmp(&back, &orig, sizeof back) == 0,
     "decompress(xz) gives the input's digest");
  cb_error_free(&err);
  fclose(f);
  free(cmd);
  free(op);

  struct cb_digest fake;
  ok(cb_store_put(s, "BZh9 not bzip2 at all", 21, &fake, &err) == 0 &&
         cb_blob_decompress(s, &fake, &back, NULL, &err) == 0 &&
         memcmp(&back, &fake, sizeof back) == 0,
     "a plain blob that starts like bzip2 is left alone");
  cb_error_free(&err);

  ok(cb_blob_compress(s, &orig, CB_COMPRESS_GZIP, 99, &back, NULL, &err) < 0,
     "a bad level is an error: %s", err ? err->msg : "");
  cb_error_free(&err);
  memset(&orig, 0x42, sizeof orig);
  ok(cb_blob_compress(s, &orig, CB_COMPRESS_ZSTD, 3, &back, NULL, &err) < 0 &&
         err->kind == CB_E_NOTFOUND,
     "a missing blob is CB_E_NOTFOUND");
  cb_error_free(&err);

  cb_store_free(s);
  free(data);
  free(root);
  free(tmp);
  return tap_done();
}
