/* RMSNorm with the (1 + scale) gain, eps 1e-6 inside the rsqrt (docs/architecture.md §4;
 * reference: recurrentgemma torch layers.RMSNorm). Pitfall 3: scale starts at 0 = gain 1. */
#include <math.h>

#include "layers.h"

#define RMS_EPS 1e-6f

/* x [N,D], scale [D] -> out [N,D] = x * rstd * (1 + scale);  rstd [N] saved */
void rmsnorm_forward(float *out, float *rstd, const float *x, const float *scale, int N, int D) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * D;
        float *o = out + (size_t)n * D;
        float ss = 0.0f;
        for (int j = 0; j < D; j++) ss += xr[j] * xr[j];
        float r = 1.0f / sqrtf(ss / (float)D + RMS_EPS);
        rstd[n] = r;
        for (int j = 0; j < D; j++) o[j] = xr[j] * r * (1.0f + scale[j]);
    }
}

/* forward: out = x * r * (1 + s),  r = (mean(x²) + eps)^(-1/2)
 *   dx     += r * g⊙(1+s) − x * r³/D * Σ_j g_j (1+s_j) x_j
 *   dscale += Σ_n dout ⊙ x * r   (column blocks, rows in order: deterministic) */
void rmsnorm_backward(float *dx, float *dscale, const float *dout, const float *x, const float *rstd,
                      const float *scale, int N, int D) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * D, *g = dout + (size_t)n * D;
        float *d = dx + (size_t)n * D;
        float r = rstd[n], dot = 0.0f;
        for (int j = 0; j < D; j++) dot += g[j] * (1.0f + scale[j]) * xr[j];
        float c = dot * r * r * r / (float)D;
        for (int j = 0; j < D; j++) d[j] += r * g[j] * (1.0f + scale[j]) - c * xr[j];
    }
    if (!dscale) return; /* a frozen scale */
    enum { CB = 64 };
    int nblocks = (D + CB - 1) / CB;
#pragma omp parallel for schedule(static)
    for (int blk = 0; blk < nblocks; blk++) {
        int j0 = blk * CB, j1 = j0 + CB < D ? j0 + CB : D;
        float acc[CB] = {0};
        for (int n = 0; n < N; n++) {
            const float *xr = x + (size_t)n * D, *g = dout + (size_t)n * D;
            float r = rstd[n];
            for (int j = j0; j < j1; j++) acc[j - j0] += g[j] * xr[j] * r;
        }
        for (int j = j0; j < j1; j++) dscale[j] += acc[j - j0];
    }
}
