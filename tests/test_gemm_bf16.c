/* model/gemm_bf16.c and gemm() (train.precision = bf16): every transpose variant at odd
 * sizes and K up to 1536, against a double reference of
 * - the fp32 inputs: within bf16 tolerance, 1e-2 of max|C|;
 * - the bf16-rounded inputs: within the fp32 summation bound (K+2)·2⁻²⁴·Σ|a·b| per element,
 *   which catches any packing error however small;
 * bitwise the same for 1, 2 and 3 threads and when packed in several passes; beta 0 never reads C (NaN there stays unread); the
 * vdpbf16ps kernel against the portable one where the CPU has AVX-512 BF16; round to nearest
 * even. Then a tiny model trained 50 AdamW steps in fp32 and in bf16 (the vdpbf16ps kernel
 * where present, else its portable twin): the losses stay within 2% step by step. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "model/gemm_bf16.h"
#include "model/griffin.h"
#include "model/layers.h"
#include "optim/adamw.h"

static int fails;

static void expect(int ok, const char *what) {
    if (!ok) {
        printf("FAIL %s\n", what);
        fails++;
    }
}

static float uniform(Rng *r) { return (float)(rng_below(r, 1u << 24) / (double)(1u << 24) * 2.0 - 1.0); }

static float round_bf16(float x) { return bf16_to_float(bf16_from_float(x)); }

static void test_rounding(void) {
    expect(round_bf16(1.0f + 0x1p-8f) == 1.0f, "1 + 2^-8 ties to even (down)");
    expect(round_bf16(1.0f + 0x3p-8f) == 1.0f + 0x1p-6f, "1 + 3·2^-8 ties to even (up)");
    expect(round_bf16(1.0f + 0x1p-8f + 0x1p-20f) == 1.0f + 0x1p-7f, "just above a tie rounds up");
    expect(round_bf16(-2.5f) == -2.5f, "exact values stay");
    expect(isnan(round_bf16(NAN)), "NaN stays NaN");
    expect(isinf(round_bf16(INFINITY)) && round_bf16(-INFINITY) < 0.0f, "infinities stay");
}

typedef struct {
    int ta, tb, M, N, K, pad; /* pad: extra elements per row of every matrix (strided views) */
    float beta;
} Shape;

/* one product through gemm_bf16 with kernel k; returns the number of failed checks */
static void check_shape(const Shape *s, GemmBf16Kernel k) {
    int M = s->M, N = s->N, K = s->K;
    int ar = s->ta ? K : M, ac = s->ta ? M : K, br = s->tb ? N : K, bc = s->tb ? K : N;
    int lda = ac + s->pad, ldb = bc + s->pad, ldc = N + s->pad;
    float *A = malloc(sizeof(float) * (size_t)ar * lda), *B = malloc(sizeof(float) * (size_t)br * ldb);
    float *C0 = malloc(sizeof(float) * (size_t)M * ldc), *C = malloc(sizeof(float) * (size_t)M * ldc);
    float *C2 = malloc(sizeof(float) * (size_t)M * ldc);
    Rng r;
    rng_seed(&r, (uint64_t)(M * 131 + N * 17 + K), 0);
    for (size_t i = 0; i < (size_t)ar * lda; i++) A[i] = uniform(&r);
    for (size_t i = 0; i < (size_t)br * ldb; i++) B[i] = uniform(&r);
    for (size_t i = 0; i < (size_t)M * ldc; i++) C0[i] = s->beta == 0.0f ? NAN : uniform(&r);
    double maxref = 0.0, err_fp32 = 0.0, excess = 0.0;
    memcpy(C, C0, sizeof(float) * (size_t)M * ldc);
    omp_set_num_threads(2);
    gemm_bf16(k, s->ta, s->tb, M, N, K, A, lda, B, ldb, s->beta, C, ldc);
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double ref = 0.0, refb = 0.0, mag = 0.0;
            for (int kk = 0; kk < K; kk++) {
                float a = s->ta ? A[(size_t)kk * lda + m] : A[(size_t)m * lda + kk];
                float b = s->tb ? B[(size_t)n * ldb + kk] : B[(size_t)kk * ldb + n];
                ref += (double)a * (double)b;
                refb += (double)round_bf16(a) * (double)round_bf16(b);
                mag += fabs((double)round_bf16(a) * (double)round_bf16(b));
            }
            double c0 = s->beta == 0.0f ? 0.0 : (double)s->beta * (double)C0[(size_t)m * ldc + n];
            ref += c0;
            refb += c0;
            double got = C[(size_t)m * ldc + n];
            double bound = (K + 2) * 0x1p-24 * (mag + fabs(c0)) + 1e-30;
            maxref = fmax(maxref, fabs(ref));
            err_fp32 = fmax(err_fp32, fabs(got - ref));
            excess = fmax(excess, fabs(got - refb) / bound);
        }
    int pad_ok = 1; /* the padding columns of C are left alone */
    for (int m = 0; m < M; m++)
        for (int n = N; n < ldc; n++)
            pad_ok &= memcmp(&C[(size_t)m * ldc + n], &C0[(size_t)m * ldc + n], sizeof(float)) == 0;
    int det = 1; /* 1 and 3 threads; packing in passes of 24 KiB (several chunks of A and B) */
    for (int v = 0; v < 3; v++) {
        memcpy(C2, C0, sizeof(float) * (size_t)M * ldc);
        omp_set_num_threads(v == 0 ? 1 : v == 1 ? 3 : 2);
        gemm_bf16_set_chunk_bytes(v == 2 ? 24L << 10 : 0);
        gemm_bf16(k, s->ta, s->tb, M, N, K, A, lda, B, ldb, s->beta, C2, ldc);
        det &= memcmp(C, C2, sizeof(float) * (size_t)M * ldc) == 0;
    }
    gemm_bf16_set_chunk_bytes(0);
    omp_set_num_threads(2);
    double rel = err_fp32 / fmax(maxref, 1e-30);
    int ok = rel <= 1e-2 && excess <= 1.0 && det && pad_ok;
    printf("%-8s %s%s M=%4d N=%4d K=%4d pad=%d beta=%g: |C-ref|/max|C| %.2e, vs bf16-input ref %.3f of the "
           "fp32 bound, threads 1/2/3 and chunked %s%s\n",
           k == GEMM_BF16_AVX512 ? "vdpbf16" : "portable", s->ta ? "T" : "N", s->tb ? "T" : "N", M, N, K, s->pad,
           (double)s->beta, rel, excess, det ? "bitwise equal" : "DIFFER", pad_ok ? "" : ", PADDING WRITTEN");
    expect(ok, "bf16 gemm shape");
    free(A);
    free(B);
    free(C0);
    free(C);
    free(C2);
}

