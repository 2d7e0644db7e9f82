/* Causal depthwise Conv1D, 4 taps, with bias, document-masked (docs/architecture.md §7.1;
 * reference: recurrentgemma torch layers.Conv1D).
 * Pitfall 4: row W-1 of w multiplies the current token, row 0 the token 3 steps back.
 * Pitfall 6: a tap never reaches across a document start (segment_pos == 0), forward and
 * backward; a token at a start sees only itself. */
#include "config.h"
#include "layers.h"

#define CW GRIFFIN_CONV_WIDTH

/* number of taps (1..CW) usable at (row, t): lag k is valid iff t-k >= 0 and no position in
 * t-k+1 .. t starts a document. pos is the row's [T] segment positions. */
static inline int conv_taps(const int *pos, int t) {
    int nv = 1;
    while (nv < CW && t - nv >= 0 && pos[t - nv + 1] != 0) nv++;
    return nv;
}

/* x [B,T,E], pos [B,T], w [CW,E], b [E] -> out [B,T,E]
 * out[t,j] = b[j] + Σ_{k<taps(t)} w[CW-1-k, j] · x[t-k, j] */
void conv1d_forward(float *out, const float *x, const int *pos, const float *w, const float *b,
                    int B, int T, int E) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int bb = 0; bb < B; bb++) {
        for (int t = 0; t < T; t++) {
            const int *p = pos + (size_t)bb * T;
            int nv = conv_taps(p, t);
            float *o = out + ((size_t)bb * T + t) * E;
            for (int j = 0; j < E; j++) o[j] = b[j];
            for (int k = 0; k < nv; k++) {
                const float *xr = x + ((size_t)bb * T + t - k) * E;
                const float *wr = w + (size_t)(CW - 1 - k) * E;
                for (int j = 0; j < E; j++) o[j] += wr[j] * xr[j];
            }
        }
    }
}

/* forward: out[t] = b + Σ_{k<taps(t)} w[CW-1-k] ⊙ x[t-k]
 *   dx[t-k] += w[CW-1-k] ⊙ dout[t];  dw[CW-1-k] += Σ dout[t] ⊙ x[t-k];  db += Σ dout[t]
 * Parallel over channel blocks (every sum in order): race-free and deterministic. */
void conv1d_backward(float *dx, float *dw, float *db, const float *dout, const float *x, const int *pos,
                     const float *w, int B, int T, int E) {
    enum { CB = 64 };
    int nblocks = (E + CB - 1) / CB;
#pragma omp parallel for schedule(static)
    for (int blk = 0; blk < nblocks; blk++) {
        int j0 = blk * CB, j1 = j0 + CB < E ? j0 + CB : E;
        float accw[CW][CB] = {{0}}, accb[CB] = {0};
        for (int bb = 0; bb < B; bb++) {
            const int *p = pos + (size_t)bb * T;
            for (int t = 0; t < T; t++) {
                int nv = conv_taps(p, t);
                const float *g = dout + ((size_t)bb * T + t) * E;
                for (int j = j0; j < j1; j++) accb[j - j0] += g[j];
                for (int k = 0; k < nv; k++) {
                    size_t r = (size_t)bb * T + t - k;
                    const float *wr = w + (size_t)(CW - 1 - k) * E;
                    const float *xr = x + r * E;
                    float *dxr = dx + r * E;
                    for (int j = j0; j < j1; j++) {
                        dxr[j] += wr[j] * g[j];
                        accw[CW - 1 - k][j - j0] += g[j] * xr[j];
                    }
                }
            }
        }
        for (int j = j0; j < j1; j++) {
            if (db) db[j] += accb[j - j0];
            for (int k = 0; dw && k < CW; k++) dw[(size_t)k * E + j] += accw[k][j - j0];
        }
    }
}

/* x [B,E] new inputs, state [B,3,E] previous inputs (oldest first), w [CW,E], b [E]
 * out [B,E] = b + w[3] x + w[2] s[2] + w[1] s[1] + w[0] s[0];  state ← [s[1], s[2], x] */
void conv1d_step(float *out, float *state, const float *x, const float *w, const float *b, int B, int E) {
#pragma omp parallel for schedule(static)
    for (int bb = 0; bb < B; bb++) {
        float *s = state + (size_t)bb * (CW - 1) * E;
        const float *xr = x + (size_t)bb * E;
        float *o = out + (size_t)bb * E;
        for (int j = 0; j < E; j++) {
            float acc = b[j] + w[(size_t)(CW - 1) * E + j] * xr[j];
            for (int k = 0; k < CW - 1; k++) acc += w[(size_t)k * E + j] * s[(size_t)k * E + j];
            o[j] = acc;
            for (int k = 0; k < CW - 2; k++) s[(size_t)k * E + j] = s[(size_t)(k + 1) * E + j];
            s[(size_t)(CW - 2) * E + j] = xr[j];
        }
    }
}
