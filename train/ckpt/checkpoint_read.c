/* Reading, verifying and describing checkpoints; every dataset read is checked against its
 * crc32 attribute (and HDF5's Fletcher32 filter). See checkpoint.h for the layout. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "checkpoint_h5.h"
#include "data/h5guard.h"
#include "optim/trainable.h"
#include "train/config/config.h"

static hid_t open_file(CkCtx *x, const char *path) {
    struct stat st;
    if (stat(path, &st)) {
        ck_fail(x, CKPT_ERR_IO, "cannot open: %s", strerror(errno));
        return -1;
    }
    /* the whole-file checksum before HDF5 parses anything: HDF5 1.10 may crash on damaged
     * metadata (files written before the guard have HDF5's own checks only) */
    char gerr[256];
    int guard = h5guard_check(path, gerr, sizeof gerr);
    if (guard < 0) {
        ck_fail(x, guard == H5GUARD_MISSING ? CKPT_ERR_IO : CKPT_ERR_DAMAGED, "%s", gerr);
        return -1;
    }
    x->guarded = guard == H5GUARD_OK;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        ck_fail_h5(x, CKPT_ERR_DAMAGED, "not a readable HDF5 file (truncated or damaged)");
        return -1;
    }
    /* format and version */
    char fmt[64] = "";
    hid_t a = H5Aexists(f, "format") > 0 ? H5Aopen(f, "format", H5P_DEFAULT) : -1;
    if (a >= 0) {
        hid_t t = H5Aget_type(a);
        size_t sz = H5Tget_size(t);
        if (H5Tget_class(t) == H5T_STRING && sz < sizeof fmt) {
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, sz + 1);
            if (H5Aread(a, mt, fmt) < 0) fmt[0] = 0;
            H5Tclose(mt);
        }
        H5Tclose(t);
        H5Aclose(a);
    }
    if (strcmp(fmt, CKPT_FORMAT)) {
        H5Fclose(f);
        ck_fail(x, CKPT_ERR_DAMAGED, "not a griffin checkpoint (format attribute '%s')", fmt);
        return -1;
    }
    int64_t version = -1;
    a = H5Aexists(f, "version") > 0 ? H5Aopen(f, "version", H5P_DEFAULT) : -1;
    if (a >= 0) {
        if (H5Aread(a, H5T_NATIVE_INT64, &version) < 0) version = -1;
        H5Aclose(a);
    }
    if (version < 1 || version > CKPT_VERSION) {
        H5Fclose(f);
        ck_fail(x, version < 1 ? CKPT_ERR_DAMAGED : CKPT_ERR_MISMATCH,
             "checkpoint version %" PRId64 " (this build reads 1..%d)", version, CKPT_VERSION);
        return -1;
    }
    H5Eclear2(H5E_DEFAULT);
    return f;
}

/* Opens loc/name and returns its rank and dims; -1 on failure (error set). */
static hid_t open_ds(CkCtx *x, hid_t loc, const char *name, const char *label, int *ndim, hsize_t *dims, int code_missing) {
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) {
        ck_fail(x, code_missing, "%s is missing", label);
        return -1;
    }
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) {
        ck_fail_h5(x, CKPT_ERR_DAMAGED, label);
        return -1;
    }
    hid_t sp = H5Dget_space(d);
    int nd = sp < 0 ? -1 : H5Sget_simple_extent_ndims(sp);
    if (nd < 0 || nd > CK_MAX_DIMS || H5Sget_simple_extent_dims(sp, dims, NULL) < 0) {
        if (sp >= 0) H5Sclose(sp);
        H5Dclose(d);
        ck_fail(x, CKPT_ERR_DAMAGED, "%s: bad dataspace", label);
        return -1;
    }
    H5Sclose(sp);
    /* a damaged dataspace may claim more elements than a size_t of bytes can count, or more
     * than the bytes stored can hold (deflate: 1032:1 at most); refuse it here rather than die
     * allocating for it (found by tests/fuzz) */
    hsize_t n = 1;
    int overflow = 0;
    for (int i = 0; i < nd; i++) {
        if (dims[i] && n > ((hsize_t)1 << 40) / dims[i]) overflow = 1;
        n *= dims[i];
    }
    if (overflow || n > 1100 * ((hsize_t)H5Dget_storage_size(d) + 64)) {
        H5Dclose(d);
        ck_fail(x, CKPT_ERR_DAMAGED, "%s: bad dataspace (more elements than the file holds)", label);
        return -1;
    }
    *ndim = nd;
    return d;
}

