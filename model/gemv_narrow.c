/* Decode-time matrix products over narrow weights (formats in weights.h): B (1..16) rows
 * times a bf16 or int8 weight matrix in torch Linear layout, one pass over the weights.
 *
 * The structure of gemv_linear (gemv.c): R weight rows × BT batch rows of 8-lane fp32
 * accumulators, one horizontal sum per output, OpenMP over groups of output rows. A weight
 * is widened to fp32 in registers (bf16: a 16-bit shift; int8: a sign-extending convert),
 * multiplied by the fp32 input in an FMA, and an int8 row's sum is multiplied by its scale at
 * the end: y = s · Σ_k x_k q_k (+ b). The activations stay fp32.
 *
 * Every output is summed in lanes j = k mod 8 by FMA in k order, the last partial vector
 * zero-padded, then ((l0+l4) + (l2+l6)) + ((l1+l5) + (l3+l7)); the scalar code (a build
 * without AVX2, or GRIFFIN_SCALAR: tests/test_gemv_narrow.c compiles this file a second time
 * that way) performs exactly these operations, so both give the same bits. The file is built
 * with -ffp-contract=off and writes its FMAs out. An output depends on neither the thread
 * count nor the other rows of the batch. */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "gemv.h"

#if defined(__AVX2__) && defined(__FMA__) && !defined(GRIFFIN_SCALAR)
#define NARROW_AVX2 1
#include <immintrin.h>
#endif

enum { FMT_BF16 = 0, FMT_INT8 = 1 };
#define BT_MAX 4 /* batch rows per tile, as gemv_linear */

static inline int min_int(int a, int b) { return a < b ? a : b; }

/* the output from its sum: s (bf16) or s·scale (int8), plus the bias */
static inline float finish(float s, const float *scale, const float *b, int n, int fmt) {
    if (fmt == FMT_INT8) s = s * scale[n];
    return b ? s + b[n] : s;
}

#ifdef NARROW_AVX2

/* lanes i < n set */
static inline __m256i tail_mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* ((v0+v4) + (v2+v6)) + ((v1+v5) + (v3+v7)) */
static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* software prefetch PF_AHEAD bytes ahead in each weight row, once per 64-byte line: the
 * hardware prefetchers alone left one core's stream of narrow weights well short of what it
 * can read (bench sample --weights), with fp32 weights moving twice the bytes per iteration */
#define PF_AHEAD 4096
#define PF_EVERY(fmt) ((fmt) == FMT_BF16 ? 32 : 64)
static inline const char *wbyte(const void *w, size_t i, const int fmt) {
    return (const char *)w + i * (fmt == FMT_BF16 ? 2 : 1);
}

/* 8 weights w[i … i+7] widened to fp32 */
static inline __m256 load8(const void *w, size_t i, const int fmt) {
    if (fmt == FMT_BF16) {
        __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)w + i));
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
    __m128i q = _mm_loadl_epi64((const __m128i *)((const int8_t *)w + i));
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q));
}

/* the last n < 8 weights w[i … i+n−1], zero-padded */
static inline __m256 load_tail(const void *w, size_t i, int n, const int fmt) {
    uint16_t pad[8] = {0};
    memcpy(pad, fmt == FMT_BF16 ? (const void *)((const uint16_t *)w + i) : (const void *)((const int8_t *)w + i),
           (size_t)n * (fmt == FMT_BF16 ? 2 : 1));
    return load8(pad, 0, fmt);
}

/* y [BT,NO] (rows n0 … n0+R−1) = x [BT,NI] · w[n0 … n0+R−1, :]ᵀ (narrow, widened) → finish;
 * R, BT and fmt are constants after inlining, so the R·BT accumulators stay in registers */
