/* The exp kernel of vmath.c for other elementwise kernels (the RG-LRU scan): constants, and
 * vm_exp8, 8 lanes of vm_expf (AVX2+FMA builds; VM_AVX2 is defined then). Files that use it
 * must be built with -ffp-contract=off and write their fused multiply-adds explicitly, so that
 * their scalar code rounds like their vector lanes. */
#ifndef GRIFFIN_VMATH_SIMD_H
#define GRIFFIN_VMATH_SIMD_H

#define VM_EXP_LO (-87.0f)
#define VM_EXP_HI 88.0f
#define VM_LOG2E 1.44269504088896341f
#define VM_LN2_HI 0.693359375f
#define VM_LN2_LO (-2.12194440e-4f)
#define VM_EP0 1.9875691500e-4f
#define VM_EP1 1.3981999507e-3f
#define VM_EP2 8.3334519073e-3f
#define VM_EP3 4.1665795894e-2f
#define VM_EP4 1.6666665459e-1f
#define VM_EP5 5.0000001201e-1f

/* GRIFFIN_SCALAR leaves the vector lanes out (tests/test_simd_twins.c builds the scalar twin
 * of rglru.c next to the vector one) */
#if defined(__AVX2__) && defined(__FMA__) && !defined(GRIFFIN_SCALAR)
#define VM_AVX2 1
#include <immintrin.h>
#include <math.h>

/* 8 lanes of vm_expf: the same operations, in the same order */
static inline __m256 vm_exp8(__m256 x) {
    __m256 xc = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(VM_EXP_LO)), _mm256_set1_ps(VM_EXP_HI));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(VM_LOG2E)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fmadd_ps(n, _mm256_set1_ps(-VM_LN2_HI), xc);
    r = _mm256_fmadd_ps(n, _mm256_set1_ps(-VM_LN2_LO), r);
    __m256 z = _mm256_mul_ps(r, r);
    __m256 p = _mm256_set1_ps(VM_EP0);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(VM_EP1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(VM_EP2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(VM_EP3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(VM_EP4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(VM_EP5));
    p = _mm256_fmadd_ps(p, z, r);
    p = _mm256_add_ps(p, _mm256_set1_ps(1.0f));
    __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    __m256 y = _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
    y = _mm256_blendv_ps(y, _mm256_setzero_ps(), _mm256_cmp_ps(x, _mm256_set1_ps(VM_EXP_LO), _CMP_LT_OQ));
    y = _mm256_blendv_ps(y, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(x, _mm256_set1_ps(VM_EXP_HI), _CMP_GT_OQ));
    return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}
#endif

#endif
