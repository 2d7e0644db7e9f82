/* Small system helpers every room shares, one copy each: a monotonic clock, a write loop
 * that finishes short writes, and the "format an error into the caller's buffer" idiom. */
#ifndef GRIFFIN_SYS_H
#define GRIFFIN_SYS_H

#include <stddef.h>

#include "common/check.h"

/* seconds on the monotonic clock (differences only) */
double now_seconds(void);

/* writes all n bytes to fd, retrying short writes and EINTR; returns 0, or an errno value
 * (ENOSPC when write() wrote nothing). *done (if not NULL) counts the bytes written. */
int write_all(int fd, const void *buf, size_t n, size_t *done);

/* snprintf into err[errlen]; returns -1 so that `return set_error(err, len, ...)` fails */
int set_error(char *err, size_t errlen, const char *fmt, ...) GRIFFIN_PRINTF(3, 4);

#endif
