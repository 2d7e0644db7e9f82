/* Reward head and Bradley-Terry loss (see rlhf.h). Reference: the scalar value head of
 * InstructGPT-style reward models, read on the last token of the response; the margin term is
 * Llama 2's (Touvron et al. 2023, eq. 2). Pitfall: the score is taken on the row of the
 * closing <end_of_turn>, not on a padding row after it. */
#include "rlhf.h"

#include <math.h>

void reward_head_forward(float *r, const float *hidden, const int *rows, const float *w, const float *b, int M, int D) {
    /* r [M], hidden [N,D], rows [M], w [D], b [1] */
    for (int m = 0; m < M; m++) {
        const float *h = hidden + (size_t)rows[m] * D;
        double s = 0.0;
        for (int d = 0; d < D; d++) s += (double)h[d] * (double)w[d];
        r[m] = (float)(s + (double)b[0]);
    }
}

void reward_head_backward(float *dhidden, float *dw, float *db, const float *dr, const float *hidden,
                          const int *rows, const float *w, int M, int D) {
    /* forward: r_m = w · h[rows_m] + b */
    for (int m = 0; m < M; m++) {
        const float *h = hidden + (size_t)rows[m] * D;
        float *dh = dhidden + (size_t)rows[m] * D;
        float g = dr[m];
        for (int d = 0; d < D; d++) {
            dh[d] += g * w[d];
            if (dw) dw[d] += g * h[d];
        }
        if (db) db[0] += g;
    }
}

double rlhf_softplus(double x) { return x < 0 ? log1p(exp(x)) : x + log1p(exp(-x)); }
double rlhf_sigmoid(double z) { return z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z)); }

double bt_loss_forward(const float *rc, const float *rr, float margin, int M, int *correct) {
    double total = 0.0;
    int ok = 0;
    for (int m = 0; m < M; m++) {
        double z = (double)rc[m] - (double)rr[m] - (double)margin;
        total += rlhf_softplus(-z); /* −log σ(z) */
        ok += rc[m] > rr[m];
    }
    if (correct) *correct = ok;
    return total;
}

void bt_loss_backward(float *drc, float *drr, const float *rc, const float *rr, float margin, float scale, int M) {
    /* forward: ℓ_m = −log σ(z_m), z_m = rc_m − rr_m − margin; dℓ/dz = −σ(−z) */
    for (int m = 0; m < M; m++) {
        double z = (double)rc[m] - (double)rr[m] - (double)margin;
        float g = (float)((double)scale * rlhf_sigmoid(-z));
        drc[m] -= g;
        drr[m] += g;
    }
}
