/* Vectorised elementwise math (see vmath.h). Built with -ffp-contract=off: every fused
 * multiply-add below is written as one, so the scalar functions and the AVX2 lanes round alike.
 *
 * exp:  n = round(x·log₂e), r = x − n·ln2 (two-part ln2, Cody–Waite), e^r by the degree-7
 *       minimax polynomial of Cephes' expf, times 2ⁿ built in the exponent bits; x < −87 → 0,
 *       x > 88 → +inf (exp(−87) ≈ 1.6e−38 is the smallest normal result we form).
 * tanh: |x| < 0.3: odd Taylor series to x¹¹ (next term < 3e−9 relative);
 *       else sign(x)·(1 − e)/(1 + e), e = exp(−2|x|) (no cancellation: 1 − e ≥ 0.45).
 * GeLU-tanh: x·σ(2u), u = √(2/π)(x + 0.044715x³); σ(v) = 1/(1 + exp(−v)). Written with σ the
 *       left tail has no cancellation (0.5(1 + tanh u) loses all digits there). */
#include "vmath.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "vmath_simd.h"

#define TH_SMALL 0.3f
#define TC3 (-3.33333333333333333e-1f)  /* -1/3 */
#define TC5 1.33333333333333333e-1f     /* 2/15 */
#define TC7 (-5.39682539682539683e-2f)  /* -17/315 */
#define TC9 2.18694885361552028e-2f     /* 62/2835 */
#define TC11 (-8.86323552990219657e-3f) /* -1382/155925 */

#define GELU_2C 1.5957691216057308f /* 2·√(2/π) */
#define GELU_A 0.044715f
#define GELU_3A 0.134145f

/* ---- scalar: one lane of the vector code ---- */

static inline float max_lane(float a, float b) { return a > b ? a : b; } /* _mm256_max_ps */
static inline float min_lane(float a, float b) { return a < b ? a : b; } /* _mm256_min_ps */

static inline float pow2i(int n) { /* 2ⁿ, −126 ≤ n ≤ 127 */
    uint32_t bits = (uint32_t)(n + 127) << 23;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

float vm_expf(float x) {
    float xc = min_lane(max_lane(x, VM_EXP_LO), VM_EXP_HI);
    float n = rintf(xc * VM_LOG2E);
    float r = fmaf(n, -VM_LN2_HI, xc);
    r = fmaf(n, -VM_LN2_LO, r);
    float z = r * r;
    float p = VM_EP0;
    p = fmaf(p, r, VM_EP1);
    p = fmaf(p, r, VM_EP2);
    p = fmaf(p, r, VM_EP3);
    p = fmaf(p, r, VM_EP4);
    p = fmaf(p, r, VM_EP5);
    p = fmaf(p, z, r);
    p = p + 1.0f;
    float y = p * pow2i((int)n);
    if (x < VM_EXP_LO) y = 0.0f;
    if (x > VM_EXP_HI) y = INFINITY;
    if (x != x) y = x;
    return y;
}

float vm_tanhf(float x) {
    float a = fabsf(x);
    float z = x * x;
    float p = TC11;
    p = fmaf(p, z, TC9);
    p = fmaf(p, z, TC7);
    p = fmaf(p, z, TC5);
    p = fmaf(p, z, TC3);
    float small = fmaf(x * z, p, x);
    float e = vm_expf(-2.0f * a);
    float t = (1.0f - e) / (1.0f + e);
    float large = copysignf(t, x);
    return a < TH_SMALL ? small : large;
}

float vm_sigmoidf(float x) { return 1.0f / (1.0f + vm_expf(-x)); }

/* σ(2u) for the GeLU, from x and z = x² */
static inline float gelu_sig(float x, float z) {
    float w = fmaf(GELU_A, z, 1.0f);
    float v = (-GELU_2C * x) * w;
    return 1.0f / (1.0f + vm_expf(v));
}

float vm_gelu(float x) { return x * gelu_sig(x, x * x); }

float vm_gelu_grad(float x) {
    float z = x * x;
    float s = gelu_sig(x, z);
    float q = fmaf(GELU_3A, z, 1.0f) * (0.5f * GELU_2C);
    float sm = s * (1.0f - s);
    return fmaf((x + x) * sm, q, s);
}

/* ---- AVX2 lanes: the same operations ---- */

#ifdef VM_AVX2
static inline __m256i tail_mask(size_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static inline __m256 tanh8(__m256 x) {
    __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 a = _mm256_andnot_ps(sign, x);
    __m256 z = _mm256_mul_ps(x, x);
    __m256 p = _mm256_set1_ps(TC11);
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(TC9));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(TC7));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(TC5));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(TC3));
    __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(x, z), p, x);
    __m256 e = vm_exp8(_mm256_mul_ps(_mm256_set1_ps(-2.0f), a));
    __m256 one = _mm256_set1_ps(1.0f);
    __m256 t = _mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e));
    __m256 large = _mm256_or_ps(_mm256_andnot_ps(sign, t), _mm256_and_ps(sign, x));
    return _mm256_blendv_ps(large, small, _mm256_cmp_ps(a, _mm256_set1_ps(TH_SMALL), _CMP_LT_OQ));
}

