/* core/src/http.c: the HTTP transport over libcurl, loaded on first use (see cbuild/http.h) */
#include "cbuild/http.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "curl-lazy.h"

#include "util.h"

#define DEFAULT_MAX_BODY   (64u << 20)
#define DEFAULT_CONNECT_MS 30000L
#define STALL_SECONDS      60L
#define DEFAULT_PARALLEL   8u
#define BACKOFF_FIRST_MS   200L
#define BACKOFF_MAX_MS     5000L
#define PROGRESS_EVERY_MS  100

enum xfer_state { X_PENDING, X_RUNNING, X_WAITING, X_DONE };
enum body_mode { B_UNDECIDED, B_SINK, B_MEMORY };

struct xfer {
  const struct cb_http_request *req;
  struct cb_http_response *resp;
  CURL *easy;
  struct curl_slist *hdrs;
  char errbuf[CURL_ERROR_SIZE];
  enum xfer_state state;
  enum body_mode mode;
  struct cb_blob_writer *w; /* the sink blob, kept across attempts for Range resumes */
  uint64_t written;         /* bytes in w */
  uint64_t range_from;      /* Range start asked by this attempt (0: whole body) */
  uint64_t upload_pos;
  size_t body_cap;
  struct cb_error *werr; /* failure inside a callback */
  long long retry_at;    /* monotonic ms */
  long long progress_at; /* when progress was last reported (monotonic ms) */
  uint64_t progress_done;
};

static CURLSH *share;

static long long
now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
global_init(struct cb_error **err)
{
  static bool done;
  CURLcode rc;

  if (done)
    return 0;
  if (cb__curl_load(err) < 0)
    return -1;
  rc = cb__curl.global_init(CURL_GLOBAL_DEFAULT);
  if (rc != CURLE_OK)
    return cb_error_set(err, CB_E_HTTP, 0, "initialise libcurl: %s", cb__curl.easy_strerror(rc));
  share = cb__curl.share_init();
  if (share != NULL) {
    /* single-threaded use: no lock callbacks needed */
    cb__curl.share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    cb__curl.share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    cb__curl.share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
  }
  done = true;
  return 0;
}

/* "GET http://host/path" without the query string, which may hold a pre-signed secret. */
static char *
describe(const struct cb_http_request *req)
{
  const char *method = req->method != NULL ? req->method : "GET";
  size_t n = strcspn(req->url, "?#");
  return cb__xasprintf("%s %.*s", method, (int)n, req->url);
}

static bool
is_method(const struct cb_http_request *req, const char *m)
{
  return req->method != NULL && strcmp(req->method, m) == 0;
}

static bool
idempotent(const struct cb_http_request *req)
{
  return req->method == NULL || is_method(req, "GET") || is_method(req, "HEAD");
}

static bool
has_body(const struct cb_http_request *req)
{
  return req->body != NULL || req->body_fd >= 0 || is_method(req, "PUT") ||
         is_method(req, "POST") || is_method(req, "PATCH");
}

static uint64_t
body_len(const struct cb_http_request *req)
{
  if (req->body_fd >= 0)
    return req->body_fd_len;
  return req->body != NULL ? req->body_len : 0;
}

static void
reset_answer(struct cb_http_response *resp)
{
  for (size_t i = 0; i < resp->nheaders; i++)
    free(resp->headers[i]);
  free(resp->headers);
  resp->headers = NULL;
  resp->nheaders = 0;
  free(resp->body);
  resp->body = NULL;
  resp->body_len = 0;
  resp->status = 0;
}

static size_t
on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
  struct xfer *x = userdata;
  struct cb_http_response *resp = x->resp;
  size_t len = size * nmemb, n = len;
  const char *colon;
  char *line;

  while (n > 0 && (data[n - 1] == '\r' || data[n - 1] == '\n'))
    n--;
  if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
    /* a new answer (redirect, 100 Continue, retry): only the last one's headers count */
    for (size_t i = 0; i < resp->nheaders; i++)
      free(resp->headers[i]);
    resp->nheaders = 0;
    return len;
  }
  colon = memchr(data, ':', n);
  if (colon == NULL)
    return len;
  line = cb__xmalloc(n + 2);
  {
    size_t nl = (size_t)(colon - data), v = nl + 1;
    for (size_t i = 0; i < nl; i++)
      line[i] = (char)tolower((unsigned char)data[i]);
    while (v < n && (data[v] == ' ' || data[v] == '\t'))
      v++;
    memcpy(line + nl, ": ", 2);
    memcpy(line + nl + 2, data + v, n - v);
    line[nl + 2 + (n - v)] = '\0';
  }
  resp->headers = cb__xrealloc(resp->headers, (resp->nheaders + 1) * sizeof *resp->headers);
  resp->headers[resp->nheaders++] = line;
  return len;
}

