/* Unit tests for core/src/json.c: canonical encoding, round trips, unicode, errors. */
#include "cbuild/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

/* decode TEXT, encode it with INDENT, compare with WANT */
static void
check(const char *text, int indent, const char *want, const char *what)
{
  struct cb_error *err = NULL;
  json_t *v = cb_json_decode(text, strlen(text), &err);
  char *got = v ? cb_json_encode(v, indent, NULL, &err) : NULL;

  if (!ok(got != NULL && strcmp(got, want) == 0, "%s", what))
    printf("#   got: %s\n", got ? got : err->msg);
  cb_error_free(&err);
  free(got);
  json_decref(v);
}

static void
test_canonical(void)
{
  check("{ \"b\" : 1, \"a\": {\"z\": [3, 2, 1], \"y\": null}, \"c\": true }", 0,
        "{\"a\":{\"y\":null,\"z\":[3,2,1]},\"b\":1,\"c\":true}", "keys sorted, compact");
  check("{\"b\":1,\"B\":2,\"a\":3,\"\xc3\xa9\":4,\"aa\":5}", 0,
        "{\"B\":2,\"a\":3,\"aa\":5,\"b\":1,\"\xc3\xa9\":4}", "keys sorted by UTF-8 bytes");
  check("{}", 0, "{}", "empty object");
  check("[]", 0, "[]", "empty array");
  check("[1.0, 0.1, 1e300, -0.5, 2.5e-8, 123456789012345678]", 0,
        "[1,0.1,1e+300,-0.5,2.5e-08,123456789012345678]", "numbers: integral reals as integers");
  check("{\"a\":[1,{\"b\":[]}],\"c\":{}}", 4,
        "{\n    \"a\": [\n        1,\n        {\n            \"b\": []\n        }\n    ],\n"
        "    \"c\": {}\n}",
        "indent 4");
  check("\"x\"", 2, "\"x\"", "a scalar at the top level");
}

static void
test_strings(void)
{
  check("\"\\u00e9\\u4e2d\\ud83d\\ude00\"", 0, "\"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\"",
        "escapes decode to raw UTF-8 (incl. a surrogate pair)");
  check("\"a\\\"b\\\\c\\/d\\n\\t\\r\\b\\f\\u0001\\u001f\"", 0,
        "\"a\\\"b\\\\c/d\\n\\t\\r\\b\\f\\u0001\\u001f\"", "only JSON's own escapes remain");
  check("\"nul\\u0000byte\"", 0, "\"nul\\u0000byte\"", "NUL inside a string survives");
}

static void
test_roundtrip(void)
{
  static const char *const docs[] = {
    "{\"architecture\":\"amd64\",\"config\":{\"Env\":[\"PATH=/bin\"]},\"os\":\"linux\"}",
    "[null,true,false,-1,0,9223372036854775807,-9223372036854775808]",
    "[0.3,3.141592653589793,1.7976931348623157e+308,5e-324]",
  };
  for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++)
    check(docs[i], 0, docs[i], "canonical text is a fixed point");

  /* a real survives encode -> decode exactly */
  double vals[] = { 0.1, 1.0 / 3, 2.0 / 3 * 1e-200, 123.456, -9.87654321e100 };
  for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
    struct cb_error *err = NULL;
    json_t *r = json_real(vals[i]);
    char *s = cb_json_encode(r, 0, NULL, &err);
    json_t *back = cb_json_decode(s, strlen(s), &err);
    ok(back != NULL && json_is_real(back) && json_real_value(back) == vals[i],
       "real %s round-trips", s);
    free(s);
    json_decref(r);
    json_decref(back);
  }
}

static void
test_errors(void)
{
  static const char *const bad[] = {
    "",      "{",        "{\"a\":}", "[1,]",      "{'a':1}",
    "[1] x", "\"\xff\"", "nul",      "{\"a\" 1}", "99999999999999999999999"
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct cb_error *err = NULL;
    json_t *v = cb_json_decode(bad[i], strlen(bad[i]), &err);
    ok(v == NULL && err != NULL && err->kind == CB_E_INVALID &&
           strstr(err->msg, "invalid JSON at line") != NULL,
       "reject '%s': %s", bad[i], err ? err->msg : "(accepted)");
    cb_error_free(&err);
    json_decref(v);
  }

  struct cb_error *err = NULL;
  char *s = cb_json_encode(NULL, 0, NULL, &err);
  ok(s == NULL && err != NULL, "encoding NULL fails");
  cb_error_free(&err);

  /* too deep a nesting is refused rather than overflowing the stack */
  json_t *root = json_array(), *cur = root;
  for (int i = 0; i < CB_JSON_MAX_DEPTH + 5; i++) {
    json_t *next = json_array();
    json_array_append_new(cur, next);
    cur = next;
  }
  s = cb_json_encode(root, 0, NULL, &err);
  ok(s == NULL && err != NULL && strstr(err->msg, "deeper") != NULL, "deep nesting refused");
  cb_error_free(&err);
  free(s);
  json_decref(root);
}

int
main(void)
{
  test_canonical();
  test_strings();
  test_roundtrip();
  test_errors();
  return tap_done();
}
