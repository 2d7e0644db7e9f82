/* libFuzzer harness: checkpoint files (train/ckpt/checkpoint_read.c). Every file either loads or
 * is refused with an error code and a message, by ckpt_verify, ckpt_load (metadata only, and
 * with the micro model's parameter table) and ckpt_describe. */
#include <hdf5.h>
#include <stdint.h>
#include <stdlib.h>

#include "tests/fuzz/fuzz_micro.h"
#include "tests/fuzz/fuzz_util.h"
#include "train/ckpt/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ParamTable pt;
static float *params, *adam_m, *adam_v;

static void expect_message(int rc, const char *err, const char *what) {
    if (rc != CKPT_OK && !err[0]) {
        fprintf(stderr, "%s refused (code %d) without a message\n", what, rc);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!params) {
        fuzz_micro_table(&pt);
        params = calloc(pt.total, sizeof(float));
        adam_m = calloc(pt.total, sizeof(float));
        adam_v = calloc(pt.total, sizeof(float));
    }
    const char *path = fuzz_path("ckpt.h5");
    fuzz_write_file(path, data, size);
    H5open();
    const long ids0 = fuzz_hdf5_open_ids();
    char err[1024] = "";
    int rc = ckpt_verify(path, err, sizeof err);
    expect_message(rc, err, "ckpt_verify");
    const int valid = rc == CKPT_OK;

    CkptLoaded meta;
    err[0] = '\0';
    rc = ckpt_load(path, NULL, NULL, NULL, NULL, &meta, err, sizeof err);
    expect_message(rc, err, "ckpt_load (metadata)");
    if (rc == CKPT_OK) ckpt_loaded_free(&meta);

    err[0] = '\0';
    rc = ckpt_load(path, &pt, params, adam_m, adam_v, &meta, err, sizeof err);
    expect_message(rc, err, "ckpt_load (tensors)");
    if (rc == CKPT_OK) ckpt_loaded_free(&meta);

    if (valid) { /* describing verifies again: only for files that pass, to keep runs fast */
        FILE *null = fopen("/dev/null", "w");
        err[0] = '\0';
        rc = ckpt_describe(path, null, err, sizeof err);
        fclose(null);
    }
    const long ids1 = fuzz_hdf5_open_ids();
    if (ids1 != ids0) {
        fprintf(stderr, "the checkpoint reader left %ld HDF5 identifiers open\n", ids1 - ids0);
        abort();
    }
    fuzz_close_hdf5();
    unlink(path);
    return 0;
}
