/* Weight views and the narrow copies of a model's matrices (see weights.h for the formats
 * and the contract). */
#include "weights.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../common/check.h"
#include "gemm_bf16.h"
#include "gemv.h"
#include "layers.h"

struct NarrowWeights {
    WeightFormat fmt;
    int count;
    WeightView *views;     /* [count]: the narrow copy, or fmt fp32 for a tensor kept in fp32 */
    unsigned char *data;   /* every copy, each 64-byte aligned */
    float *scales;         /* int8: every row's scale */
    float *scratch;        /* [scratch_floats] */
    size_t scratch_floats, bytes;
};

static const char *const format_names[] = {"fp32", "bf16", "int8"};

const char *weight_format_name(WeightFormat f) { return f >= WEIGHTS_FP32 && f <= WEIGHTS_INT8 ? format_names[f] : "?"; }

int weight_format_parse(const char *name, WeightFormat *f) {
    for (int i = 0; i <= WEIGHTS_INT8; i++)
        if (name && !strcmp(name, format_names[i])) {
            *f = (WeightFormat)i;
            return 0;
        }
    return -1;
}

int weight_format_bytes(WeightFormat f) { return f == WEIGHTS_BF16 ? 2 : f == WEIGHTS_INT8 ? 1 : 4; }

WeightView weight_view_fp32(const ParamTable *pt, const float *params, int t) {
    const TensorInfo *ti = &pt->t[t];
    WeightView w = {0};
    w.fmt = WEIGHTS_FP32;
    w.f32 = params + ti->offset;
    w.parts = 1;
    if (ti->slot == P_UP_W) { /* [2, D, F] in, out: 2 parts of F outputs × D inputs */
        w.parts = ti->shape[0];
        w.rows = ti->shape[2];
        w.cols = ti->shape[1];
        w.io = 1;
    } else if (ti->ndim == 2) {
        w.rows = ti->shape[0];
        w.cols = ti->shape[1];
    } else {
        w.rows = 1;
        w.cols = (int)ti->numel;
    }
    return w;
}

/* element [p][r][c] of the stored matrix, in fp32 */
static inline float deq(const WeightView *w, size_t p, size_t r, size_t c) {
    size_t i = (p * (size_t)w->rows + r) * (size_t)w->cols + c;
    switch (w->fmt) {
    case WEIGHTS_BF16: return bf16_to_float(w->bf16[i]);
    case WEIGHTS_INT8: return (float)w->i8[i] * w->scale[p * (size_t)w->rows + r];
    default: return w->io ? w->f32[(p * (size_t)w->cols + c) * (size_t)w->rows + r] : w->f32[i];
    }
}

/* out [nr, cols] = rows r0 … r0+nr−1 of part p */
static void deq_rows(float *out, const WeightView *w, size_t p, int r0, int nr) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < nr; r++) {
        float *o = out + (size_t)r * w->cols;
        for (int c = 0; c < w->cols; c++) o[c] = deq(w, p, (size_t)(r0 + r), (size_t)c);
    }
}

/* out [parts][cols][rows] (the io layout): blocks of 32 stored rows, walked column by column */
static void deq_io(float *out, const WeightView *w) {
    enum { RB = 32 };
    size_t rows = (size_t)w->rows, cols = (size_t)w->cols;
    int nblk = (w->rows + RB - 1) / RB, ntask = w->parts * nblk;
#pragma omp parallel for schedule(static)
    for (int task = 0; task < ntask; task++) {
        size_t p = (size_t)(task / nblk), r0 = (size_t)(task % nblk) * RB;
        size_t r1 = r0 + RB < rows ? r0 + RB : rows;
        for (size_t c = 0; c < cols; c++) {
            float *o = out + (p * cols + c) * rows;
            for (size_t r = r0; r < r1; r++) o[r] = deq(w, p, r, c);
        }
    }
}

const float *weight_f32(const WeightView *w, float *scratch) {
    if (w->fmt == WEIGHTS_FP32) return w->f32;
    CHECK(scratch, "weight_f32: a narrow tensor needs a scratch buffer");
    if (w->io) deq_io(scratch, w);
    else
        for (int p = 0; p < w->parts; p++) deq_rows(scratch + (size_t)p * w->rows * w->cols, w, (size_t)p, 0, w->rows);
    return scratch;
}