/* Reads all of d into dst (n elements) and checks the crc32 attribute. Closes d. */
static int read_checked(CkCtx *x, hid_t d, const char *label, hid_t mtype, size_t elsize, size_t n, void *dst) {
    int rc = CKPT_OK;
    if (n > 0 && H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0) {
        rc = ck_fail_h5(x, CKPT_ERR_DAMAGED, label);
    } else {
        uint32_t want = 0;
        hid_t a = H5Aexists(d, "crc32") > 0 ? H5Aopen(d, "crc32", H5P_DEFAULT) : -1;
        if (a < 0 || H5Aread(a, H5T_NATIVE_UINT32, &want) < 0) rc = ck_fail(x, CKPT_ERR_DAMAGED, "%s: crc32 attribute missing", label);
        else if (ck_crc(dst, n * elsize) != want)
            rc = ck_fail(x, CKPT_ERR_DAMAGED, "%s: crc32 mismatch (stored %08x, data %08x)", label, want, ck_crc(dst, n * elsize));
        if (a >= 0) H5Aclose(a);
    }
    H5Dclose(d);
    return rc;
}

/* Reads a whole 1- or 2-D dataset into a new buffer (one spare zero byte at the end). */
static int read_alloc(CkCtx *x, hid_t f, const char *name, hid_t mtype, size_t elsize, int want_ndim,
                      void **out, hsize_t *dims) {
    int nd;
    hid_t d = open_ds(x, f, name, name, &nd, dims, CKPT_ERR_DAMAGED);
    if (d < 0) return x->code;
    if (nd != want_ndim) {
        H5Dclose(d);
        return ck_fail(x, CKPT_ERR_DAMAGED, "%s: expected %d dimensions, found %d", name, want_ndim, nd);
    }
    size_t n = 1;
    for (int i = 0; i < nd; i++) n *= (size_t)dims[i];
    char *buf = calloc(n * elsize + 1, 1);
    CHECK(buf, "out of memory reading %s", name);
    int rc = read_checked(x, d, name, mtype, elsize, n, buf);
    if (rc) {
        free(buf);
        return rc;
    }
    *out = buf;
    return CKPT_OK;
}

static int read_i64(CkCtx *x, hid_t f, const char *name, int64_t *v) {
    void *buf;
    hsize_t dims[CK_MAX_DIMS];
    int rc = read_alloc(x, f, name, H5T_NATIVE_INT64, 8, 1, &buf, dims);
    if (rc) return rc;
    if (dims[0] != 1) rc = ck_fail(x, CKPT_ERR_DAMAGED, "%s: expected one value", name);
    else memcpy(v, buf, 8);
    free(buf);
    return rc;
}

/* the first non-finite value of a tensor (or, for Adam second moments, a negative one) */
static int check_values(CkCtx *x, const char *label, const float *v, size_t n, int nonneg) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]) || (nonneg && v[i] < 0.0f))
            return ck_fail(x, CKPT_ERR_DAMAGED, "%s: element %zu is %g (%s)", label, i, (double)v[i],
                           isfinite(v[i]) ? "a second moment must be >= 0" : "not finite");
    return CKPT_OK;
}

