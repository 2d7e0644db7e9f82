/* Forward/backward kernels of every layer, one pair per layer, side by side in its file.
 *
 * Conventions (docs/style.md):
 * - arguments: outputs, tensors saved for backward, inputs, weights, sizes;
 * - every backward ACCUMULATES (+=) into its outputs, parameter and input gradients alike;
 *   a NULL parameter-gradient pointer skips that gradient (a frozen tensor: the trainable set
 *   of optim/trainable.h), while the input gradient still flows;
 *   callers zero gradient buffers once per optimizer step (and scratch before use);
 * - rows are tokens: N = B*T rows, row n = b*T + t;
 * - legend: B batch, T time, N rows, D width, E LRU width, H heads, K head dim,
 *   A attention window, F MLP width, V vocab; W = 4 conv taps.
 * - weights keep the official torch layouts (docs/architecture.md §15.1). */
#ifndef GRIFFIN_LAYERS_H
#define GRIFFIN_LAYERS_H

#include <stddef.h>
#include <stdint.h>

/* ---- gemm.c: matrix products, torch Linear and matrix helpers ---- */
/* C [M,N] = op(A) [M,K] · op(B) [K,N] + beta·C, row-major, ta/tb = 1 transposes (as
 * cblas_sgemm with alpha 1), in the precision of gemm_set_precision() (model/griffin.h) */
void gemm(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta,
          float *C, int ldc);
void linear_forward(float *y, const float *x, const float *w, const float *b, int N, int NI, int NO);
void linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                     int N, int NI, int NO);
/* db[NO] += sum over rows of dy[N,NO] (deterministic, parallel over columns) */
void colsum_accumulate(float *db, const float *dy, int N, int NO, int ldy);

/* Per-product profile (griffin bench train): while a profile is set, every gemm() called
 * outside a parallel region adds its seconds and 2·M·N·K FLOPs to the product kind and
 * direction (0 forward, 1 backward) last set by gemm_profile_kind(); the model sets them. */
typedef enum {
    GEMM_KIND_OTHER = 0, GEMM_MLP_UP, GEMM_MLP_DOWN, GEMM_REC_LINEAR, GEMM_GATES, GEMM_ATT_QKV, GEMM_ATT_OUT,
    GEMM_UNEMBED, GEMM_LORA, GEMM_KIND_NUM
} GemmKind;
extern const char *const gemm_kind_name[GEMM_KIND_NUM];
typedef struct {
    double seconds[GEMM_KIND_NUM][2], flops[GEMM_KIND_NUM][2];
} GemmProfile;
void gemm_profile_set(GemmProfile *p); /* NULL: off */
void gemm_profile_kind(GemmKind k, int dir);
GemmKind gemm_profile_current(void); /* the kind set last (an adapter restores its linear's) */
/* charge seconds and flops to the current kind (gemm() does; so do kernels of their own) */
void gemm_profile_add(double seconds, double flops);
int gemm_profile_on(void);

/* ---- embedding.c ---- */
void embedding_forward(float *out, const int *tokens, const float *table, float scale, int N, int D);
void embedding_backward(float *dtable, const float *dout, const int *tokens, float scale, int N, int D);

/* ---- rmsnorm.c ---- */
void rmsnorm_forward(float *out, float *rstd, const float *x, const float *scale, int N, int D);
void rmsnorm_backward(float *dx, float *dscale, const float *dout, const float *x, const float *rstd,
                      const float *scale, int N, int D);

/* ---- mlp.c: gated GeLU-tanh MLP ---- */
/* the GeLU itself: vm_gelu / vm_gelu_mul in vmath.h */
/* gate_pre, up_pre [N,F] = x·w_up[c] + b_up[c]: the up projection's two products only */
void mlp_up_products(float *gate_pre, float *up_pre, const float *x, const float *w_up, const float *b_up, int N,
                     int D, int F);
/* the first half of mlp_forward: gate_pre, up_pre and prod (backward's inputs), no output */
void mlp_forward_up(float *gate_pre, float *up_pre, float *prod, const float *x, const float *w_up,
                    const float *b_up, int N, int D, int F);
