#include "train/tools/perf.h"

#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <time.h>

#include "common/check.h"
#include "common/sys.h"


/* best of a few repetitions of one M x K x N product */
static double sgemm_rate(int M, int K, int N) {
    float *a = alignedCallocCheck(sizeof(float) * (size_t)M * K), *b = alignedCallocCheck(sizeof(float) * (size_t)K * N);
    float *c = alignedCallocCheck(sizeof(float) * (size_t)M * N);
    for (size_t i = 0; i < (size_t)M * K; i++) a[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < (size_t)K * N; i++) b[i] = (float)(i % 5) * 0.1f;
    double best = 0.0;
    for (int rep = 0; rep < 4; rep++) {
        double t0 = now_seconds();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
        double dt = now_seconds() - t0;
        double g = 2.0 * M * N * K / dt / 1e9;
        best = g > best ? g : best;
    }
    free(a);
    free(b);
    free(c);
    return best;
}

double sgemm_peak_gflops(int M, int K, int N) {
    double a = sgemm_rate(M, K, N), b = sgemm_rate(1024, 1024, 1024);
    return a > b ? a : b;
}

/* ---- the FMA peak: NACC independent accumulators per thread, each updated by one FMA per
 * iteration, so the loop is bound by the FMA units' throughput, not by their latency (4 cycles
 * × 2 pipes needs ≥ 8 chains; 12 leave room). Nothing touches memory inside the loop. */
enum { FMA_NACC = 12, FMA_ITERS = 1 << 23 };

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

__attribute__((target("avx2,fma"))) static float fma_loop_avx2(float seed) {
    __m256 acc[FMA_NACC];
    __m256 mul = _mm256_set1_ps(0.999999f), add = _mm256_set1_ps(1e-7f);
    for (int k = 0; k < FMA_NACC; k++) acc[k] = _mm256_set1_ps(seed + (float)k);
    for (int it = 0; it < FMA_ITERS; it++)
        for (int k = 0; k < FMA_NACC; k++) acc[k] = _mm256_fmadd_ps(acc[k], mul, add);
    __m256 s = acc[0];
    for (int k = 1; k < FMA_NACC; k++) s = _mm256_add_ps(s, acc[k]);
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0];
}

__attribute__((target("avx512f"))) static float fma_loop_avx512(float seed) {
    __m512 acc[FMA_NACC];
    __m512 mul = _mm512_set1_ps(0.999999f), add = _mm512_set1_ps(1e-7f);
    for (int k = 0; k < FMA_NACC; k++) acc[k] = _mm512_set1_ps(seed + (float)k);
    for (int it = 0; it < FMA_ITERS; it++)
        for (int k = 0; k < FMA_NACC; k++) acc[k] = _mm512_fmadd_ps(acc[k], mul, add);
    __m512 s = acc[0];
    for (int k = 1; k < FMA_NACC; k++) s = _mm512_add_ps(s, acc[k]);
    return _mm512_reduce_add_ps(s);
}

/* GFLOP/s of one loop run at once on every thread (wall time of the slowest), best of 5 */
static double fma_rate(int lanes) {
    double best = 0.0;
    volatile float sink = 0.0f;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = 0.0, t1 = 0.0;
        int nt = 1;
#pragma omp parallel
        {
#pragma omp single
            nt = omp_get_num_threads();
#pragma omp barrier
#pragma omp master
            t0 = now_seconds();
            float r = lanes == 16 ? fma_loop_avx512((float)omp_get_thread_num()) : fma_loop_avx2((float)omp_get_thread_num());
#pragma omp atomic
            sink += r;
#pragma omp barrier
#pragma omp master
            t1 = now_seconds();
        }
        double g = 2.0 * lanes * FMA_NACC * (double)FMA_ITERS * nt / (t1 - t0) / 1e9;
        best = g > best ? g : best;
    }
    return best;
}

FmaPeak fma_peak_gflops(void) {
    FmaPeak p = {0.0, 0.0, 0.0, "none"};
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) p.avx2 = fma_rate(8), p.peak = p.avx2, p.isa = "avx2";
    if (__builtin_cpu_supports("avx512f")) p.avx512 = fma_rate(16);
    if (p.avx512 > p.peak) p.peak = p.avx512, p.isa = "avx512";
    return p;
}
#else
FmaPeak fma_peak_gflops(void) { return (FmaPeak){0.0, 0.0, 0.0, "none"}; }
#endif
