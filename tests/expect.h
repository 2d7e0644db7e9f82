/* The C tests' one assertion: EXPECT(cond, fmt, ...) prints "FAIL file:line: message" (with the
 * MPI rank when the test defines EXPECT_WITH_RANK as a function returning it) and counts the
 * failure; main returns failures != 0. Unlike CHECK it never stops the test, so one run lists
 * every failure. */
#ifndef GRIFFIN_TEST_EXPECT_H
#define GRIFFIN_TEST_EXPECT_H

#include <stdio.h>

static int failures = 0;

#ifdef EXPECT_WITH_RANK
#define EXPECT_HEAD() fprintf(stderr, "FAIL rank %d %s:%d: ", EXPECT_WITH_RANK(), __FILE__, __LINE__)
#else
#define EXPECT_HEAD() fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__)
#endif

#define EXPECT(cond, ...)                  \
    do {                                   \
        if (!(cond)) {                     \
            EXPECT_HEAD();                 \
            fprintf(stderr, __VA_ARGS__);  \
            fputc('\n', stderr);           \
            failures++;                    \
        }                                  \
    } while (0)

#endif