const char *
cb_http_response_header(const struct cb_http_response *resp, const char *name)
{
  size_t nl = strlen(name);
  const char *found = NULL;

  for (size_t i = 0; i < resp->nheaders; i++) {
    const char *h = resp->headers[i];
    if (strncmp(h, name, nl) == 0 && h[nl] == ':')
      found = h + nl + 2;
  }
  return found;
}

/* Decide, at the first body byte of an attempt, where the body goes. */
static int
choose_mode(struct xfer *x)
{
  long status = 0;
  const char *cr;
  unsigned long long start;

  cb__curl.easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
  if (x->req->sink == NULL || status < 200 || status > 299) {
    x->mode = B_MEMORY;
    return 0;
  }
  x->mode = B_SINK;
  if (status == 206 && x->range_from > 0) {
    cr = cb_http_response_header(x->resp, "content-range");
    if (cr == NULL || sscanf(cr, "bytes %llu-", &start) != 1 || start != x->range_from)
      return cb_error_set(&x->werr, CB_E_HTTP, 0,
                          "the server answered a range other than "
                          "the one asked for");
    x->resp->resumed += x->written;
    return 0;
  }
  if (x->w != NULL && x->written > 0) { /* the server ignored Range: start over */
    cb_blob_writer_abort(x->w);
    x->w = NULL;
    x->written = 0;
  }
  if (x->w == NULL) {
    x->w = cb_blob_writer_new(x->req->sink, &x->werr);
    if (x->w == NULL)
      return -1;
  }
  return 0;
}

static size_t
on_write(char *data, size_t size, size_t nmemb, void *userdata)
{
  struct xfer *x = userdata;
  struct cb_http_response *resp = x->resp;
  size_t len = size * nmemb;

  if (x->mode == B_UNDECIDED && choose_mode(x) < 0)
    return 0;
  if (x->mode == B_SINK) {
    if (cb_blob_writer_write(x->w, data, len, &x->werr) < 0)
      return 0;
    x->written += len;
    return len;
  }
  if (resp->body_len + len > x->body_cap) {
    cb_error_set(&x->werr, CB_E_HTTP, 0, "response body larger than %zu bytes", x->body_cap);
    return 0;
  }
  resp->body = cb__xrealloc(resp->body, resp->body_len + len + 1);
  memcpy(resp->body + resp->body_len, data, len);
  resp->body_len += len;
  resp->body[resp->body_len] = '\0';
  return len;
}

static size_t
on_read(char *buf, size_t size, size_t nmemb, void *userdata)
{
  struct xfer *x = userdata;
  const struct cb_http_request *req = x->req;
  uint64_t total = body_len(req), left = total - x->upload_pos;
  size_t want = size * nmemb;
  ssize_t n;

  if (left < want)
    want = (size_t)left;
  if (want == 0)
    return 0;
  if (req->body_fd < 0) {
    memcpy(buf, (const char *)req->body + x->upload_pos, want);
    x->upload_pos += want;
    return want;
  }
  do
    n = pread(req->body_fd, buf, want, (off_t)(req->body_offset + x->upload_pos));
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    cb_error_set(&x->werr, CB_E_SYS, errno, "read request body");
    return CURL_READFUNC_ABORT;
  }
  if (n == 0) {
    cb_error_set(&x->werr, CB_E_INVALID, 0, "request body ended early");
    return CURL_READFUNC_ABORT;
  }
  x->upload_pos += (uint64_t)n;
  return (size_t)n;
}

static int
on_seek(void *userdata, curl_off_t offset, int origin)
{
  struct xfer *x = userdata;

  if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > body_len(x->req))
    return CURL_SEEKFUNC_CANTSEEK;
  x->upload_pos = (uint64_t)offset;
  return CURL_SEEKFUNC_OK;
}

