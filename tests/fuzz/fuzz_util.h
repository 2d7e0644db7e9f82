/* Shared pieces of the libFuzzer harnesses (tests/fuzz/README.md).
 *
 * Readers that refuse bad input with CHECK end in griffin_die, which calls griffin_abort_hook
 * before exit(1). A harness arms fuzz_refusal_hook around the call under test: a refusal then
 * longjmps back to the harness ("refused", a valid outcome) instead of ending the fuzzer.
 * Crashes, sanitizer reports, hangs and leaks on the success path remain findings.
 *
 * HDF5 keeps files open while any object of them is open, and would hand a later H5Fopen of
 * the same path the stale cached file: fuzz_close_hdf5 closes whatever a refused call left. */
#ifndef GRIFFIN_FUZZ_UTIL_H
#define GRIFFIN_FUZZ_UTIL_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/check.h"

static jmp_buf fuzz_jmp;

static inline void fuzz_refusal_hook(int code) {
    (void)code;
    longjmp(fuzz_jmp, 1);
}

/* Runs call(arg); returns 0 if it returned, 1 if it was refused through griffin_die. */
static inline int fuzz_guarded(void (*call)(void *), void *arg) {
    griffin_abort_hook = fuzz_refusal_hook;
    if (setjmp(fuzz_jmp)) {
        griffin_abort_hook = NULL;
        return 1;
    }
    call(arg);
    griffin_abort_hook = NULL;
    return 0;
}

/* A per-process scratch path <TMPDIR or /tmp>/griffin-fuzz-<pid>-<name>. */
static inline const char *fuzz_path(const char *name) {
    static char buf[8][512];
    static int next;
    char *p = buf[next++ % 8];
    const char *dir = getenv("TMPDIR");
    snprintf(p, 512, "%s/griffin-fuzz-%d-%s", dir && dir[0] ? dir : "/tmp", (int)getpid(), name);
    return p;
}

/* Writes data to path (truncating); dies only if the scratch directory is unusable. */
static inline void fuzz_write_file(const char *path, const uint8_t *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f)) {
        perror(path);
        abort();
    }
}

#ifdef H5_VERS_MAJOR
/* Open HDF5 files, groups, datasets, attributes and committed datatypes: a reader that
 * returns (rather than dies) must leave this count as it found it. */
static inline long fuzz_hdf5_open_ids(void) {
    return (long)H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
}

static inline void fuzz_close_hdf5(void) {
    ssize_t n = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
    if (n <= 0) return;
    hid_t *ids = malloc((size_t)n * sizeof *ids);
    n = H5Fget_obj_ids(H5F_OBJ_ALL, H5F_OBJ_ALL, (size_t)n, ids);
    for (ssize_t i = 0; i < n; i++) {
        H5I_type_t t = H5Iget_type(ids[i]);
        if (t == H5I_DATASET) H5Dclose(ids[i]);
        else if (t == H5I_GROUP) H5Gclose(ids[i]);
        else if (t == H5I_ATTR) H5Aclose(ids[i]);
        else if (t == H5I_DATATYPE) H5Tclose(ids[i]);
    }
    for (ssize_t i = 0; i < n; i++)
        if (H5Iget_type(ids[i]) == H5I_FILE) H5Fclose(ids[i]);
    free(ids);
    H5Eclear2(H5E_DEFAULT);
    H5garbage_collect();
}
#endif

#endif
