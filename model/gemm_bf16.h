/* bf16 matrix products with fp32 accumulation (train.precision = bf16).
 *
 *   C [M,N] = op(A) [M,K] · op(B) [K,N] + beta · C      row-major, op(X) = X or Xᵀ
 *
 * Both operands are rounded to bf16 (round to nearest even, NaN kept) into packed panels once
 * per call; products of two bf16 numbers are exact in fp32 and every C element is summed over
 * k = 0, 1, ..., K-1 in that order in fp32 by one thread, so the result does not depend on the
 * thread count. Two microkernels compute the same sums:
 * - GEMM_BF16_AVX512: vdpbf16ps (AVX-512 BF16, Zen 4 / Cooper Lake and later);
 * - GEMM_BF16_PORTABLE: plain C that mirrors vdpbf16ps's definition
 *   (acc += a[2i+1]·b[2i+1]; acc += a[2i]·b[2i]), for CPUs without the instructions: same
 *   numerics, slower than fp32 sgemm. Used by train.precision = bf16-emulated and the tests.
 * The two agree to fp32 rounding (hardware may fuse the pair differently, and vdpbf16ps
 * flushes denormals). */
#ifndef GRIFFIN_GEMM_BF16_H
#define GRIFFIN_GEMM_BF16_H

#include <stdint.h>

typedef enum { GEMM_BF16_AVX512 = 0, GEMM_BF16_PORTABLE = 1 } GemmBf16Kernel;

/* 1 if this CPU runs vdpbf16ps (cpuid AVX512F + AVX512_BF16) and the compiler could build it */
int gemm_bf16_cpu_supported(void);

/* ta/tb: 0 = as stored, 1 = transposed. A is [M,lda] (ta=0) or [K,lda] (ta=1); B is [K,ldb]
 * (tb=0) or [N,ldb] (tb=1). beta 0 never reads C. Called from outside parallel regions (it
 * opens its own); packing scratch is per calling thread and grows to the largest call. */
void gemm_bf16(GemmBf16Kernel kernel, int ta, int tb, int M, int N, int K, const float *A, int lda,
               const float *B, int ldb, float beta, float *C, int ldc);

/* bytes of packed operands per pass (default 32 MiB; <= 0 restores it). Results do not depend
 * on it; tests shrink it to cover the multi-pass path. */
void gemm_bf16_set_chunk_bytes(long bytes);

/* fp32 -> bf16 bits, round to nearest even (what vcvtne2ps2bf16 does), NaN stays NaN */
uint16_t bf16_from_float(float x);
float bf16_to_float(uint16_t h);

#endif
