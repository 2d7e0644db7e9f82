/* bf16 matrix products with fp32 accumulation: packing, tiling and two microkernels
 * (see gemm_bf16.h for the contract).
 *
 * Layout (GotoBLAS-style, one packing pass per call):
 * - op(A) is cut into panels of MR rows, stored [K/2][MR][2] bf16: the pair (k even, k odd)
 *   of one row is one 32-bit word, broadcast to every lane;
 * - op(B) is cut into panels of NR columns, stored [K/2][NR][2]: one k-pair of NR columns is
 *   two 512-bit vectors, whose 32-bit lane j holds (B[k,j], B[k+1,j]);
 * - vdpbf16ps then adds a[k+1]·b[k+1] and a[k]·b[k] into lane j, for k = 0, 2, 4, ...
 * Odd K is padded with a zero k; partial panels with zero rows/columns; both operands are
 * packed in chunks of at most chunk_bytes. Each task is a block of MC_PANELS A-panels times
 * one B-panel, computed over the whole K by one thread. */
#include "gemm_bf16.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"

#if defined(GRIFFIN_HAVE_AVX512BF16)
#include <immintrin.h>
#endif

enum { MR = 12, NR = 32, MC_PANELS = 4, SERIAL_BELOW = 1 << 21 /* M·N·K */ };
/* packed op(A), op(B) per pass: bounds the scratch for a huge K; tests make it small */
static long chunk_bytes = 32L << 20;

void gemm_bf16_set_chunk_bytes(long bytes) { chunk_bytes = bytes > 0 ? bytes : 32L << 20; }

