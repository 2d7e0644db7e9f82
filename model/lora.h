/* LoRA adapter kernels (model/lora.c); the adapters' tensors live in the parameter table
 * (model/params.h), the hooks at every targeted linear in model/griffin.c. Legend as in
 * model/layers.h; r is the adapter rank, s = alpha / r. */
#ifndef GRIFFIN_LORA_H
#define GRIFFIN_LORA_H

/* y [N,NO] += s·(x [N,NI] · A [r,NI]ᵀ) · B [NO,r]ᵀ; u [N,r] scratch */
void lora_forward(float *y, float *u, const float *x, const float *A, const float *B, float s, int N, int NI, int NO,
                  int r);
/* dx [N,NI] += s·dy·B·A; dA += s·(dy·B)ᵀ·x; dB += s·dyᵀ·(x·Aᵀ) (dA / dB NULL: skipped);
 * u, du [N,r] scratch */
void lora_backward(float *dx, float *dA, float *dB, float *u, float *du, const float *dy, const float *x,
                   const float *A, const float *B, float s, int N, int NI, int NO, int r);
/* W += s·B·A for W [NO,NI], or in_out: W [NI,NO] += (s·B·A)ᵀ */
void lora_merge(float *W, const float *A, const float *B, float s, int NI, int NO, int r, int in_out);

#endif
