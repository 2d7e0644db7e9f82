/* LoRA adapters (Hu et al. 2021; PEFT's layout): a frozen linear W [NO,NI] gains a low-rank
 * update, y = x·Wᵀ + s·(x·Aᵀ)·Bᵀ with A [r,NI], B [NO,r] and s = alpha / r. B starts at zero,
 * so an adapted model starts as its base. Backward keeps no activation of its own: u = x·Aᵀ
 * is recomputed from the linear's input x, which the base layer saves anyway. */
#include "lora.h"

#include <stdlib.h>

#include "../common/check.h"
#include "layers.h"

static void scale(float *v, size_t n, float s) {
    for (size_t i = 0; i < n; i++) v[i] *= s;
}

/* x [N,NI], A [r,NI], B [NO,r]; scratch u [N,r]
 * y [N,NO] += s·(x·Aᵀ)·Bᵀ */
void lora_forward(float *y, float *u, const float *x, const float *A, const float *B, float s, int N, int NI, int NO,
                  int r) {
    gemm(0, 1, N, r, NI, x, NI, A, NI, 0.0f, u, r);
    scale(u, (size_t)N * r, s);
    gemm(0, 1, N, NO, r, u, r, B, r, 1.0f, y, NO);
}

/* forward: y = s·(x·Aᵀ)·Bᵀ;  u = s·x·Aᵀ [N,r] (recomputed), du = s·dy·B [N,r] (scratch)
 *   dB [NO,r] += dyᵀ·u;  dA [r,NI] += duᵀ·x;  dx [N,NI] += du·A
 * dA / dB NULL: that adapter part is frozen (its product is skipped) */
void lora_backward(float *dx, float *dA, float *dB, float *u, float *du, const float *dy, const float *x,
                   const float *A, const float *B, float s, int N, int NI, int NO, int r) {
    if (dB) {
        gemm(0, 1, N, r, NI, x, NI, A, NI, 0.0f, u, r);
        scale(u, (size_t)N * r, s);
        gemm(1, 0, NO, r, N, dy, NO, u, r, 1.0f, dB, r);
    }
    gemm(0, 0, N, r, NO, dy, NO, B, r, 0.0f, du, r);
    scale(du, (size_t)N * r, s);
    if (dA) gemm(1, 0, r, NI, N, du, r, x, NI, 1.0f, dA, NI);
    gemm(0, 0, N, NI, r, du, r, A, NI, 1.0f, dx, NI);
}

static inline uint64_t mix64(uint64_t z) { /* splitmix64's finaliser */
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* 1/(1−p) where element j of the key's mask is kept, else 0 */
static inline float keep(uint64_t key, size_t j, float p, float inv) {
    return (float)(mix64(key + 0x9E3779B97F4A7C15ull * (j + 1)) >> 40) * (1.0f / 16777216.0f) >= p ? inv : 0.0f;
}

void lora_dropout(float *out, const float *x, uint64_t key, float p, int N, int NI) {
    const float inv = 1.0f / (1.0f - p);
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++)
        for (int i = 0; i < NI; i++) {
            size_t j = (size_t)n * NI + i;
            out[j] = x[j] * keep(key, j, p, inv);
        }
}

void lora_dropout_add(float *dx, const float *t, uint64_t key, float p, int N, int NI) {
    const float inv = 1.0f / (1.0f - p);
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++)
        for (int i = 0; i < NI; i++) {
            size_t j = (size_t)n * NI + i;
            dx[j] += t[j] * keep(key, j, p, inv);
        }
}

/* W += s·B·A: W [NO,NI] (torch Linear), or with in_out W [NI,NO] (ffw_up's einsum layout) */
void lora_merge(float *W, const float *A, const float *B, float s, int NI, int NO, int r, int in_out) {
    float *sB = mallocCheck(sizeof(float) * (size_t)NO * r);
    for (size_t i = 0; i < (size_t)NO * r; i++) sB[i] = s * B[i];
    if (in_out) gemm(1, 1, NI, NO, r, A, NI, sB, r, 1.0f, W, NO);
    else gemm(0, 0, NO, NI, r, sB, r, A, NI, 1.0f, W, NI);
    free(sB);
}

void lora_merge_all(const ParamTable *pt, const GriffinConfig *c, float *params) {
    const int r = c->lora_rank;
    const float s = c->lora_alpha / (float)r;
    for (int ia = pt->lora_first; ia < pt->count; ia++) {
        const TensorInfo *A = &pt->t[ia];
        if (A->lora_part != 'A') continue;
        const TensorInfo *Bt = &pt->t[ia + 1], *W = &pt->t[A->lora_of];
        int up = A->ndim == 3, NI = W->shape[1], NO = up ? W->shape[2] : W->shape[0];
        for (int b = 0; b < (up ? 2 : 1); b++)
            lora_merge(params + W->offset + (size_t)b * NI * NO, params + A->offset + (size_t)b * r * NI,
                       params + Bt->offset + (size_t)b * NO * r, s, NI, NO, r, up);
    }
}
