/* Half-dim RoPE and local multi-query attention (docs/architecture.md §8; reference:
 * recurrentgemma torch modules.LocalAttentionBlock and layers.apply_rope).
 * Semantics ports got wrong:
 * - RoPE rotates only the first K/2 dims of each head, pairs (i, i + K/4), θ_i =
 *   pos · 10000^(−2i/(K/2)), pos = segment_pos (restarts per document); v is not rotated;
 * - one K/V head shared by all H query heads, scores scaled by K^(−1/2);
 * - a query at t sees keys τ with 0 ≤ t−τ ≤ A (A+1 keys) within its own document
 *   (segment id = running count of segment_pos == 0 in the row; a row that does not start
 *   at position 0 continues segment 0);
 * - softmax in float32; the diagonal is always allowed. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "gemv.h"
#include "layers.h"

#define ROPE_BASE 10000.0f

/* rotate x [N, nheads*K] in place by +θ (dir = +1) or −θ (dir = −1, the transpose) */
static void rope_apply(float *x, const int *pos, int N, int nheads, int K, float dir) {
    int R = K / 2, half = R / 2;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        float p = (float)pos[n];
        for (int i = 0; i < half; i++) {
            float theta = p * powf(ROPE_BASE, -2.0f * (float)i / (float)R);
            float cs = cosf(theta), sn = dir * sinf(theta);
            for (int hh = 0; hh < nheads; hh++) {
                float *v = x + (size_t)n * nheads * K + (size_t)hh * K;
                float a = v[i], b = v[i + half];
                v[i] = a * cs - b * sn;
                v[i + half] = b * cs + a * sn;
            }
        }
    }
}

/* x [N, nheads*K] in place:  x'_i = x_i cos θ_i − x_{i+K/4} sin θ_i,  x'_{i+K/4} = x_{i+K/4} cos θ_i + x_i sin θ_i */
void rope_forward(float *x, const int *pos, int N, int nheads, int K) { rope_apply(x, pos, N, nheads, K, 1.0f); }

/* forward: x' = R(θ) x  ⇒  dx = R(θ)ᵀ dx' = R(−θ) dx'   (in place) */
void rope_backward(float *dx, const int *pos, int N, int nheads, int K) { rope_apply(dx, pos, N, nheads, K, -1.0f); }

int attention_band(int T, int A) { return (A < T - 1 ? A : T - 1) + 1; }

/* first allowed key of query t in a row: max(t − A, start of t's document) */
static inline int key_lo(const int *pos, int t, int A) {
    int s = t;
    while (s > 0 && pos[s] != 0 && t - s < A) s--;
    /* s stops at the document start, at t − A, or at 0 */
    return s;
}

/* q [B,T,H,K] (roped), k, v [B,T,K] (k roped), pos [B,T]
 * saved: probs [B,H,T,A1] band: probs[.., t, w] is the weight of key τ = t − w (0 if not allowed)
 * out [B,T,H,K] = Σ_τ p[t,τ] v_τ,   p = softmax_τ(q_t·k_τ / sqrt(K)) over allowed τ */
void attention_forward(float *out, float *probs, const float *q, const float *k, const float *v,
                       const int *pos, int B, int T, int H, int K, int A) {
    int A1 = attention_band(T, A);
    float scale = 1.0f / sqrtf((float)K);
#pragma omp parallel for collapse(2) schedule(static)
    for (int bb = 0; bb < B; bb++) {
        for (int t = 0; t < T; t++) {
            const int *p = pos + (size_t)bb * T;
            int lo = key_lo(p, t, A);
            for (int hh = 0; hh < H; hh++) {
                const float *qv = q + (((size_t)bb * T + t) * H + hh) * K;
                float *pr = probs + (((size_t)bb * H + hh) * T + t) * A1;
                float *o = out + (((size_t)bb * T + t) * H + hh) * K;
                memset(pr, 0, sizeof(float) * (size_t)A1);
                float mx = -INFINITY;
                for (int tau = lo; tau <= t; tau++) {
                    const float *kv = k + ((size_t)bb * T + tau) * K;
                    float s = gemv_dot(qv, kv, K) * scale;
                    pr[t - tau] = s;
                    if (s > mx) mx = s;
                }
                float sum = 0.0f;
                for (int tau = lo; tau <= t; tau++) {
                    float e = expf(pr[t - tau] - mx);
                    pr[t - tau] = e;
                    sum += e;
                }
                float inv = 1.0f / sum;
                memset(o, 0, sizeof(float) * (size_t)K);
                for (int tau = lo; tau <= t; tau++) {
                    float w = pr[t - tau] *= inv;
                    const float *vv = v + ((size_t)bb * T + tau) * K;
                    for (int d = 0; d < K; d++) o[d] += w * vv[d];
                }
            }
        }
    }
}