static int
report(struct xfer *x, uint64_t done, uint64_t total, bool force)
{
  long long now = now_ms();

  if (done == x->progress_done && x->progress_at != 0)
    return 0;
  if (!force && now - x->progress_at < PROGRESS_EVERY_MS)
    return 0;
  x->progress_at = now;
  x->progress_done = done;
  if (x->req->progress(x->req->progress_ud, done, total) != 0)
    return cb_error_set(&x->werr, CB_E_HTTP, 0, "aborted");
  return 0;
}

static int
on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
            curl_off_t ulnow)
{
  struct xfer *x = userdata;
  uint64_t done, total;

  if (has_body(x->req)) {
    done = (uint64_t)ulnow;
    total = body_len(x->req);
  } else {
    if (x->mode == B_MEMORY || x->mode == B_UNDECIDED)
      return 0; /* an error body or nothing yet: not the content */
    done = x->range_from + (uint64_t)dlnow;
    total = dltotal > 0 ? x->range_from + (uint64_t)dltotal : 0;
  }
  (void)ultotal;
  return report(x, done, total, total > 0 && done == total) < 0 ? 1 : 0;
}

static int
setup_attempt(struct xfer *x, struct cb_error **err)
{
  const struct cb_http_request *req = x->req;
  CURL *e;

  if (x->easy != NULL)
    cb__curl.easy_cleanup(x->easy);
  cb__curl.slist_free_all(x->hdrs);
  x->hdrs = NULL;
  x->easy = e = cb__curl.easy_init();
  if (e == NULL)
    return cb_error_set(err, CB_E_HTTP, 0, "create a curl handle");
  x->mode = B_UNDECIDED;
  x->upload_pos = 0;
  x->errbuf[0] = '\0';
  reset_answer(x->resp);

  for (const char *const *h = req->headers; h != NULL && *h != NULL; h++)
    x->hdrs = cb__curl.slist_append(x->hdrs, *h);
  x->hdrs = cb__curl.slist_append(x->hdrs, "Expect:"); /* no 100-continue round trip */
  x->range_from = 0;
  if (req->sink != NULL && x->w != NULL && x->written > 0) {
    char range[64];
    snprintf(range, sizeof range, "Range: bytes=%llu-", (unsigned long long)x->written);
    x->hdrs = cb__curl.slist_append(x->hdrs, range);
    x->range_from = x->written;
  }
  if (x->hdrs == NULL)
    cb__die_oom();

  cb__curl.easy_setopt(e, CURLOPT_URL, req->url);
  cb__curl.easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  cb__curl.easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  cb__curl.easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
  cb__curl.easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
  cb__curl.easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  cb__curl.easy_setopt(e, CURLOPT_USERAGENT, "cbuild/" CBUILD_VERSION);
  cb__curl.easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  cb__curl.easy_setopt(e, CURLOPT_HEADERDATA, x);
  cb__curl.easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
  cb__curl.easy_setopt(e, CURLOPT_WRITEDATA, x);
  cb__curl.easy_setopt(e, CURLOPT_PRIVATE, x);
  cb__curl.easy_setopt(e, CURLOPT_ACCEPT_ENCODING, NULL); /* blobs are hashed as sent */
  cb__curl.easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                       req->connect_timeout_ms > 0 ? req->connect_timeout_ms : DEFAULT_CONNECT_MS);
  if (req->timeout_ms > 0)
    cb__curl.easy_setopt(e, CURLOPT_TIMEOUT_MS, req->timeout_ms);
  cb__curl.easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
  cb__curl.easy_setopt(e, CURLOPT_LOW_SPEED_TIME, STALL_SECONDS);
  if (!(req->flags & CB_HTTP_NO_REDIRECT)) {
    cb__curl.easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    cb__curl.easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
    cb__curl.easy_setopt(e, CURLOPT_UNRESTRICTED_AUTH, 0L);
  }
  if (req->flags & CB_HTTP_INSECURE) {
    cb__curl.easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    cb__curl.easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (share != NULL)
    cb__curl.easy_setopt(e, CURLOPT_SHARE, share);
  if (req->progress != NULL) {
    cb__curl.easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
    cb__curl.easy_setopt(e, CURLOPT_XFERINFODATA, x);
    cb__curl.easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
  }

  if (is_method(req, "HEAD")) {
    cb__curl.easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else if (has_body(req)) {
    cb__curl.easy_setopt(e, CURLOPT_UPLOAD, 1L);
    cb__curl.easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)body_len(req));
    /* 1 MiB reads and sends instead of 64 KiB: a 500 MB blob in 500 callbacks, not 8,000 */
    cb__curl.easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 1L << 20);
    cb__curl.easy_setopt(e, CURLOPT_READFUNCTION, on_read);
    cb__curl.easy_setopt(e, CURLOPT_READDATA, x);
    cb__curl.easy_setopt(e, CURLOPT_SEEKFUNCTION, on_seek);
    cb__curl.easy_setopt(e, CURLOPT_SEEKDATA, x);
    cb__curl.easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method != NULL ? req->method : "PUT");
  } else if (req->method != NULL && strcmp(req->method, "GET") != 0) {
    cb__curl.easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
  }
  x->resp->attempts++;
  return 0;
}

