/* Writing checkpoints: the file is built in memory (HDF5 core driver), written to
 * <dir>/ckpt-<step>.h5.tmp with write(2), fsynced, renamed, the directory fsynced, old ones
 * pruned. See checkpoint.h for the layout. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint_h5.h"
#include "common/sys.h"
#include "data/h5guard.h"

#define CHUNK_BYTES (1u << 20) /* target chunk size */

static int write_ds(CkCtx *x, hid_t loc, const char *name, const char *label, hid_t ftype, hid_t mtype,
                    size_t elsize, int ndim, const hsize_t *dims, const void *buf, int deflate) {
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)dims[i];
    hid_t space = H5Screate_simple(ndim, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t did = -1, aspace = -1, aid = -1;
    int rc = CKPT_OK;
    if (space < 0 || dcpl < 0) {
        rc = ck_fail_h5(x, CKPT_ERR_IO, label);
        goto done;
    }
    if (n > 0) {
        /* chunks of whole rows of the trailing dims, about CHUNK_BYTES each */
        hsize_t chunk[CK_MAX_DIMS];
        size_t row = elsize;
        for (int i = 1; i < ndim; i++) {
            chunk[i] = dims[i];
            row *= (size_t)dims[i];
        }
        hsize_t rows = row >= CHUNK_BYTES ? 1 : CHUNK_BYTES / row;
        chunk[0] = dims[0] < rows ? dims[0] : rows;
        if (H5Pset_chunk(dcpl, ndim, chunk) < 0 || (deflate && H5Pset_deflate(dcpl, 6) < 0) ||
            H5Pset_fletcher32(dcpl) < 0) {
            rc = ck_fail_h5(x, CKPT_ERR_IO, label);
            goto done;
        }
    }
    did = H5Dcreate2(loc, name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (did < 0 || (n > 0 && H5Dwrite(did, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)) {
        rc = ck_fail_h5(x, CKPT_ERR_IO, label);
        goto done;
    }
    uint32_t crc = ck_crc(buf, n * elsize);
    aspace = H5Screate(H5S_SCALAR);
    aid = H5Acreate2(did, "crc32", H5T_STD_U32LE, aspace, H5P_DEFAULT, H5P_DEFAULT);
    if (aid < 0 || H5Awrite(aid, H5T_NATIVE_UINT32, &crc) < 0) rc = ck_fail_h5(x, CKPT_ERR_IO, label);
done:
    if (aid >= 0) H5Aclose(aid);
    if (aspace >= 0) H5Sclose(aspace);
    if (did >= 0) H5Dclose(did);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (space >= 0) H5Sclose(space);
    return rc;
}

static int write_i64(CkCtx *x, hid_t loc, const char *name, int64_t v) {
    hsize_t one = 1;
    return write_ds(x, loc, name, name, H5T_STD_I64LE, H5T_NATIVE_INT64, 8, 1, &one, &v, 0);
}

static int write_tensors(CkCtx *x, hid_t file, const char *group, const ParamTable *pt, const float *buf) {
    hid_t g = H5Gcreate2(file, group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return ck_fail_h5(x, CKPT_ERR_IO, group);
    int rc = CKPT_OK;
    for (int i = 0; i < pt->count && rc == CKPT_OK; i++) {
        const TensorInfo *t = &pt->t[i];
        hsize_t dims[CK_MAX_DIMS];
        for (int d = 0; d < t->ndim; d++) dims[d] = (hsize_t)t->shape[d];
        char label[160];
        snprintf(label, sizeof label, "%s/%s", group, t->name);
        rc = write_ds(x, g, t->name, label, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 4, t->ndim, dims, buf + t->offset, 0);
    }
    H5Gclose(g);
    return rc;
}

static int write_attr_str(CkCtx *x, hid_t loc, const char *name, const char *s) {
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, strlen(s) + 1);
    H5Tset_strpad(type, H5T_STR_NULLTERM);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (a < 0 || H5Awrite(a, type, s) < 0) ? ck_fail_h5(x, CKPT_ERR_IO, name) : CKPT_OK;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(type);
    return rc;
}

static int write_attr_i64(CkCtx *x, hid_t loc, const char *name, int64_t v) {
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (a < 0 || H5Awrite(a, H5T_NATIVE_INT64, &v) < 0) ? ck_fail_h5(x, CKPT_ERR_IO, name) : CKPT_OK;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return rc;
}

/* Builds the whole file in memory (HDF5 core driver, no backing store) and returns its
 * image: HDF5 never writes to disk itself, so a disk-full or file-size failure happens in our
 * own write() with a clean error path (HDF5 1.10 can be left in a broken state when its own
 * writes fail and then crashes at exit). */
static int build_image(CkCtx *x, const CkptState *s, void **image, size_t *size) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    /* default (earliest) format: a file image of the v1.8+ superblock comes out with a stale
     * checksum in HDF5 1.10, and the oldest format is readable by every HDF5 and h5py */
    H5Pset_fapl_core(fapl, 16u << 20, 0);
    /* the image leaves out the user block; write_image puts the whole-file checksum there */
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    H5Pset_userblock(fcpl, H5GUARD_BYTES);
    hid_t f = H5Fcreate(x->path, H5F_ACC_TRUNC, fcpl, fapl);
    H5Pclose(fcpl);
    H5Pclose(fapl);
    if (f < 0) return ck_fail_h5(x, CKPT_ERR_IO, "cannot create in memory");
    int rc = write_attr_str(x, f, "format", CKPT_FORMAT);
    if (!rc) rc = write_attr_i64(x, f, "version", CKPT_VERSION);
    if (!rc) rc = write_attr_i64(x, f, "step", s->step);
    if (!rc) rc = write_tensors(x, f, "params", s->pt, s->params);
    const ParamTable *mt = s->mt ? s->mt : s->pt; /* the moments' layout */
    if (!rc && s->adam_m && s->adam_v) rc = write_tensors(x, f, "adam_m", mt, s->adam_m);
    if (!rc && s->adam_m && s->adam_v) rc = write_tensors(x, f, "adam_v", mt, s->adam_v);
    if (!rc) rc = write_i64(x, f, "step", s->step);
    if (!rc) rc = write_i64(x, f, "stage", s->stage);
    if (!rc) rc = write_i64(x, f, "tokens", s->tokens);
    if (!rc) {
        hsize_t d = s->n_rng;
        static const uint64_t none = 0;
        rc = write_ds(x, f, "rng", "rng", H5T_STD_U64LE, H5T_NATIVE_UINT64, 8, 1, &d, s->rng ? s->rng : &none, 0);
    }
    if (!rc) {
        hsize_t d[2] = {(hsize_t)(s->cursors ? s->ranks : 0), s->cursors ? s->cursor_len : 0};
        static const uint64_t none = 0;
        rc = write_ds(x, f, "data_cursor", "data_cursor", H5T_STD_U64LE, H5T_NATIVE_UINT64, 8, 2, d,
                      s->cursors ? s->cursors : &none, 0);
    }
    if (!rc) {
        const char *cfg = s->config ? s->config : "";
        hsize_t d = strlen(cfg);
        rc = write_ds(x, f, "config", "config", H5T_STD_U8LE, H5T_NATIVE_UINT8, 1, 1, &d, cfg, 1);
    }
    if (!rc) {
        hsize_t d = s->tokenizer ? s->tokenizer_len : 0;
        static const uint8_t none = 0;
        rc = write_ds(x, f, "tokenizer", "tokenizer", H5T_STD_U8LE, H5T_NATIVE_UINT8, 1, 1, &d,
                      s->tokenizer ? s->tokenizer : &none, 1);
    }
    if (!rc && H5Fflush(f, H5F_SCOPE_GLOBAL) < 0) rc = ck_fail_h5(x, CKPT_ERR_IO, "flush failed");
    ssize_t n = rc ? -1 : H5Fget_file_image(f, NULL, 0);
    if (!rc && n <= 0) rc = ck_fail_h5(x, CKPT_ERR_IO, "cannot get the file image");
    if (!rc) {
        *image = malloc((size_t)n);
        if (!*image) rc = ck_fail(x, CKPT_ERR_IO, "out of memory for a %zd-byte checkpoint image", n);
        else if (H5Fget_file_image(f, *image, (size_t)n) != n) {
            free(*image);
            *image = NULL;
            rc = ck_fail_h5(x, CKPT_ERR_IO, "cannot get the file image");
        }
        *size = (size_t)n;
    }
    if (H5Fclose(f) < 0 && !rc) rc = ck_fail_h5(x, CKPT_ERR_IO, "close failed");
    return rc;
}

/* write(2) all n bytes; 0, or the errno of the failure (ENOSPC for a zero-byte write) */
/* writes the checksum header (data/h5guard.h) and the image to tmp and fsyncs it */
static int write_image(CkCtx *x, const char *tmp, const void *image, size_t image_size) {
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return ck_fail(x, CKPT_ERR_IO, "cannot create: %s", strerror(errno));
    uint8_t hdr[H5GUARD_BYTES];
    h5guard_header(hdr, ck_crc(image, image_size), image_size);
    size_t done = 0, size = sizeof hdr + image_size;
    int e = write_all(fd, (const char *)hdr, sizeof hdr, &done);
    if (!e) e = write_all(fd, image, image_size, &done);
    if (e) {
        close(fd);
        return ck_fail(x, CKPT_ERR_IO, "write failed after %zu of %zu bytes: %s", done, size, strerror(e));
    }
    if (fsync(fd)) {
        e = errno;
        close(fd);
        return ck_fail(x, CKPT_ERR_IO, "fsync failed: %s", strerror(e));
    }
    if (close(fd)) return ck_fail(x, CKPT_ERR_IO, "close failed: %s", strerror(errno));
    return CKPT_OK;
}

static int mkdir_p(const char *dir) {
    char buf[4096];
    if (strlen(dir) >= sizeof buf) return -1;
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, 0777) && errno != EEXIST) return -1;
            *p = '/';
        }
    if (mkdir(buf, 0777) && errno != EEXIST) return -1;
    struct stat st;
    if (stat(buf, &st) || !S_ISDIR(st.st_mode)) {
        if (!errno) errno = ENOTDIR;
        return -1;
    }
    return 0;
}

