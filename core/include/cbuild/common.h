/*
 * Macros shared by every public cbuild header.
 *
 * CB_API marks a symbol exported from libcbuild (the build uses -fvisibility=hidden).
 * CB_PRINTF(fmt, args) lets the compiler check printf-like format strings.
 */
#ifndef CBUILD_COMMON_H
#define CBUILD_COMMON_H

#define CB_API               __attribute__((visibility("default")))
#define CB_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))

#endif
