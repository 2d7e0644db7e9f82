/* Per-token log-probabilities through the logits hook (see logprobs.h). */
#include "logprobs.h"

#include <math.h>
#include <stddef.h>

#include "rlhf.h"

typedef struct {
    float *out;
    const int *tgt;
    const uint8_t *mask;
    double *entropy, *maxdiff; /* NULL: not wanted */
    const float *logp_s;
} LogpHook;

/* rows r0 … r0+nr−1: lg [nr,V] soft-capped logits, m->lse set; log p = z[tgt] − lse */
static void logp_hook(void *ctx, const GriffinModel *m, const float *lg, int r0, int nr) {
    const LogpHook *h = ctx;
    int V = m->cfg.vocab_size;
    for (int i = 0; i < nr; i++) {
        int x = r0 + i;
        const float *z = lg + (size_t)i * V;
        h->out[x] = h->mask[x] ? z[h->tgt[x]] - m->lse[x] : 0.0f;
        if (!h->entropy || !h->mask[x]) continue;
        *h->entropy += softmax_entropy(z, m->lse[x], V);
        double d = fabs((double)h->out[x] - (double)h->logp_s[x]);
        *h->maxdiff = d > *h->maxdiff ? d : *h->maxdiff;
    }
}

void forward_logprobs(GriffinModel *m, float *out, const int *tok, const int *tgt, const int *pos, const uint8_t *mask,
                      int S, int T, double *entropy, double *maxdiff, const float *logp_s) {
    LogpHook h = {out, tgt, mask, entropy, maxdiff, logp_s};
    griffin_set_logits_hook(m, logp_hook, &h);
    griffin_forward(m, tok, tgt, pos, mask, S, T);
    griffin_set_logits_hook(m, NULL, NULL);
}