const float *weight_rows_f32(const WeightView *w, int r0, int nr, float *scratch) {
    CHECK(w->parts == 1 && !w->io && r0 >= 0 && r0 + nr <= w->rows, "weight_rows_f32: rows %d+%d of %d", r0, nr,
          w->rows);
    if (w->fmt == WEIGHTS_FP32) return w->f32 + (size_t)r0 * w->cols;
    deq_rows(scratch, w, 0, r0, nr);
    return scratch;
}

/* out [N,D] = w[tokens[n], :] · scale, tokens [N], w [V,D] */
void weight_embed(float *out, const int *tokens, const WeightView *w, float scale, int N) {
    if (w->fmt == WEIGHTS_FP32) {
        embedding_forward(out, tokens, w->f32, scale, N, w->cols);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        float *o = out + (size_t)n * w->cols;
        for (int c = 0; c < w->cols; c++) o[c] = deq(w, 0, (size_t)tokens[n], (size_t)c) * scale;
    }
}

/* x [B,cols], part p of w [rows,cols], b [rows] or NULL -> y [B,rows] */
void gemv_view(float *y, const float *x, const WeightView *w, int p, const float *b, int B) {
    size_t off = (size_t)p * w->rows * w->cols;
    switch (w->fmt) {
    case WEIGHTS_BF16: gemv_linear_bf16(y, x, w->bf16 + off, b, B, w->cols, w->rows); break;
    case WEIGHTS_INT8: gemv_linear_int8(y, x, w->i8 + off, w->scale + (size_t)p * w->rows, b, B, w->cols, w->rows); break;
    default:
        if (w->io) gemv_io(y, x, w->f32 + off, b, B, w->cols, w->rows, w->cols, w->rows);
        else gemv_linear(y, x, w->f32 + off, b, B, w->cols, w->rows);
    }
}

/* ---- narrow copies ---- */

/* the tensors a narrow model converts: the big matrices and the embedding table */
int weight_converts(const ParamTable *pt, int t) {
    int s = pt->t[t].slot;
    return t == pt->embed || s == P_LIN_Y_W || s == P_LIN_X_W || s == P_LIN_OUT_W || s == P_Q_W || s == P_K_W ||
           s == P_V_W || s == P_FINAL_W || s == P_UP_W || s == P_DOWN_W;
}

/* 1 if every value of the fp32 view src converts to f */
static int convertible(const WeightView *src, WeightFormat f) {
    size_t n = (size_t)src->parts * src->rows * src->cols;
    for (size_t i = 0; i < n; i++) {
        float v = src->f32[i];
        if (!isfinite(v) || (f == WEIGHTS_BF16 && !isfinite(bf16_to_float(bf16_from_float(v))))) return 0;
    }
    return 1;
}

/* The narrow copy of a tensor being written: bf16 [parts][rows][cols], or int8 and scales
 * [parts][rows]. */
typedef struct {
    uint16_t *bf16;
    int8_t *i8;
    float *scale;
} NarrowOut;

/* row r of part p of src into out */
static void convert_row(const NarrowOut *out, const WeightView *src, size_t p, size_t r) {
    size_t cols = (size_t)src->cols, i0 = (p * (size_t)src->rows + r) * cols;
    if (out->bf16) {
        for (size_t c = 0; c < cols; c++) out->bf16[i0 + c] = bf16_from_float(deq(src, p, r, c));
        return;
    }
    float amax = 0.0f;
    for (size_t c = 0; c < cols; c++) amax = fmaxf(amax, fabsf(deq(src, p, r, c)));
    float s = amax / 127.0f;
    for (size_t c = 0; c < cols; c++) {
        long q = s > 0.0f ? lrintf(deq(src, p, r, c) / s) : 0;
        out->i8[i0 + c] = (int8_t)(q > 127 ? 127 : q < -127 ? -127 : q);
    }
    out->scale[p * (size_t)src->rows + r] = s;
}

