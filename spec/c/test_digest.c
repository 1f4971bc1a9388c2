/* Unit tests for core/src/digest.c: known vectors, streaming, text form, parse errors. */
#include "cbuild/digest.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"

static const char EMPTY[] =
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
static const char ABC[] = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
/* FIPS 180-2 two-block vector */
static const char LONG_IN[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
static const char LONG[] =
    "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
/* one million 'a' */
static const char MILLION_A[] =
    "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

static void
str(const struct cb_digest *d, char *buf)
{
  cb_digest_string(d, buf, CB_DIGEST_STR_LEN);
}

static void
test_vectors(void)
{
  struct cb_digest d;
  char buf[CB_DIGEST_STR_LEN];

  cb_sha256_buf("", 0, &d);
  str(&d, buf);
  ok(strcmp(buf, EMPTY) == 0, "empty input: %s", buf);
  cb_sha256_buf("abc", 3, &d);
  str(&d, buf);
  ok(strcmp(buf, ABC) == 0, "abc: %s", buf);
  cb_sha256_buf(LONG_IN, strlen(LONG_IN), &d);
  str(&d, buf);
  ok(strcmp(buf, LONG) == 0, "two-block vector");
}

static void
test_streaming(void)
{
  static const size_t chunks[] = { 1, 3, 7, 63, 64, 65, 4095, 100000 };
  char *a = malloc(1000000);
  memset(a, 'a', 1000000);
  for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
    struct cb_sha256 h;
    struct cb_digest d;
    char buf[CB_DIGEST_STR_LEN];
    size_t off = 0;
    cb_sha256_init(&h);
    while (off < 1000000) {
      size_t n = chunks[c] < 1000000 - off ? chunks[c] : 1000000 - off;
      cb_sha256_update(&h, a + off, n);
      off += n;
    }
    cb_sha256_update(&h, a, 0); /* an empty update changes nothing */
    cb_sha256_final(&h, &d);
    cb_sha256_release(&h);
    str(&d, buf);
    ok(strcmp(buf, MILLION_A) == 0, "a million 'a' in chunks of %zu", chunks[c]);
  }
  free(a);
  struct cb_sha256 h;
  cb_sha256_init(&h);
  cb_sha256_release(&h);
  cb_sha256_release(&h);
  ok(h.ctx == NULL, "release is idempotent (also without final)");
}

static void
test_parse(void)
{
  struct cb_digest d, e;
  struct cb_error *err = NULL;
  char hex[CB_DIGEST_HEX_LEN + 1], buf[CB_DIGEST_STR_LEN];
  static const char *const bad[] = {
    "",
    "sha256:",
    "sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555",
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85g",
    "SHA256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    " sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  };

  ok(cb_digest_parse(ABC, &d, &err) == 0 && err == NULL, "parse a valid digest");
  str(&d, buf);
  ok(strcmp(buf, ABC) == 0, "parse and format round-trip");
  cb_digest_hex(&d, hex, sizeof hex);
  ok(strcmp(hex, ABC + 7) == 0, "hex form has no prefix");
  cb_sha256_buf("abc", 3, &e);
  ok(cb_digest_equal(&d, &e), "equal digests compare equal");
  cb_sha256_buf("abd", 3, &e);
  ok(!cb_digest_equal(&d, &e), "different digests differ");
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int r = cb_digest_parse(bad[i], &d, &err);
    ok(r == -1 && err != NULL && err->kind == CB_E_INVALID &&
           strcmp(cb_error_code(err), "EINVAL") == 0,
       "reject '%s': %s", bad[i], err ? err->msg : "(accepted)");
    cb_error_free(&err);
  }
  ok(cb_digest_parse(NULL, &d, &err) == -1 && err != NULL, "reject NULL");
  cb_error_free(&err);
  cb_digest_string(&d, buf, 10);
  ok(buf[0] == '\0', "too small a buffer gives an empty string");
}

static void
test_file(void)
{
  char *dir = tap_tmpdir("digest");
  char path[4096];
  struct cb_digest d;
  struct cb_error *err = NULL;
  uint64_t size = 0;
  char buf[CB_DIGEST_STR_LEN];
  int fd;

  snprintf(path, sizeof path, "%s/f", dir);
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ok(fd >= 0 && write(fd, "abc", 3) == 3, "write a file");
  close(fd);
  ok(cb_digest_file_at(AT_FDCWD, path, &d, &size, &err) == 0 && size == 3, "hash a file");
  str(&d, buf);
  ok(strcmp(buf, ABC) == 0, "file digest matches the buffer digest");
  snprintf(path, sizeof path, "%s/missing", dir);
  ok(cb_digest_file_at(AT_FDCWD, path, &d, &size, &err) == -1 && err != NULL &&
         strcmp(cb_error_code(err), "ENOENT") == 0 && strstr(err->msg, "missing") != NULL,
     "a missing file is ENOENT and named: %s", err ? err->msg : "");
  cb_error_free(&err);
  snprintf(path, sizeof path, "%s/f", dir);
  unlink(path);
  rmdir(dir);
  free(dir);
}

int
main(void)
{
  test_vectors();
  test_streaming();
  test_parse();
  test_file();
  return tap_done();
}
