#include "cbuild/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static char *
vformat(const char *fmt, va_list ap)
{
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0)
    cb__die_oom();
  return s;
}

int
cb_error_set(struct cb_error **err, enum cb_errkind kind, int errnum, const char *fmt, ...)
{
  va_list ap;
  struct cb_error *e;
  char *msg;

  if (err == NULL)
    return -1;
  va_start(ap, fmt);
  msg = vformat(fmt, ap);
  va_end(ap);
  if (kind == CB_E_SYS && errnum != 0) {
    char *full = cb__xasprintf("%s: %s", msg, strerror(errnum));
    free(msg);
    msg = full;
  }
  e = cb__xcalloc(1, sizeof *e);
  e->kind = kind;
  e->errnum = errnum;
  e->msg = msg;
  if (*err != NULL) /* a contract violation upstream: keep the first error */
    cb_error_free(&e);
  else
    *err = e;
  return -1;
}

int
cb_error_wrap(struct cb_error **err, const char *fmt, ...)
{
  va_list ap;
  char *ctx, *full;

  if (err == NULL || *err == NULL)
    return -1;
  va_start(ap, fmt);
  ctx = vformat(fmt, ap);
  va_end(ap);
  full = cb__xasprintf("%s: %s", ctx, (*err)->msg);
  free(ctx);
  free((*err)->msg);
  (*err)->msg = full;
  return -1;
}

const char *
cb_error_code(const struct cb_error *e)
{
  if (e == NULL)
    return "EUNKNOWN";
  switch (e->kind) {
  case CB_E_SYS:
    switch (e->errnum) {
    case ENOENT:
      return "ENOENT";
    case EEXIST:
      return "EEXIST";
    case EACCES:
      return "EACCES";
    case EPERM:
      return "EPERM";
    case ENOSPC:
      return "ENOSPC";
    case ENOTDIR:
      return "ENOTDIR";
    case EISDIR:
      return "EISDIR";
    case EINTR:
      return "EINTR";
    case ENOMEM:
      return "ENOMEM";
    case EXDEV:
      return "EXDEV";
    case EBUSY:
      return "EBUSY";
    case ENOTEMPTY:
      return "ENOTEMPTY";
    case ELOOP:
      return "ELOOP";
    case EINVAL:
      return "EINVAL";
    default:
      return "ESYS";
    }
  case CB_E_INVALID:
    return "EINVAL";
  case CB_E_DIGEST:
    return "EDIGEST";
  case CB_E_NOTFOUND:
    return "ENOTFOUND";
  case CB_E_HTTP:
    return "EHTTP";
  case CB_E_UNSAFE:
    return "EUNSAFE";
  }
  return "EUNKNOWN";
}

void
cb_error_free(struct cb_error **err)
{
  if (err == NULL || *err == NULL)
    return;
  free((*err)->msg);
  free(*err);
  *err = NULL;
}
