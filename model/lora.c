/* LoRA adapters (Hu et al. 2021; PEFT's layout): a frozen linear W [NO,NI] gains a low-rank
 * update, y = x·Wᵀ + s·(x·Aᵀ)·Bᵀ with A [r,NI], B [NO,r] and s = alpha / r. B starts at zero,
 * so an adapted model starts as its base. Backward keeps no activation of its own: u = x·Aᵀ
 * is recomputed from the linear's input x, which the base layer saves anyway. */
#include "lora.h"

#include <string.h>

#include "griffin.h"

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

/* ---- the model's hooks (model/griffin.c calls them at every targeted linear) ---- */
static int adapter(const GriffinModel *m, int l, LoraTarget t, int part) {
    return m->lora_active ? lora_tensor(&m->table, l, t, part) : -1;
}

static float lora_s(const GriffinModel *m) { return m->cfg.lora_alpha / (float)m->cfg.lora_rank; }

/* the dropout mask's key of one adapter (layer, target, branch) in this micro-batch, or 0 */
static uint64_t site_key(const GriffinModel *m, int l, LoraTarget t, int branch) {
    if (!m->drop_key || !m->drop_x) return 0;
    uint64_t site = ((uint64_t)l * LORA_NUM + (uint64_t)t) * 2 + (uint64_t)branch + 1;
    return m->drop_key ^ (site * 0xD1B54A32D192ED03ull);
}

void lora_adapt_forward(GriffinModel *m, int l, LoraTarget t, int branch, float *y, const float *x, int NI, int NO) {
    int ia = adapter(m, l, t, 0);
    if (ia < 0) return;
    int ib = lora_tensor(&m->table, l, t, 1), r = m->cfg.lora_rank, N = m->B * m->T;
    const float *A = m->params + m->table.t[ia].offset + (size_t)branch * r * NI;
    const float *B = m->params + m->table.t[ib].offset + (size_t)branch * NO * r;
    uint64_t key = site_key(m, l, t, branch);
    if (key) { /* the adapter sees dropout(x) */
        lora_dropout(m->drop_x, x, key, m->cfg.lora_dropout, N, NI);
        x = m->drop_x;
    }
    GemmKind kind = gemm_profile_current();
    gemm_profile_kind(GEMM_LORA, 0);
    lora_forward(y, m->lora_u, x, A, B, lora_s(m), N, NI, NO, r);
    gemm_profile_kind(kind, 0);
}

void lora_adapt_backward(GriffinModel *m, int l, LoraTarget t, int branch, float *dx, const float *dy,
                           const float *x, int NI, int NO) {
    int ia = adapter(m, l, t, 0);
    if (ia < 0) return;
    int ib = lora_tensor(&m->table, l, t, 1), r = m->cfg.lora_rank;
    size_t oa = (size_t)branch * r * NI, ob = (size_t)branch * NO * r;
    float *dA = griffin_grad_of(m, ia), *dB = griffin_grad_of(m, ib), *dxa = dx;
    int N = m->B * m->T;
    uint64_t key = site_key(m, l, t, branch);
    if (key) { /* the same mask as the forward: the adapter's input and its gradient */
        lora_dropout(m->drop_x, x, key, m->cfg.lora_dropout, N, NI);
        x = m->drop_x;
        dxa = m->drop_dx;
        memset(dxa, 0, (size_t)N * NI * sizeof(float));
    }
    GemmKind kind = gemm_profile_current();
    gemm_profile_kind(GEMM_LORA, 1);
    lora_backward(dxa, dA ? dA + oa : NULL, dB ? dB + ob : NULL, m->lora_u, m->lora_du, dy, x,
                  m->params + m->table.t[ia].offset + oa, m->params + m->table.t[ib].offset + ob, lora_s(m), N, NI,
                  NO, r);
    gemm_profile_kind(kind, 1);
    if (key) lora_dropout_add(dx, dxa, key, m->cfg.lora_dropout, N, NI);
}

void griffin_set_dropout_key(GriffinModel *m, uint64_t key) { m->drop_key = key; }

void griffin_set_adapters(GriffinModel *m, int on) { m->lora_active = on && m->cfg.lora_rank > 0; }

void griffin_merge_adapters(GriffinModel *m) {
    CHECK(!m->narrow, "griffin_merge_adapters: merge before narrowing the weights");
    if (m->lora_active) lora_merge_all(&m->table, &m->cfg, m->params);
    m->lora_active = 0;
}