static void convert(const NarrowOut *out, const WeightView *src) {
    int nrows = src->parts * src->rows;
#pragma omp parallel for schedule(static)
    for (int pr = 0; pr < nrows; pr++) convert_row(out, src, (size_t)(pr / src->rows), (size_t)(pr % src->rows));
}

/* bytes (64-byte multiples) of tensor t's narrow copy and its scales */
static size_t copy_bytes(const WeightView *v, WeightFormat f) {
    size_t n = (size_t)v->parts * v->rows * v->cols * (size_t)weight_format_bytes(f);
    return (n + 63) / 64 * 64;
}

NarrowWeights *narrow_weights_create(const ParamTable *pt, const float *params, WeightFormat f, int *bad) {
    CHECK(f == WEIGHTS_BF16 || f == WEIGHTS_INT8, "narrow_weights_create: %s is not a narrow format",
          weight_format_name(f));
    *bad = -1;
    for (int t = 0; t < pt->count && *bad < 0; t++) {
        WeightView src = weight_view_fp32(pt, params, t);
        if (weight_converts(pt, t) && !convertible(&src, f)) *bad = t;
    }
    if (*bad >= 0) return NULL;
    NarrowWeights *nw = callocCheck(1, sizeof *nw);
    nw->fmt = f;
    nw->count = pt->count;
    nw->views = callocCheck((size_t)pt->count, sizeof(WeightView));
    size_t data = 0, rows = 0, most = 0;
    for (int t = 0; t < pt->count; t++) {
        WeightView v = weight_view_fp32(pt, params, t);
        if (!weight_converts(pt, t)) continue;
        data += copy_bytes(&v, f);
        rows += (size_t)v.parts * v.rows;
        if (t != pt->embed && pt->t[t].numel > most) most = pt->t[t].numel;
    }
    nw->data = alignedCallocCheck(data ? data : 64);
    nw->scales = f == WEIGHTS_INT8 ? alignedCallocCheck(sizeof(float) * (rows ? rows : 1)) : NULL;
    nw->bytes = data + (f == WEIGHTS_INT8 ? sizeof(float) * rows : 0);
    int D = pt->t[pt->embed].shape[1];
    nw->scratch_floats = most > (size_t)D ? most : (size_t)D;
    nw->scratch = alignedCallocCheck(sizeof(float) * nw->scratch_floats);
    size_t at = 0, srow = 0;
    for (int t = 0; t < pt->count; t++) {
        WeightView src = weight_view_fp32(pt, params, t);
        if (!weight_converts(pt, t)) continue;
        NarrowOut out = {0};
        if (f == WEIGHTS_BF16) out.bf16 = (uint16_t *)(void *)(nw->data + at);
        else {
            out.i8 = (int8_t *)(nw->data + at);
            out.scale = nw->scales + srow;
        }
        convert(&out, &src);
        WeightView *dst = &nw->views[t];
        *dst = src;
        dst->fmt = f;
        dst->f32 = NULL;
        dst->bf16 = out.bf16;
        dst->i8 = out.i8;
        dst->scale = out.scale;
        at += copy_bytes(&src, f);
        srow += (size_t)src.parts * src.rows;
    }
    return nw;
}

void narrow_weights_free(NarrowWeights *nw) {
    if (!nw) return;
    free(nw->views);
    free(nw->data);
    free(nw->scales);
    free(nw->scratch);
    free(nw);
}

WeightFormat narrow_weights_format(const NarrowWeights *nw) { return nw ? nw->fmt : WEIGHTS_FP32; }

WeightView narrow_weights_view(const NarrowWeights *nw, const ParamTable *pt, const float *params, int t) {
    if (nw && nw->views[t].fmt != WEIGHTS_FP32) return nw->views[t];
    return weight_view_fp32(pt, params, t);
}

float *narrow_weights_scratch(const NarrowWeights *nw) { return nw ? nw->scratch : NULL; }

int narrow_weights_table_rows(const NarrowWeights *nw, int D) {
    size_t r = nw->scratch_floats / (size_t)D;
    return r < 1 ? 1 : r > (1u << 30) ? 1 << 30 : (int)r;
}

size_t narrow_weights_bytes(const NarrowWeights *nw) { return nw ? nw->bytes : 0; }
