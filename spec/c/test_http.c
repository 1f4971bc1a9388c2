/* Unit tests for core/src/http.c against a tiny HTTP server in a child process. */
#include "cbuild/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "curl-lazy.h"

#include "tap.h"
#include "util.h"

static const char blob[] = "layer bytes, hashed on the way in";

struct seen {
  unsigned calls;
  uint64_t done, total;
  int stop; /* return this */
};

static int
on_progress(void *ud, uint64_t done, uint64_t total)
{
  struct seen *sn = ud;
  sn->calls++;
  sn->done = done;
  sn->total = total;
  return sn->stop;
}

static void
reply(int fd, const char *status, const char *extra, const char *body, size_t len)
{
  char head[512];
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n", status, len,
                   extra);
  if (cb_write_all(fd, head, (size_t)n) == 0)
    (void)cb_write_all(fd, body, len);
}

/* One request per connection; a counter makes /flaky fail twice. */
static void
serve(int lfd)
{
  int flaky = 0;

  for (;;) {
    char req[8192];
    size_t len = 0;
    char *end = NULL;
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0)
      continue;
    while (len < sizeof req - 1 && end == NULL) {
      ssize_t n = read(fd, req + len, sizeof req - 1 - len);
      if (n <= 0)
        break;
      len += (size_t)n;
      req[len] = '\0';
      end = strstr(req, "\r\n\r\n");
    }
    if (end == NULL) {
      close(fd);
      continue;
    }
    if (strncmp(req, "GET /hello ", 11) == 0) {
      reply(fd, "200 OK", "X-Test: a\r\nX-Test: b\r\n", "hello", 5);
    } else if (strncmp(req, "GET /blob ", 10) == 0) {
      reply(fd, "200 OK", "", blob, sizeof blob - 1);
    } else if (strncmp(req, "GET /redirect ", 14) == 0) {
      reply(fd, "302 Found", "Location: /blob\r\n", "", 0);
    } else if (strncmp(req, "GET /flaky ", 11) == 0) {
      if (flaky++ < 2)
        reply(fd, "503 Busy", "", "busy", 4);
      else
        reply(fd, "200 OK", "", "fine", 4);
    } else if (strncmp(req, "PUT /echo ", 10) == 0) {
      const char *cl = strcasestr(req, "content-length:");
      size_t want = cl != NULL ? strtoul(cl + 15, NULL, 10) : 0;
      size_t have = len - (size_t)(end + 4 - req);
      char body[4096];
      memcpy(body, end + 4, have);
      while (have < want && have < sizeof body) {
        ssize_t n = read(fd, body + have, sizeof body - have);
        if (n <= 0)
          break;
        have += (size_t)n;
      }
      reply(fd, "200 OK", "", body, have);
    } else {
      reply(fd, "404 Not Found", "", "{\"errors\":[]}", 13);
    }
    close(fd);
  }
}

