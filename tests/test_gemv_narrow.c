/* Narrow weights for inference (model/weights.c, model/gemv_narrow.c).
 * - gemv_linear_bf16 / gemv_linear_int8 against a double-precision product of the
 *   dequantised weights (error / Σ|terms| ≤ 1e-5) for batches 1..16 and sizes that are no
 *   multiple of the vector width; the same bits for 1 and 3 threads; each row the same bits
 *   alone as inside the batch; and the AVX2 build the same bits as its scalar twin
 *   (model/gemv_narrow.c compiled again here with GRIFFIN_SCALAR, under other names);
 * - the conversion: bf16 rounds each weight to nearest even, int8 keeps |w − q·s| ≤ s/2 with
 *   s = max|row| / 127 per output row (per column of ffw_up's in, out layout); weight_f32
 *   returns every tensor in its parameter layout, weight_rows_f32 and weight_embed agree
 *   with it, and gemv_view of a converted tensor equals the kernels on its copy;
 * - a tensor holding a NaN (or, for bf16, a value beyond bf16's range) is refused by index
 *   and leaves the model in fp32. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "model/gemm_bf16.h"
#include "model/gemv.h"
#include "model/griffin.h"

/* the scalar twin: model/gemv_narrow.c again, without its vector lanes */
#define GRIFFIN_SCALAR 1
#define gemv_linear_bf16 gemv_linear_bf16_scalar
#define gemv_linear_int8 gemv_linear_int8_scalar
void gemv_linear_bf16(float *y, const float *x, const uint16_t *w, const float *b, int B, int NI, int NO);
void gemv_linear_int8(float *y, const float *x, const int8_t *w, const float *scale, const float *b, int B, int NI,
                      int NO);
#include "model/gemv_narrow.c"
#undef gemv_linear_bf16
#undef gemv_linear_int8

static int fails;

static void expect(int ok, const char *what) {
    printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    fails += !ok;
}

/* y [B,NO] by format f (0 bf16, 1 int8); scalar = 1 runs the twin */
static void run(int f, int scalar, float *y, const float *x, const uint16_t *wb, const int8_t *wq, const float *s,
                const float *b, int B, int NI, int NO) {
    if (f == 0) (scalar ? gemv_linear_bf16_scalar : gemv_linear_bf16)(y, x, wb, b, B, NI, NO);
    else (scalar ? gemv_linear_int8_scalar : gemv_linear_int8)(y, x, wq, s, b, B, NI, NO);
}

static void check_kernels(void) {
    static const int shapes[][3] = {{1, 37, 5},    {2, 8, 1},    {3, 64, 13},   {4, 100, 33}, {5, 129, 70},
                                    {6, 7, 9},     {7, 1, 9},    {8, 17, 3},    {9, 250, 41}, {10, 24, 12},
                                    {11, 40, 7},   {12, 33, 100}, {13, 65, 16}, {14, 9, 30},  {15, 300, 11},
                                    {16, 250, 41}, {16, 512, 67}, {1, 1536, 29}};
    int nshapes = (int)(sizeof shapes / sizeof shapes[0]), nth0 = omp_get_max_threads();
    int thread_diff = 0, batch_diff = 0, twin_diff = 0;
    double worst = 0;
    Rng r;
    rng_seed(&r, 29, 0);
    for (int si = 0; si < nshapes; si++) {
        int B = shapes[si][0], NI = shapes[si][1], NO = shapes[si][2];
        size_t nw = (size_t)NI * NO;
        float *x = malloc(sizeof(float) * (size_t)B * NI), *bias = malloc(sizeof(float) * (size_t)NO);
        float *s = malloc(sizeof(float) * (size_t)NO), *y[4], *yo = malloc(sizeof(float) * (size_t)NO);
        uint16_t *wb = malloc(sizeof(uint16_t) * nw);
        int8_t *wq = malloc(nw);
        for (int i = 0; i < 4; i++) y[i] = malloc(sizeof(float) * (size_t)B * NO);
        for (int i = 0; i < B * NI; i++) x[i] = (float)rng_normal(&r);
        for (size_t i = 0; i < nw; i++) {
            wb[i] = bf16_from_float((float)rng_normal(&r));
            wq[i] = (int8_t)((int)rng_below(&r, 255) - 127);
        }
        for (int n = 0; n < NO; n++) {
            bias[n] = (float)rng_normal(&r);
            s[n] = (float)(0.01 * (1.0 + rng_uniform(&r)));
        }
        for (int f = 0; f < 2; f++)
            for (int hb = 0; hb < 2; hb++) {
                const float *bb = hb ? bias : NULL;
                for (int t = 0; t < 2; t++) { /* 1 and 3 threads */
                    omp_set_num_threads(t ? 3 : 1);
                    run(f, 0, y[t], x, wb, wq, s, bb, B, NI, NO);
                }
                omp_set_num_threads(nth0);
                run(f, 1, y[2], x, wb, wq, s, bb, B, NI, NO);
                thread_diff += memcmp(y[0], y[1], sizeof(float) * (size_t)B * NO) != 0;
                twin_diff += memcmp(y[0], y[2], sizeof(float) * (size_t)B * NO) != 0;
                for (int b = 0; b < B; b++) {
                    run(f, 0, yo, x + (size_t)b * NI, wb, wq, s, bb, 1, NI, NO);
                    batch_diff += memcmp(yo, y[0] + (size_t)b * NO, sizeof(float) * (size_t)NO) != 0;
                    for (int n = 0; n < NO; n++) {
                        double ref = bb ? (double)bb[n] : 0.0, mag = fabs(ref);
                        for (int k = 0; k < NI; k++) {
                            size_t i = (size_t)n * NI + k;
                            float w = f == 0 ? bf16_to_float(wb[i]) : (float)wq[i] * s[n]; /* dequantised */
                            double p = (double)x[(size_t)b * NI + k] * (double)w;
                            ref += p;
                            mag += fabs(p);
                        }
                        double d = fabs((double)y[0][(size_t)b * NO + n] - ref) / mag;
                        worst = d > worst ? d : worst;
                    }
                }
            }
        free(x), free(bias), free(s), free(yo), free(wb), free(wq);
        for (int i = 0; i < 4; i++) free(y[i]);
    }
    printf("gemv_linear_bf16, gemv_linear_int8: %d shapes (batch 1..16), max error / sum|terms| %.2e vs double\n",
           nshapes, worst);
    expect(worst <= 1e-5, "narrow GEMV within 1e-5 of the double product of the dequantised weights");
    expect(thread_diff == 0, "narrow GEMV: the same bits for 1 and 3 threads");
    expect(batch_diff == 0, "narrow GEMV: a row alone gives the bits it gets inside the batch");
#if defined(__AVX2__) && defined(__FMA__)
    expect(twin_diff == 0, "narrow GEMV: the AVX2 build equals its scalar twin bitwise");
#else
    expect(twin_diff == 0, "narrow GEMV: (no AVX2 in this build: both sides are the scalar code)");
#endif
}

