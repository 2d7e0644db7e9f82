/* model/vmath.c: the vectorised exp, tanh, sigmoid, GeLU and softmax passes of training.
 * - accuracy against double-precision libm over a dense sweep of each function's range plus
 *   random points: exp ≤ 2 ulp, tanh and sigmoid ≤ 4 ulp, GeLU and its derivative within
 *   2.5e-7 and 6e-7 of max(1, |x|) (absolute for |x| < 1, relative beyond);
 * - the array passes (GeLU, soft cap, sigmoid and its tile pass, scaled exp) equal the scalar functions bitwise
 *   at 14 lengths from 1 to 4,099 and at unaligned offsets (the AVX2 lanes and their masked
 *   tails round like the scalar code);
 * - special values: NaN gives NaN, ±inf and huge inputs saturate, exp underflows to 0,
 *   tanh is odd and exact at 0;
 * - Σ exp and the max of a softmax row against double sums. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "model/vmath.h"

#define PI 3.14159265358979323846

static int fails;

static void expect(int ok, const char *what) {
    if (!ok) {
        printf("FAIL %s\n", what);
        fails++;
    }
}

/* distance in units in the last place of the float nearest to the reference */
static double ulps(float got, double ref) {
    float r = (float)ref;
    double ulp = fabs((double)nextafterf(r, INFINITY) - (double)r);
    if (fabs(ref) < (double)FLT_MIN) ulp = (double)FLT_MIN * (double)FLT_EPSILON; /* subnormal results */
    return fabs((double)got - ref) / ulp;
}

static double ref_gelu(double x) {
    double u = sqrt(2.0 / PI) * (x + 0.044715 * x * x * x);
    return 0.5 * x * (1.0 + tanh(u));
}

static double ref_gelu_grad(double x) {
    double c = sqrt(2.0 / PI), u = c * (x + 0.044715 * x * x * x), th = tanh(u);
    return 0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * c * (1.0 + 3.0 * 0.044715 * x * x);
}

