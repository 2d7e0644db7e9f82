/* RG-LRU, the Real-Gated Linear Recurrent Unit (docs/architecture.md §7.2; reference:
 * recurrentgemma torch layers.RGLRU and its rnn_scan).
 * Semantics ports got wrong:
 * - the gates read the conv output c, are block-diagonal with H blocks stored (in, out);
 * - log_a = -8 · σ(pre_a) · softplus(a_param), a = exp(log_a), a² = exp(2 log_a);
 * - reset where segment_pos == 0: decay 0 and input multiplier exactly 1 (input gate kept);
 * - d sqrt(u)/du is clipped: 1/sqrt(max(4u, 1e-6)) (pitfall 10);
 * - the scan accumulates in float32.
 *
 * The scans run 8 channels per AVX2 vector (vmath_simd.h), walking t down one sequence; the
 * scalar code does the same operations per channel (this file is built with -ffp-contract=off
 * and every fused multiply-add is written out), so a channel's result does not depend on which
 * path or thread computed it. */
#include <math.h>
#include <string.h>

#include "common/sys.h"

#include "layers.h"
#include "vmath.h"
#include "vmath_simd.h"

#define LRU_C 8.0f
#define CB 16 /* channels per task: one 64-byte line of each row */

/* torch.nn.functional.softplus with its default threshold 20 */
static inline float softplus(float x) { return x > 20.0f ? x : log1pf(expf(x)); }
static inline float softplus_grad(float x) { return x > 20.0f ? 1.0f : 1.0f / (1.0f + expf(-x)); }

/* The gates' products are small (bw x bw weights per head): one call per head left OpenBLAS's
 * threads mostly waiting. They run instead as one parallel loop of tasks, each one product of
 * RB rows of one head (and, forward, its sigmoid while the tile is in cache), by one thread:
 * gemm() inside a parallel region is single-threaded. Every element is still summed over the
 * same k in the same order by one kernel, so results do not depend on the thread count. */
#define RB 256 /* rows per task */

/* y [N,E] = σ(blockdiag(x [N,E]; w [H,bw,bw]) + b [H,bw]) for the input gate (wx, bx → gx) and the
 * recurrence gate (wa, ba → ga) */
static void gates_forward(float *gx, float *ga, const float *x, const float *wx, const float *bx, const float *wa,
                          const float *ba, int N, int E, int H) {
    int bw = E / H, nrb = (N + RB - 1) / RB;
    double t0 = gemm_profile_on() ? now_seconds() : 0.0;
#pragma omp parallel for schedule(static)
    for (int task = 0; task < 2 * H * nrb; task++) {
        int g = task / (H * nrb), h = task / nrb % H, r0 = task % nrb * RB, nr = N - r0 < RB ? N - r0 : RB;
        float *y = (g ? ga : gx) + (size_t)r0 * E + h * bw;
        const float *w = (g ? wa : wx) + (size_t)h * bw * bw, *b = (g ? ba : bx) + h * bw;
        for (int n = 0; n < nr; n++) memcpy(y + (size_t)n * E, b, sizeof(float) * (size_t)bw);
        gemm(0, 0, nr, bw, bw, x + (size_t)r0 * E + h * bw, E, w, bw, 1.0f, y, E);
        vm_sigmoid_tile(y, nr, bw, E);
    }
    if (t0 > 0.0) gemm_profile_add(now_seconds() - t0, 4.0 * N * E * bw);
}

/* forward: pre_g = blockdiag(x; w_g) + b_g for g = x, a
 *   dx += dpre_x · wxᵀ + dpre_a · waᵀ (per block, in that order);  dw_g[h] += x_hᵀ dpre_g,h;
 *   db_g += Σ_n dpre_g */