static GriffinModel *tiny_model(void) {
    GriffinConfig cfg = {0};
    cfg.family = FAMILY_GRIFFIN;
    cfg.vocab_size = 37;
    cfg.width = 24;
    cfg.lru_width = 20;
    cfg.mlp_width = 27;
    cfg.num_heads = 2;
    cfg.depth = 3;
    cfg.window = 4;
    cfg.soft_cap = 30.0f;
    cfg.embed_scale = 1;
    GriffinModel *m = griffin_create_ex(&cfg, 2, 5, 7, GRIFFIN_INFERENCE);
    Rng r;
    rng_seed(&r, 3, 0);
    for (size_t i = 0; i < m->table.total; i++) m->params[i] += (float)(0.05 * rng_normal(&r));
    return m;
}

/* parameter element i of tensor t in its own layout → (part, output row, input column) */
static void coords(const WeightView *w, size_t i, size_t *p, size_t *r, size_t *c) {
    size_t per = (size_t)w->rows * w->cols, j = i % per;
    *p = i / per;
    if (w->io) *c = j / (size_t)w->rows, *r = j % (size_t)w->rows;
    else *r = j / (size_t)w->cols, *c = j % (size_t)w->cols;
}

/* every converted tensor of m (format f) against the definition of f */
static void check_conversion(GriffinModel *m, WeightFormat f) {
    expect(griffin_set_weights(m, f) < 0 && griffin_weight_format(m) == f, "conversion accepted");
    float *scratch = malloc(sizeof(float) * m->table.total);
    int converted = 0, bad = 0, rows_bad = 0, view_bad = 0;
    for (int t = 0; t < m->table.count; t++) {
        WeightView w = griffin_weight(m, t), src = weight_view_fp32(&m->table, m->params, t);
        if (w.fmt == WEIGHTS_FP32) continue;
        converted++;
        const float *deq = weight_f32(&w, scratch);
        size_t n = m->table.t[t].numel;
        for (size_t i = 0; i < n; i++) {
            float v = src.f32[i];
            if (f == WEIGHTS_BF16) {
                bad += deq[i] != bf16_to_float(bf16_from_float(v));
                continue;
            }
            size_t p, r, c;
            coords(&src, i, &p, &r, &c);
            float amax = 0.0f;
            for (size_t k = 0; k < (size_t)w.cols; k++) {
                size_t at = w.io ? (p * w.cols + k) * w.rows + r : (p * w.rows + r) * w.cols + k;
                amax = fmaxf(amax, fabsf(src.f32[at]));
            }
            float s = w.scale[p * w.rows + r];
            bad += s != amax / 127.0f || fabs((double)deq[i] - (double)v) > 0.5 * (double)s * (1 + 1e-6);
        }
        /* the decode product of every part against the kernels on a dequantised copy */
        for (int p = 0; p < w.parts; p++) {
            float x[2 * 64], y1[2 * 64], y2[2 * 64], wt[64 * 64];
            for (int i = 0; i < 2 * w.cols; i++) x[i] = (float)(0.1 * (i % 7) - 0.3);
            gemv_view(y1, x, &w, p, NULL, 2);
            for (int rr = 0; rr < w.rows; rr++)
                for (int cc = 0; cc < w.cols; cc++)
                    wt[rr * w.cols + cc] = w.io ? deq[((size_t)p * w.cols + cc) * w.rows + rr]
                                                : deq[((size_t)p * w.rows + rr) * w.cols + cc];
            gemv_linear(y2, x, wt, NULL, 2, w.cols, w.rows);
            for (int i = 0; i < 2 * w.rows; i++)
                view_bad += fabs((double)y1[i] - (double)y2[i]) > 1e-5 * (1.0 + fabs((double)y2[i]));
        }
    }
    WeightView tv = griffin_weight(m, m->table.embed);
    const float *all = weight_f32(&tv, scratch);
    float *part = malloc(sizeof(float) * 5 * (size_t)tv.cols), *emb = malloc(sizeof(float) * 3 * (size_t)tv.cols);
    float *copy = malloc(sizeof(float) * (size_t)tv.rows * tv.cols);
    memcpy(copy, all, sizeof(float) * (size_t)tv.rows * tv.cols);
    const float *rows = weight_rows_f32(&tv, 11, 5, part);
    rows_bad += memcmp(rows, copy + (size_t)11 * tv.cols, sizeof(float) * 5 * (size_t)tv.cols) != 0;
    int tokens[3] = {0, 36, 11};
    weight_embed(emb, tokens, &tv, 2.5f, 3);
    for (int n = 0; n < 3; n++)
        for (int c = 0; c < tv.cols; c++) rows_bad += emb[n * tv.cols + c] != copy[(size_t)tokens[n] * tv.cols + c] * 2.5f;
    char what[160];
    snprintf(what, sizeof what, "%s: %d tensors converted, each element as defined, in its parameter layout",
             weight_format_name(f), converted);
    expect(converted == 1 + 2 * 3 + 4 + 3 * 2 && bad == 0, what); /* table, 2 recurrent, 1 attention, 3 MLPs */
    expect(rows_bad == 0, "table rows and the embedding lookup agree with the whole table");
    expect(view_bad == 0, "gemv_view of every part equals gemv_linear on the dequantised part");
    free(scratch), free(part), free(emb), free(copy);
}

