/* Error helpers shared by every room of griffin.c.
 *
 * CHECK(cond, fmt, ...) is always on (never compiled out like assert) and prints
 * "file:line: message" before taking the process down; under MPI the training driver
 * installs an abort hook so that one failing rank takes every rank down.
 * The *Check wrappers keep the signature of the call they wrap (after llm.c's utils.h). */
#ifndef GRIFFIN_CHECK_H
#define GRIFFIN_CHECK_H

#include <stddef.h>
#include <stdio.h>

#if defined(__GNUC__)
#define GRIFFIN_NORETURN __attribute__((noreturn))
#define GRIFFIN_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define GRIFFIN_NORETURN
#define GRIFFIN_PRINTF(a, b)
#endif

/* Called by griffin_die before exit; the MPI driver sets it to MPI_Abort. */
extern void (*griffin_abort_hook)(int code);

GRIFFIN_NORETURN void griffin_die(const char *file, int line, const char *fmt, ...)
    GRIFFIN_PRINTF(3, 4);

#define CHECK(cond, ...)                                  \
    do {                                                  \
        if (!(cond)) griffin_die(__FILE__, __LINE__, __VA_ARGS__); \
    } while (0)

#define DIE(...) griffin_die(__FILE__, __LINE__, __VA_ARGS__)

/* A user's mistake (a missing file, a value that does not fit): "griffin: message" in one line,
 * no source location, exit code 2. Only on paths every rank runs with the same inputs (a
 * command's set-up), so that every rank knows the error: under MPI the driver sets
 * griffin_fail_hook, rank 0 alone prints, and every rank finalises MPI and exits 2 (no
 * MPI_ABORT); mpirun still reports the exit code unless run with --quiet. Internal invariants
 * keep using CHECK. */
extern void (*griffin_fail_hook)(void);
extern int griffin_fail_quiet; /* set on ranks other than 0 by the MPI driver */
GRIFFIN_NORETURN void griffin_fail(const char *fmt, ...) GRIFFIN_PRINTF(1, 2);
#define REQUIRE(cond, ...)                   \
    do {                                     \
        if (!(cond)) griffin_fail(__VA_ARGS__); \
    } while (0)

void *malloc_check(size_t size, const char *file, int line);
void *calloc_check(size_t n, size_t size, const char *file, int line);
FILE *fopen_check(const char *path, const char *mode, const char *file, int line);

#define mallocCheck(size) malloc_check((size), __FILE__, __LINE__)
#define callocCheck(n, size) calloc_check((n), (size), __FILE__, __LINE__)
#define fopenCheck(path, mode) fopen_check((path), (mode), __FILE__, __LINE__)

/* 64-byte aligned, zeroed allocation for the big flat buffers; free with free(). */
void *aligned_calloc_check(size_t size, const char *file, int line);
#define alignedCallocCheck(size) aligned_calloc_check((size), __FILE__, __LINE__)

#endif