int
main(void)
{
  struct sockaddr_in sa = { .sin_family = AF_INET };
  socklen_t salen = sizeof sa;
  struct cb_error *err = NULL;
  struct cb_http_response resp;
  struct cb_store *s;
  struct cb_digest want, other;
  char base[64], url[128];
  char *dir;
  pid_t pid;
  int lfd;

  lfd = socket(AF_INET, SOCK_STREAM, 0);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 16) < 0 ||
      getsockname(lfd, (struct sockaddr *)&sa, &salen) < 0) {
    printf("1..0 # SKIP no loopback socket: %s\n", strerror(errno));
    return 77;
  }
  pid = fork();
  if (pid == 0) {
    serve(lfd);
    _exit(0);
  }
  close(lfd);
  snprintf(base, sizeof base, "http://127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
  dir = tap_tmpdir("http");
  s = cb_store_open(dir, CB_STORE_CREATE, &err);
  ok(s != NULL, "open a store");

  {
    struct cb_http_request req = CB_HTTP_REQUEST_INIT;
    snprintf(url, sizeof url, "%s/hello", base);
    req.url = url;
    ok(cb_http_perform(&req, &resp, &err) == 0, "GET answers");
    ok(resp.status == 200 && resp.body_len == 5 && strcmp(resp.body, "hello") == 0,
       "status and body");
    ok(strcmp(cb_http_response_header(&resp, "x-test"), "b") == 0, "last repeated header");
    ok(cb_http_response_header(&resp, "content-length") != NULL, "header names are lowercased");
    cb_http_response_release(&resp);
  }

  cb_sha256_buf(blob, sizeof blob - 1, &want);
  {
    struct cb_http_request req = CB_HTTP_REQUEST_INIT;
    snprintf(url, sizeof url, "%s/redirect", base);
    req.url = url;
    req.sink = s;
    req.sink_has_expect = true;
    req.sink_expect = want;
    ok(cb_http_perform(&req, &resp, &err) == 0, "a redirected blob GET works");
    ok(resp.stored && cb_digest_equal(&resp.digest, &want) && resp.size == sizeof blob - 1,
       "the blob is stored under its digest");
    ok(strstr(resp.url, "/blob") != NULL, "the effective URL is the redirect target");
    ok(cb_store_has_blob(s, &want, NULL) == 1, "the store has it");
    cb_http_response_release(&resp);
  }

  {
    struct cb_http_request req = CB_HTTP_REQUEST_INIT;
    cb_sha256_buf("something else", 14, &other);
    snprintf(url, sizeof url, "%s/blob", base);
    req.url = url;
    req.sink = s;
    req.sink_has_expect = true;
    req.sink_expect = other;
    ok(cb_http_perform(&req, &resp, &err) < 0 && err != NULL && err->kind == CB_E_DIGEST,
       "a digest mismatch is CB_E_DIGEST");
    ok(err != NULL && strstr(err->msg, "GET http://127.0.0.1:") == err->msg, "message: %s",
       err != NULL ? err->msg : "");
    ok(cb_store_has_blob(s, &other, NULL) == 0 && !resp.stored, "nothing is named");
    cb_error_free(&err);
    cb_http_response_release(&resp);
  }

  {
    struct cb_http_request req = CB_HTTP_REQUEST_INIT;
    struct seen sn = { 0 };
    struct cb_digest d2;
    cb_sha256_buf("x", 1, &d2);
    snprintf(url, sizeof url, "%s/blob", base);
    req.url = url;
    req.sink = s;
    req.progress = on_progress;
    req.progress_ud = &sn;
    ok(cb_http_perform(&req, &resp, &err) == 0 && resp.stored, "a blob GET with progress");
    ok(sn.calls >= 1 && sn.done == sizeof blob - 1 && sn.total == sizeof blob - 1,
       "progress reports the whole body at the end (%u calls, %llu/%llu)", sn.calls,
       (unsigned long long)sn.done, (unsigned long long)sn.total);
    cb_http_response_release(&resp);

    sn = (struct seen){ .stop = 1 };
    req.sink_has_expect = true;
    req.sink_expect = d2;
    {
      int ret = cb_http_perform(&req, &resp, &err);
      ok(ret < 0 && err != NULL && strstr(err->msg, "aborted") != NULL,
         "a nonzero progress return aborts: %s", err != NULL ? err->msg : "");
    }
    ok(cb_store_has_blob(s, &d2, NULL) == 0, "an aborted download names nothing");
    cb_error_free(&err);
    cb_http_response_release(&resp);
  }

  {
    struct cb_http_request req = CB_HTTP_REQUEST_INIT;
    snprintf(url, sizeof url, "%s/flaky", base);
    req.url = url;
    req.retries = 3;
    ok(cb_http_perform(&req, &resp, &err) == 0 && resp.status == 200, "5xx answers are retried");
    ok(resp.attempts == 3, "three attempts (%u)", resp.attempts);
    cb_http_response_release(&resp);
  }

  {
    struct cb_http_request req = CB_HTTP_REQUEST_INIT;
    char path[4200];
    int fd;
    snprintf(path, sizeof path, "%s/body", dir);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    ok(fd >= 0 && cb_write_all(fd, "0123456789", 10) == 0, "write a body file");
    snprintf(url, sizeof url, "%s/echo", base);
    req.method = "PUT";
    req.url = url;
    req.body_fd = fd;
    req.body_offset = 2;
    req.body_fd_len = 5;
    ok(cb_http_perform(&req, &resp, &err) == 0 && resp.status == 200, "PUT a file range");
    ok(resp.body != NULL && strcmp(resp.body, "23456") == 0, "the server got the range");
    cb_http_response_release(&resp);
    close(fd);
  }

  {
    struct cb_http_request reqs[3] = { CB_HTTP_REQUEST_INIT, CB_HTTP_REQUEST_INIT,
                                       CB_HTTP_REQUEST_INIT };
    struct cb_http_response resps[3];
    char u1[128], u2[128];
    snprintf(u1, sizeof u1, "%s/hello", base);
    snprintf(u2, sizeof u2, "%s/missing", base);
    reqs[0].url = u1;
    reqs[1].url = u2;
    reqs[2].url = "http://127.0.0.1:1/v2/?token=secret";
    ok(cb_http_perform_all(reqs, resps, 3, 2, &err) == 0, "perform_all runs");
    ok(resps[0].status == 200 && resps[1].status == 404, "each request has its answer");
    ok(resps[2].error != NULL && strstr(resps[2].error->msg, "secret") == NULL,
       "a refused connection is an error without the query string: %s",
       resps[2].error ? resps[2].error->msg : "");
    for (int i = 0; i < 3; i++)
      cb_http_response_release(&resps[i]);
  }

  cb_store_free(s);
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);
  free(dir);
  cb__curl.global_cleanup();
  return tap_done();
}