/* the vdpbf16ps kernel against the portable one on the same packed operands */
static void check_kernels_agree(void) {
    int M = 77, N = 95, K = 1001;
    float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N);
    float *C1 = calloc((size_t)M * N, sizeof(float)), *C2 = calloc((size_t)M * N, sizeof(float));
    Rng r;
    rng_seed(&r, 4, 0);
    for (int i = 0; i < M * K; i++) A[i] = uniform(&r);
    for (int i = 0; i < K * N; i++) B[i] = uniform(&r);
    gemm_bf16(GEMM_BF16_PORTABLE, 0, 1, M, N, K, A, K, B, K, 0.0f, C1, N);
    gemm_bf16(GEMM_BF16_AVX512, 0, 1, M, N, K, A, K, B, K, 0.0f, C2, N);
    double maxc = 0.0, maxd = 0.0;
    int same = 0;
    for (int i = 0; i < M * N; i++) {
        maxc = fmax(maxc, fabs(C1[i]));
        maxd = fmax(maxd, fabs((double)C1[i] - (double)C2[i]));
        same += C1[i] == C2[i];
    }
    printf("vdpbf16ps vs portable kernel: max diff %.2e of max|C| %.2f, %d of %d elements bitwise equal\n", maxd,
           maxc, same, M * N);
    expect(maxd <= 1e-5 * maxc, "vdpbf16ps kernel agrees with the portable kernel");
    free(A);
    free(B);
    free(C1);
    free(C2);
}

/* tiny preset, AdamW, a learnable token stream (a noisy affine walk over the vocabulary) */
static void train_losses(GemmPrecision p, int steps, float *loss) {
    GemmPrecision got = gemm_set_precision(p);
    expect(got == p, "gemm_set_precision accepts the precision asked for");
    GriffinConfig cfg;
    config_preset("tiny", &cfg);
    enum { B = 4, T = 64, N = B * T };
    GriffinModel *m = griffin_create(&cfg, B, T, 7);
    size_t P = m->table.total;
    float *am = calloc(P, sizeof(float)), *av = calloc(P, sizeof(float));
    AdamWConfig ac = adamw_defaults();
    int tokens[N + 1], targets[N], pos[N];
    Rng r;
    rng_seed(&r, 11, 0);
    for (int s = 0; s < steps; s++) {
        int t0 = (int)rng_below(&r, (uint64_t)cfg.vocab_size);
        tokens[0] = t0;
        for (int n = 1; n <= N; n++)
            tokens[n] = (tokens[n - 1] * 5 + 3 + (rng_below(&r, 8) == 0 ? (int)rng_below(&r, 16) : 0)) % cfg.vocab_size;
        for (int n = 0; n < N; n++) {
            targets[n] = tokens[n + 1];
            pos[n] = n % T;
        }
        griffin_zero_grad(m);
        loss[s] = griffin_forward(m, tokens, targets, pos, NULL, B, T);
        griffin_backward(m);
        adamw_update(&m->table, m->params, m->grads, am, av, &ac, 3e-3f, s + 1, 1.0f);
    }
    free(am);
    free(av);
    griffin_free(m);
    gemm_set_precision(GEMM_FP32);
}

