/* Gated GeLU-tanh MLP (docs/architecture.md §6; reference: recurrentgemma torch
 * modules.MLPBlock). Pitfall 16: GeLU on branch 0 (ffw_up.w[0]), which multiplies the linear
 * branch 1; ffw_up is stored (in, out) with bias b[c,0,0,:]; ffw_down is a torch Linear. */
#include <string.h>

#include "layers.h"
#include "vmath.h"

/* y [N,F] = x [N,D] · w [D,F] + b [F]   (in, out layout) */
static void matmul_io_bias(float *y, const float *x, const float *w, const float *b, int N, int D, int F) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) memcpy(y + (size_t)n * F, b, sizeof(float) * (size_t)F);
    gemm(0, 0, N, F, D, x, D, w, F, 1.0f, y, F);
}

/* x [N,D]; w_up [2,D,F], b_up [2,1,1,F]; w_down [D,F], b_down [D]
 * saved: gate_pre [N,F] = x·w_up[0] + b_up[0], up_pre [N,F] = x·w_up[1] + b_up[1],
 *        prod [N,F] = gelu(gate_pre) ⊙ up_pre
 * out [N,D] = prod · w_downᵀ + b_down */
void mlp_up_products(float *gate_pre, float *up_pre, const float *x, const float *w_up, const float *b_up, int N,
                     int D, int F) {
    matmul_io_bias(gate_pre, x, w_up, b_up, N, D, F);
    matmul_io_bias(up_pre, x, w_up + (size_t)D * F, b_up + F, N, D, F);
}

void mlp_forward_up(float *gate_pre, float *up_pre, float *prod, const float *x, const float *w_up,
                    const float *b_up, int N, int D, int F) {
    mlp_up_products(gate_pre, up_pre, x, w_up, b_up, N, D, F);
    vm_gelu_mul(prod, gate_pre, up_pre, (size_t)N * F);
}

void mlp_forward(float *out, float *gate_pre, float *up_pre, float *prod, const float *x,
                 const float *w_up, const float *b_up, const float *w_down, const float *b_down,
                 int N, int D, int F) {
    mlp_forward_up(gate_pre, up_pre, prod, x, w_up, b_up, N, D, F);
    linear_forward(out, prod, w_down, b_down, N, F, D);
}

/* forward: out = (gelu(x·w0 + b0) ⊙ (x·w1 + b1)) · w_downᵀ + b_down
 * scratch (overwritten): dprod, dgate, dup [N,F]
 *   dprod = dout · w_down;  dgate = dprod ⊙ up ⊙ gelu'(gate_pre);  dup = dprod ⊙ gelu(gate_pre)
 *   dx += dgate · w0ᵀ + dup · w1ᵀ;  dw_c += xᵀ · d(branch c);  db_c += Σ_n d(branch c) */
void mlp_backward(float *dx, float *dw_up, float *db_up, float *dw_down, float *db_down,
                  float *dprod, float *dgate, float *dup, const float *dout, const float *x,
                  const float *gate_pre, const float *up_pre, const float *prod, const float *w_up,
                  const float *w_down, int N, int D, int F) {
    size_t NF = (size_t)N * F;
    memset(dprod, 0, NF * sizeof(float));
    gemm_profile_kind(GEMM_MLP_DOWN, 1);
    linear_backward(dprod, dw_down, db_down, dout, prod, w_down, N, F, D);
    vm_gelu_mul_backward(dgate, dup, dprod, gate_pre, up_pre, NF);
    mlp_backward_up(dx, dw_up, db_up, dgate, dup, x, w_up, N, D, F);
}

void mlp_backward_up(float *dx, float *dw_up, float *db_up, const float *dgate, const float *dup, const float *x,
                     const float *w_up, int N, int D, int F) {
    gemm_profile_kind(GEMM_MLP_UP, 1);
    const float *br[2] = {dgate, dup};
    for (int c = 0; c < 2; c++) {
        const float *w = w_up + (size_t)c * D * F;
        gemm(0, 1, N, D, F, br[c], F, w, F, 1.0f, dx, D);
        if (dw_up) gemm(1, 0, D, F, N, x, D, br[c], F, 1.0f, dw_up + (size_t)c * D * F, F);
        if (db_up) colsum_accumulate(db_up + (size_t)c * F, br[c], N, F, F);
    }
}
