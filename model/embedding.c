/* Token embedding with the bf16-rounded sqrt(D) input scale (docs/architecture.md §3;
 * reference: recurrentgemma torch modules.Embedder.encode). The tied unembedding lives in
 * griffin.c (one matrix product, no scale). */
#include <string.h>

#include "layers.h"

/* out [N,D] = table[tokens[n], :] * scale;  tokens [N], table [V,D] */
void embedding_forward(float *out, const int *tokens, const float *table, float scale, int N, int D) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *row = table + (size_t)tokens[n] * D;
        float *o = out + (size_t)n * D;
        for (int j = 0; j < D; j++) o[j] = row[j] * scale;
    }
}

/* forward: out[n] = table[tokens[n]] * scale
 * dtable [V,D] += scale * dout[n] at row tokens[n]. Parallel over column blocks, rows in order:
 * race-free and deterministic when a token repeats. */
void embedding_backward(float *dtable, const float *dout, const int *tokens, float scale, int N, int D) {
    enum { CB = 64 };
    int nblocks = (D + CB - 1) / CB;
#pragma omp parallel for schedule(static)
    for (int blk = 0; blk < nblocks; blk++) {
        int j0 = blk * CB, j1 = j0 + CB < D ? j0 + CB : D;
        for (int n = 0; n < N; n++) {
            float *drow = dtable + (size_t)tokens[n] * D;
            const float *g = dout + (size_t)n * D;
            for (int j = j0; j < j1; j++) drow[j] += scale * g[j];
        }
    }
}
