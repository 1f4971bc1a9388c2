/*
 * SHA-256 digests: streaming hashing (OpenSSL) and the "sha256:<64 hex>" text form.
 *
 * A struct cb_sha256 must be released with cb_sha256_release (also after final) because it
 * owns its hash state.  Parsing rejects anything but lowercase 64-hex after "sha256:".
 */
#ifndef CBUILD_DIGEST_H
#define CBUILD_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cbuild/common.h"
#include "cbuild/error.h"

#define CB_DIGEST_LEN     32
#define CB_DIGEST_HEX_LEN 64
/* "sha256:" + 64 hex + NUL */
#define CB_DIGEST_STR_LEN (7 + CB_DIGEST_HEX_LEN + 1)

struct cb_digest {
  uint8_t bytes[CB_DIGEST_LEN];
};

struct cb_sha256 {
  void *ctx; /* SHA256_CTX */
};

CB_API void cb_sha256_init(struct cb_sha256 *h);
CB_API void cb_sha256_update(struct cb_sha256 *h, const void *data, size_t len);
/* Write the digest; h may be updated no more but must still be released. */
CB_API void cb_sha256_final(struct cb_sha256 *h, struct cb_digest *out);
CB_API void cb_sha256_release(struct cb_sha256 *h);
/* One-shot hash of a buffer. */
CB_API void cb_sha256_buf(const void *data, size_t len, struct cb_digest *out);

/* 64 lowercase hex digits into buf (at least CB_DIGEST_HEX_LEN + 1 bytes). */
CB_API void cb_digest_hex(const struct cb_digest *d, char *buf, size_t len);
/* "sha256:<hex>" into buf (at least CB_DIGEST_STR_LEN bytes). */
CB_API void cb_digest_string(const struct cb_digest *d, char *buf, size_t len);
/* Parse "sha256:<hex>"; CB_E_INVALID for any other shape. */
CB_API int cb_digest_parse(const char *s, struct cb_digest *out, struct cb_error **err);
/* True when A and B are the same digest. */
CB_API bool cb_digest_equal(const struct cb_digest *a, const struct cb_digest *b);
/* Hash FD from its current offset to EOF; *size (if non-NULL) gets the byte count. */
CB_API int cb_digest_fd(int fd, struct cb_digest *out, uint64_t *size, struct cb_error **err);
/* Hash the file at PATH (relative to DIRFD, or AT_FDCWD). */
CB_API int cb_digest_file_at(int dirfd, const char *path, struct cb_digest *out, uint64_t *size,
                             struct cb_error **err);

#endif