/* Validates group against the table (names and shapes) and reads it into buf; buf == NULL:
 * reads tensor by tensor into a scratch buffer and checks every value (ckpt_verify_full).
 * known != NULL: pt is a part of the model `known` (the moments of a trainable set, the tensors
 * an adapter checkpoint leaves to its base), so the group may also hold tensors of `known` that
 * are not in pt (skipped). missing != NULL (an adapter checkpoint's params/): a tensor the
 * group lacks sets missing[i] instead of failing. */
static int read_tensors(CkCtx *x, hid_t f, const char *group, const ParamTable *pt, float *buf,
                        const ParamTable *known, uint8_t *missing) {
    if (H5Lexists(f, group, H5P_DEFAULT) <= 0)
        return ck_fail(x, strcmp(group, "params") ? CKPT_ERR_MISMATCH : CKPT_ERR_DAMAGED, "%s/ is missing%s", group,
                    strcmp(group, "params") ? " (a weights-only checkpoint has no optimizer state)" : "");
    hid_t g = H5Gopen2(f, group, H5P_DEFAULT);
    if (g < 0) return ck_fail_h5(x, CKPT_ERR_DAMAGED, group);
    float *scratch = NULL;
    if (!buf) {
        size_t most = 1;
        for (int i = 0; i < pt->count; i++) most = pt->t[i].numel > most ? pt->t[i].numel : most;
        scratch = malloc(most * sizeof(float));
        CHECK(scratch, "out of memory verifying %s/", group);
    }
    int rc = CKPT_OK;
    char label[160], have[96], want[96];
    for (int i = 0; i < pt->count && !rc; i++) {
        const TensorInfo *t = &pt->t[i];
        snprintf(label, sizeof label, "%s/%s", group, t->name);
        if (missing && H5Lexists(g, t->name, H5P_DEFAULT) <= 0) {
            missing[i] = 1;
            continue;
        }
        int nd;
        hsize_t dims[CK_MAX_DIMS], exp[CK_MAX_DIMS];
        hid_t d = open_ds(x, g, t->name, label, &nd, dims, CKPT_ERR_MISMATCH);
        if (d < 0) {
            if (x->code == CKPT_ERR_MISMATCH) {
                x->code = 0;
                rc = known && strcmp(group, "params") ? ck_fail(x, CKPT_ERR_MISMATCH, "%s is missing: the tensor was frozen (train.freeze / "
                                     "train.trainable) when the checkpoint was saved", label)
                           : ck_fail(x, CKPT_ERR_MISMATCH, "%s is missing: the checkpoint was made for a different model", label);
            } else {
                rc = x->code;
            }
            break;
        }
        for (int k = 0; k < t->ndim; k++) exp[k] = (hsize_t)t->shape[k];
        int same = nd == t->ndim;
        for (int k = 0; same && k < nd; k++) same = dims[k] == exp[k];
        if (!same) {
            H5Dclose(d);
            ck_shape_text(nd, dims, have, sizeof have);
            ck_shape_text(t->ndim, exp, want, sizeof want);
            rc = ck_fail(x, CKPT_ERR_MISMATCH, "%s has shape %s, the model expects %s", label, have, want);
            break;
        }
        hid_t ty = H5Dget_type(d);
        int is_float = ty >= 0 && H5Tget_class(ty) == H5T_FLOAT && H5Tget_size(ty) == 4;
        if (ty >= 0) H5Tclose(ty);
        if (!is_float) {
            H5Dclose(d);
            rc = ck_fail(x, CKPT_ERR_MISMATCH, "%s is not float32", label);
            break;
        }
        rc = read_checked(x, d, label, H5T_NATIVE_FLOAT, 4, t->numel, scratch ? scratch : buf + t->offset);
        if (!rc && scratch) rc = check_values(x, label, scratch, t->numel, !strcmp(group, "adam_v"));
    }
    free(scratch);
    if (!rc) {
        /* tensors the model does not have */
        H5G_info_t info;
        if (H5Gget_info(g, &info) < 0) rc = ck_fail_h5(x, CKPT_ERR_DAMAGED, group);
        for (hsize_t i = 0; !rc && i < info.nlinks; i++) {
            char name[256];
            if (H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name, H5P_DEFAULT) < 0) {
                rc = ck_fail_h5(x, CKPT_ERR_DAMAGED, group);
                break;
            }
            if (param_table_find(pt, name) < 0 && !(known && param_table_find(known, name) >= 0))
                rc = ck_fail(x, CKPT_ERR_MISMATCH, "%s/%s is not a tensor of the model: the checkpoint was made for a different model",
                          group, name);
        }
    }
    H5Gclose(g);
    return rc;
}