/* forward: s = q_t·k_τ/sqrt(K), p = softmax(s), out_t = Σ p v_τ
 *   dp = dout_t · v_τ;  ds = p (dp − Σ_τ p dp)            (stored in dscores [B,H,T,A1])
 *   dq_t += Σ_τ ds k_τ / sqrt(K)                             (pass 1, parallel over (b,t))
 *   dk_τ += Σ_{t,h} ds q_t / sqrt(K);  dv_τ += Σ_{t,h} p dout_t   (pass 2, parallel over (b,τ)) */
void attention_backward(float *dq, float *dk, float *dv, float *dscores, const float *dout,
                        const float *probs, const float *q, const float *k, const float *v,
                        const int *pos, int B, int T, int H, int K, int A) {
    int A1 = attention_band(T, A);
    float scale = 1.0f / sqrtf((float)K);
#pragma omp parallel for collapse(2) schedule(static)
    for (int bb = 0; bb < B; bb++) {
        for (int t = 0; t < T; t++) {
            const int *p = pos + (size_t)bb * T;
            int lo = key_lo(p, t, A);
            for (int hh = 0; hh < H; hh++) {
                const float *g = dout + (((size_t)bb * T + t) * H + hh) * K;
                const float *pr = probs + (((size_t)bb * H + hh) * T + t) * A1;
                float *ds = dscores + (((size_t)bb * H + hh) * T + t) * A1;
                float *dqv = dq + (((size_t)bb * T + t) * H + hh) * K;
                memset(ds, 0, sizeof(float) * (size_t)A1);
                float dot = 0.0f;
                for (int tau = lo; tau <= t; tau++) {
                    const float *vv = v + ((size_t)bb * T + tau) * K;
                    float dp = gemv_dot(g, vv, K);
                    ds[t - tau] = dp;
                    dot += dp * pr[t - tau];
                }
                for (int tau = lo; tau <= t; tau++) {
                    float s = pr[t - tau] * (ds[t - tau] - dot) * scale;
                    ds[t - tau] = s;
                    const float *kv = k + ((size_t)bb * T + tau) * K;
                    for (int d = 0; d < K; d++) dqv[d] += s * kv[d];
                }
            }
        }
    }
#pragma omp parallel for collapse(2) schedule(static)
    for (int bb = 0; bb < B; bb++) {
        for (int tau = 0; tau < T; tau++) {
            float *dkv = dk + ((size_t)bb * T + tau) * K;
            float *dvv = dv + ((size_t)bb * T + tau) * K;
            int t_hi = tau + A1 - 1 < T - 1 ? tau + A1 - 1 : T - 1;
            for (int t = tau; t <= t_hi; t++) {
                for (int hh = 0; hh < H; hh++) {
                    size_t bi = (((size_t)bb * H + hh) * T + t) * A1 + (size_t)(t - tau);
                    float s = dscores[bi], pw = probs[bi];
                    if (s == 0.0f && pw == 0.0f) continue;
                    const float *qv = q + (((size_t)bb * T + t) * H + hh) * K;
                    const float *g = dout + (((size_t)bb * T + t) * H + hh) * K;
                    for (int d = 0; d < K; d++) {
                        dkv[d] += s * qv[d];
                        dvv[d] += pw * g[d];
                    }
                }
            }
        }
    }
}

