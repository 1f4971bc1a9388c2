/*
 * HTTP transport over libcurl for the registry client: requests with headers, a body from memory
 * or from a file descriptor range (a store blob), responses into memory or streamed into a store
 * blob that is named only when its bytes hash to the expected digest.
 *
 * Policy stays in Lua: a 4xx/5xx answer is not an error here, it is a status with a body.  The
 * transport does what needs a handle or a timer: redirects (Authorization is dropped when a
 * redirect leaves the host, as curl does), retries with backoff on connection errors and on 5xx
 * for GET/HEAD, resuming a broken blob download with a Range request, timeouts.
 *
 * Secrets: a request's headers may carry credentials; they are never copied into an error
 * message, and URLs appear in messages without their query string (pre-signed redirects).
 *
 * Ownership: requests are borrowed for the call.  A response is filled by the call and released
 * with cb_http_response_release, whether the transfer succeeded or not.
 */
#ifndef CBUILD_HTTP_H
#define CBUILD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cbuild/common.h"
#include "cbuild/digest.h"
#include "cbuild/error.h"
#include "cbuild/store.h"

enum cb_http_flags {
  CB_HTTP_INSECURE = 1 << 0,    /* do not verify the server's TLS certificate or name */
  CB_HTTP_NO_REDIRECT = 1 << 1, /* return 3xx answers instead of following them */
};

struct cb_http_request {
  const char *method;         /* NULL means "GET"; "HEAD" asks for no body */
  const char *url;            /* http:// or https:// only */
  const char *const *headers; /* "Name: value" lines, NULL-terminated; may be NULL */
  const void *body;           /* request body from memory (BODY_LEN bytes) ... */
  size_t body_len;
  int body_fd;          /* ... or BODY_FD_LEN bytes of BODY_FD from BODY_OFFSET (pread, */
  uint64_t body_offset; /* so a retry or redirect rewinds); -1 for none */
  uint64_t body_fd_len;
  struct cb_store *sink; /* non-NULL: a 2xx body goes into a blob of this store */
  bool sink_has_expect;  /* and is named only when it hashes to SINK_EXPECT */
  struct cb_digest sink_expect;
  size_t max_body;         /* limit on a body kept in memory; 0 means 64 MiB */
  long connect_timeout_ms; /* 0 means 30 s */
  long timeout_ms;         /* whole transfer; 0 means none (a stall of 60 s still fails) */
  unsigned retries;        /* extra attempts after a transient failure */
  unsigned flags;          /* enum cb_http_flags */
  /* Called during the transfer with the bytes of the body moved so far (uploaded for a request
   * with a body, downloaded otherwise; a resumed download counts the bytes it kept) and the
   * total (0 while unknown): at most every 100 ms, and once more when the body is complete.
   * A nonzero return aborts the transfer (the response's error then says "aborted"). */
  int (*progress)(void *ud, uint64_t done, uint64_t total);
  void *progress_ud;
};

/* Zero request with body_fd = -1. */
#define CB_HTTP_REQUEST_INIT                                                                       \
  {                                                                                                \
    .method = NULL, .url = NULL, .body_fd = -1                                                     \
  }

struct cb_http_response {
  long status; /* final HTTP status, 0 when no answer came */
  char *body;  /* in-memory body (NUL-terminated), also the error body of a sink request */
  size_t body_len;
  char **headers; /* "name: value" of the final answer, names lowercased */
  size_t nheaders;
  char *url;   /* the URL that answered, after redirects */
  bool stored; /* a sink request named its blob: DIGEST and SIZE are set */
  struct cb_digest digest;
  uint64_t size;
  unsigned attempts;      /* how many times the request was sent */
  uint64_t resumed;       /* bytes a Range request did not have to fetch again */
  struct cb_error *error; /* set when the transfer failed (connection, TLS, digest, store) */
};

/* Perform one request.  Returns 0 when an answer came (any status) and the sink, if any, was
 * handled; -1 with *err otherwise (resp->error is moved into *err).  RESP is filled either way
 * and must be released. */
CB_API int cb_http_perform(const struct cb_http_request *req, struct cb_http_response *resp,
                           struct cb_error **err);

/* Perform N requests concurrently (at most MAX_PARALLEL at a time, 0 means 8) over one
 * connection pool.  Each outcome goes to RESPS[i] (resps[i].error on failure).  Returns -1 with
 * *err only when the transfers could not be run at all. */
CB_API int cb_http_perform_all(const struct cb_http_request *reqs, struct cb_http_response *resps,
                               size_t n, unsigned max_parallel, struct cb_error **err);

/* The value of header NAME (lowercase) in RESP, or NULL; the last one when repeated. */
CB_API const char *cb_http_response_header(const struct cb_http_response *resp, const char *name);

/* Free what a response holds (not RESP itself) and zero it. */
CB_API void cb_http_response_release(struct cb_http_response *resp);

#endif
