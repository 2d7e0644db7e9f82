/* torch Linear on row-major buffers through cblas_sgemm.
 * Mirrors torch.nn.Linear: y = x Wᵀ + b with W stored [out, in]. */
#include <cblas.h>
#include <string.h>

#include "layers.h"

/* x [N,NI], w [NO,NI], b [NO] or NULL  ->  y [N,NO] (overwritten) */
void linear_forward(float *y, const float *x, const float *w, const float *b, int N, int NI, int NO) {
    if (b) {
#pragma omp parallel for schedule(static)
        for (int n = 0; n < N; n++) memcpy(y + (size_t)n * NO, b, sizeof(float) * (size_t)NO);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, NO, NI, 1.0f, x, NI, w, NI, b ? 1.0f : 0.0f, y, NO);
}

/* forward: y = x wᵀ + b.  dy [N,NO], x [N,NI], w [NO,NI]
 *   dx [N,NI] += dy w      (skipped if dx NULL)
 *   dw [NO,NI] += dyᵀ x
 *   db [NO]   += Σ_n dy    (skipped if db NULL) */
void linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                     int N, int NI, int NO) {
    if (dx) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, NI, NO, 1.0f, dy, NO, w, NI, 1.0f, dx, NI);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, NO, NI, N, 1.0f, dy, NO, x, NI, 1.0f, dw, NI);
    if (db) colsum_accumulate(db, dy, N, NO, NO);
}

/* db [NO] += Σ_n dy[n, :]; dy has row stride ldy. Each thread owns a column block and sums
 * rows in order, so the result does not depend on the thread count. */
void colsum_accumulate(float *db, const float *dy, int N, int NO, int ldy) {
    enum { CB = 64 };
    int nblocks = (NO + CB - 1) / CB;
#pragma omp parallel for schedule(static)
    for (int blk = 0; blk < nblocks; blk++) {
        int j0 = blk * CB, j1 = j0 + CB < NO ? j0 + CB : NO;
        float acc[CB] = {0};
        for (int n = 0; n < N; n++) {
            const float *row = dy + (size_t)n * ldy;
            for (int j = j0; j < j1; j++) acc[j - j0] += row[j];
        }
        for (int j = j0; j < j1; j++) db[j] += acc[j - j0];
    }
}
