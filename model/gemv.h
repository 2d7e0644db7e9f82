/* Matrix products for decoding: a handful of rows (the batch, 1..16) times a weight matrix.
 * At these shapes a product is a stream over the weights, so these kernels read every weight
 * once for all rows, with AVX-512 where the compiler targets it (plain C otherwise).
 * Each output is one thread's fixed-order sum, so results do not depend on the thread count
 * or on which other rows are in the batch. */
#ifndef GRIFFIN_GEMV_H
#define GRIFFIN_GEMV_H

#include <stdint.h>

/* torch Linear: y [B,NO] = x [B,NI] · wᵀ + b, with w [NO,NI] and b [NO] or NULL */
void gemv_linear(float *y, const float *x, const float *w, const float *b, int B, int NI, int NO);

/* in/out layout: y [B,NO] (row stride ldy) = x [B,NI] (row stride ldx) · w [NI,NO] + b,
 * b [NO] or NULL */
void gemv_io(float *y, const float *x, const float *w, const float *b, int B, int NI, int NO, int ldx, int ldy);

/* Σ_i a[i]·b[i] over n floats (fixed order) */
float gemv_dot(const float *a, const float *b, int n);

/* Narrow weights (model/gemv_narrow.c, formats in model/weights.h), torch Linear layout:
 * y [B,NO] = x [B,NI] · wᵀ + b with w [NO,NI] bf16, b [NO] or NULL */
void gemv_linear_bf16(float *y, const float *x, const uint16_t *w, const float *b, int B, int NI, int NO);
/* the same with w [NO,NI] int8 and its per-row scale [NO]: y[i,n] = s[n]·Σ_k x[i,k]·q[n,k] + b[n] */
void gemv_linear_int8(float *y, const float *x, const int8_t *w, const float *scale, const float *b, int B, int NI,
                      int NO);

#endif
