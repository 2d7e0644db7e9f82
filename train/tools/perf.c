#include "train/tools/perf.h"

#include <cblas.h>
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