static uint32_t bits(float f) {
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

/* n sample points over [lo, hi]: an even grid plus uniform random ones */
static float sample(Rng *r, int i, int n, float lo, float hi) {
    if (i < n / 2) return lo + (hi - lo) * (float)i / (float)(n / 2 - 1);
    return lo + (hi - lo) * (float)(rng_below(r, 1u << 24) / (double)(1u << 24));
}

static void test_accuracy(void) {
    Rng r;
    rng_seed(&r, 7, 0);
    enum { N = 400000 };
    double w_exp = 0, w_tanh = 0, w_tanh_small = 0, w_sig = 0, w_gelu = 0, w_grad = 0;
    for (int i = 0; i < N; i++) {
        float x = sample(&r, i, N, -87.0f, 88.0f);
        double e = ulps(vm_expf(x), exp((double)x));
        w_exp = e > w_exp ? e : w_exp;
    }
    for (int i = 0; i < N; i++) {
        float x = sample(&r, i, N, -12.0f, 12.0f);
        double t = ulps(vm_tanhf(x), tanh((double)x));
        w_tanh = t > w_tanh ? t : w_tanh;
        float xs = sample(&r, i, N, -1e-3f, 1e-3f);
        t = ulps(vm_tanhf(xs), tanh((double)xs));
        w_tanh_small = t > w_tanh_small ? t : w_tanh_small;
        float xg = sample(&r, i, N, -30.0f, 30.0f);
        double s = ulps(vm_sigmoidf(xg), 1.0 / (1.0 + exp(-(double)xg)));
        w_sig = s > w_sig ? s : w_sig;
        float xe = sample(&r, i, N, -12.0f, 12.0f);
        double sc = fabs((double)xe) > 1.0 ? fabs((double)xe) : 1.0;
        double g = fabs((double)vm_gelu(xe) - ref_gelu((double)xe)) / sc;
        double gg = fabs((double)vm_gelu_grad(xe) - ref_gelu_grad((double)xe)) / sc;
        w_gelu = g > w_gelu ? g : w_gelu;
        w_grad = gg > w_grad ? gg : w_grad;
    }
    printf("worst: exp %.2f ulp, tanh %.2f ulp (|x| ≤ 1e-3: %.2f), sigmoid %.2f ulp, gelu %.3g, gelu' %.3g\n",
           w_exp, w_tanh, w_tanh_small, w_sig, w_gelu, w_grad);
    expect(w_exp <= 2.0, "exp within 2 ulp");
    expect(w_tanh <= 4.0 && w_tanh_small <= 4.0, "tanh within 4 ulp");
    expect(w_sig <= 4.0, "sigmoid within 4 ulp");
    expect(w_gelu <= 2.5e-7, "gelu within 2.5e-7 max(1,|x|)");
    expect(w_grad <= 6e-7, "gelu' within 6e-7 max(1,|x|)");
}

static void test_special(void) {
    expect(isnan(vm_expf(NAN)) && isnan(vm_tanhf(NAN)) && isnan(vm_sigmoidf(NAN)), "NaN in, NaN out");
    expect(isnan(vm_gelu(NAN)) && isnan(vm_gelu_grad(NAN)), "NaN through the GeLU");
    expect(vm_expf(-INFINITY) == 0.0f && vm_expf(-100.0f) == 0.0f, "exp underflows to 0");
    expect(isinf(vm_expf(INFINITY)) && isinf(vm_expf(89.0f)), "exp overflows to inf");
    expect(vm_expf(0.0f) == 1.0f, "exp(0) = 1");
    expect(vm_tanhf(0.0f) == 0.0f && vm_tanhf(50.0f) == 1.0f && vm_tanhf(-INFINITY) == -1.0f, "tanh saturates");
    int odd = 1;
    for (float x = 1e-6f; x < 20.0f; x *= 1.37f) odd &= vm_tanhf(-x) == -vm_tanhf(x);
    expect(odd, "tanh is odd");
    expect(vm_sigmoidf(-200.0f) == 0.0f && vm_sigmoidf(200.0f) == 1.0f, "sigmoid saturates");
    expect(vm_gelu(-50.0f) == 0.0f && vm_gelu(50.0f) == 50.0f, "gelu tails");
    expect(vm_gelu_grad(-50.0f) == 0.0f && vm_gelu_grad(50.0f) == 1.0f, "gelu' tails");
    float v[11] = {NAN, 1.0f, 2.0f, INFINITY, -INFINITY, 1e30f, -1e30f, 0.5f, -0.5f, 0.0f, -0.0f};
    vm_softcap(v, 30.0f, 11);
    expect(isnan(v[0]) && v[3] == 30.0f && v[4] == -30.0f && v[5] == 30.0f && v[6] == -30.0f, "softcap specials");
}

/* the array passes against the scalar functions, bit for bit */
static void test_lanes(void) {
    Rng r;
    rng_seed(&r, 11, 0);
    enum { M = 4099 + 3 };
    float *g = malloc(sizeof(float) * M), *u = malloc(sizeof(float) * M), *d = malloc(sizeof(float) * M);
    float *o1 = malloc(sizeof(float) * M), *o2 = malloc(sizeof(float) * M), *o3 = malloc(sizeof(float) * M);
    for (int i = 0; i < M; i++) {
        g[i] = 8.0f * (float)(rng_below(&r, 1u << 24) / (double)(1u << 24) - 0.5);
        u[i] = (float)(rng_below(&r, 1u << 24) / (double)(1u << 24) - 0.5);
        d[i] = (float)(rng_below(&r, 1u << 24) / (double)(1u << 24) - 0.5);
    }
    g[5] = NAN;
    g[17] = 0.29999998f; /* either side of tanh's switch */
    g[18] = 0.3f;
    int lens[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 23, 31, 33, 40, 4099};
    int mism = 0;
    for (int off = 0; off < 3; off++)
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            size_t n = (size_t)lens[li];
            const float *x = g + off, *y = u + off, *dp = d + off;
            vm_gelu_mul(o1, x, y, n);
            for (size_t i = 0; i < n; i++) mism += bits(o1[i]) != bits(vm_gelu(x[i]) * y[i]);
            vm_gelu_mul_backward(o1, o2, dp, x, y, n);
            for (size_t i = 0; i < n; i++) {
                mism += bits(o1[i]) != bits(dp[i] * y[i] * vm_gelu_grad(x[i]));
                mism += bits(o2[i]) != bits(dp[i] * vm_gelu(x[i]));
            }
            memcpy(o3, x, sizeof(float) * n);
            vm_softcap(o3, 2.5f, n);
            for (size_t i = 0; i < n; i++) mism += bits(o3[i]) != bits(2.5f * vm_tanhf(x[i] / 2.5f));
            memcpy(o3, x, sizeof(float) * n);
            vm_sigmoid(o3, n);
            for (size_t i = 0; i < n; i++) mism += bits(o3[i]) != bits(vm_sigmoidf(x[i]));
            if (n >= 3) { /* a tile of 3 rows of n/3 at stride n/3 + off: only its elements change */
                int cols = (int)n / 3 - (int)off > 0 ? (int)n / 3 - (int)off : 1, ld = (int)n / 3;
                memcpy(o3, x, sizeof(float) * n);
                vm_sigmoid_tile(o3, 3, cols, ld);
                for (size_t i = 0; i < n; i++) {
                    int in = (int)i < 2 * ld + cols && (int)(i % (size_t)ld) < cols;
                    mism += bits(o3[i]) != bits(in ? vm_sigmoidf(x[i]) : x[i]);
                }
            }
            memcpy(o3, dp, sizeof(float) * n);
            vm_add_scaled_exp(o3, x, 0.75f, 0.125f, n);
            for (size_t i = 0; i < n; i++) mism += bits(o3[i]) != bits(fmaf(0.125f, vm_expf(x[i] - 0.75f), dp[i]));
        }
    printf("array passes vs scalar: %d mismatching elements\n", mism);
    expect(mism == 0, "array passes equal the scalar functions bitwise");
    free(g), free(u), free(d), free(o1), free(o2), free(o3);
}

static void test_softmax_row(void) {
    Rng r;
    rng_seed(&r, 13, 0);
    int lens[] = {1, 5, 8, 13, 8192, 8197};
    double worst = 0;
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        int n = lens[li];
        float *x = malloc(sizeof(float) * (size_t)n);
        double mx = -1e300;
        for (int i = 0; i < n; i++) {
            x[i] = 20.0f * (float)(rng_below(&r, 1u << 24) / (double)(1u << 24) - 0.5);
            mx = (double)x[i] > mx ? (double)x[i] : mx;
        }
        float m = vm_max(x, (size_t)n);
        expect((double)m == mx, "vm_max is the max");
        double s = 0;
        for (int i = 0; i < n; i++) s += exp((double)x[i] - (double)m);
        double rel = fabs((double)vm_sum_exp(x, m, (size_t)n) - s) / s;
        worst = rel > worst ? rel : worst;
        free(x);
    }
    printf("sum of exp: worst relative error %.3g\n", worst);
    expect(worst < 2e-6, "sum of exp within 2e-6 relative");
}

int main(void) {
    test_accuracy();
    test_special();
    test_lanes();
    test_softmax_row();
    if (fails) {
        printf("%d check(s) failed\n", fails);
        return 1;
    }
    printf("vmath: all checks passed\n");
    return 0;
}