static inline __m256 gelu_sig8(__m256 x, __m256 z) {
    __m256 w = _mm256_fmadd_ps(_mm256_set1_ps(GELU_A), z, _mm256_set1_ps(1.0f));
    __m256 v = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(-GELU_2C), x), w);
    __m256 one = _mm256_set1_ps(1.0f);
    return _mm256_div_ps(one, _mm256_add_ps(one, vm_exp8(v)));
}
#endif

/* ---- array passes ---- */

static void gelu_mul_serial(float *prod, const float *gate, const float *up, size_t n) {
    size_t i = 0;
#ifdef VM_AVX2
    for (; i < n; i += 8) {
        __m256i m = tail_mask(n - i);
        __m256 x = n - i >= 8 ? _mm256_loadu_ps(gate + i) : _mm256_maskload_ps(gate + i, m);
        __m256 u = n - i >= 8 ? _mm256_loadu_ps(up + i) : _mm256_maskload_ps(up + i, m);
        __m256 g = _mm256_mul_ps(x, gelu_sig8(x, _mm256_mul_ps(x, x)));
        __m256 y = _mm256_mul_ps(g, u);
        if (n - i >= 8)
            _mm256_storeu_ps(prod + i, y);
        else
            _mm256_maskstore_ps(prod + i, m, y);
    }
#endif
    for (; i < n; i++) prod[i] = vm_gelu(gate[i]) * up[i];
}

static void gelu_mul_backward_serial(float *dgate, float *dup, const float *dprod, const float *gate, const float *up,
                          size_t n) {
    size_t i = 0;
#ifdef VM_AVX2
    for (; i < n; i += 8) {
        int full = n - i >= 8;
        __m256i m = tail_mask(n - i);
        __m256 x = full ? _mm256_loadu_ps(gate + i) : _mm256_maskload_ps(gate + i, m);
        __m256 u = full ? _mm256_loadu_ps(up + i) : _mm256_maskload_ps(up + i, m);
        __m256 d = full ? _mm256_loadu_ps(dprod + i) : _mm256_maskload_ps(dprod + i, m);
        __m256 z = _mm256_mul_ps(x, x);
        __m256 s = gelu_sig8(x, z);
        __m256 q = _mm256_mul_ps(_mm256_fmadd_ps(_mm256_set1_ps(GELU_3A), z, _mm256_set1_ps(1.0f)),
                                 _mm256_set1_ps(0.5f * GELU_2C));
        __m256 sm = _mm256_mul_ps(s, _mm256_sub_ps(_mm256_set1_ps(1.0f), s));
        __m256 gg = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_add_ps(x, x), sm), q, s);
        __m256 g = _mm256_mul_ps(x, s);
        __m256 dg = _mm256_mul_ps(_mm256_mul_ps(d, u), gg);
        __m256 du = _mm256_mul_ps(d, g);
        if (full) {
            _mm256_storeu_ps(dgate + i, dg);
            _mm256_storeu_ps(dup + i, du);
        } else {
            _mm256_maskstore_ps(dgate + i, m, dg);
            _mm256_maskstore_ps(dup + i, m, du);
        }
    }
#endif
    for (; i < n; i++) {
        float x = gate[i], d = dprod[i];
        dgate[i] = d * up[i] * vm_gelu_grad(x);
        dup[i] = d * vm_gelu(x);
    }
}

static void softcap_serial(float *x, float cap, size_t n) {
    size_t i = 0;
#ifdef VM_AVX2
    __m256 c = _mm256_set1_ps(cap);
    for (; i < n; i += 8) {
        int full = n - i >= 8;
        __m256i m = tail_mask(n - i);
        __m256 v = full ? _mm256_loadu_ps(x + i) : _mm256_maskload_ps(x + i, m);
        __m256 y = _mm256_mul_ps(c, tanh8(_mm256_div_ps(v, c)));
        if (full)
            _mm256_storeu_ps(x + i, y);
        else
            _mm256_maskstore_ps(x + i, m, y);
    }
#endif
    for (; i < n; i++) x[i] = cap * vm_tanhf(x[i] / cap);
}