uint16_t bf16_from_float(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float bf16_to_float(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

int gemm_bf16_cpu_supported(void) {
#if defined(GRIFFIN_HAVE_AVX512BF16)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
#else
    return 0;
#endif
}

/* ---- packing ---- */

/* panel of rows m0.. of op(A) (M x K): dst [Kp/2][MR][2] */
static void pack_a(uint16_t *dst, const float *A, int lda, int ta, int m0, int M, int K, int Kp) {
    int mr = M - m0 < MR ? M - m0 : MR;
    memset(dst, 0, sizeof(uint16_t) * (size_t)MR * (size_t)Kp);
    if (!ta) {
        for (int r = 0; r < mr; r++) {
            const float *row = A + (size_t)(m0 + r) * lda;
            for (int k = 0; k < K; k++) dst[(size_t)(k >> 1) * MR * 2 + (size_t)r * 2 + (k & 1)] = bf16_from_float(row[k]);
        }
    } else {
        for (int k = 0; k < K; k++) {
            const float *row = A + (size_t)k * lda + m0;
            uint16_t *d = dst + (size_t)(k >> 1) * MR * 2 + (k & 1);
            for (int r = 0; r < mr; r++) d[2 * r] = bf16_from_float(row[r]);
        }
    }
}

/* panel of columns n0.. of op(B) (K x N): dst [Kp/2][NR][2] */
static void pack_b(uint16_t *dst, const float *B, int ldb, int tb, int n0, int N, int K, int Kp) {
    int nr = N - n0 < NR ? N - n0 : NR;
    memset(dst, 0, sizeof(uint16_t) * (size_t)NR * (size_t)Kp);
    if (!tb) {
        for (int k = 0; k < K; k++) {
            const float *row = B + (size_t)k * ldb + n0;
            uint16_t *d = dst + (size_t)(k >> 1) * NR * 2 + (k & 1);
            for (int j = 0; j < nr; j++) d[2 * j] = bf16_from_float(row[j]);
        }
    } else {
        for (int j = 0; j < nr; j++) {
            const float *col = B + (size_t)(n0 + j) * ldb;
            for (int k = 0; k < K; k++) dst[(size_t)(k >> 1) * NR * 2 + (size_t)j * 2 + (k & 1)] = bf16_from_float(col[k]);
        }
    }
}

/* ---- microkernels: c [mr,nr] (row stride ldc) = acc + beta·c, acc = Σ_k a[r,k] b[k,j] ---- */

/* acc tile [MR][NR] -> C, only the valid mr x nr corner; beta 0 never reads C */
static void store_tile(float *c, int ldc, const float *acc, int mr, int nr, float beta) {
    for (int r = 0; r < mr; r++) {
        float *crow = c + (size_t)r * ldc;
        const float *arow = acc + r * NR;
        if (beta == 0.0f)
            for (int j = 0; j < nr; j++) crow[j] = arow[j];
        else
            for (int j = 0; j < nr; j++) crow[j] = arow[j] + beta * crow[j];
    }
}

/* vdpbf16ps's definition, lane by lane: acc += a[2i+1]·b[2i+1]; acc += a[2i]·b[2i]. Each
 * product of two bf16 numbers is exact in fp32, so fused or not the sums round the same.
 * Generic vectors of 8 floats (GCC/Clang vector extension, any target): a 32-bit word of a
 * packed pair holds b[2i] in its low half, so b[2i] = word << 16 and b[2i+1] = word & 0xffff0000.
 * Two rows at a time keep their 2 x 32 sums in 8 vectors across the whole K. */
typedef float v8f __attribute__((vector_size(32)));
typedef uint32_t v8u __attribute__((vector_size(32)));

static void kernel_portable(const uint16_t *pa, const uint16_t *pb, int kpairs, float *c, int ldc, int mr, int nr,
                            float beta) {
    float acc[MR * NR];
    for (int r = 0; r < MR; r += 2) {
        v8f s0[NR / 8] = {0}, s1[NR / 8] = {0};
        for (int kp = 0; kp < kpairs; kp++) {
            const uint16_t *a = pa + (size_t)kp * MR * 2 + r * 2;
            const uint16_t *b = pb + (size_t)kp * NR * 2;
            float x0 = bf16_to_float(a[0]), x1 = bf16_to_float(a[1]); /* row r: k even, k odd */
            float y0 = bf16_to_float(a[2]), y1 = bf16_to_float(a[3]); /* row r + 1 */
            for (int q = 0; q < NR / 8; q++) {
                v8u w;
                memcpy(&w, b + 16 * q, sizeof w);
                v8u lo = w << 16, hi = w & 0xffff0000u;
                v8f b0, b1;
                memcpy(&b0, &lo, sizeof b0);
                memcpy(&b1, &hi, sizeof b1);
                s0[q] = s0[q] + x1 * b1;
                s0[q] = s0[q] + x0 * b0;
                s1[q] = s1[q] + y1 * b1;
                s1[q] = s1[q] + y0 * b0;
            }
        }
        memcpy(acc + r * NR, s0, sizeof s0);
        memcpy(acc + (r + 1) * NR, s1, sizeof s1);
    }
    store_tile(c, ldc, acc, mr, nr, beta);
}

#if defined(GRIFFIN_HAVE_AVX512BF16)
/* MR x NR = 12 x 32: 24 zmm accumulators, 2 zmm of B per k-pair, one broadcast per row */
__attribute__((target("avx512f,avx512bf16"))) static void kernel_avx512(const uint16_t *pa, const uint16_t *pb,
                                                                        int kpairs, float *c, int ldc, int mr,
                                                                        int nr, float beta) {
    __m512 acc0[MR], acc1[MR];
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) acc0[r] = acc1[r] = _mm512_setzero_ps();
    for (int kp = 0; kp < kpairs; kp++) {
        __m512bh b0 = (__m512bh)_mm512_loadu_si512((const void *)(pb + (size_t)kp * NR * 2));
        __m512bh b1 = (__m512bh)_mm512_loadu_si512((const void *)(pb + (size_t)kp * NR * 2 + 32));
        const uint16_t *a = pa + (size_t)kp * MR * 2;
#pragma GCC unroll 12
        for (int r = 0; r < MR; r++) {
            int32_t w;
            memcpy(&w, a + 2 * r, sizeof w);
            __m512bh ar = (__m512bh)_mm512_set1_epi32(w);
            acc0[r] = _mm512_dpbf16_ps(acc0[r], ar, b0);
            acc1[r] = _mm512_dpbf16_ps(acc1[r], ar, b1);
        }
    }
    if (mr == MR && nr == NR) {
        __m512 vb = _mm512_set1_ps(beta);
#pragma GCC unroll 12
        for (int r = 0; r < MR; r++) {
            float *crow = c + (size_t)r * ldc;
            if (beta == 0.0f) {
                _mm512_storeu_ps(crow, acc0[r]);
                _mm512_storeu_ps(crow + 16, acc1[r]);
            } else {
                _mm512_storeu_ps(crow, _mm512_add_ps(acc0[r], _mm512_mul_ps(vb, _mm512_loadu_ps(crow))));
                _mm512_storeu_ps(crow + 16, _mm512_add_ps(acc1[r], _mm512_mul_ps(vb, _mm512_loadu_ps(crow + 16))));
            }
        }
        return;
    }
    float tile[MR * NR];
    for (int r = 0; r < MR; r++) {
        _mm512_storeu_ps(tile + r * NR, acc0[r]);
        _mm512_storeu_ps(tile + r * NR + 16, acc1[r]);
    }
    store_tile(c, ldc, tile, mr, nr, beta);
}
#endif

/* ---- driver ---- */

/* per calling thread, grows to the largest call, never shrinks */
static _Thread_local uint16_t *scratch;
static _Thread_local size_t scratch_len;

static uint16_t *scratch_get(size_t n) {
    if (n > scratch_len) {
        free(scratch);
        size_t bytes = (n * sizeof(uint16_t) + 63) / 64 * 64;
        scratch = aligned_alloc(64, bytes);
        CHECK(scratch, "gemm_bf16: out of memory for %zu bytes of packed operands", bytes);
        scratch_len = n;
    }
    return scratch;
}

void gemm_bf16(GemmBf16Kernel kernel, int ta, int tb, int M, int N, int K, const float *A, int lda,
               const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) { /* empty sum: C = beta·C */
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++) C[(size_t)m * ldc + n] = beta == 0.0f ? 0.0f : beta * C[(size_t)m * ldc + n];
        return;
    }
    CHECK(kernel == GEMM_BF16_PORTABLE || gemm_bf16_cpu_supported(),
          "gemm_bf16: the AVX-512 BF16 kernel needs a CPU with avx512_bf16 (and a build that has it)");
    int Kp = (K + 1) & ~1, kpairs = Kp / 2;
    int npa = (M + MR - 1) / MR, npb = (N + NR - 1) / NR;
    /* packed a chunk of panels at a time, at most chunk_bytes each: op(B) in chunks of columns,
     * op(A) in chunks of rows (whole MC blocks); only a huge K (the LM head) needs several */
    long panel_bytes = (long)Kp * (long)sizeof(uint16_t);
    int ca = (int)(chunk_bytes / (panel_bytes * MR) / MC_PANELS * MC_PANELS), cb = (int)(chunk_bytes / (panel_bytes * NR));
    ca = ca < MC_PANELS ? MC_PANELS : ca > npa ? npa : ca;
    cb = cb < 1 ? 1 : cb > npb ? npb : cb;
    size_t a_len = (size_t)ca * MR * (size_t)Kp, b_len = (size_t)cb * NR * (size_t)Kp;
    uint16_t *pa = scratch_get(a_len + b_len), *pb = pa + a_len;
    /* small products on one thread: a team's barriers would cost more than the sums */
    int team = (double)M * N * K >= (double)SERIAL_BELOW;