/* Reads every dataset of a tensor group, checking checksums (verification without a table). */
static int verify_group(CkCtx *x, hid_t f, const char *group, int required) {
    if (H5Lexists(f, group, H5P_DEFAULT) <= 0) return required ? ck_fail(x, CKPT_ERR_DAMAGED, "%s/ is missing", group) : CKPT_OK;
    hid_t g = H5Gopen2(f, group, H5P_DEFAULT);
    if (g < 0) return ck_fail_h5(x, CKPT_ERR_DAMAGED, group);
    H5G_info_t info;
    int rc = H5Gget_info(g, &info) < 0 ? ck_fail_h5(x, CKPT_ERR_DAMAGED, group) : CKPT_OK;
    for (hsize_t i = 0; !rc && i < info.nlinks; i++) {
        char name[256], label[300];
        if (H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name, H5P_DEFAULT) < 0) {
            rc = ck_fail_h5(x, CKPT_ERR_DAMAGED, group);
            break;
        }
        snprintf(label, sizeof label, "%s/%s", group, name);
        int nd;
        hsize_t dims[CK_MAX_DIMS];
        hid_t d = open_ds(x, g, name, label, &nd, dims, CKPT_ERR_DAMAGED);
        if (d < 0) {
            rc = x->code;
            break;
        }
        size_t n = 1;
        for (int k = 0; k < nd; k++) n *= (size_t)dims[k];
        float *buf = malloc(n * sizeof(float) + 1);
        CHECK(buf, "out of memory verifying %s", label);
        rc = read_checked(x, d, label, H5T_NATIVE_FLOAT, 4, n, buf);
        free(buf);
    }
    H5Gclose(g);
    return rc;
}

const char *ckpt_why(const char *err, const char *path) {
    size_t n = strlen(path);
    return !strncmp(err, path, n) && !strncmp(err + n, ": ", 2) ? err + n + 2 : err;
}

void ckpt_loaded_free(CkptLoaded *l) {
    if (!l) return;
    free(l->rng);
    free(l->cursors);
    free(l->config);
    free(l->tokenizer);
    free(l->base);
    free(l->from_base);
    memset(l, 0, sizeof *l);
}

static int read_meta(CkCtx *x, hid_t f, CkptLoaded *o) {
    memset(o, 0, sizeof *o);
    hsize_t dims[CK_MAX_DIMS];
    void *p = NULL;
    int rc = read_i64(x, f, "step", &o->step);
    if (!rc) rc = read_i64(x, f, "stage", &o->stage);
    if (!rc) rc = read_i64(x, f, "tokens", &o->tokens);
    if (!rc && !(rc = read_alloc(x, f, "rng", H5T_NATIVE_UINT64, 8, 1, &p, dims))) {
        o->rng = p;
        o->n_rng = (size_t)dims[0];
    }
    if (!rc && !(rc = read_alloc(x, f, "data_cursor", H5T_NATIVE_UINT64, 8, 2, &p, dims))) {
        o->cursors = p;
        o->ranks = (int)dims[0];
        o->cursor_len = (size_t)dims[1];
    }
    if (!rc && !(rc = read_alloc(x, f, "config", H5T_NATIVE_UINT8, 1, 1, &p, dims))) o->config = p; /* NUL added */
    if (!rc && !(rc = read_alloc(x, f, "tokenizer", H5T_NATIVE_UINT8, 1, 1, &p, dims))) {
        o->tokenizer = p;
        o->tokenizer_len = (size_t)dims[0];
    }
    if (!rc && H5Lexists(f, "base_path", H5P_DEFAULT) > 0) { /* an adapter checkpoint */
        uint64_t *id = NULL;
        rc = read_alloc(x, f, "base_path", H5T_NATIVE_UINT8, 1, 1, &p, dims);
        if (!rc) o->base = p; /* NUL added */
        if (!rc) rc = read_alloc(x, f, "base_identity", H5T_NATIVE_UINT64, 8, 1, (void **)&id, dims);
        if (!rc && (dims[0] != 2 || !o->base[0] || id[0] > UINT32_MAX))
            rc = ck_fail(x, CKPT_ERR_DAMAGED, "base_identity: expected a path, a CRC-32 and a size");
        if (!rc) o->base_crc = (uint32_t)id[0], o->base_size = id[1];
        free(id);
    }
    o->has_moments = H5Lexists(f, "adam_m", H5P_DEFAULT) > 0 && H5Lexists(f, "adam_v", H5P_DEFAULT) > 0;
    if (rc) ckpt_loaded_free(o);
    return rc;
}