static bool
transient(CURLcode rc)
{
  switch (rc) {
  case CURLE_COULDNT_CONNECT:
  case CURLE_PARTIAL_FILE:
  case CURLE_RECV_ERROR:
  case CURLE_SEND_ERROR:
  case CURLE_OPERATION_TIMEDOUT:
  case CURLE_GOT_NOTHING:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
  case CURLE_SSL_CONNECT_ERROR:
    return true;
  default:
    return false;
  }
}

static void
drop_writer(struct xfer *x)
{
  if (x->w != NULL) {
    cb_blob_writer_abort(x->w);
    x->w = NULL;
    x->written = 0;
  }
}

/* An attempt ended: retry it later, or settle the response.  Returns true when it will retry. */
static bool
attempt_done(struct xfer *x, CURLcode rc)
{
  const struct cb_http_request *req = x->req;
  struct cb_http_response *resp = x->resp;
  char *url = NULL;
  long status = 0;
  bool retry;

  cb__curl.easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
  resp->status = status;
  if (cb__curl.easy_getinfo(x->easy, CURLINFO_EFFECTIVE_URL, &url) == CURLE_OK && url != NULL) {
    free(resp->url);
    resp->url = cb__xstrdup(url);
  }

  if (x->werr != NULL && rc == CURLE_OK)
    rc = CURLE_WRITE_ERROR;
  retry = x->werr == NULL && resp->attempts <= req->retries &&
          ((rc != CURLE_OK && (idempotent(req) || rc == CURLE_COULDNT_CONNECT) && transient(rc)) ||
           (rc == CURLE_OK && status >= 500 && idempotent(req)));
  if (retry) {
    long delay = BACKOFF_FIRST_MS << (resp->attempts > 5 ? 5 : resp->attempts - 1);
    x->retry_at = now_ms() + (delay > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : delay);
    return true;
  }

  if (rc != CURLE_OK) {
    cb_autofree char *what = describe(req);
    if (x->werr != NULL) {
      resp->error = cb_steal_ptr(&x->werr);
      cb_error_wrap(&resp->error, "%s", what);
    } else {
      cb_error_set(&resp->error, CB_E_HTTP, 0, "%s: %s", what,
                   x->errbuf[0] != '\0' ? x->errbuf : cb__curl.easy_strerror(rc));
    }
    drop_writer(x);
    return false;
  }
  if (req->sink != NULL && status >= 200 && status <= 299 && !is_method(req, "HEAD")) {
    if (x->w == NULL)
      x->w = cb_blob_writer_new(req->sink, &resp->error); /* an empty body */
    if (x->w != NULL) {
      int ret = cb_blob_writer_commit(x->w, req->sink_has_expect ? &req->sink_expect : NULL,
                                      &resp->digest, &resp->size, &resp->error);
      x->w = NULL;
      x->written = 0;
      resp->stored = ret == 0;
    }
    if (resp->error != NULL) {
      cb_autofree char *what = describe(req);
      cb_error_wrap(&resp->error, "%s", what);
    }
    return false;
  }
  drop_writer(x);
  return false;
}

static void
xfer_release(struct xfer *x)
{
  if (x->easy != NULL)
    cb__curl.easy_cleanup(x->easy);
  x->easy = NULL;
  cb__curl.slist_free_all(x->hdrs);
  x->hdrs = NULL;
  drop_writer(x);
  cb_error_free(&x->werr);
}

