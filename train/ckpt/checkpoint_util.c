/* Error handling and small helpers of the checkpoint files. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "checkpoint_h5.h"

static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *data) {
    if (n == 0 && e->desc) snprintf(data, 256, "%s", e->desc);
    return 0;
}

/* the innermost HDF5 error, shortened to its errno text when it has one */
void ck_h5_reason(char *buf, size_t n) {
    char d[256] = "";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, d);
    H5Eclear2(H5E_DEFAULT);
    const char *m = strstr(d, "error message = '");
    if (m) {
        m += strlen("error message = '");
        const char *e = strchr(m, '\'');
        snprintf(buf, n, "%.*s", e ? (int)(e - m) : (int)strlen(m), m);
    } else {
        snprintf(buf, n, "%s", d[0] ? d : "HDF5 error");
    }
}

int ck_fail(CkCtx *x, int code, const char *fmt, ...) {
    if (x->code) return x->code; /* keep the first */
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(x->err, x->errlen, "%s: %s", x->path, msg);
    x->code = code;
    return code;
}

/* fail with the HDF5 reason appended */
int ck_fail_h5(CkCtx *x, int code, const char *what) {
    char r[256];
    ck_h5_reason(r, sizeof r);
    return ck_fail(x, code, "%s: %s", what, r);
}

void ck_quiet_hdf5(void) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    H5Eclear2(H5E_DEFAULT);
}

uint32_t ck_crc(const void *p, size_t n) { return ck_crc_update((uint32_t)crc32(0L, Z_NULL, 0), p, n); }

uint32_t ck_crc_update(uint32_t crc0, const void *p, size_t n) {
    uLong crc = crc0;
    const unsigned char *b = p;
    while (n) {
        uInt c = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = crc32(crc, b, c);
        b += c;
        n -= c;
    }
    return (uint32_t)crc;
}

void ck_shape_text(int ndim, const hsize_t *d, char *buf, size_t n) {
    size_t u = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && u < n; i++) u += (size_t)snprintf(buf + u, n - u, "%s%llu", i ? "," : "", (unsigned long long)d[i]);
    if (u < n) snprintf(buf + u, n - u, "]");
}