static void check_training(void) {
    enum { STEPS = 50 };
    float l32[STEPS], l16[STEPS];
    GemmPrecision p = gemm_bf16_cpu_supported() ? GEMM_BF16 : GEMM_BF16_EMULATED;
    train_losses(GEMM_FP32, STEPS, l32);
    train_losses(p, STEPS, l16);
    double worst = 0.0;
    int at = 0;
    for (int s = 0; s < STEPS; s++) {
        double d = fabs((double)l16[s] - (double)l32[s]) / (double)l32[s];
        if (d > worst) worst = d, at = s;
    }
    printf("tiny model, %d AdamW steps: fp32 loss %.4f -> %.4f, %s %.4f -> %.4f; max relative difference %.3f%% "
           "(step %d)\n",
           STEPS, (double)l32[0], (double)l32[STEPS - 1], gemm_precision_name(p), (double)l16[0],
           (double)l16[STEPS - 1], 100.0 * worst, at);
    expect(l32[STEPS - 1] < 0.7f * l32[0], "the tiny model learns");
    expect(worst <= 0.02, "bf16 losses within 2% of fp32");
}

int main(void) {
    test_rounding();
    int have = gemm_bf16_cpu_supported();
    printf("this CPU: avx512_bf16 %s\n", have ? "yes (vdpbf16ps kernel tested)" : "no (portable kernel only)");
    GemmPrecision p = gemm_set_precision(GEMM_BF16);
    expect(p == (have ? GEMM_BF16 : GEMM_FP32), "bf16 falls back to fp32 exactly where the CPU lacks it");
    gemm_set_precision(GEMM_FP32);
    const Shape shapes[] = {
        {0, 1, 37, 45, 67, 0, 0.0f},   {0, 0, 37, 45, 67, 3, 1.0f},  {1, 0, 37, 45, 67, 1, 1.0f},
        {1, 1, 37, 45, 67, 2, 0.0f},   {0, 1, 1, 1, 1, 0, 1.0f},     {0, 0, 12, 32, 2, 0, 0.0f},
        {0, 1, 50, 70, 1536, 5, 1.0f}, {0, 0, 61, 33, 1535, 0, 0.0f}, {1, 0, 33, 65, 1536, 4, 1.0f},
        {1, 0, 96, 64, 513, 0, 0.5f},
    };
    int nshapes = (int)(sizeof shapes / sizeof shapes[0]);
    for (int kk = have ? 0 : 1; kk <= 1; kk++)
        for (int i = 0; i < nshapes; i++) check_shape(&shapes[i], (GemmBf16Kernel)kk);
    if (have) check_kernels_agree();
    /* gemm() in bf16-emulated mode is the portable kernel, bit for bit */
    {
        float A[6 * 5], Bm[5 * 4], C1[6 * 4] = {0}, C2[6 * 4] = {0};
        Rng r;
        rng_seed(&r, 3, 0);
        for (int i = 0; i < 30; i++) A[i] = uniform(&r);
        for (int i = 0; i < 20; i++) Bm[i] = uniform(&r);
        gemm_set_precision(GEMM_BF16_EMULATED);
        gemm(0, 0, 6, 4, 5, A, 5, Bm, 4, 0.0f, C1, 4);
        gemm_set_precision(GEMM_FP32);
        gemm_bf16(GEMM_BF16_PORTABLE, 0, 0, 6, 4, 5, A, 5, Bm, 4, 0.0f, C2, 4);
        expect(memcmp(C1, C2, sizeof C1) == 0, "gemm() in bf16-emulated mode is the portable kernel");
    }
    check_training();
    printf("gemm_bf16: %s\n", fails ? "FAILED" : "ok");
    return fails ? 1 : 0;
}
