/* Rollouts (see rollout.h; the loop follows model/sampler.c's generate()). */
#include "rollout.h"

#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "model/vmath.h"

void rollout_alloc(Rollout *r, int S, int max_new) {
    memset(r, 0, sizeof *r);
    r->S = S;
    r->max_new = max_new;
    r->tokens = callocCheck((size_t)S * max_new, sizeof(int));
    r->logp = callocCheck((size_t)S * max_new, sizeof(float));
    r->len = callocCheck((size_t)S, sizeof(int));
    r->stopped = callocCheck((size_t)S, sizeof(int));
    r->last = callocCheck((size_t)S, sizeof(int));
}

void rollout_free(Rollout *r) {
    free(r->tokens);
    free(r->logp);
    free(r->len);
    free(r->stopped);
    free(r->last);
    memset(r, 0, sizeof *r);
}

/* log softmax(row)[id], with the log-normaliser crossentropy_forward uses (vm_logsumexp) */
static float row_logprob(const float *row, int V, int id) {
    return row[id] - vm_logsumexp(row, (size_t)V);
}

void rollout_sample(GriffinModel *m, DecodeState *prompt_state, DecodeState *state, const int *const *prompts,
                    const int *prompt_len, int G, int k, int max_new, const SamplerParams *sp, const int *stop_ids,
                    int n_stop, uint64_t seed, const uint64_t *streams, Rollout *out) {
    int S = G * k, V = m->cfg.vocab_size, P = 0;
    CHECK(state->B == S && out->S >= S && out->max_new >= max_new, "rollout_sample: buffers too small");
    CHECK(k == 1 || (prompt_state && prompt_state->B == G), "rollout_sample: the prompt state needs batch %d", G);
    for (int g = 0; g < G; g++) {
        CHECK(prompt_len[g] > 0, "rollout_sample: empty prompt %d", g);
        P = prompt_len[g] > P ? prompt_len[g] : P;
    }
    /* left-pad to P: pads get position -1 (invisible) */
    int *tok = mallocCheck(sizeof(int) * (size_t)G * P), *pos = mallocCheck(sizeof(int) * (size_t)G * P);
    for (int g = 0; g < G; g++) {
        int pad = P - prompt_len[g];
        for (int t = 0; t < P; t++) {
            tok[g * P + t] = t < pad ? 0 : prompts[g][t - pad];
            pos[g * P + t] = t < pad ? -1 : t - pad;
        }
    }
    const float *logits;
    if (k == 1) {
        logits = decode_prefill(state, m, tok, pos, P);
    } else {
        decode_prefill(prompt_state, m, tok, pos, P);
        for (int i = 0; i < S; i++) decode_copy_row(state, i, prompt_state, i / k);
        logits = state->logits;
    }
    Rng *rngs = mallocCheck(sizeof(Rng) * (size_t)S);
    for (int i = 0; i < S; i++) {
        rng_seed(&rngs[i], seed, streams[i]);
        out->len[i] = 0;
        out->stopped[i] = 0;
        out->last[i] = -1;
    }
    float *scratch = mallocCheck(sizeof(float) * (size_t)V);
    int *idx = mallocCheck(sizeof(int) * (size_t)V), *next = mallocCheck(sizeof(int) * (size_t)S);
    for (int step = 0; step < max_new; step++) {
        int active = 0;
        for (int i = 0; i < S; i++) {
            next[i] = 0;
            if (out->stopped[i]) continue;
            const float *row = logits + (size_t)i * V;
            int t = sample_token(row, V, sp, &rngs[i], scratch, idx);
            out->tokens[(size_t)i * out->max_new + step] = t;
            out->logp[(size_t)i * out->max_new + step] = row_logprob(row, V, t);
            out->len[i] = step + 1;
            out->last[i] = t;
            next[i] = t;
            for (int s = 0; s < n_stop; s++) out->stopped[i] |= t == stop_ids[s];
            active += !out->stopped[i];
        }
        if (!active || step + 1 == max_new) break;
        logits = decode_step(state, next);
    }
    free(tok);
    free(pos);
    free(rngs);
    free(scratch);
    free(idx);
    free(next);
}