static int fsync_path(const char *path, int dir) {
    int fd = open(path, O_RDONLY | (dir ? O_DIRECTORY : 0));
    if (fd < 0) return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

/* "ckpt-<digits>.h5" -> step, or -1 */
static int64_t parse_name(const char *name, const char *suffix) {
    if (strncmp(name, "ckpt-", 5)) return -1;
    const char *p = name + 5;
    if (*p < '0' || *p > '9') return -1;
    int64_t v = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (INT64_MAX - 9) / 10) return -1;
        v = v * 10 + (*p - '0');
    }
    return strcmp(p, suffix) ? -1 : v;
}

static int cmp_desc(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x < y) - (x > y);
}

int ckpt_list(const char *dir, int64_t **steps) {
    *steps = NULL;
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        int64_t s = parse_name(e->d_name, ".h5");
        if (s < 0) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            int64_t *p = realloc(*steps, sizeof(int64_t) * (size_t)cap);
            CHECK(p, "out of memory");
            *steps = p;
        }
        (*steps)[n++] = s;
    }
    closedir(d);
    if (n) qsort(*steps, (size_t)n, sizeof(int64_t), cmp_desc);
    return n;
}

/* removes leftovers ckpt-*.h5.tmp of interrupted saves */
static void remove_stale_tmp(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[4096];
    while ((e = readdir(d)))
        if (parse_name(e->d_name, ".h5.tmp") >= 0) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    closedir(d);
}