#pragma omp parallel if (team)
    for (int qc = 0; qc < npb; qc += cb) {
        int qn = npb - qc < cb ? npb - qc : cb;
#pragma omp for schedule(static)
        for (int q = 0; q < qn; q++) pack_b(pb + (size_t)q * NR * Kp, B, ldb, tb, (qc + q) * NR, N, K, Kp);
        for (int pc = 0; pc < npa; pc += ca) {
            int pn = npa - pc < ca ? npa - pc : ca;
            if (qc == 0 || ca < npa) { /* op(A) whole in one chunk: packed once */
#pragma omp for schedule(static)
                for (int p = 0; p < pn; p++) pack_a(pa + (size_t)p * MR * Kp, A, lda, ta, (pc + p) * MR, M, K, Kp);
            }
            /* implicit barriers: every panel is packed before use, used before repacked */
            int nmc = (pn + MC_PANELS - 1) / MC_PANELS;
            long ntasks = (long)nmc * qn;
#pragma omp for schedule(static)
            for (long t = 0; t < ntasks; t++) {
                int ib = (int)(t / qn), q = (int)(t % qn);
                int n0 = (qc + q) * NR, nr = N - n0 < NR ? N - n0 : NR;
                int p1 = (ib + 1) * MC_PANELS < pn ? (ib + 1) * MC_PANELS : pn;
                for (int p = ib * MC_PANELS; p < p1; p++) {
                    int m0 = (pc + p) * MR, mr = M - m0 < MR ? M - m0 : MR;
                    const uint16_t *a = pa + (size_t)p * MR * Kp, *b = pb + (size_t)q * NR * Kp;
                    float *c = C + (size_t)m0 * ldc + n0;
#if defined(GRIFFIN_HAVE_AVX512BF16)
                    if (kernel == GEMM_BF16_AVX512) {
                        kernel_avx512(a, b, kpairs, c, ldc, mr, nr, beta);
                        continue;
                    }
#endif
                    kernel_portable(a, b, kpairs, c, ldc, mr, nr, beta);
                }
            }
        }
    }
}
