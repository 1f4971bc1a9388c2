/*
 * A minimal TAP producer for the C unit tests (crun's style): ok(cond, name) prints one line,
 * tap_done() prints the plan and returns the exit status.  Exit 77 tells ctest "skipped".
 */
#ifndef CBUILD_TAP_H
#define CBUILD_TAP_H

#include <stdbool.h>

bool tap_ok(bool cond, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define ok(cond, ...) tap_ok((cond), __FILE__, __LINE__, __VA_ARGS__)
/* Print the plan; return 0 when every check passed, 1 otherwise. */
int tap_done(void);
/* A fresh empty directory for this test (under $CBUILD_TEST_TMP or /tmp); caller frees. */
char *tap_tmpdir(const char *name);

#endif