static int
start(CURLM *multi, struct xfer *x)
{
  struct cb_error *e = NULL;
  CURLMcode mc;

  if (setup_attempt(x, &e) < 0) {
    x->resp->error = e;
    x->state = X_DONE;
    return 0;
  }
  mc = cb__curl.multi_add_handle(multi, x->easy);
  if (mc != CURLM_OK) {
    cb_error_set(&x->resp->error, CB_E_HTTP, 0, "add transfer: %s", cb__curl.multi_strerror(mc));
    x->state = X_DONE;
    return 0;
  }
  x->state = X_RUNNING;
  return 1;
}

int
cb_http_perform_all(const struct cb_http_request *reqs, struct cb_http_response *resps, size_t n,
                    unsigned max_parallel, struct cb_error **err)
{
  struct xfer *xs;
  CURLM *multi;
  size_t done = 0, running = 0;
  int ret = 0;

  if (max_parallel == 0)
    max_parallel = DEFAULT_PARALLEL;
  for (size_t i = 0; i < n; i++)
    resps[i] = (struct cb_http_response){ 0 };
  if (global_init(err) < 0)
    return -1;
  multi = cb__curl.multi_init();
  if (multi == NULL)
    return cb_error_set(err, CB_E_HTTP, 0, "create a curl multi handle");
  cb__curl.multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)max_parallel);
  xs = cb__xcalloc(n ? n : 1, sizeof *xs);
  for (size_t i = 0; i < n; i++) {
    xs[i].req = &reqs[i];
    xs[i].resp = &resps[i];
    xs[i].state = X_PENDING;
    xs[i].body_cap = reqs[i].max_body > 0 ? reqs[i].max_body : DEFAULT_MAX_BODY;
  }

  while (done < n) {
    long long now = now_ms(), wake = -1;
    int still, nmsg, timeout;
    CURLMsg *msg;
    CURLMcode mc;

    for (size_t i = 0; i < n && running < max_parallel; i++) {
      struct xfer *x = &xs[i];
      if (x->state == X_PENDING || (x->state == X_WAITING && x->retry_at <= now)) {
        if (start(multi, x))
          running++;
        else
          done++;
      }
    }
    for (size_t i = 0; i < n; i++)
      if (xs[i].state == X_WAITING && (wake < 0 || xs[i].retry_at < wake))
        wake = xs[i].retry_at;
    if (done == n)
      break;

    mc = cb__curl.multi_perform(multi, &still);
    if (mc != CURLM_OK) {
      ret = cb_error_set(err, CB_E_HTTP, 0, "run transfers: %s", cb__curl.multi_strerror(mc));
      break;
    }
    while ((msg = cb__curl.multi_info_read(multi, &nmsg)) != NULL) {
      struct xfer *x = NULL;
      if (msg->msg != CURLMSG_DONE)
        continue;
      cb__curl.easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
      cb__curl.multi_remove_handle(multi, x->easy);
      running--;
      if (attempt_done(x, msg->data.result)) {
        x->state = X_WAITING;
      } else {
        x->state = X_DONE;
        done++;
        cb__curl.easy_cleanup(x->easy);
        x->easy = NULL;
      }
    }
    if (done == n)
      break;
    timeout = 1000;
    if (wake >= 0) {
      long long d = wake - now_ms();
      timeout = d < 0 ? 0 : (d < timeout ? (int)d : timeout);
    }
    if (running > 0 || wake >= 0) {
      mc = cb__curl.multi_poll(multi, NULL, 0, timeout, NULL);
      if (mc != CURLM_OK) {
        ret =
            cb_error_set(err, CB_E_HTTP, 0, "wait for transfers: %s", cb__curl.multi_strerror(mc));
        break;
      }
    }
  }

  for (size_t i = 0; i < n; i++) {
    if (xs[i].easy != NULL)
      cb__curl.multi_remove_handle(multi, xs[i].easy);
    xfer_release(&xs[i]);
  }
  free(xs);
  cb__curl.multi_cleanup(multi);
  return ret;
}

int
cb_http_perform(const struct cb_http_request *req, struct cb_http_response *resp,
                struct cb_error **err)
{
  if (cb_http_perform_all(req, resp, 1, 1, err) < 0)
    return -1;
  if (resp->error != NULL) {
    *err = cb_steal_ptr(&resp->error);
    return -1;
  }
  return 0;
}

void
cb_http_response_release(struct cb_http_response *resp)
{
  reset_answer(resp);
  free(resp->url);
  cb_error_free(&resp->error);
  *resp = (struct cb_http_response){ 0 };
}