static void gates_backward(float *dx, float *dwx, float *dbx, float *dwa, float *dba, const float *dpre_x,
                           const float *dpre_a, const float *x, const float *wx, const float *wa, int N, int E,
                           int H) {
    int bw = E / H, nrb = (N + RB - 1) / RB;
    double t0 = gemm_profile_on() ? now_seconds() : 0.0;
#pragma omp parallel
    {
#pragma omp for schedule(static) nowait
        for (int task = 0; task < H * nrb; task++) {
            int h = task / nrb, r0 = task % nrb * RB, nr = N - r0 < RB ? N - r0 : RB;
            size_t o = (size_t)r0 * E + h * bw;
            gemm(0, 1, nr, bw, bw, dpre_x + o, E, wx + (size_t)h * bw * bw, bw, 1.0f, dx + o, E);
            gemm(0, 1, nr, bw, bw, dpre_a + o, E, wa + (size_t)h * bw * bw, bw, 1.0f, dx + o, E);
        }
#pragma omp for schedule(static)
        for (int task = 0; task < 2 * H; task++) { /* whole N per task: the order over rows is gemm's */
            int g = task / H, h = task % H;
            float *dw = g ? dwa : dwx;
            if (dw) gemm(1, 0, bw, bw, N, x + h * bw, E, (g ? dpre_a : dpre_x) + h * bw, E, 1.0f,
                         dw + (size_t)h * bw * bw, bw);
        }
    }
    if (t0 > 0.0) gemm_profile_add(now_seconds() - t0, 2.0 * N * E * bw * (2.0 + (dwx != NULL) + (dwa != NULL)));
    if (dbx) colsum_accumulate(dbx, dpre_x, N, E, E);
    if (dba) colsum_accumulate(dba, dpre_a, N, E, E);
}

/* one step of one channel: h ← ā h + (c gx) m, sp = softplus(a_param); the scalar twin of a
 * lane of scan_forward8, and the decode step's update */
static inline float lru_update(float state, float ga, float gx, float c, float sp, int reset) {
    if (reset) return fmaf(0.0f, state, (c * gx) * 1.0f);
    float log_a = (-LRU_C * ga) * sp;
    float a = vm_expf(log_a), a2 = vm_expf(2.0f * log_a);
    return fmaf(a, state, (c * gx) * sqrtf(1.0f - a2));
}

/* One channel (or 8, below) of the forward scan down one sequence; arrays point at the
 * channel in row t = 0 and step by E.  h_t = ā h_{t-1} + (c gx) m */
static void scan_forward1(float *h, const float *gx, const float *ga, const float *c, const int *pos, float sp,
                          int T, int E) {
    float state = 0.0f;
    for (int t = 0; t < T; t++) {
        size_t i = (size_t)t * E;
        state = lru_update(state, ga[i], gx[i], c[i], sp, pos[t] == 0);
        h[i] = state;
    }
}

/* one channel of the backward scan (see rglru_backward); returns Σ_t ∂log_a (−8 ga) softplus' */
static float scan_backward1(float *dc, float *dpre_x, float *dpre_a, const float *dh, const float *h,
                            const float *gx, const float *ga, const float *c, const int *pos, float sp, float dsp,
                            float dap, int T, int E) {
    float carry = 0.0f; /* ā_{t+1} δ_{t+1} */
    for (int t = T - 1; t >= 0; t--) {
        size_t i = (size_t)t * E;
        float log_a = (-LRU_C * ga[i]) * sp;
        float a = vm_expf(log_a), a2 = vm_expf(2.0f * log_a);
        float delta = dh[i] + carry;
        float m = 1.0f, dpa = 0.0f;
        if (pos[t] != 0) {
            m = sqrtf(1.0f - a2);
            float hprev = t > 0 ? h[i - E] : 0.0f;
            float dabar = delta * hprev;
            float dm = (delta * c[i]) * gx[i];
            float u4 = 4.0f * (1.0f - a2);
            float dlog_a = fmaf(dabar, a, (dm * (-2.0f * a2)) / sqrtf(u4 > 1e-6f ? u4 : 1e-6f));
            dpa = ((dlog_a * (-LRU_C * sp)) * ga[i]) * (1.0f - ga[i]);
            dap = fmaf(dlog_a * (-LRU_C * ga[i]), dsp, dap);
            carry = a * delta;
        } else {
            carry = 0.0f;
        }
        dpre_a[i] = dpa;
        dpre_x[i] = (((delta * c[i]) * m) * gx[i]) * (1.0f - gx[i]);
        dc[i] = fmaf(delta * gx[i], m, dc[i]);
    }
    return dap;
}

#ifdef VM_AVX2
/* 8 channels of scan_forward1, the same operations per lane */
static void scan_forward8(float *h, const float *gx, const float *ga, const float *c, const int *pos,
                          const float *a_param, int T, int E) {
    float spl[8];
    for (int k = 0; k < 8; k++) spl[k] = softplus(a_param[k]);
    __m256 sp = _mm256_loadu_ps(spl), state = _mm256_setzero_ps();
    __m256 mc = _mm256_set1_ps(-LRU_C), one = _mm256_set1_ps(1.0f), two = _mm256_set1_ps(2.0f);
    for (int t = 0; t < T; t++) {
        size_t i = (size_t)t * E;
        __m256 log_a = _mm256_mul_ps(_mm256_mul_ps(mc, _mm256_loadu_ps(ga + i)), sp);
        __m256 in = _mm256_mul_ps(_mm256_loadu_ps(c + i), _mm256_loadu_ps(gx + i));
        if (pos[t] == 0) {
            state = _mm256_fmadd_ps(_mm256_setzero_ps(), state, _mm256_mul_ps(in, one));
        } else {
            __m256 a = vm_exp8(log_a), a2 = vm_exp8(_mm256_mul_ps(two, log_a));
            __m256 m = _mm256_sqrt_ps(_mm256_sub_ps(one, a2));
            state = _mm256_fmadd_ps(a, state, _mm256_mul_ps(in, m));
        }
        _mm256_storeu_ps(h + i, state);
    }
}

