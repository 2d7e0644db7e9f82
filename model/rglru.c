/* RG-LRU, the Real-Gated Linear Recurrent Unit (ARCHITECTURE.md §7.2; reference:
 * recurrentgemma torch layers.RGLRU and its rnn_scan).
 * Semantics ports got wrong:
 * - the gates read the conv output c, are block-diagonal with H blocks stored (in, out);
 * - log_a = -8 · σ(pre_a) · softplus(a_param), a = exp(log_a), a² = exp(2 log_a);
 * - reset where segment_pos == 0: decay 0 and input multiplier exactly 1 (input gate kept);
 * - d sqrt(u)/du is clipped: 1/sqrt(max(4u, 1e-6)) (pitfall 10);
 * - the scan accumulates in float32. */
#include <math.h>
#include <string.h>

#include "layers.h"

#define LRU_C 8.0f

/* torch.nn.functional.softplus with its default threshold 20 */
static inline float softplus(float x) { return x > 20.0f ? x : log1pf(expf(x)); }
static inline float softplus_grad(float x) { return x > 20.0f ? 1.0f : 1.0f / (1.0f + expf(-x)); }
static inline float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

/* y [N,E] = σ(blockdiag(x [N,E]; w [H,bw,bw]) + b [H,bw]) */
static void gate_forward(float *y, const float *x, const float *w, const float *b, int N, int E, int H) {
    int bw = E / H;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) memcpy(y + (size_t)n * E, b, sizeof(float) * (size_t)E);
    for (int h = 0; h < H; h++)
        gemm(0, 0, N, bw, bw, x + h * bw, E, w + (size_t)h * bw * bw, bw, 1.0f, y + h * bw, E);
    size_t NE = (size_t)N * E;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < NE; i++) y[i] = sigmoidf(y[i]);
}

/* forward: pre = blockdiag(x; w) + b
 *   dx += dpre · wᵀ (per block);  dw[h] += x_hᵀ dpre_h;  db += Σ_n dpre */
static void gate_backward(float *dx, float *dw, float *db, const float *dpre, const float *x,
                          const float *w, int N, int E, int H) {
    int bw = E / H;
    for (int h = 0; h < H; h++) {
        gemm(0, 1, N, bw, bw, dpre + h * bw, E, w + (size_t)h * bw * bw, bw, 1.0f, dx + h * bw, E);
        gemm(1, 0, bw, bw, N, x + h * bw, E, dpre + h * bw, E, 1.0f, dw + (size_t)h * bw * bw, bw);
    }
    colsum_accumulate(db, dpre, N, E, E);
}

/* c [B,T,E] conv output, pos [B,T], a_param [E], wx/wa [H,bw,bw], bx/ba [H,bw]
 * saved: gx [N,E] input gate σ, ga [N,E] recurrence gate σ;  out h [B,T,E] (= the output)
 *   h_t = ā_t h_{t-1} + c_t gx_t m_t,  ā_t = reset ? 0 : a_t,  m_t = reset ? 1 : sqrt(1 - a_t²) */
void rglru_forward(float *h, float *gx, float *ga, const float *c, const int *pos, const float *a_param,
                   const float *wx, const float *bx, const float *wa, const float *ba,
                   int B, int T, int E, int H) {
    int N = B * T;
    gate_forward(gx, c, wx, bx, N, E, H);
    gate_forward(ga, c, wa, ba, N, E, H);
#pragma omp parallel for schedule(static)
    for (int j = 0; j < E; j++) {
        float sp = softplus(a_param[j]);
        for (int bb = 0; bb < B; bb++) {
            float state = 0.0f;
            for (int t = 0; t < T; t++) {
                size_t i = ((size_t)bb * T + t) * E + j;
                float log_a = -LRU_C * ga[i] * sp;
                float a = expf(log_a), a2 = expf(2.0f * log_a);
                int reset = pos[(size_t)bb * T + t] == 0;
                float abar = reset ? 0.0f : a;
                float m = reset ? 1.0f : sqrtf(1.0f - a2);
                state = abar * state + c[i] * gx[i] * m;
                h[i] = state;
            }
        }
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
    int N = B * T;
#pragma omp parallel for schedule(static)
    for (int j = 0; j < E; j++) {
        float sp = softplus(a_param[j]), dsp = softplus_grad(a_param[j]);
        float dap = 0.0f;
        for (int bb = 0; bb < B; bb++) {
            float carry = 0.0f; /* ā_{t+1} δ_{t+1} */
            for (int t = T - 1; t >= 0; t--) {
                size_t i = ((size_t)bb * T + t) * E + j;
                float log_a = -LRU_C * ga[i] * sp;
                float a = expf(log_a), a2 = expf(2.0f * log_a);
                int reset = pos[(size_t)bb * T + t] == 0;
                float delta = dh[i] + carry;
                float m = 1.0f, dpa = 0.0f;
                if (!reset) {
                    m = sqrtf(1.0f - a2);
                    float hprev = t > 0 ? h[i - E] : 0.0f;
                    float dabar = delta * hprev;
                    float dm = delta * c[i] * gx[i];
                    float u4 = 4.0f * (1.0f - a2);
                    float dlog_a = dabar * a + dm * (-2.0f * a2) / sqrtf(u4 > 1e-6f ? u4 : 1e-6f);
                    dpa = dlog_a * (-LRU_C * sp) * ga[i] * (1.0f - ga[i]);
                    dap += dlog_a * (-LRU_C * ga[i]) * dsp;
                    carry = a * delta;
                } else {
                    carry = 0.0f;
                }
                dpre_a[i] = dpa;
                dpre_x[i] = delta * c[i] * m * gx[i] * (1.0f - gx[i]);
                dc[i] += delta * gx[i] * m;
            }
        }
        da_param[j] += dap;
    }
    gate_backward(dc, dwx, dbx, dpre_x, c, wx, N, E, H);
    gate_backward(dc, dwa, dba, dpre_a, c, wa, N, E, H);
}

/* c [B,E] conv output of one step, pos [B]; h [B,E] state in/out (float32), out [B,E] = h
 * gx, ga [B,E] scratch.  h ← ā h + c gx m  with the training reset rule */
void rglru_step(float *out, float *h, float *gx, float *ga, const float *c, const int *pos,
                const float *a_param, const float *wx, const float *bx, const float *wa, const float *ba,
                int B, int E, int H) {
    gate_forward(gx, c, wx, bx, B, E, H);
    gate_forward(ga, c, wa, ba, B, E, H);
#pragma omp parallel for schedule(static)
    for (int bb = 0; bb < B; bb++) {
        int reset = pos[bb] == 0;
        for (int j = 0; j < E; j++) {
            size_t i = (size_t)bb * E + j;
            float log_a = -LRU_C * ga[i] * softplus(a_param[j]);
            float a = expf(log_a), a2 = expf(2.0f * log_a);
            float abar = reset ? 0.0f : a;
            float m = reset ? 1.0f : sqrtf(1.0f - a2);
            h[i] = abar * h[i] + c[i] * gx[i] * m;
            out[i] = h[i];
        }
    }
}