static char base_override[4096];

void ckpt_set_base(const char *path) { snprintf(base_override, sizeof base_override, "%s", path ? path : ""); }

static int read_params(CkCtx *x, hid_t f, const CkptLoaded *meta, const ParamTable *pt, float *buf,
                       const ParamTable *known, uint8_t *from_base, int depth);

/* the tensors of sub (a part of the model `known`) into buf from meta's base: its size and
 * CRC-32 first (h5guard_identity: cheap for a guarded file), then its params/ */
static int read_base(CkCtx *x, const CkptLoaded *meta, const ParamTable *sub, float *buf, const ParamTable *known,
                     int depth) {
    const char *bp = depth == 0 && base_override[0] ? base_override : meta->base;
    const char *hint = depth == 0 ? " (the base it was trained from; --base PATH if it moved)" : "";
    if (depth + 1 >= CKPT_MAX_CHAIN)
        return ck_fail(x, CKPT_ERR_BASE, "its base %s: more than %d adapter checkpoints chained", bp, CKPT_MAX_CHAIN);
    uint32_t crc;
    uint64_t size;
    char e[1024];
    if (h5guard_identity(bp, &crc, &size, e, sizeof e))
        return ck_fail(x, CKPT_ERR_BASE, "its base %s: %s%s", bp, e, hint);
    if (crc != meta->base_crc || size != meta->base_size)
        return ck_fail(x, CKPT_ERR_BASE, "its base %s is not the file it was trained from: CRC-32 %08x, %" PRIu64
                       " bytes, recorded %08x, %" PRIu64 " bytes%s", bp, crc, size, meta->base_crc, meta->base_size, hint);
    CkCtx y = {.path = bp, .err = e, .errlen = sizeof e};
    hid_t g = open_file(&y, bp);
    if (g < 0) return ck_fail(x, CKPT_ERR_BASE, "its base %s", e);
    CkptLoaded m;
    int rc = read_meta(&y, g, &m);
    if (!rc) rc = read_params(&y, g, &m, sub, buf, known, NULL, depth + 1);
    if (rc) rc = ck_fail(x, CKPT_ERR_BASE, "its base %s", e); /* e: "BASE: what" */
    ckpt_loaded_free(&m);
    H5Fclose(g);
    return rc;
}

/* pt's tensors (a part of `known`, or known == NULL: the model) into buf; an adapter
 * checkpoint's missing ones from its base (marked in from_base, if not NULL) */
