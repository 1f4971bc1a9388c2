/*
 * Errors of the C core.
 *
 * Contract (see STYLE.md 3.2): a function returns 0 or a non-NULL pointer on success and leaves
 * *err alone; on failure it returns -1 or NULL and sets *err exactly once.  Callers add context
 * on the way up with cb_error_wrap and release with cb_error_free.  Nothing in core prints.
 * Messages are lowercase, say what failed first, quote the subject with '…', no full stop.
 */
#ifndef CBUILD_ERROR_H
#define CBUILD_ERROR_H

#include "cbuild/common.h"

enum cb_errkind {
  CB_E_SYS = 1,  /* a syscall failed; errnum holds errno */
  CB_E_INVALID,  /* malformed tar, JSON, manifest or reference */
  CB_E_DIGEST,   /* bytes did not hash to the expected digest */
  CB_E_NOTFOUND, /* blob, manifest or tag is absent */
  CB_E_HTTP,     /* registry answered with an error status */
  CB_E_UNSAFE,   /* a path tried to leave its root */
};

struct cb_error {
  enum cb_errkind kind;
  int errnum; /* errno at the failure site, or 0 */
  char *msg;  /* complete text, outermost context first */
};

/* Record a failure in *err (which must be NULL) and return -1.  With kind CB_E_SYS and a
 * non-zero errnum, ": strerror(errnum)" is appended to the message. */
CB_API int cb_error_set(struct cb_error **err, enum cb_errkind kind, int errnum, const char *fmt,
                        ...) CB_PRINTF(4, 5);
/* Prefix "context: " to an existing *err and return -1. */
CB_API int cb_error_wrap(struct cb_error **err, const char *fmt, ...) CB_PRINTF(2, 3);
/* Stable short name for scripts: "ENOENT", "EINVAL", "EDIGEST", "ENOTFOUND", "EHTTP"... */
CB_API const char *cb_error_code(const struct cb_error *e);
/* Free *err (NULL is fine) and set it to NULL. */
CB_API void cb_error_free(struct cb_error **err);

#endif
