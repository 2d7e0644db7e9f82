/* LoRA adapter kernels (model/lora.c); the adapters' tensors live in the parameter table
 * (model/params.h), the hooks at every targeted linear in model/griffin.c. Legend as in
 * model/layers.h; r is the adapter rank, s = alpha / r. */
#ifndef GRIFFIN_LORA_H
#define GRIFFIN_LORA_H

#include <stdint.h>

#include "params.h"

/* y [N,NO] += s·(x [N,NI] · A [r,NI]ᵀ) · B [NO,r]ᵀ; u [N,r] scratch */
void lora_forward(float *y, float *u, const float *x, const float *A, const float *B, float s, int N, int NI, int NO,
                  int r);
/* dx [N,NI] += s·dy·B·A; dA += s·(dy·B)ᵀ·x; dB += s·dyᵀ·(x·Aᵀ) (dA / dB NULL: skipped);
 * u, du [N,r] scratch */
void lora_backward(float *dx, float *dA, float *dB, float *u, float *du, const float *dy, const float *x,
                   const float *A, const float *B, float s, int N, int NI, int NO, int r);
/* W += s·B·A for W [NO,NI], or in_out: W [NI,NO] += (s·B·A)ᵀ */
void lora_merge(float *W, const float *A, const float *B, float s, int NI, int NO, int r, int in_out);
/* Dropout of an adapter's input (PEFT's lora_dropout): element (n, i) of x [N,NI] is kept with
 * probability 1 − p, by a hash of (key, n·NI + i), and scaled by 1/(1 − p); the same key gives
 * the same mask (backward and recompute regenerate it), for any thread count.
 * lora_dropout: out = mask(x);  lora_dropout_add: dx += mask(t) (its backward) */
void lora_dropout(float *out, const float *x, uint64_t key, float p, int N, int NI);
void lora_dropout_add(float *dx, const float *t, uint64_t key, float p, int N, int NI);

/* every adapter of the table added into its base weight, in the flat params (the adapter
 * tensors themselves are left as they are) */
void lora_merge_all(const ParamTable *pt, const GriffinConfig *c, float *params);

/* The model's hooks (model/griffin.c): y [N,NO] += s·(x·Aᵀ)·Bᵀ after layer l's linear of
 * target t (branch: ffw_up's 0 or 1) when its adapters are on, x [N,NI] its input (dropped out
 * by the model's key in training); and that linear's adapter backward: dx += its input gradient,
 * dA, dB into the model's gradients (skipped when frozen). No-ops without an adapter there. */
struct GriffinModel;
void lora_adapt_forward(struct GriffinModel *m, int l, LoraTarget t, int branch, float *y, const float *x, int NI,
                        int NO);
void lora_adapt_backward(struct GriffinModel *m, int l, LoraTarget t, int branch, float *dx, const float *dy,
                         const float *x, int NI, int NO);

#endif