/* 8 channels of scan_backward1; dap holds the 8 running sums */
static void scan_backward8(float *dc, float *dpre_x, float *dpre_a, const float *dh, const float *h,
                           const float *gx, const float *ga, const float *c, const int *pos, __m256 sp,
                           __m256 dsp, __m256 *dap, int T, int E) {
    __m256 carry = _mm256_setzero_ps(), zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
    __m256 mc = _mm256_set1_ps(-LRU_C), mcsp = _mm256_mul_ps(mc, sp);
    for (int t = T - 1; t >= 0; t--) {
        size_t i = (size_t)t * E;
        __m256 vga = _mm256_loadu_ps(ga + i), vgx = _mm256_loadu_ps(gx + i), vc = _mm256_loadu_ps(c + i);
        __m256 delta = _mm256_add_ps(_mm256_loadu_ps(dh + i), carry);
        __m256 m = one, dpa = zero;
        if (pos[t] != 0) {
            __m256 log_a = _mm256_mul_ps(_mm256_mul_ps(mc, vga), sp);
            __m256 a = vm_exp8(log_a), a2 = vm_exp8(_mm256_mul_ps(_mm256_set1_ps(2.0f), log_a));
            __m256 oma2 = _mm256_sub_ps(one, a2);
            m = _mm256_sqrt_ps(oma2);
            __m256 hprev = t > 0 ? _mm256_loadu_ps(h + i - E) : zero;
            __m256 dabar = _mm256_mul_ps(delta, hprev);
            __m256 dm = _mm256_mul_ps(_mm256_mul_ps(delta, vc), vgx);
            __m256 u4 = _mm256_mul_ps(_mm256_set1_ps(4.0f), oma2);
            __m256 eps = _mm256_set1_ps(1e-6f);
            u4 = _mm256_blendv_ps(eps, u4, _mm256_cmp_ps(u4, eps, _CMP_GT_OQ));
            __m256 q = _mm256_div_ps(_mm256_mul_ps(dm, _mm256_mul_ps(_mm256_set1_ps(-2.0f), a2)), _mm256_sqrt_ps(u4));
            __m256 dlog_a = _mm256_fmadd_ps(dabar, a, q);
            dpa = _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(dlog_a, mcsp), vga), _mm256_sub_ps(one, vga));
            *dap = _mm256_fmadd_ps(_mm256_mul_ps(dlog_a, _mm256_mul_ps(mc, vga)), dsp, *dap);
            carry = _mm256_mul_ps(a, delta);
        } else {
            carry = zero;
        }
        _mm256_storeu_ps(dpre_a + i, dpa);
        __m256 px = _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(delta, vc), m), vgx);
        _mm256_storeu_ps(dpre_x + i, _mm256_mul_ps(px, _mm256_sub_ps(one, vgx)));
        _mm256_storeu_ps(dc + i, _mm256_fmadd_ps(_mm256_mul_ps(delta, vgx), m, _mm256_loadu_ps(dc + i)));
    }
}
#endif

/* c [B,T,E] conv output, pos [B,T], a_param [E], wx/wa [H,bw,bw], bx/ba [H,bw]
 * saved: gx [N,E] input gate σ, ga [N,E] recurrence gate σ;  out h [B,T,E] (= the output)
 *   h_t = ā_t h_{t-1} + c_t gx_t m_t,  ā_t = reset ? 0 : a_t,  m_t = reset ? 1 : sqrt(1 - a_t²) */
