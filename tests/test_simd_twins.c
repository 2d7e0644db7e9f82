/* The RG-LRU scan's AVX2 lanes against its scalar code, bitwise. model/rglru.c runs 8 channels
 * per vector and the leftover channels one at a time, and promises that a channel's result
 * does not depend on which path computed it (the file is built with -ffp-contract=off and
 * writes its FMAs out). This test compiles rglru.c a second time with GRIFFIN_SCALAR (no
 * vector lanes), under other names, and requires forward, backward and the decode step of
 * both builds to agree bit for bit: E = 8 .. 69 (vector only, mixed, scalar only), segment
 * resets inside the rows, gate blocks H = 1, 2, 4, and 1 or several threads.
 * In a build without AVX2 both sides are scalar and the test says so. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "common/rng.h"
#include "model/layers.h"

/* the scalar twin: model/rglru.c again, without its vector lanes */
#define GRIFFIN_SCALAR 1
#define rglru_forward rglru_forward_scalar
#define rglru_backward rglru_backward_scalar
#define rglru_step rglru_step_scalar
void rglru_forward(float *h, float *gx, float *ga, const float *c, const int *pos, const float *a_param,
                   const float *wx, const float *bx, const float *wa, const float *ba, int B, int T, int E, int H);
void rglru_backward(float *dc, float *da_param, float *dwx, float *dbx, float *dwa, float *dba, float *dpre_x,
                    float *dpre_a, const float *dh, const float *h, const float *gx, const float *ga,
                    const float *c, const int *pos, const float *a_param, const float *wx, const float *wa,
                    int B, int T, int E, int H);
void rglru_step(float *out, float *h, float *gx, float *ga, const float *c, const int *pos, const float *a_param,
                const float *wx, const float *bx, const float *wa, const float *ba, int B, int E, int H);
#include "model/rglru.c"
#undef rglru_forward
#undef rglru_backward
#undef rglru_step

static int fails;

static float *randn(Rng *r, size_t n, double scale) {
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = (float)(scale * rng_normal(r));
    return x;
}

static float *zeros(size_t n) { return calloc(n, sizeof(float)); }

/* first index where a and b differ bitwise, or -1 */
static long first_diff(const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (memcmp(a + i, b + i, sizeof *a)) return (long)i;
    return -1;
}

static void same(const char *what, const float *a, const float *b, size_t n, int E, int H, int threads) {
    long i = first_diff(a, b, n);
    if (i >= 0) {
        printf("FAIL E=%d H=%d threads=%d: %s differs at %ld: %.9g (vector build) vs %.9g (scalar)\n", E, H,
               threads, what, i, (double)a[i], (double)b[i]);
        fails++;
    }
}

static void check(int B, int T, int E, int H, int threads, uint64_t seed) {
#ifdef _OPENMP
    omp_set_num_threads(threads);
#endif
    Rng r;
    rng_seed(&r, seed, (uint64_t)E);
    size_t N = (size_t)B * T, NE = N * E, bw = (size_t)E / H, nw = (size_t)H * bw * bw;
    float *c = randn(&r, NE, 1.0), *dh = randn(&r, NE, 1.0), *a_param = randn(&r, E, 1.0);
    float *wx = randn(&r, nw, 0.3), *wa = randn(&r, nw, 0.3), *bx = randn(&r, E, 0.1), *ba = randn(&r, E, 0.1);
    int *pos = malloc(N * sizeof *pos);
    for (int b = 0; b < B; b++) /* packed rows: a new document every 5..20 tokens */
        for (int t = 0, p = b ? 3 : 0; t < T; t++, p++) {
            if (t && rng_below(&r, 12) == 0) p = 0;
            pos[(size_t)b * T + t] = p;
        }
    float *out[2][13];
    for (int s = 0; s < 2; s++) {
        float *h = zeros(NE), *gx = zeros(NE), *ga = zeros(NE), *dc = zeros(NE), *dap = zeros(E);
        float *dwx = zeros(nw), *dwa = zeros(nw), *dbx = zeros(E), *dba = zeros(E);
        float *px = zeros(NE), *pa = zeros(NE), *so = zeros((size_t)B * E), *sh = zeros((size_t)B * E);
        float *sgx = zeros((size_t)B * E), *sga = zeros((size_t)B * E);
        int *spos = malloc(B * sizeof *spos);
        for (int b = 0; b < B; b++) spos[b] = b % 2; /* one reset row, one carried state */
        for (size_t i = 0; i < (size_t)B * E; i++) sh[i] = c[i] * 0.5f;
        if (s == 0) {
            rglru_forward(h, gx, ga, c, pos, a_param, wx, bx, wa, ba, B, T, E, H);
            rglru_backward(dc, dap, dwx, dbx, dwa, dba, px, pa, dh, h, gx, ga, c, pos, a_param, wx, wa, B, T, E, H);
            rglru_step(so, sh, sgx, sga, c + NE - (size_t)B * E, spos, a_param, wx, bx, wa, ba, B, E, H);
        } else {
            rglru_forward_scalar(h, gx, ga, c, pos, a_param, wx, bx, wa, ba, B, T, E, H);
            rglru_backward_scalar(dc, dap, dwx, dbx, dwa, dba, px, pa, dh, h, gx, ga, c, pos, a_param, wx, wa, B,
                                  T, E, H);
            rglru_step_scalar(so, sh, sgx, sga, c + NE - (size_t)B * E, spos, a_param, wx, bx, wa, ba, B, E, H);
        }
        float *o[13] = {h, gx, ga, dc, dap, dwx, dbx, dwa, dba, px, pa, so, sh};
        memcpy(out[s], o, sizeof o);
        free(sgx), free(sga), free(spos);
    }
    const char *names[13] = {"h", "gx", "ga", "dc", "da_param", "dwx", "dbx", "dwa", "dba", "dpre_x", "dpre_a",
                             "step out", "step state"};
    size_t sizes[13] = {NE, NE, NE, NE, (size_t)E, nw, (size_t)E, nw, (size_t)E, NE, NE, (size_t)B * E,
                        (size_t)B * E};
    for (int k = 0; k < 13; k++) {
        same(names[k], out[0][k], out[1][k], sizes[k], E, H, threads);
        free(out[0][k]), free(out[1][k]);
    }
    free(c), free(dh), free(a_param), free(wx), free(wa), free(bx), free(ba), free(pos);
}

int main(void) {
#ifdef VM_AVX2
#error "GRIFFIN_SCALAR must leave VM_AVX2 undefined"
#endif
#if defined(__AVX2__) && defined(__FMA__)
    printf("vector build (AVX2+FMA) against the scalar twin\n");
#else
    printf("this build has no AVX2: both sides are the scalar code (nothing vector to compare)\n");
#endif
    static const int Es[] = {8, 16, 20, 24, 40, 64, 69};
    int cases = 0;
    for (int threads = 1; threads <= 2; threads++)
        for (size_t e = 0; e < sizeof Es / sizeof *Es; e++)
            for (int H = 1; H <= 4; H *= 2) {
                if (Es[e] % H) continue;
                check(3, 41, Es[e], H, threads, 1000 + (uint64_t)e);
                cases++;
            }
    if (fails) {
        printf("test_simd_twins: %d failure(s)\n", fails);
        return 1;
    }
    printf("test_simd_twins: forward, backward and decode step bitwise equal in %d cases\n", cases);
    return 0;
}
