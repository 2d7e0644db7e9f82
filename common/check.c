#include "check.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void (*griffin_abort_hook)(int code) = NULL;
void (*griffin_fail_hook)(void) = NULL;
int griffin_fail_quiet = 0;

void griffin_fail(const char *fmt, ...) {
    fflush(stdout);
    if (!griffin_fail_quiet) {
        va_list ap;
        va_start(ap, fmt);
        fputs("griffin: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
        fflush(stderr);
    }
    if (griffin_fail_hook) griffin_fail_hook();
    exit(2);
}

void griffin_die(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout);
    fprintf(stderr, "%s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
    if (griffin_abort_hook) griffin_abort_hook(1);
    exit(1);
}

void *malloc_check(size_t size, const char *file, int line) {
    void *p = malloc(size ? size : 1);
    if (!p) griffin_die(file, line, "out of memory allocating %zu bytes", size);
    return p;
}

void *calloc_check(size_t n, size_t size, const char *file, int line) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) griffin_die(file, line, "out of memory allocating %zu x %zu bytes", n, size);
    return p;
}

FILE *fopen_check(const char *path, const char *mode, const char *file, int line) {
    FILE *f = fopen(path, mode);
    if (!f) griffin_die(file, line, "cannot open %s (mode %s): %s", path, mode, strerror(errno));
    return f;
}

void *aligned_calloc_check(size_t size, const char *file, int line) {
    size_t rounded = (size + 63) / 64 * 64;
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (!p) griffin_die(file, line, "out of memory allocating %zu bytes", size);
    memset(p, 0, rounded ? rounded : 64);
    return p;
}
