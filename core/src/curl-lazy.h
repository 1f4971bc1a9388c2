/*
 * libcurl, opened with dlopen the first time cbuild speaks HTTP.  Linked normally, libcurl and
 * its two dozen dependencies (TLS, Kerberos, LDAP, IDN, ...) cost every command about 5 ms of
 * dynamic linking at start, while only registry verbs and ADD <url> use it.  http.c calls
 * libcurl through this table: cb__curl.easy_setopt(...) is curl_easy_setopt(...).
 */
#ifndef CBUILD_CURL_LAZY_H
#define CBUILD_CURL_LAZY_H

#include <curl/curl.h>

#include "cbuild/error.h"

struct cb__curl {
  CURLcode (*global_init)(long flags);
  void (*global_cleanup)(void);
  CURL *(*easy_init)(void);
  CURLcode (*easy_setopt)(CURL *easy, CURLoption option, ...);
  CURLcode (*easy_getinfo)(CURL *easy, CURLINFO info, ...);
  void (*easy_cleanup)(CURL *easy);
  const char *(*easy_strerror)(CURLcode code);
  struct curl_slist *(*slist_append)(struct curl_slist *list, const char *s);
  void (*slist_free_all)(struct curl_slist *list);
  CURLSH *(*share_init)(void);
  CURLSHcode (*share_setopt)(CURLSH *share, CURLSHoption option, ...);
  CURLM *(*multi_init)(void);
  CURLMcode (*multi_setopt)(CURLM *multi, CURLMoption option, ...);
  CURLMcode (*multi_add_handle)(CURLM *multi, CURL *easy);
  CURLMcode (*multi_remove_handle)(CURLM *multi, CURL *easy);
  CURLMcode (*multi_perform)(CURLM *multi, int *running);
  CURLMcode (*multi_poll)(CURLM *multi, struct curl_waitfd extra[], unsigned n, int timeout_ms,
                          int *numfds);
  CURLMsg *(*multi_info_read)(CURLM *multi, int *msgs_left);
  const char *(*multi_strerror)(CURLMcode code);
  CURLMcode (*multi_cleanup)(CURLM *multi);
};

extern struct cb__curl cb__curl;

/* Open libcurl and fill cb__curl; later calls return at once.  -1 (CB_E_HTTP) when libcurl
 * is missing or too old. */
int cb__curl_load(struct cb_error **err);

#endif