static int read_params(CkCtx *x, hid_t f, const CkptLoaded *meta, const ParamTable *pt, float *buf,
                       const ParamTable *known, uint8_t *from_base, int depth) {
    if (!meta->base) return read_tensors(x, f, "params", pt, buf, known, NULL);
    uint8_t *miss = callocCheck((size_t)pt->count + 1, 1);
    int rc = read_tensors(x, f, "params", pt, buf, known, miss);
    ParamTable sub = {.t = callocCheck((size_t)pt->count + 1, sizeof(TensorInfo))};
    for (int i = 0; i < pt->count; i++)
        if (miss[i]) sub.t[sub.count++] = pt->t[i], sub.total += pt->t[i].numel;
    if (!rc && sub.count) rc = read_base(x, meta, &sub, buf, known ? known : pt, depth);
    if (!rc && from_base) memcpy(from_base, miss, (size_t)pt->count);
    free(sub.t);
    free(miss);
    return rc;
}

int ckpt_load(const char *path, const ParamTable *pt, float *params, float *adam_m, float *adam_v,
              CkptLoaded *out, char *err, size_t errlen) {
    return ckpt_load_set(path, pt, params, pt, adam_m, adam_v, out, err, errlen);
}

int ckpt_load_set(const char *path, const ParamTable *pt, float *params, const ParamTable *mt, float *adam_m,
                  float *adam_v, CkptLoaded *out, char *err, size_t errlen) {
    const ParamTable *known = mt == pt ? NULL : pt;
    CkCtx x = {.path = path, .err = err, .errlen = errlen};
    err[0] = 0;
    ck_quiet_hdf5();
    hid_t f = open_file(&x, path);
    if (f < 0) return x.code;
    CkptLoaded meta;
    int rc = read_meta(&x, f, &meta);
    if (!rc && pt) {
        if (meta.base) meta.from_base = callocCheck((size_t)pt->count + 1, 1);
        rc = read_params(&x, f, &meta, pt, params, NULL, meta.from_base, 0);
        if (!rc && (adam_m || adam_v)) {
            if (!meta.has_moments) rc = ck_fail(&x, CKPT_ERR_MISMATCH, "weights-only checkpoint: no optimizer moments to resume from");
            if (!rc && adam_m) rc = read_tensors(&x, f, "adam_m", mt, adam_m, known, NULL);
            if (!rc && adam_v) rc = read_tensors(&x, f, "adam_v", mt, adam_v, known, NULL);
        }
    }
    H5Fclose(f);
    H5Eclear2(H5E_DEFAULT);
    if (rc) {
        ckpt_loaded_free(&meta); /* zeroed already if read_meta failed */
        return rc;
    }
    if (out) *out = meta;
    else ckpt_loaded_free(&meta);
    return CKPT_OK;
}

int ckpt_load_weights(const char *path, const ParamTable *pt, float *params, char *err, size_t errlen) {
    return ckpt_load(path, pt, params, NULL, NULL, NULL, err, errlen);
}

int ckpt_verify(const char *path, char *err, size_t errlen) {
    CkCtx x = {.path = path, .err = err, .errlen = errlen};
    err[0] = 0;
    ck_quiet_hdf5();
    hid_t f = open_file(&x, path);
    if (f < 0) return x.code;
    CkptLoaded meta;
    int rc = read_meta(&x, f, &meta);
    if (!rc) ckpt_loaded_free(&meta);
    if (!rc) rc = verify_group(&x, f, "params", 1);
    if (!rc) rc = verify_group(&x, f, "adam_m", 0);
    if (!rc) rc = verify_group(&x, f, "adam_v", 0);
    H5Fclose(f);
    H5Eclear2(H5E_DEFAULT);
    return rc;
}

/* an adapter checkpoint's params/ lacks only frozen tensors (miss), and its base is the file
 * it records (size and CRC-32: the base's own --verify reads it whole) */
