/*
 * JSON: decoding into jansson values and a canonical encoder.
 *
 * The encoder is the one place that turns documents into the bytes we hash (configs, manifests,
 * indexes), so its output is a function of the value alone: object keys sorted by their UTF-8
 * bytes, no insignificant whitespace (or, with INDENT > 0, one member per line indented by that
 * many spaces and ": " after keys), integers as integers, reals in the shortest form that reads
 * back to the same double (an integral real prints like an integer), strings as raw UTF-8 with
 * only '"', '\\' and control characters escaped.
 *
 * Ownership: cb_json_decode returns a new reference (json_decref it); cb_json_encode returns a
 * malloc'd NUL-terminated string.  Errors are CB_E_INVALID.
 */
#ifndef CBUILD_JSON_H
#define CBUILD_JSON_H

#include <stddef.h>

#include <jansson.h>

#include "cbuild/common.h"
#include "cbuild/error.h"

/* Nesting deeper than this is refused by both directions. */
#define CB_JSON_MAX_DEPTH 1000

/* Parse one JSON value (any type at the top level; "\u0000" is allowed in strings; duplicate
 * keys keep the last).  CB_E_INVALID names the line and column. */
CB_API json_t *cb_json_decode(const char *text, size_t len, struct cb_error **err);
/* Encode V canonically (INDENT 0) or pretty-printed with INDENT spaces; *len (if non-NULL) gets
 * the length.  NULL with CB_E_INVALID for a non-finite real or too deep a nesting. */
CB_API char *cb_json_encode(const json_t *v, int indent, size_t *len, struct cb_error **err);

#endif