void rglru_forward(float *h, float *gx, float *ga, const float *c, const int *pos, const float *a_param,
                   const float *wx, const float *bx, const float *wa, const float *ba,
                   int B, int T, int E, int H) {
    int N = B * T;
    gates_forward(gx, ga, c, wx, bx, wa, ba, N, E, H);
    int nblk = (E + CB - 1) / CB;
#pragma omp parallel for schedule(static)
    for (int task = 0; task < B * nblk; task++) {
        int bb = task / nblk, j0 = task % nblk * CB, j1 = j0 + CB < E ? j0 + CB : E;
        size_t off = (size_t)bb * T * E;
        int j = j0;
#ifdef VM_AVX2
        for (; j + 8 <= j1; j += 8) scan_forward8(h + off + j, gx + off + j, ga + off + j, c + off + j,
                                                  pos + (size_t)bb * T, a_param + j, T, E);
#endif
        for (; j < j1; j++) scan_forward1(h + off + j, gx + off + j, ga + off + j, c + off + j,
                                          pos + (size_t)bb * T, softplus(a_param[j]), T, E);
    }
}

/* backward of rglru_forward. dh [N,E] is dL/dh; scratch dpre_x, dpre_a [N,E] (overwritten).
 *   δ_t = dh_t + ā_{t+1} δ_{t+1}                       (reverse scan)
 *   ∂ā_t = δ_t h_{t-1};  ∂m_t = δ_t c_t gx_t           (non-reset only)
 *   ∂log_a_t = ∂ā_t a_t + ∂m_t (−2 a²_t) / sqrt(max(4(1−a²_t), 1e-6))
 *   dpre_a = ∂log_a (−8 softplus(a_param)) ga(1−ga);  da_param += Σ ∂log_a (−8 ga) softplus'(a_param)
 *   dpre_x = δ c m gx(1−gx);  dc += δ gx m + dpre_x·wxᵀ + dpre_a·waᵀ */
void rglru_backward(float *dc, float *da_param, float *dwx, float *dbx, float *dwa, float *dba,
                    float *dpre_x, float *dpre_a, const float *dh, const float *h, const float *gx,
                    const float *ga, const float *c, const int *pos, const float *a_param,
                    const float *wx, const float *wa, int B, int T, int E, int H) {
    int N = B * T, nblk = (E + CB - 1) / CB;
#pragma omp parallel for schedule(static)
    for (int blk = 0; blk < nblk; blk++) {
        int j0 = blk * CB, j1 = j0 + CB < E ? j0 + CB : E, j = j0;
#ifdef VM_AVX2
        for (; j + 8 <= j1; j += 8) {
            float spl[8], dspl[8];
            for (int k = 0; k < 8; k++) spl[k] = softplus(a_param[j + k]), dspl[k] = softplus_grad(a_param[j + k]);
            __m256 dap = _mm256_setzero_ps(), sp = _mm256_loadu_ps(spl), dsp = _mm256_loadu_ps(dspl);
            for (int bb = 0; bb < B; bb++) {
                size_t o = (size_t)bb * T * E + j;
                scan_backward8(dc + o, dpre_x + o, dpre_a + o, dh + o, h + o, gx + o, ga + o, c + o,
                               pos + (size_t)bb * T, sp, dsp, &dap, T, E);
            }
            float dl[8];
            _mm256_storeu_ps(dl, dap);
            for (int k = 0; da_param && k < 8; k++) da_param[j + k] += dl[k];
        }
#endif
        for (; j < j1; j++) {
            float sp = softplus(a_param[j]), dsp = softplus_grad(a_param[j]), dap = 0.0f;
            for (int bb = 0; bb < B; bb++) {
                size_t o = (size_t)bb * T * E + j;
                dap = scan_backward1(dc + o, dpre_x + o, dpre_a + o, dh + o, h + o, gx + o, ga + o, c + o,
                                     pos + (size_t)bb * T, sp, dsp, dap, T, E);
            }
            if (da_param) da_param[j] += dap;
        }
    }
    gates_backward(dc, dwx, dbx, dwa, dba, dpre_x, dpre_a, c, wx, wa, N, E, H);
}

/* c [B,E] conv output of one step, pos [B]; h [B,E] state in/out (float32), out [B,E] = h
 * gx, ga [B,E] scratch.  h ← ā h + c gx m  with the training reset rule */
void rglru_step(float *out, float *h, float *gx, float *ga, const float *c, const int *pos,
                const float *a_param, const float *wx, const float *bx, const float *wa, const float *ba,
                int B, int E, int H) {
    gates_forward(gx, ga, c, wx, bx, wa, ba, B, E, H);
#pragma omp parallel for schedule(static)
    for (int bb = 0; bb < B; bb++) {
        int reset = pos[bb] == 0;
        for (int j = 0; j < E; j++) {
            size_t i = (size_t)bb * E + j;
            h[i] = lru_update(h[i], ga[i], gx[i], c[i], softplus(a_param[j]), reset);
            out[i] = h[i];
        }
    }
}
