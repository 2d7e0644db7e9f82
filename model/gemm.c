/* torch Linear on row-major buffers, and gemm(): the one entry point of every matrix product
 * of training, in fp32 (cblas_sgemm) or bf16 with fp32 accumulation (gemm_bf16.c).
 * Mirrors torch.nn.Linear: y = x Wᵀ + b with W stored [out, in]. */
#include <cblas.h>
#include <omp.h>
#include <string.h>

#include "common/sys.h"

#include "gemm_bf16.h"
#include "griffin.h"
#include "layers.h"

/* set once at start-up (train.precision), read by every gemm() call */
static GemmPrecision gemm_mode = GEMM_FP32;

GemmPrecision gemm_set_precision(GemmPrecision p) {
    gemm_mode = p == GEMM_BF16 && !gemm_bf16_cpu_supported() ? GEMM_FP32 : p;
    return gemm_mode;
}

GemmPrecision gemm_precision(void) { return gemm_mode; }

const char *gemm_precision_name(GemmPrecision p) {
    return p == GEMM_BF16 ? "bf16" : p == GEMM_BF16_EMULATED ? "bf16-emulated" : "fp32";
}

const char *const gemm_kind_name[GEMM_KIND_NUM] = {"other", "mlp up", "mlp down", "recurrent linears",
                                                   "rg-lru gates", "attention q/k/v", "attention out",
                                                   "unembedding", "lora adapters"};

/* the profile of bench train; written by the thread outside parallel regions only */
static GemmProfile *gemm_prof;
static GemmKind prof_kind;
static int prof_dir;

void gemm_profile_set(GemmProfile *p) { gemm_prof = p; }
void gemm_profile_kind(GemmKind k, int dir) { prof_kind = k, prof_dir = dir != 0; }
GemmKind gemm_profile_current(void) { return prof_kind; }
int gemm_profile_on(void) { return gemm_prof && !omp_in_parallel(); }

void gemm_profile_add(double seconds, double flops) {
    if (!gemm_profile_on()) return;
    gemm_prof->seconds[prof_kind][prof_dir] += seconds;
    gemm_prof->flops[prof_kind][prof_dir] += flops;
}

/* C [M,N] = op(A) · op(B) + beta·C, row-major; ta/tb 1 = transposed (cblas_sgemm, alpha 1) */
void gemm(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta,
          float *C, int ldc) {
    double t0 = gemm_profile_on() ? now_seconds() : 0.0;
    if (gemm_mode == GEMM_FP32)
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1.0f,
                    A, lda, B, ldb, beta, C, ldc);
    else
        gemm_bf16(gemm_mode == GEMM_BF16 ? GEMM_BF16_AVX512 : GEMM_BF16_PORTABLE, ta, tb, M, N, K, A, lda, B, ldb,
                  beta, C, ldc);
    if (t0 > 0.0) gemm_profile_add(now_seconds() - t0, 2.0 * M * N * K);
}

/* x [N,NI], w [NO,NI], b [NO] or NULL  ->  y [N,NO] (overwritten) */
void linear_forward(float *y, const float *x, const float *w, const float *b, int N, int NI, int NO) {
    if (b) {
#pragma omp parallel for schedule(static)
        for (int n = 0; n < N; n++) memcpy(y + (size_t)n * NO, b, sizeof(float) * (size_t)NO);
    }
    gemm(0, 1, N, NO, NI, x, NI, w, NI, b ? 1.0f : 0.0f, y, NO);
}

/* forward: y = x wᵀ + b.  dy [N,NO], x [N,NI], w [NO,NI]
 *   dx [N,NI] += dy w      (skipped if dx NULL)
 *   dw [NO,NI] += dyᵀ x
 *   db [NO]   += Σ_n dy    (skipped if db NULL) */
void linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                     int N, int NI, int NO) {
    if (dx) gemm(0, 0, N, NI, NO, dy, NO, w, NI, 1.0f, dx, NI);
    if (dw) gemm(1, 0, NO, NI, N, dy, NO, x, NI, 1.0f, dw, NI);
    if (db) colsum_accumulate(db, dy, N, NO, NO);
}

/* db [NO] += Σ_n dy[n, :]; dy has row stride ldy. Each thread owns a column block and sums
 * rows in order, so the result does not depend on the thread count. */
void colsum_accumulate(float *db, const float *dy, int N, int NO, int ldy) {
    enum { CB = 64 };
    int nblocks = (NO + CB - 1) / CB;
#pragma omp parallel for schedule(static)
    for (int blk = 0; blk < nblocks; blk++) {
        int j0 = blk * CB, j1 = j0 + CB < NO ? j0 + CB : NO;
        float acc[CB] = {0};
        for (int n = 0; n < N; n++) {
            const float *row = dy + (size_t)n * ldy;
            for (int j = j0; j < j1; j++) acc[j - j0] += row[j];
        }
        for (int j = j0; j < j1; j++) db[j] += acc[j - j0];
    }
}