/* q [B,H,K] (roped), k, v [B,K] (k roped) of the token with absolute index n[b] in its row;
 * kc, vc [B,A,K] ring: the token at absolute index p sits in slot p mod A; the query sees the
 * indices lo[b] = max(n − A, seg_start[b]) … n − 1 (itself plus the A previous tokens of its
 * own document; pads and earlier documents of a prompt are excluded). out [B,H,K]; afterwards
 * k, v are written into slot n mod A (pitfall 20).
 * One pass with an online softmax (running max and sum per head) over the used slots only, in
 * blocks of ATT_BLK keys that every head of a group scores while they sit in L1. Work items
 * are (sequence, group of heads); each head's arithmetic is the same whatever the grouping,
 * so the result does not depend on the thread count. */
#define ATT_BLK 16
#define ATT_HG 16 /* most heads per group */

static inline void axpy(float *restrict o, float w, const float *restrict x, int K) {
    for (int d = 0; d < K; d++) o[d] += w * x[d];
}

void attention_step(float *out, float *kc, float *vc, const float *q, const float *k, const float *v,
                    const int *n, const int *seg_start, int B, int H, int K, int A) {
    float scale = 1.0f / sqrtf((float)K);
    /* enough items for every thread: split the heads when there are fewer sequences */
    int nth = omp_get_max_threads();
    int groups = B >= nth ? 1 : (nth + B - 1) / B;
    int hg = (H + groups - 1) / groups;
    hg = hg < ATT_HG ? hg : ATT_HG;
    groups = (H + hg - 1) / hg;
#pragma omp parallel for schedule(static)
    for (int item = 0; item < B * groups; item++) {
        int bb = item / groups, h0 = (item % groups) * hg, nh = H - h0 < hg ? H - h0 : hg;
        int nb = n[bb], lo = nb - A > seg_start[bb] ? nb - A : seg_start[bb];
        const float *kr = kc + (size_t)bb * A * K, *vr = vc + (size_t)bb * A * K;
        const float *kn = k + (size_t)bb * K, *vn = v + (size_t)bb * K;
        const float *qh = q + ((size_t)bb * H + h0) * K;
        float *oh = out + ((size_t)bb * H + h0) * K;
        float mx[ATT_HG], sum[ATT_HG], sc[ATT_BLK];
        /* the token's own key: always allowed */
        for (int h = 0; h < nh; h++) {
            mx[h] = gemv_dot(qh + (size_t)h * K, kn, K) * scale;
            sum[h] = 1.0f;
            memcpy(oh + (size_t)h * K, vn, sizeof(float) * (size_t)K);
        }
        /* positions lo … nb−1 in order, in blocks that do not cross the end of the ring */
        for (int p = lo; p < nb;) {
            int slot = p % A, len = nb - p;
            len = len < ATT_BLK ? len : ATT_BLK;
            len = len < A - slot ? len : A - slot;
            const float *kb = kr + (size_t)slot * K, *vb = vr + (size_t)slot * K;
            for (int h = 0; h < nh; h++) {
                const float *qv = qh + (size_t)h * K;
                float *o = oh + (size_t)h * K;
                float bm = mx[h];
                for (int j = 0; j < len; j++) {
                    sc[j] = gemv_dot(qv, kb + (size_t)j * K, K) * scale;
                    bm = sc[j] > bm ? sc[j] : bm;
                }
                if (bm > mx[h]) { /* rescale what was summed under the old max */
                    float c = expf(mx[h] - bm);
                    sum[h] *= c;
                    for (int d = 0; d < K; d++) o[d] *= c;
                    mx[h] = bm;
                }
                for (int j = 0; j < len; j++) {
                    float w = expf(sc[j] - bm);
                    sum[h] += w;
                    axpy(o, w, vb + (size_t)j * K, K);
                }
            }
            p += len;
        }
        for (int h = 0; h < nh; h++) {
            float inv = 1.0f / sum[h], *o = oh + (size_t)h * K;
            for (int d = 0; d < K; d++) o[d] *= inv;
        }
    }
    for (int bb = 0; bb < B; bb++) {
        int slot = n[bb] % A;
        memcpy(kc + ((size_t)bb * A + slot) * K, k + (size_t)bb * K, sizeof(float) * (size_t)K);
        memcpy(vc + ((size_t)bb * A + slot) * K, v + (size_t)bb * K, sizeof(float) * (size_t)K);
    }
}
