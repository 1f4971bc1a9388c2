#include "cbuild/digest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* SHA256_CTX rather than EVP: the same code, without the ~1 ms EVP spends fetching its
 * provider (and reading openssl.cnf) on first use, which every `cbuild run` paid for one digest.
 * The functions are deprecated in OpenSSL 3, not gone. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include "util.h"

void
cb_sha256_init(struct cb_sha256 *h)
{
  SHA256_CTX *ctx = cb__xmalloc(sizeof *ctx);
  SHA256_Init(ctx);
  h->ctx = ctx;
}

void
cb_sha256_update(struct cb_sha256 *h, const void *data, size_t len)
{
  if (len > 0)
    SHA256_Update(h->ctx, data, len);
}

void
cb_sha256_final(struct cb_sha256 *h, struct cb_digest *out)
{
  SHA256_Final(out->bytes, h->ctx);
}

void
cb_sha256_release(struct cb_sha256 *h)
{
  free(h->ctx); /* NULL is fine */
  h->ctx = NULL;
}

void
cb_sha256_buf(const void *data, size_t len, struct cb_digest *out)
{
  struct cb_sha256 h;
  cb_sha256_init(&h);
  cb_sha256_update(&h, data, len);
  cb_sha256_final(&h, out);
  cb_sha256_release(&h);
}

void
cb_digest_hex(const struct cb_digest *d, char *buf, size_t len)
{
  static const char hex[] = "0123456789abcdef";
  if (len < CB_DIGEST_HEX_LEN + 1) {
    if (len > 0)
      buf[0] = '\0';
    return;
  }
  for (size_t i = 0; i < CB_DIGEST_LEN; i++) {
    buf[2 * i] = hex[d->bytes[i] >> 4];
    buf[2 * i + 1] = hex[d->bytes[i] & 0xf];
  }
  buf[CB_DIGEST_HEX_LEN] = '\0';
}

void
cb_digest_string(const struct cb_digest *d, char *buf, size_t len)
{
  if (len < CB_DIGEST_STR_LEN) {
    if (len > 0)
      buf[0] = '\0';
    return;
  }
  memcpy(buf, "sha256:", 7);
  cb_digest_hex(d, buf + 7, len - 7);
}

static int
hexval(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1; /* uppercase is rejected on purpose: one digest, one spelling */
}

int
cb_digest_parse(const char *s, struct cb_digest *out, struct cb_error **err)
{
  if (s == NULL || strncmp(s, "sha256:", 7) != 0)
    return cb_error_set(err, CB_E_INVALID, 0, "invalid digest '%.80s': want sha256:<64 hex>",
                        s ? s : "(null)");
  if (strlen(s + 7) != CB_DIGEST_HEX_LEN)
    return cb_error_set(err, CB_E_INVALID, 0, "invalid digest '%.80s': want 64 hex digits", s);
  for (size_t i = 0; i < CB_DIGEST_LEN; i++) {
    int hi = hexval(s[7 + 2 * i]), lo = hexval(s[7 + 2 * i + 1]);
    if (hi < 0 || lo < 0)
      return cb_error_set(err, CB_E_INVALID, 0, "invalid digest '%.80s': want lowercase hex digits",
                          s);
    out->bytes[i] = (uint8_t)(hi << 4 | lo);
  }
  return 0;
}

bool
cb_digest_equal(const struct cb_digest *a, const struct cb_digest *b)
{
  return memcmp(a->bytes, b->bytes, CB_DIGEST_LEN) == 0;
}

int
cb_digest_fd(int fd, struct cb_digest *out, uint64_t *size, struct cb_error **err)
{
  struct cb_sha256 h;
  uint64_t total = 0;
  const size_t cap = 1 << 16;
  cb_autofree char *buf = cb__xmalloc(cap);

  cb_sha256_init(&h);
  for (;;) {
    ssize_t n = cb_read_retry(fd, buf, cap);
    if (n < 0) {
      cb_sha256_release(&h);
      return cb_error_set(err, CB_E_SYS, errno, "read");
    }
    if (n == 0)
      break;
    cb_sha256_update(&h, buf, (size_t)n);
    total += (uint64_t)n;
  }
  cb_sha256_final(&h, out);
  cb_sha256_release(&h);
  if (size != NULL)
    *size = total;
  return 0;
}

int
cb_digest_file_at(int dirfd, const char *path, struct cb_digest *out, uint64_t *size,
                  struct cb_error **err)
{
  cb_autoclose int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    return cb_error_set(err, CB_E_SYS, errno, "open '%s'", path);
  if (cb_digest_fd(fd, out, size, err) < 0)
    return cb_error_wrap(err, "hash '%s'", path);
  return 0;
}