static int verify_base_part(CkCtx *x, const CkptLoaded *m, const ParamTable *pt, const TrainableSet *ts,
                            const uint8_t *miss, char *note, size_t notelen) {
    int n = 0;
    for (int i = 0; i < pt->count; i++) {
        if (miss[i] && ts->on[i])
            return ck_fail(x, CKPT_ERR_DAMAGED, "params/%s is missing, and the stored config trains it", pt->t[i].name);
        n += miss[i];
    }
    const char *bp = base_override[0] ? base_override : m->base;
    uint32_t crc;
    uint64_t size;
    char e[1024];
    if (h5guard_identity(bp, &crc, &size, e, sizeof e))
        return ck_fail(x, CKPT_ERR_BASE, "its base %s: %s (--base PATH if it moved)", bp, e);
    if (crc != m->base_crc || size != m->base_size)
        return ck_fail(x, CKPT_ERR_BASE, "its base %s is not the file it was trained from: CRC-32 %08x, %" PRIu64
                       " bytes, recorded %08x, %" PRIu64 " bytes", bp, crc, size, m->base_crc, m->base_size);
    snprintf(note, notelen, "; an adapter checkpoint: %d frozen tensor(s) from its base %.900s (CRC-32 %08x and size "
             "match)", n, bp, crc);
    return CKPT_OK;
}

int ckpt_verify_full(const char *path, char *summary, size_t summary_len, char *err, size_t errlen) {
    int rc = ckpt_verify(path, err, errlen);
    if (rc) return rc;
    CkCtx x = {.path = path, .err = err, .errlen = errlen};
    ck_quiet_hdf5();
    hid_t f = open_file(&x, path);
    if (f < 0) return x.code;
    CkptLoaded m;
    rc = read_meta(&x, f, &m);
    if (rc) {
        H5Fclose(f);
        return rc;
    }
    TrainConfig *cfg = calloc(1, sizeof *cfg);
    CHECK(cfg, "out of memory");
    char cerr[1024];
    ParamTable pt = {0};
    if (!m.config[0]) {
        rc = ck_fail(&x, CKPT_ERR_DAMAGED, "config: empty (no model to check the tensors against)");
    } else if (train_config_parse_string(cfg, m.config, "config", NULL, 0, NULL, cerr, sizeof cerr)) {
        rc = ck_fail(&x, CKPT_ERR_DAMAGED, "config: the stored config does not parse: %s", cerr);
    } else if (m.step < 0 || m.tokens < 0 || m.stage < 0 || (cfg->n_stages > 0 && m.stage >= cfg->n_stages)) {
        rc = ck_fail(&x, CKPT_ERR_DAMAGED, "step %" PRId64 ", stage %" PRId64 ", tokens %" PRId64
                     ": out of range (the config has %d stage(s))", m.step, m.stage, m.tokens, cfg->n_stages);
    } else {
        param_table_build(&pt, &cfg->griffin);
        /* moments are those of the trainable set the stored config names */
        TrainableSet ts;
        int built = trainable_build(&ts, &pt, cfg->train.freeze, cfg->train.trainable, cerr, sizeof cerr) == 0;
        if (!built) rc = ck_fail(&x, CKPT_ERR_DAMAGED, "config: %s", cerr);
        const ParamTable *known = built && !ts.all ? &pt : NULL;
        uint8_t *miss = m.base ? callocCheck((size_t)pt.count + 1, 1) : NULL;
        if (!rc) rc = read_tensors(&x, f, "params", &pt, NULL, NULL, miss);
        char base_note[1200] = "";
        if (!rc && miss) rc = verify_base_part(&x, &m, &pt, &ts, miss, base_note, sizeof base_note);
        free(miss);
        if (!rc && m.has_moments) rc = read_tensors(&x, f, "adam_m", &ts.mt, NULL, known, NULL);
        if (!rc && m.has_moments) rc = read_tensors(&x, f, "adam_v", &ts.mt, NULL, known, NULL);
        if (built) trainable_free(&ts);
        if (!rc)
            snprintf(summary, summary_len, "%s: griffin checkpoint, %s model, step %" PRId64 ", %d tensors, %zu parameters%s, "
                     "every checksum%s, shape and value good%s", path, family_name(cfg->griffin.family), m.step, pt.count,
                     pt.total, m.has_moments ? " + Adam moments" : " (weights only)",
                     x.guarded ? " (whole file and per dataset)" : " (per dataset; no whole-file checksum: an older file)",
                     base_note);
        param_table_free(&pt);
    }
    free(cfg);
    ckpt_loaded_free(&m);
    H5Fclose(f);
    H5Eclear2(H5E_DEFAULT);
    return rc;
}

