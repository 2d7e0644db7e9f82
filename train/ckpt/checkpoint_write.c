/* Writing checkpoints, streamed: the file's size is bounded and reserved on disk first, then
 * HDF5 (its default sec2 driver) writes <dir>/ckpt-<step>.h5.tmp tensor by tensor, straight
 * from the caller's buffers or from pieces of at most CKPT_PIECE_BYTES fetched through
 * CkptState.fetch; the whole-file checksum is sealed in (data/h5guard.h), the file fsynced,
 * renamed, the directory fsynced, old ones pruned. See checkpoint.h for the layout. */
#define _GNU_SOURCE /* fallocate */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "checkpoint_h5.h"
#include "data/h5guard.h"

#define CHUNK_BYTES (1u << 20) /* target chunk size */

/* rows of dims[0] per chunk: whole rows of the trailing dims, about CHUNK_BYTES each */
static hsize_t chunk_rows(size_t elsize, int ndim, const hsize_t *dims) {
    size_t row = elsize;
    for (int i = 1; i < ndim; i++) row *= (size_t)dims[i];
    hsize_t rows = row >= CHUNK_BYTES ? 1 : CHUNK_BYTES / row;
    return dims[0] < rows ? dims[0] : rows;
}

/* creates a chunked, Fletcher32 (and maybe deflate) dataset; -1 on failure (reported) */
static hid_t create_ds(CkCtx *x, hid_t loc, const char *name, const char *label, hid_t ftype, size_t elsize,
                       int ndim, const hsize_t *dims, int deflate) {
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)dims[i];
    hid_t space = H5Screate_simple(ndim, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t did = -1;
    if (space >= 0 && dcpl >= 0 && n > 0) {
        hsize_t chunk[CK_MAX_DIMS];
        for (int i = 1; i < ndim; i++) chunk[i] = dims[i];
        chunk[0] = chunk_rows(elsize, ndim, dims);
        if (H5Pset_chunk(dcpl, ndim, chunk) < 0 || (deflate && H5Pset_deflate(dcpl, 6) < 0) ||
            H5Pset_fletcher32(dcpl) < 0) {
            H5Pclose(dcpl);
            dcpl = -1;
        }
    }
    if (space >= 0 && dcpl >= 0) did = H5Dcreate2(loc, name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (did < 0) ck_fail_h5(x, CKPT_ERR_IO, label);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (space >= 0) H5Sclose(space);
    return did;
}

/* the dataset's `crc32` attribute, then closes it */
static int finish_ds(CkCtx *x, hid_t did, const char *label, uint32_t crc, int rc) {
    hid_t aspace = rc ? -1 : H5Screate(H5S_SCALAR);
    hid_t aid = rc ? -1 : H5Acreate2(did, "crc32", H5T_STD_U32LE, aspace, H5P_DEFAULT, H5P_DEFAULT);
    if (!rc && (aid < 0 || H5Awrite(aid, H5T_NATIVE_UINT32, &crc) < 0)) rc = ck_fail_h5(x, CKPT_ERR_IO, label);
    if (aid >= 0) H5Aclose(aid);
    if (aspace >= 0) H5Sclose(aspace);
    H5Dclose(did);
    return rc;
}

static int write_ds(CkCtx *x, hid_t loc, const char *name, const char *label, hid_t ftype, hid_t mtype,
                    size_t elsize, int ndim, const hsize_t *dims, const void *buf, int deflate) {
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)dims[i];
    hid_t did = create_ds(x, loc, name, label, ftype, elsize, ndim, dims, deflate);
    if (did < 0) return x->code;
    int rc = CKPT_OK;
    if (n > 0 && H5Dwrite(did, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) rc = ck_fail_h5(x, CKPT_ERR_IO, label);
    return finish_ds(x, did, label, rc ? 0 : ck_crc(buf, n * elsize), rc);
}

static int write_i64(CkCtx *x, hid_t loc, const char *name, int64_t v) {
    hsize_t one = 1;
    return write_ds(x, loc, name, name, H5T_STD_I64LE, H5T_NATIVE_INT64, 8, 1, &one, &v, 0);
}

/* the floats of one group of tensors: a whole buffer, or pieces fetched from s->fetch */
typedef struct {
    const float *buf; /* NULL: fetch */
    const CkptState *s;
    int which;        /* fetch's buffer: 0 adam_m, 1 adam_v */
    float *piece;     /* piece_floats, when fetching */
    size_t piece_floats;
} Source;

/* floats of one row of dims[0] */
static size_t row_floats(const TensorInfo *t) {
    size_t row = 1;
    for (int d = 1; d < t->ndim; d++) row *= (size_t)t->shape[d];
    return row;
}

/* one tensor fetched and written a piece (whole chunks, at most piece_floats) at a time */
static int write_pieces(CkCtx *x, hid_t did, const char *label, const TensorInfo *t, const hsize_t *dims,
                        const Source *src, uint32_t *crc) {
    size_t row = row_floats(t);
    hsize_t crows = chunk_rows(4, t->ndim, dims), prows = src->piece_floats / row;
    prows = prows < crows ? (prows ? prows : 1) : prows / crows * crows;
    hid_t fspace = H5Dget_space(did);
    int rc = fspace < 0 ? ck_fail_h5(x, CKPT_ERR_IO, label) : CKPT_OK;
    for (hsize_t r0 = 0; !rc && r0 < dims[0]; r0 += prows) {
        hsize_t start[CK_MAX_DIMS] = {r0}, count[CK_MAX_DIMS], k = dims[0] - r0 < prows ? dims[0] - r0 : prows;
        count[0] = k;
        for (int d = 1; d < t->ndim; d++) count[d] = dims[d];
        hsize_t nf = (hsize_t)(k * row);
        if (src->s->fetch(src->s->fetch_ctx, src->which, t->offset + r0 * row, (size_t)nf, src->piece)) {
            rc = ck_fail(x, CKPT_ERR_IO, "%s: cannot fetch the moments", label);
            break;
        }
        hid_t mspace = H5Screate_simple(1, &nf, NULL);
        if (mspace < 0 || H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
            H5Dwrite(did, H5T_NATIVE_FLOAT, mspace, fspace, H5P_DEFAULT, src->piece) < 0)
            rc = ck_fail_h5(x, CKPT_ERR_IO, label);
        if (mspace >= 0) H5Sclose(mspace);
        *crc = ck_crc_update(*crc, src->piece, (size_t)nf * 4);
    }
    if (fspace >= 0) H5Sclose(fspace);
    return rc;
}

/* the group's tensors, but those with omit[i] set (omit may be NULL) */
static int write_tensors(CkCtx *x, hid_t file, const char *group, const ParamTable *pt, const uint8_t *omit,
                         const Source *src) {
    hid_t g = H5Gcreate2(file, group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return ck_fail_h5(x, CKPT_ERR_IO, group);
    int rc = CKPT_OK;
    for (int i = 0; i < pt->count && rc == CKPT_OK; i++) {
        if (omit && omit[i]) continue;
        const TensorInfo *t = &pt->t[i];
        hsize_t dims[CK_MAX_DIMS];
        for (int d = 0; d < t->ndim; d++) dims[d] = (hsize_t)t->shape[d];
        char label[160];
        snprintf(label, sizeof label, "%s/%s", group, t->name);
        if (src->buf) {
            rc = write_ds(x, g, t->name, label, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 4, t->ndim, dims, src->buf + t->offset, 0);
            continue;
        }
        hid_t did = create_ds(x, g, t->name, label, H5T_IEEE_F32LE, 4, t->ndim, dims, 0);
        if (did < 0) return H5Gclose(g), x->code;
        uint32_t crc = ck_crc(NULL, 0);
        rc = t->numel ? write_pieces(x, did, label, t, dims, src, &crc) : CKPT_OK;
        rc = finish_ds(x, did, label, crc, rc);
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

static int has_moments(const CkptState *s) { return s->fetch || (s->adam_m && s->adam_v); }

/* the tensors not stored (an adapter checkpoint), or NULL when every one is */
static const uint8_t *omitted(const CkptState *s) {
    if (!s->base || !s->omit) return NULL;
    for (int i = 0; i < s->pt->count; i++)
        if (s->omit[i]) return s->omit;
    return NULL;
}

/* An upper bound of the file's size: the user block, the data (whole chunks: HDF5 stores the
 * last one whole), 4 bytes of Fletcher32 per chunk
 * and HDF5's metadata, bounded per chunk (its B-tree entry, nodes half full at worst) and per
 * dataset (object header, attribute, the group's symbol table and name heap, a first B-tree
 * node), with deflate's worst case (zlib's bound) for the config and the tokenizer. */
#define BOUND_FIXED (64u << 10)
#define BOUND_PER_DATASET 4096u
#define BOUND_PER_CHUNK 128u
static uint64_t ds_bound(size_t elsize, int ndim, const hsize_t *dims, int deflate) {
    uint64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= dims[i];
    uint64_t bytes = 0, chunks = 0;
    if (n > 0) { /* HDF5 stores the last chunk whole */
        hsize_t rows = chunk_rows(elsize, ndim, dims);
        chunks = (dims[0] + rows - 1) / rows;
        bytes = n / dims[0] * rows * chunks * elsize;
    }
    if (deflate) bytes += bytes / 1000 + 64 * chunks;
    return bytes + BOUND_PER_CHUNK * chunks + BOUND_PER_DATASET;
}

static uint64_t tensors_bound(const ParamTable *pt, const uint8_t *omit) {
    uint64_t b = 0;
    for (int i = 0; i < pt->count; i++) {
        if (omit && omit[i]) continue;
        hsize_t dims[CK_MAX_DIMS];
        for (int d = 0; d < pt->t[i].ndim; d++) dims[d] = (hsize_t)pt->t[i].shape[d];
        b += ds_bound(4, pt->t[i].ndim, dims, 0);
    }
    return b;
}

uint64_t ckpt_file_bound(const CkptState *s) {
    const ParamTable *mt = s->mt ? s->mt : s->pt;
    hsize_t rng = s->n_rng, cur[2] = {(hsize_t)(s->cursors ? s->ranks : 0), s->cursors ? s->cursor_len : 0};
    hsize_t cfg = s->config ? strlen(s->config) : 0, tok = s->tokenizer ? s->tokenizer_len : 0, one = 1;
    hsize_t base = omitted(s) ? strlen(s->base) : 0, two = 2;
    return H5GUARD_BYTES + BOUND_FIXED + tensors_bound(s->pt, omitted(s)) +
           (has_moments(s) ? 2 * tensors_bound(mt, NULL) : 0) + 3 * ds_bound(8, 1, &one, 0) + ds_bound(8, 1, &rng, 0) +
           ds_bound(8, 2, cur, 0) + ds_bound(1, 1, &cfg, 1) + ds_bound(1, 1, &tok, 1) +
           (omitted(s) ? ds_bound(1, 1, &base, 0) + ds_bound(8, 1, &two, 0) : 0);
}

static void mb_text(char *buf, size_t n, double bytes) { snprintf(buf, n, "%.1f MB", bytes / 1e6); }

/* Before HDF5 touches the disk: the file-size limit and the free space of dir against the
 * bound. Refusals say so in one line; nothing is written. */
static int room_for(CkCtx *x, const char *dir, uint64_t need) {
    char a[32], b[32];
    mb_text(a, sizeof a, (double)need);
    struct rlimit lim;
    if (!getrlimit(RLIMIT_FSIZE, &lim) && lim.rlim_cur != RLIM_INFINITY && need > (uint64_t)lim.rlim_cur) {
        mb_text(b, sizeof b, (double)lim.rlim_cur);
        return ck_fail(x, CKPT_ERR_IO, "the checkpoint needs up to %s, the file-size limit (RLIMIT_FSIZE) is %s; nothing written", a, b);
    }
    struct statvfs v;
    if (!statvfs(dir, &v) && (uint64_t)v.f_bavail * v.f_frsize < need) {
        mb_text(b, sizeof b, (double)v.f_bavail * (double)v.f_frsize);
        return ck_fail(x, CKPT_ERR_IO, "not enough disk space: the checkpoint needs up to %s, %s free; nothing written", a, b);
    }
    return CKPT_OK;
}

/* Reserves need bytes of disk blocks for the file HDF5 has just created (its size stays 0:
 * HDF5 writes into the reserved blocks, so a full disk cannot fail it halfway). Where the file
 * system cannot reserve (EOPNOTSUPP), room_for's check is what there is. */
static int reserve(CkCtx *x, int fd, uint64_t need) {
    if (!fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)need)) return CKPT_OK;
    if (errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL) return CKPT_OK;
    char a[32];
    mb_text(a, sizeof a, (double)need);
    return ck_fail(x, CKPT_ERR_IO, "cannot reserve %s of disk space: %s; nothing written", a, strerror(errno));
}

/* the floats of the buffer the fetched moments pass through (a piece; a row if longer) */
static size_t piece_floats(const ParamTable *mt) {
    size_t row = 0;
    for (int i = 0; i < mt->count; i++) row = row_floats(&mt->t[i]) > row ? row_floats(&mt->t[i]) : row;
    return CKPT_PIECE_BYTES / 4 > row ? CKPT_PIECE_BYTES / 4 : row;
}

size_t ckpt_writer_bytes(const ParamTable *pt, const ParamTable *mt, int fetching) {
    size_t chunk = 0, largest = 0;
    for (int i = 0; i < pt->count; i++) {
        const TensorInfo *t = &pt->t[i];
        hsize_t dims[CK_MAX_DIMS] = {1};
        for (int d = 0; d < t->ndim; d++) dims[d] = (hsize_t)t->shape[d];
        size_t c = t->numel ? (size_t)chunk_rows(4, t->ndim, dims) * row_floats(t) * 4 : 0;
        chunk = c > chunk ? c : chunk;
    }
    for (int i = 0; i < mt->count; i++) largest = mt->t[i].numel > largest ? mt->t[i].numel : largest;
    size_t piece = piece_floats(mt);
    /* a chunk's copy and Fletcher32's output buffer (HDF5's filter pipeline), the seal's block */
    return 2 * chunk + (1u << 20) + (fetching ? 4 * (largest < piece ? largest : piece) : 0);
}

static int write_contents(CkCtx *x, hid_t f, const CkptState *s) {
    const uint8_t *omit = omitted(s); /* an adapter checkpoint: version 2 */
    int rc = write_attr_str(x, f, "format", CKPT_FORMAT);
    if (!rc) rc = write_attr_i64(x, f, "version", omit ? 2 : 1);
    if (!rc) rc = write_attr_i64(x, f, "step", s->step);
    Source src = {.buf = s->params, .s = s};
    if (!rc) rc = write_tensors(x, f, "params", s->pt, omit, &src);
    const ParamTable *mt = s->mt ? s->mt : s->pt; /* the moments' layout */
    if (!rc && has_moments(s)) {
        Source m = {.buf = s->fetch ? NULL : s->adam_m, .s = s, .which = 0, .piece_floats = piece_floats(mt)};
        if (s->fetch) m.piece = mallocCheck(m.piece_floats * sizeof(float));
        Source v = m;
        v.buf = s->fetch ? NULL : s->adam_v, v.which = 1;
        rc = write_tensors(x, f, "adam_m", mt, NULL, &m);
        if (!rc) rc = write_tensors(x, f, "adam_v", mt, NULL, &v);
        free(m.piece);
    }
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
    if (!rc && omit) {
        hsize_t d = strlen(s->base), two = 2;
        uint64_t id[2] = {s->base_crc, s->base_size};
        rc = write_ds(x, f, "base_path", "base_path", H5T_STD_U8LE, H5T_NATIVE_UINT8, 1, 1, &d, s->base, 0);
        if (!rc) rc = write_ds(x, f, "base_identity", "base_identity", H5T_STD_U64LE, H5T_NATIVE_UINT64, 8, 1, &two, id, 0);
    }
    return rc;
}

/* tmp written whole by HDF5 into reserved space, the excess reservation released, sealed with
 * the whole-file checksum and fsynced (h5guard_seal) */
static int write_file(CkCtx *x, const char *dir, const char *tmp, const CkptState *s) {
    uint64_t need = ckpt_file_bound(s);
    int rc = room_for(x, dir, need);
    if (rc) return rc;
    /* the default (earliest) file format, readable by every HDF5 and h5py; the first
     * H5GUARD_BYTES are a user block that h5guard_seal fills */
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    H5Pset_userblock(fcpl, H5GUARD_BYTES);
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
    H5Pclose(fcpl);
    if (f < 0) return ck_fail_h5(x, CKPT_ERR_IO, "cannot create");
    int fd = open(tmp, O_WRONLY);
    rc = fd < 0 ? ck_fail(x, CKPT_ERR_IO, "cannot open: %s", strerror(errno)) : reserve(x, fd, need);
    if (!rc) rc = write_contents(x, f, s);
    if (H5Fclose(f) < 0 && !rc) rc = ck_fail_h5(x, CKPT_ERR_IO, "close failed");
    struct stat st;
    if (fd >= 0) { /* truncating to its own size frees the blocks reserved past the end */
        if (!rc && (fstat(fd, &st) || ftruncate(fd, st.st_size)))
            rc = ck_fail(x, CKPT_ERR_IO, "cannot release the unused reservation: %s", strerror(errno));
        close(fd);
    }
    char e[600];
    size_t k = strlen(tmp); /* h5guard's message starts with the path, as ours do */
    if (!rc && h5guard_seal(tmp, e, sizeof e)) rc = ck_fail(x, CKPT_ERR_IO, "%s", strncmp(e, tmp, k) ? e : e + k + 2);
    return rc;
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
    CHECK(!s->fetch || !s->adam_m, "ckpt_save: give the moments as buffers or through fetch, not both");
    ck_quiet_hdf5();
    if (mkdir_p(dir)) {
        x.path = dir;
        return ck_fail(&x, CKPT_ERR_IO, "cannot create checkpoint directory: %s", strerror(errno));
    }
    remove_stale_tmp(dir);
    /* a file-size limit must fail the write, not kill the process */
    void (*old)(int) = signal(SIGXFSZ, SIG_IGN);
    int rc = write_file(&x, dir, tmp, s);
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