/* OpenMP over blocks of VM_BLOCK elements (one block: no parallel region) */
#define VM_BLOCK 4096
#define VM_BLOCKS(n) ((long)(((n) + VM_BLOCK - 1) / VM_BLOCK))
#define VM_LEN(n, i0) ((n) - (i0) < VM_BLOCK ? (n) - (i0) : VM_BLOCK)

void vm_gelu_mul(float *prod, const float *gate, const float *up, size_t n) {
    long nb = VM_BLOCKS(n);
#pragma omp parallel for schedule(static) if (nb > 1)
    for (long b = 0; b < nb; b++) {
        size_t i0 = (size_t)b * VM_BLOCK;
        gelu_mul_serial(prod + i0, gate + i0, up + i0, VM_LEN(n, i0));
    }
}

void vm_gelu_mul_backward(float *dgate, float *dup, const float *dprod, const float *gate, const float *up,
                          size_t n) {
    long nb = VM_BLOCKS(n);
#pragma omp parallel for schedule(static) if (nb > 1)
    for (long b = 0; b < nb; b++) {
        size_t i0 = (size_t)b * VM_BLOCK;
        gelu_mul_backward_serial(dgate + i0, dup + i0, dprod + i0, gate + i0, up + i0, VM_LEN(n, i0));
    }
}

void vm_softcap(float *x, float cap, size_t n) {
    long nb = VM_BLOCKS(n);
#pragma omp parallel for schedule(static) if (nb > 1)
    for (long b = 0; b < nb; b++) {
        size_t i0 = (size_t)b * VM_BLOCK;
        softcap_serial(x + i0, cap, VM_LEN(n, i0));
    }
}

static void sigmoid_serial(float *x, size_t n) {
    size_t i = 0;
#ifdef VM_AVX2
    __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
    for (; i < n; i += 8) {
        int full = n - i >= 8;
        __m256i m = tail_mask(n - i);
        __m256 v = full ? _mm256_loadu_ps(x + i) : _mm256_maskload_ps(x + i, m);
        __m256 y = _mm256_div_ps(one, _mm256_add_ps(one, vm_exp8(_mm256_xor_ps(v, sign))));
        if (full)
            _mm256_storeu_ps(x + i, y);
        else
            _mm256_maskstore_ps(x + i, m, y);
    }
#endif
    for (; i < n; i++) x[i] = vm_sigmoidf(x[i]);
}

void vm_sigmoid(float *x, size_t n) {
    long nb = VM_BLOCKS(n);
#pragma omp parallel for schedule(static) if (nb > 1)
    for (long b = 0; b < nb; b++) {
        size_t i0 = (size_t)b * VM_BLOCK;
        sigmoid_serial(x + i0, VM_LEN(n, i0));
    }
}

void vm_sigmoid_tile(float *x, int rows, int cols, int ld) {
    for (int r = 0; r < rows; r++) sigmoid_serial(x + (size_t)r * ld, (size_t)cols);
}

float vm_max(const float *x, size_t n) {
    float mx = x[0];
    size_t i = 0;
#ifdef VM_AVX2
    if (n >= 8) {
        __m256 m = _mm256_loadu_ps(x);
        for (i = 8; i + 8 <= n; i += 8) m = _mm256_max_ps(_mm256_loadu_ps(x + i), m);
        float l[8];
        _mm256_storeu_ps(l, m);
        mx = l[0];
        for (int k = 1; k < 8; k++) mx = l[k] > mx ? l[k] : mx;
    }
#endif
    for (; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    return mx;
}

float vm_sum_exp(const float *x, float shift, size_t n) {
    float lane[8] = {0};
    size_t i = 0;
#ifdef VM_AVX2
    __m256 acc = _mm256_setzero_ps(), sh = _mm256_set1_ps(shift);
    for (; i + 8 <= n; i += 8) acc = _mm256_add_ps(acc, vm_exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), sh)));
    _mm256_storeu_ps(lane, acc);
#else
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) lane[k] += vm_expf(x[i + k] - shift);
#endif
    for (int k = 0; i < n; i++, k++) lane[k] += vm_expf(x[i] - shift);
    return ((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7]));
}

float vm_logsumexp(const float *x, size_t n) {
    float mx = vm_max(x, n);
    return mx + logf(vm_sum_exp(x, mx, n));
}

void vm_add_scaled_exp(float *d, const float *x, float shift, float w, size_t n) {
    size_t i = 0;
#ifdef VM_AVX2
    __m256 sh = _mm256_set1_ps(shift), wv = _mm256_set1_ps(w);
    for (; i + 8 <= n; i += 8) {
        __m256 e = vm_exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), sh));
        _mm256_storeu_ps(d + i, _mm256_fmadd_ps(wv, e, _mm256_loadu_ps(d + i)));
    }
#endif
    for (; i < n; i++) d[i] = fmaf(w, vm_expf(x[i] - shift), d[i]);
}
