#include "cbuild/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

json_t *
cb_json_decode(const char *text, size_t len, struct cb_error **err)
{
  json_error_t jerr;
  json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);

  if (v == NULL)
    cb_error_set(err, CB_E_INVALID, 0, "invalid JSON at line %d column %d: %s", jerr.line,
                 jerr.column, jerr.text);
  return v;
}

struct buf {
  char *p;
  size_t len, cap;
};

static void
buf_add(struct buf *b, const void *data, size_t n)
{
  if (b->cap - b->len < n + 1) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < n + 1)
      cap *= 2;
    b->p = cb__xrealloc(b->p, cap);
    b->cap = cap;
  }
  memcpy(b->p + b->len, data, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void
buf_addc(struct buf *b, char c)
{
  buf_add(b, &c, 1);
}

static void
buf_addstr(struct buf *b, const char *s)
{
  buf_add(b, s, strlen(s));
}

static void
newline(struct buf *b, int indent, int depth)
{
  if (indent <= 0)
    return;
  buf_addc(b, '\n');
  for (int i = 0; i < indent * depth; i++)
    buf_addc(b, ' ');
}

/* jansson has already checked that the bytes are UTF-8; only JSON's own escapes remain */
static void
put_string(struct buf *b, const char *s, size_t n)
{
  size_t start = 0;

  buf_addc(b, '"');
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[8];
    if (c >= 0x20 && c != '"' && c != '\\')
      continue;
    buf_add(b, s + start, i - start);
    start = i + 1;
    switch (c) {
    case '"':
      buf_addstr(b, "\\\"");
      break;
    case '\\':
      buf_addstr(b, "\\\\");
      break;
    case '\b':
      buf_addstr(b, "\\b");
      break;
    case '\f':
      buf_addstr(b, "\\f");
      break;
    case '\n':
      buf_addstr(b, "\\n");
      break;
    case '\r':
      buf_addstr(b, "\\r");
      break;
    case '\t':
      buf_addstr(b, "\\t");
      break;
    default:
      snprintf(esc, sizeof esc, "\\u%04x", c);
      buf_addstr(b, esc);
    }
  }
  buf_add(b, s + start, n - start);
  buf_addc(b, '"');
}

/* The shortest %g text that strtod reads back to exactly D. */
static int
put_real(struct buf *b, double d, struct cb_error **err)
{
  char s[32];

  if (!isfinite(d))
    return cb_error_set(err, CB_E_INVALID, 0, "cannot encode %g in JSON", d);
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(s, sizeof s, "%.*g", prec, d);
    if (strtod(s, NULL) == d)
      break;
  }
  buf_addstr(b, s);
  return 0;
}

struct member {
  const char *key;
  size_t len;
  json_t *value;
};

static int
member_cmp(const void *a, const void *b)
{
  const struct member *x = a, *y = b;
  int c = memcmp(x->key, y->key, x->len < y->len ? x->len : y->len);
  if (c != 0)
    return c;
  return (x->len > y->len) - (x->len < y->len);
}

static int encode(struct buf *b, const json_t *v, int indent, int depth, struct cb_error **err);

static int
put_object(struct buf *b, const json_t *v, int indent, int depth, struct cb_error **err)
{
  size_t n = json_object_size(v), i = 0;
  cb_autofree struct member *m = NULL;

  if (n == 0) {
    buf_addstr(b, "{}");
    return 0;
  }
  m = cb__xcalloc(n, sizeof *m);
  for (void *it = json_object_iter((json_t *)v); it != NULL && i < n;
       it = json_object_iter_next((json_t *)v, it), i++) {
    m[i].key = json_object_iter_key(it);
    m[i].len = json_object_iter_key_len(it);
    m[i].value = json_object_iter_value(it);
  }
  qsort(m, i, sizeof *m, member_cmp);
  buf_addc(b, '{');
  for (size_t k = 0; k < i; k++) {
    if (k > 0)
      buf_addc(b, ',');
    newline(b, indent, depth + 1);
    put_string(b, m[k].key, m[k].len);
    buf_addstr(b, indent > 0 ? ": " : ":");
    if (encode(b, m[k].value, indent, depth + 1, err) < 0)
      return -1;
  }
  newline(b, indent, depth);
  buf_addc(b, '}');
  return 0;
}

static int
put_array(struct buf *b, const json_t *v, int indent, int depth, struct cb_error **err)
{
  size_t n = json_array_size(v);

  if (n == 0) {
    buf_addstr(b, "[]");
    return 0;
  }
  buf_addc(b, '[');
  for (size_t k = 0; k < n; k++) {
    if (k > 0)
      buf_addc(b, ',');
    newline(b, indent, depth + 1);
    if (encode(b, json_array_get(v, k), indent, depth + 1, err) < 0)
      return -1;
  }
  newline(b, indent, depth);
  buf_addc(b, ']');
  return 0;
}

static int
encode(struct buf *b, const json_t *v, int indent, int depth, struct cb_error **err)
{
  char num[32];

  if (depth > CB_JSON_MAX_DEPTH)
    return cb_error_set(err, CB_E_INVALID, 0, "cannot encode JSON nested deeper than %d",
                        CB_JSON_MAX_DEPTH);
  switch (json_typeof(v)) {
  case JSON_OBJECT:
    return put_object(b, v, indent, depth, err);
  case JSON_ARRAY:
    return put_array(b, v, indent, depth, err);
  case JSON_STRING:
    put_string(b, json_string_value(v), json_string_length(v));
    return 0;
  case JSON_INTEGER:
    snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    buf_addstr(b, num);
    return 0;
  case JSON_REAL:
    return put_real(b, json_real_value(v), err);
  case JSON_TRUE:
    buf_addstr(b, "true");
    return 0;
  case JSON_FALSE:
    buf_addstr(b, "false");
    return 0;
  case JSON_NULL:
    buf_addstr(b, "null");
    return 0;
  }
  return cb_error_set(err, CB_E_INVALID, 0, "cannot encode an unknown JSON type");
}

char *
cb_json_encode(const json_t *v, int indent, size_t *len, struct cb_error **err)
{
  struct buf b = { NULL, 0, 0 };

  if (v == NULL) {
    cb_error_set(err, CB_E_INVALID, 0, "cannot encode a missing JSON value");
    return NULL;
  }
  buf_add(&b, "", 0);
  if (encode(&b, v, indent, 0, err) < 0) {
    free(b.p);
    return NULL;
  }
  if (len != NULL)
    *len = b.len;
  return b.p;
}