void mlp_forward(float *out, float *gate_pre, float *up_pre, float *prod, const float *x,
                 const float *w_up, const float *b_up, const float *w_down, const float *b_down,
                 int N, int D, int F);
void mlp_backward(float *dx, float *dw_up, float *db_up, float *dw_down, float *db_down,
                  float *dprod, float *dgate, float *dup, const float *dout, const float *x,
                  const float *gate_pre, const float *up_pre, const float *prod, const float *w_up,
                  const float *w_down, int N, int D, int F);
/* the up projection's part of mlp_backward: dx += dgate·w0ᵀ + dup·w1ᵀ, dw_up, db_up */
void mlp_backward_up(float *dx, float *dw_up, float *db_up, const float *dgate, const float *dup, const float *x,
                     const float *w_up, int N, int D, int F);

/* ---- conv1d.c: causal depthwise conv, 4 taps, document-masked ---- */
void conv1d_forward(float *out, const float *x, const int *pos, const float *w, const float *b,
                    int B, int T, int E);
void conv1d_backward(float *dx, float *dw, float *db, const float *dout, const float *x, const int *pos,
                     const float *w, int B, int T, int E);

/* one decode step: out [B,E] from x [B,E] and the last 3 inputs state [B,3,E] (oldest
 * first, updated in place); no document mask in decode (docs/architecture.md §7.1, §9) */
void conv1d_step(float *out, float *state, const float *x, const float *w, const float *b, int B, int E);

/* ---- rglru.c: Real-Gated Linear Recurrent Unit ---- */
void rglru_forward(float *h, float *gx, float *ga, const float *c, const int *pos, const float *a_param,
                   const float *wx, const float *bx, const float *wa, const float *ba,
                   int B, int T, int E, int H);
void rglru_backward(float *dc, float *da_param, float *dwx, float *dbx, float *dwa, float *dba,
                    float *dpre_x, float *dpre_a, const float *dh, const float *h, const float *gx,
                    const float *ga, const float *c, const int *pos, const float *a_param,
                    const float *wx, const float *wa, int B, int T, int E, int H);

/* one decode step: state h [B,E] updated in place (and copied to out [B,E]); gx, ga [B,E]
 * scratch; pos [B] (0 resets) */
void rglru_step(float *out, float *h, float *gx, float *ga, const float *c, const int *pos,
                const float *a_param, const float *wx, const float *bx, const float *wa, const float *ba,
                int B, int E, int H);

/* ---- attention.c: half-dim RoPE and local MQA attention ---- */
void rope_forward(float *x, const int *pos, int N, int nheads, int K);
void rope_backward(float *dx, const int *pos, int N, int nheads, int K);
/* band width of the stored probabilities: A1 = min(A, T-1) + 1 */
int attention_band(int T, int A);
void attention_forward(float *out, float *probs, const float *q, const float *k, const float *v,
                       const int *pos, int B, int T, int H, int K, int A);
void attention_backward(float *dq, float *dk, float *dv, float *dscores, const float *dout,
                        const float *probs, const float *q, const float *k, const float *v,
                        const int *pos, int B, int T, int H, int K, int A);

/* one decode step: query q [B,H,K] of the token with absolute index n[b] attends to the ring
 * of the last A keys kc, vc [B,A,K] (slot of index i: i mod A) from seg_start[b] on, plus its
 * own k, v [B,K]; then k, v are written into slot n[b] mod A. out [B,H,K]. */
void attention_step(float *out, float *kc, float *vc, const float *q, const float *k, const float *v,
                    const int *n, const int *seg_start, int B, int H, int K, int A);

/* ---- loss.c: soft cap and masked cross-entropy ---- */
void softcap_forward(float *logits, float cap, size_t n);
void softcap_backward(float *dlogits, const float *capped, float cap, size_t n);
/* returns sum over unmasked rows of -log softmax(logits)[target]; lse[N] saved */
double crossentropy_forward(float *lse, const float *logits, const int *targets, const uint8_t *mask,
                            int N, int V);
/* dlogits[n] += weight[n] * (softmax - onehot(target[n])) */
void crossentropy_backward(float *dlogits, const float *logits, const float *lse, const int *targets,
                           const float *weight, int N, int V);

#endif