static void check_refusal(GriffinModel *m) {
    expect(griffin_set_weights(m, WEIGHTS_FP32) < 0 && griffin_weight_format(m) == WEIGHTS_FP32, "back to fp32");
    int t = param_table_find(&m->table, "blocks.1.mlp_block.ffw_down.weight");
    float *v = m->params + m->table.t[t].offset + 3, keep = *v;
    *v = NAN;
    expect(griffin_set_weights(m, WEIGHTS_INT8) == t && griffin_weight_format(m) == WEIGHTS_FP32,
           "int8: a NaN is refused, naming its tensor; the model stays fp32");
    expect(griffin_set_weights(m, WEIGHTS_BF16) == t, "bf16: a NaN is refused, naming its tensor");
    *v = 3.4e38f; /* finite, but rounds to infinity in bf16 */
    expect(griffin_set_weights(m, WEIGHTS_BF16) == t, "bf16: a value beyond its range is refused");
    expect(griffin_set_weights(m, WEIGHTS_INT8) < 0, "int8: the same value is finite: accepted");
    *v = keep;
    int ok = 0, bad = 0;
    WeightFormat f;
    ok = weight_format_parse("bf16", &f) == 0 && f == WEIGHTS_BF16 && weight_format_parse("int8", &f) == 0 &&
         f == WEIGHTS_INT8 && weight_format_parse("fp32", &f) == 0 && f == WEIGHTS_FP32;
    bad = weight_format_parse("int4", &f) == 0 || weight_format_parse("BF16", &f) == 0 || weight_format_parse("", &f) == 0;
    expect(ok && !bad, "format names: fp32, bf16, int8 parse; int4, BF16 and the empty name do not");
}

int main(void) {
    check_kernels();
    GriffinModel *m = tiny_model();
    check_conversion(m, WEIGHTS_BF16);
    check_conversion(m, WEIGHTS_INT8);
    check_refusal(m);
    griffin_free(m);
    printf("test_gemv_narrow: %s\n", fails ? "FAILED" : "ok");
    return fails ? 1 : 0;
}
