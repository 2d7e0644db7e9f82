/* Internal to train/checkpoint*.c: error context and helpers shared by the writer
 * (checkpoint_write.c) and the reader (checkpoint_read.c). */
#ifndef GRIFFIN_CHECKPOINT_H5_H
#define GRIFFIN_CHECKPOINT_H5_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "checkpoint.h"
#include "common/check.h"

#define CK_MAX_DIMS 8

/* the first error of one operation: "path: message" into err, code kept */
typedef struct {
    const char *path;
    char *err;
    size_t errlen;
    int code;
    int guarded; /* open_file: the file carries the whole-file checksum (data/h5guard.h) */
} CkCtx;

GRIFFIN_PRINTF(3, 4)
int ck_fail(CkCtx *x, int code, const char *fmt, ...);
/* ck_fail with the innermost HDF5 error appended ("what: reason") */
int ck_fail_h5(CkCtx *x, int code, const char *what);
/* the innermost HDF5 error (its errno text when it has one); clears the stack */
void ck_h5_reason(char *buf, size_t n);
/* no HDF5 error stack on stderr: we print our own messages */
void ck_quiet_hdf5(void);
/* zlib CRC-32 of n bytes */
uint32_t ck_crc(const void *p, size_t n);
/* the CRC-32 of what crc covered followed by n bytes at p */
uint32_t ck_crc_update(uint32_t crc, const void *p, size_t n);
/* "[a,b,c]" */
void ck_shape_text(int ndim, const hsize_t *d, char *buf, size_t n);

#endif