int ckpt_latest(const char *dir, char *path_out, size_t path_len, FILE *log) {
    int64_t *steps;
    int n = ckpt_list(dir, &steps);
    for (int i = 0; i < n; i++) {
        char path[4096], err[768];
        snprintf(path, sizeof path, "%s/ckpt-%" PRId64 ".h5", dir, steps[i]);
        int rc = ckpt_verify(path, err, sizeof err);
        if (rc == CKPT_OK) {
            snprintf(path_out, path_len, "%s", path);
            free(steps);
            return CKPT_OK;
        }
        const char *why = ckpt_why(err, path);
        if (log) fprintf(log, "checkpoint: %s is damaged (%s)%s\n", path, why,
                         i + 1 < n ? "; trying the previous one" : "");
    }
    free(steps);
    return CKPT_NONE;
}

/* ---- description ---- */

int ckpt_describe(const char *path, FILE *out, char *err, size_t errlen) {
    CkCtx x = {.path = path, .err = err, .errlen = errlen};
    err[0] = 0;
    ck_quiet_hdf5();
    hid_t f = open_file(&x, path);
    if (f < 0) return x.code;
    CkptLoaded m;
    int rc = read_meta(&x, f, &m);
    if (rc) {
        H5Fclose(f);
        return rc;
    }
    fprintf(out, "%s: %s version %d\n", path, CKPT_FORMAT, m.base ? 2 : 1);
    fprintf(out, "  step %" PRId64 ", stage %" PRId64 ", tokens %" PRId64 "\n", m.step, m.stage, m.tokens);
    hid_t g = H5Gopen2(f, "params", H5P_DEFAULT);
    if (g >= 0) {
        H5G_info_t info;
        size_t total = 0;
        if (H5Gget_info(g, &info) >= 0) {
            fprintf(out, "  params: %llu tensors\n", (unsigned long long)info.nlinks);
            for (hsize_t i = 0; i < info.nlinks; i++) {
                char name[256], shape[96];
                if (H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name, H5P_DEFAULT) < 0) break;
                int nd;
                hsize_t dims[CK_MAX_DIMS];
                hid_t d = open_ds(&x, g, name, name, &nd, dims, CKPT_ERR_DAMAGED);
                if (d < 0) break;
                H5Dclose(d);
                size_t n = 1;
                for (int k = 0; k < nd; k++) n *= (size_t)dims[k];
                total += n;
                ck_shape_text(nd, dims, shape, sizeof shape);
                fprintf(out, "    %-48s %-16s %zu\n", name, shape, n);
            }
        }
        fprintf(out, "  parameters: %zu (%.2f M)\n", total, (double)total / 1e6);
        H5Gclose(g);
    }
    if (m.base)
        fprintf(out, "  base: %s (CRC-32 %08x, %" PRIu64 " bytes): an adapter checkpoint, the tensors params/ lacks are "
                "the base's\n", m.base, m.base_crc, m.base_size);
    fprintf(out, "  optimizer moments: %s\n", m.has_moments ? "adam_m, adam_v" : "none (weights only)");
    fprintf(out, "  rng: %zu words; data cursors: %d rank(s) x %zu words\n", m.n_rng, m.ranks, m.cursor_len);
    fprintf(out, "  config: %zu bytes; tokenizer: %zu bytes\n", strlen(m.config), m.tokenizer_len);
    ckpt_loaded_free(&m);
    H5Fclose(f);
    x.code = 0;
    char verr[768];
    rc = ckpt_verify(path, verr, sizeof verr);
    fprintf(out, "  checksums: %s\n", rc ? verr : "all datasets verify");
    H5Eclear2(H5E_DEFAULT);
    return rc;
}
