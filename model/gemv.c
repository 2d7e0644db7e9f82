/* Decode-time matrix products: B (1..16) rows times a weight matrix, one pass over the weights.
 *
 * sgemm with M = B reaches about half the memory bandwidth on our CPUs; a decode step is
 * nothing but such products (every weight read once per step), so these kernels stream each
 * weight once and apply it to all B rows while it is in registers (B > BT_MAX is done in
 * tiles of BT_MAX rows that re-read the weights from L1).
 * - gemv_linear (w [NO,NI], torch Linear): R weight rows × BT batch rows of 8-lane
 *   accumulators, one horizontal sum per output; OpenMP over groups of output rows.
 * - gemv_io (w [NI,NO], the MLP's ffw_up): each thread owns a contiguous range of columns and
 *   walks the weight rows in chunks of KC, so it reads KC sequential streams; the running sums
 *   live in y between chunks.
 * Each output is summed in an order fixed by the shapes alone (not by the thread count or the
 * batch), so results are deterministic. AVX2 + FMA when the compiler targets them (the Release
 * build uses -march=native), plain C otherwise. 256-bit vectors on purpose: the kernels are
 * bound by memory bandwidth, Zen 3 has no AVX-512 and Zen 4 runs 512-bit FMAs as two 256-bit
 * halves, so wider vectors would not read the weights any faster. */
#include "gemv.h"

#include <omp.h>
#include <stddef.h>

#if defined(__AVX2__) && defined(__FMA__)
#define GEMV_AVX2 1
#include <immintrin.h>
#endif

#define BT_MAX 4 /* batch rows per tile: R·BT accumulators + R weights + 1 input fit the 16 registers */
#define KC 8     /* gemv_io: weight rows per chunk */

static inline int min_int(int a, int b) { return a < b ? a : b; }

#ifdef GEMV_AVX2

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

/* y [BT,NO] (rows n0 … n0+R−1) = x [BT,NI] · w[n0 … n0+R−1, :]ᵀ + b; R and BT are constants
 * after inlining, so the R·BT accumulators stay in registers */