int ckpt_save(const char *dir, const CkptState *s, int keep, char *path_out, size_t path_len,
              char *err, size_t errlen) {
    char final[4096], tmp[4200];
    snprintf(final, sizeof final, "%s/ckpt-%" PRId64 ".h5", dir, s->step);
    snprintf(tmp, sizeof tmp, "%s.tmp", final);
    CkCtx x = {.path = tmp, .err = err, .errlen = errlen};
    err[0] = 0;
    CHECK(s->pt && s->params, "ckpt_save: no parameters given");
    CHECK((s->adam_m == NULL) == (s->adam_v == NULL), "ckpt_save: give both Adam moments or neither");
    ck_quiet_hdf5();
    if (mkdir_p(dir)) {
        x.path = dir;
        return ck_fail(&x, CKPT_ERR_IO, "cannot create checkpoint directory: %s", strerror(errno));
    }
    remove_stale_tmp(dir);
    /* a file-size limit must fail the write, not kill the process */
    void (*old)(int) = signal(SIGXFSZ, SIG_IGN);
    void *image = NULL;
    size_t size = 0;
    int rc = build_image(&x, s, &image, &size);
    if (!rc) rc = write_image(&x, tmp, image, size);
    free(image);
    if (!rc && rename(tmp, final)) rc = ck_fail(&x, CKPT_ERR_IO, "rename to %s failed: %s", final, strerror(errno));
    if (old != SIG_ERR) signal(SIGXFSZ, old);
    if (rc) {
        unlink(tmp);
        return rc;
    }
    fsync_path(dir, 1); /* make the rename durable; failure here is not fatal */
    if (path_out) snprintf(path_out, path_len, "%s", final);
    /* keep the newest `keep` up to this step; later-numbered files (from an abandoned or
     * damaged future, e.g. after resuming from an older checkpoint) are never deleted here */
    int64_t *steps;
    int n = ckpt_list(dir, &steps), kept = 0;
    for (int i = 0; i < n; i++) {
        if (steps[i] > s->step) continue;
        if (++kept <= (keep < 1 ? 1 : keep)) continue;
        char old_path[4096];
        snprintf(old_path, sizeof old_path, "%s/ckpt-%" PRId64 ".h5", dir, steps[i]);
        unlink(old_path);
    }
    free(steps);
    return CKPT_OK;
}