static inline __attribute__((always_inline)) void narrow_tile(float *y, const float *x, const void *w,
                                                             const float *scale, const float *b, int NI, int NO,
                                                             int n0, const int R, const int BT, const int fmt) {
    __m256 acc[4][4];
    size_t base[4];
    for (int r = 0; r < R; r++) {
        base[r] = (size_t)(n0 + r) * NI;
        for (int i = 0; i < BT; i++) acc[r][i] = _mm256_setzero_ps();
    }
    int k = 0;
    for (; k + 8 <= NI; k += 8) {
        __m256 wv[4];
        if ((k & (PF_EVERY(fmt) - 1)) == 0)
            for (int r = 0; r < R; r++) _mm_prefetch(wbyte(w, base[r] + k, fmt) + PF_AHEAD, _MM_HINT_T0);
        for (int r = 0; r < R; r++) wv[r] = load8(w, base[r] + k, fmt);
        for (int i = 0; i < BT; i++) {
            __m256 xv = _mm256_loadu_ps(x + (size_t)i * NI + k);
            for (int r = 0; r < R; r++) acc[r][i] = _mm256_fmadd_ps(wv[r], xv, acc[r][i]);
        }
    }
    if (k < NI) {
        __m256i mk = tail_mask(NI - k);
        __m256 wv[4];
        for (int r = 0; r < R; r++) wv[r] = load_tail(w, base[r] + k, NI - k, fmt);
        for (int i = 0; i < BT; i++) {
            __m256 xv = _mm256_maskload_ps(x + (size_t)i * NI + k, mk);
            for (int r = 0; r < R; r++) acc[r][i] = _mm256_fmadd_ps(wv[r], xv, acc[r][i]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int i = 0; i < BT; i++) y[(size_t)i * NO + n0 + r] = finish(hsum(acc[r][i]), scale, b, n0 + r, fmt);
}

#define NARROW_CASE(R, BT, F) \
    case (R) * 16 + (BT): narrow_tile(y, x, w, scale, b, NI, NO, n0, R, BT, F); break;
#define NARROW_CASES(R, F) NARROW_CASE(R, 1, F) NARROW_CASE(R, 2, F) NARROW_CASE(R, 3, F) NARROW_CASE(R, 4, F)

static void rows_bf16(float *y, const float *x, const void *w, const float *scale, const float *b, int NI, int NO,
                      int n0, int R, int BT) {
    switch (R * 16 + BT) {
        NARROW_CASES(1, FMT_BF16)
        NARROW_CASES(3, FMT_BF16)
        NARROW_CASES(4, FMT_BF16)
    default: break;
    }
}

static void rows_int8(float *y, const float *x, const void *w, const float *scale, const float *b, int NI, int NO,
                      int n0, int R, int BT) {
    switch (R * 16 + BT) {
        NARROW_CASES(1, FMT_INT8)
        NARROW_CASES(3, FMT_INT8)
        NARROW_CASES(4, FMT_INT8)
    default: break;
    }
}

/* rows n0 … n0+R−1 of y for BT batch rows */
static void narrow_rows(float *y, const float *x, const void *w, const float *scale, const float *b, int NI, int NO,
                        int n0, int R, int BT, int fmt) {
    if (fmt == FMT_BF16) rows_bf16(y, x, w, scale, b, NI, NO, n0, R, BT);
    else rows_int8(y, x, w, scale, b, NI, NO, n0, R, BT);
}

#else /* scalar: one lane of the vector code at a time, the same operations in the same order */

static inline float widen(const void *w, size_t i, int fmt) {
    if (fmt == FMT_INT8) return (float)((const int8_t *)w)[i];
    uint32_t u = (uint32_t)((const uint16_t *)w)[i] << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Σ_k x[k]·w[base+k] in the 8 lanes of the vector code */
static float narrow_dot(const float *x, const void *w, size_t base, int NI, int fmt) {
    float l[8] = {0};
    int k = 0;
    for (; k + 8 <= NI; k += 8)
        for (int j = 0; j < 8; j++) l[j] = fmaf(widen(w, base + (size_t)(k + j), fmt), x[k + j], l[j]);
    if (k < NI)
        for (int j = 0; j < 8; j++) {
            int in = k + j < NI;
            l[j] = fmaf(in ? widen(w, base + (size_t)(k + j), fmt) : 0.0f, in ? x[k + j] : 0.0f, l[j]);
        }
    return ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
}

static void narrow_rows(float *y, const float *x, const void *w, const float *scale, const float *b, int NI, int NO,
                        int n0, int R, int BT, int fmt) {
    for (int r = 0; r < R; r++)
        for (int i = 0; i < BT; i++)
            y[(size_t)i * NO + n0 + r] =
                finish(narrow_dot(x + (size_t)i * NI, w, (size_t)(n0 + r) * NI, NI, fmt), scale, b, n0 + r, fmt);
}

#endif

/* x [B,NI], w [NO,NI] (fmt), scale [NO] (int8), b [NO] or NULL -> y [B,NO] (overwritten).
 * Groups of 4·R output rows are the parallel unit, as in gemv_linear. */
static void narrow_linear(float *y, const float *x, const void *w, const float *scale, const float *b, int B, int NI,
                          int NO, int fmt) {
    int R = min_int(B, BT_MAX) <= 2 ? 4 : 3, G = 4 * R;
    int ngroups = (NO + G - 1) / G;
#pragma omp parallel for schedule(static)
    for (int g = 0; g < ngroups; g++) {
        int n1 = min_int(NO, (g + 1) * G);
        for (int n0 = g * G; n0 < n1;) {
            int r = n0 + R <= n1 ? R : 1;
            for (int b0 = 0; b0 < B; b0 += BT_MAX)
                narrow_rows(y + (size_t)b0 * NO, x + (size_t)b0 * NI, w, scale, b, NI, NO, n0, r,
                            min_int(BT_MAX, B - b0), fmt);
            n0 += r;
        }
    }
}

/* x [B,NI], w [NO,NI] bf16, b [NO] or NULL -> y [B,NO] */
void gemv_linear_bf16(float *y, const float *x, const uint16_t *w, const float *b, int B, int NI, int NO) {
    narrow_linear(y, x, w, NULL, b, B, NI, NO, FMT_BF16);
}

/* x [B,NI], w [NO,NI] int8, scale [NO], b [NO] or NULL -> y [B,NO] */
void gemv_linear_int8(float *y, const float *x, const int8_t *w, const float *scale, const float *b, int B, int NI,
                      int NO) {
    narrow_linear(y, x, w, scale, b, B, NI, NO, FMT_INT8);
}