static inline __attribute__((always_inline)) void linear_tile(float *y, const float *x, const float *w,
                                                             const float *b, int NI, int NO, int n0,
                                                             const int R, const int BT) {
    __m256 acc[4][4];
    const float *wr[4];
    for (int r = 0; r < R; r++) {
        wr[r] = w + (size_t)(n0 + r) * NI;
        for (int i = 0; i < BT; i++) acc[r][i] = _mm256_setzero_ps();
    }
    int k = 0;
    for (; k + 8 <= NI; k += 8) {
        __m256 wv[4];
        for (int r = 0; r < R; r++) wv[r] = _mm256_loadu_ps(wr[r] + k);
        for (int i = 0; i < BT; i++) {
            __m256 xv = _mm256_loadu_ps(x + (size_t)i * NI + k);
            for (int r = 0; r < R; r++) acc[r][i] = _mm256_fmadd_ps(wv[r], xv, acc[r][i]);
        }
    }
    if (k < NI) {
        __m256i mk = tail_mask(NI - k);
        __m256 wv[4];
        for (int r = 0; r < R; r++) wv[r] = _mm256_maskload_ps(wr[r] + k, mk);
        for (int i = 0; i < BT; i++) {
            __m256 xv = _mm256_maskload_ps(x + (size_t)i * NI + k, mk);
            for (int r = 0; r < R; r++) acc[r][i] = _mm256_fmadd_ps(wv[r], xv, acc[r][i]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int i = 0; i < BT; i++) {
            float s = hsum(acc[r][i]);
            y[(size_t)i * NO + n0 + r] = b ? s + b[n0 + r] : s;
        }
}

#define LINEAR_CASE(R, BT) \
    case (R) * 16 + (BT): linear_tile(y, x, w, b, NI, NO, n0, R, BT); break;
#define LINEAR_CASES(R) LINEAR_CASE(R, 1) LINEAR_CASE(R, 2) LINEAR_CASE(R, 3) LINEAR_CASE(R, 4)

static void linear_rows(float *y, const float *x, const float *w, const float *b, int NI, int NO, int n0, int R,
                        int BT) {
    switch (R * 16 + BT) {
        LINEAR_CASES(1)
        LINEAR_CASES(3)
        LINEAR_CASES(4)
    default: break;
    }
}

/* y [BT, j0 … j0+8C−1] (row stride ldy) += x [BT, k0 … k0+nk−1] (row stride ldx) ·
 * w [k0 … k0+nk−1, j0 …] (row stride NO); columns from NO on are masked off */
static inline __attribute__((always_inline)) void io_tile(float *y, const float *x, const float *w, int NO,
                                                         int ldx, int ldy, int k0, int nk, int j0,
                                                         const int C, const int BT) {
    __m256 acc[4][4];
    if (j0 + 8 * C <= NO) {
        for (int i = 0; i < BT; i++)
            for (int c = 0; c < C; c++) acc[i][c] = _mm256_loadu_ps(y + (size_t)i * ldy + j0 + 8 * c);
        for (int k = k0; k < k0 + nk; k++) {
            __m256 wv[4];
            const float *wr = w + (size_t)k * NO + j0;
            for (int c = 0; c < C; c++) wv[c] = _mm256_loadu_ps(wr + 8 * c);
            for (int i = 0; i < BT; i++) {
                __m256 xv = _mm256_broadcast_ss(x + (size_t)i * ldx + k);
                for (int c = 0; c < C; c++) acc[i][c] = _mm256_fmadd_ps(wv[c], xv, acc[i][c]);
            }
        }
        for (int i = 0; i < BT; i++)
            for (int c = 0; c < C; c++) _mm256_storeu_ps(y + (size_t)i * ldy + j0 + 8 * c, acc[i][c]);
        return;
    }
    __m256i mk[4];
    for (int c = 0; c < C; c++) mk[c] = tail_mask(NO - j0 - 8 * c);
    for (int i = 0; i < BT; i++)
        for (int c = 0; c < C; c++) acc[i][c] = _mm256_maskload_ps(y + (size_t)i * ldy + j0 + 8 * c, mk[c]);
    for (int k = k0; k < k0 + nk; k++) {
        __m256 wv[4];
        const float *wr = w + (size_t)k * NO + j0;
        for (int c = 0; c < C; c++) wv[c] = _mm256_maskload_ps(wr + 8 * c, mk[c]);
        for (int i = 0; i < BT; i++) {
            __m256 xv = _mm256_broadcast_ss(x + (size_t)i * ldx + k);
            for (int c = 0; c < C; c++) acc[i][c] = _mm256_fmadd_ps(wv[c], xv, acc[i][c]);
        }
    }
    for (int i = 0; i < BT; i++)
        for (int c = 0; c < C; c++) _mm256_maskstore_ps(y + (size_t)i * ldy + j0 + 8 * c, mk[c], acc[i][c]);
}

#define IO_CASE(C, BT) \
    case (C) * 16 + (BT): io_tile(y, x, w, NO, ldx, ldy, k0, nk, j0, C, BT); break;
#define IO_CASES(C) IO_CASE(C, 1) IO_CASE(C, 2) IO_CASE(C, 3) IO_CASE(C, 4)

static void io_block(float *y, const float *x, const float *w, int NO, int ldx, int ldy, int k0, int nk, int j0,
                     int C, int BT) {
    switch (C * 16 + BT) {
        IO_CASES(2)
        IO_CASES(4)
    default: break;
    }
}

float gemv_dot(const float *a, const float *b, int n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    for (; i < n; i += 8) {
        __m256i mk = tail_mask(n - i);
        s0 = _mm256_fmadd_ps(_mm256_maskload_ps(a + i, mk), _mm256_maskload_ps(b + i, mk), s0);
    }
    return hsum(_mm256_add_ps(s0, s1));
}

#else /* portable C: the same loop structure; the compiler vectorises the inner loops */

static void linear_rows(float *y, const float *x, const float *w, const float *b, int NI, int NO, int n0, int R,
                        int BT) {
    for (int r = 0; r < R; r++)
        for (int i = 0; i < BT; i++) {
            float s = gemv_dot(w + (size_t)(n0 + r) * NI, x + (size_t)i * NI, NI);
            y[(size_t)i * NO + n0 + r] = b ? s + b[n0 + r] : s;
        }
}

static void io_block(float *y, const float *x, const float *w, int NO, int ldx, int ldy, int k0, int nk, int j0,
                     int C, int BT) {
    int j1 = min_int(j0 + 8 * C, NO);
    for (int i = 0; i < BT; i++) {
        float *yr = y + (size_t)i * ldy;
        for (int k = k0; k < k0 + nk; k++) {
            float xv = x[(size_t)i * ldx + k];
            const float *wr = w + (size_t)k * NO;
            for (int j = j0; j < j1; j++) yr[j] += xv * wr[j];
        }
    }
}

float gemv_dot(const float *a, const float *b, int n) {
    float s[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) s[j] += a[i + j] * b[i + j];
    for (; i < n; i++) s[i % 8] += a[i] * b[i];
    return ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
}

#endif

/* x [B,NI], w [NO,NI], b [NO] or NULL -> y [B,NO] (overwritten).
 * Groups of 4·R output rows are the parallel unit; inside one, R rows at a time meet every
 * batch tile while they are in L1. */
void gemv_linear(float *y, const float *x, const float *w, const float *b, int B, int NI, int NO) {
    int R = min_int(B, BT_MAX) <= 2 ? 4 : 3, G = 4 * R;
    int ngroups = (NO + G - 1) / G;
#pragma omp parallel for schedule(static)
    for (int g = 0; g < ngroups; g++) {
        int n1 = min_int(NO, (g + 1) * G);
        for (int n0 = g * G; n0 < n1;) {
            int r = n0 + R <= n1 ? R : 1;
            for (int b0 = 0; b0 < B; b0 += BT_MAX)
                linear_rows(y + (size_t)b0 * NO, x + (size_t)b0 * NI, w, b, NI, NO, n0, r, min_int(BT_MAX, B - b0));
            n0 += r;
        }
    }
}

/* x [B,NI] (stride ldx), w [NI,NO], b [NO] or NULL -> y [B,NO] (stride ldy, overwritten).
 * y starts at b (or 0) and takes the rows of w in order, in chunks of KC. */
void gemv_io(float *y, const float *x, const float *w, const float *b, int B, int NI, int NO, int ldx, int ldy) {
    int C = min_int(B, BT_MAX) <= 2 ? 4 : 2, CW = 8 * C;
    int nblk = (NO + CW - 1) / CW;
#pragma omp parallel
    {
        int nth = omp_get_num_threads(), tid = omp_get_thread_num();
        int lo = (int)((long)nblk * tid / nth), hi = (int)((long)nblk * (tid + 1) / nth);
        int j0 = lo * CW, j1 = min_int(NO, hi * CW);
        for (int i = 0; i < B; i++)
            for (int j = j0; j < j1; j++) y[(size_t)i * ldy + j] = b ? b[j] : 0.0f;
        for (int k0 = 0; k0 < NI; k0 += KC) {
            int nk = min_int(KC, NI - k0);
            for (int blk = lo; blk < hi; blk++)
                for (int b0 = 0; b0 < B; b0 += BT_MAX)
                    io_block(y + (size_t)b0 * ldy, x + (size_t)b0 * ldx, w, NO, ldx, ldy, k0, nk, blk * CW, C,
                             min_int(BT_MAX, B - b0));
        }
    }
}
