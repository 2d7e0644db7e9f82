/* Elementwise math of training, vectorised: exp, tanh, sigmoid, and the fused passes of the
 * gated GeLU, the logit soft cap and the softmax of the loss.
 *
 * glibc's tanhf/expm1f took a fifth of a training step (GeLU on every MLP activation, the soft
 * cap on every logit). These run 8 lanes at a time with AVX2+FMA (scalar C otherwise). Every
 * element's result depends on its input alone, and the scalar functions below perform the same
 * IEEE operations in the same order as a vector lane (explicit fma, no contraction: the file is
 * built with -ffp-contract=off), so a result never depends on the thread count, on alignment or
 * on where a vector loop ends. Accuracy (tests/test_vmath.c, against double): exp ≤ 2 ulp,
 * tanh and sigmoid ≤ 4 ulp, GeLU ≤ 2.5e-7 and its derivative ≤ 6e-7 of max(1, |x|).
 * NaN in gives NaN out (the step's non-finite check relies on it). */
#ifndef GRIFFIN_VMATH_H
#define GRIFFIN_VMATH_H

#include <stddef.h>

/* the scalar definitions (bitwise equal to one lane of the array functions) */
float vm_expf(float x);
float vm_tanhf(float x);
float vm_sigmoidf(float x);
float vm_gelu(float x);      /* 0.5 x (1 + tanh(√(2/π)(x + 0.044715 x³))) = x·σ(2u) */
float vm_gelu_grad(float x); /* d gelu / dx */

/* OpenMP over blocks of 4,096 elements (serial inside a parallel region) */
/* prod[i] = gelu(gate[i]) · up[i] */
void vm_gelu_mul(float *prod, const float *gate, const float *up, size_t n);
/* dgate[i] = dprod[i] · up[i] · gelu'(gate[i]);  dup[i] = dprod[i] · gelu(gate[i]) */
void vm_gelu_mul_backward(float *dgate, float *dup, const float *dprod, const float *gate, const float *up,
                          size_t n);
/* x[i] = σ(x[i]), in place */
void vm_sigmoid(float *x, size_t n);
/* x[i] = cap · tanh(x[i] / cap), in place */
void vm_softcap(float *x, float cap, size_t n);
/* serial, for one row inside the caller's parallel loop: */
/* x[r·ld + j] = σ(x[r·ld + j]) for r < rows, j < cols: vm_sigmoid's values on a tile */
void vm_sigmoid_tile(float *x, int rows, int cols, int ld);
/* max over x[0..n) (n ≥ 1) */
float vm_max(const float *x, size_t n);
/* log Σ exp(x[i]) = max + log Σ exp(x[i] − max): the log-normaliser of a softmax row */
float vm_logsumexp(const float *x, size_t n);
/* Σ exp(x[i] − shift), summed in 8 interleaved partial sums and then in a fixed order
 * (depends on n alone) */
float vm_sum_exp(const float *x, float shift, size_t n);
/* d[i] += w · exp(x[i] − shift) */
void vm_add_scaled_exp(float *d, const float *x, float shift, float w, size_t n);

#endif
