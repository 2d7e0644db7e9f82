/* Rollouts with the fixed-size decoding state: k sampled responses per prompt, each token's
 * log-probability recorded as it is drawn. The prompts are prefilled once (G rows) and their
 * states fanned out to the G·k sequences (decode_copy_row), so memory per sequence stays the
 * state's fixed size however long the responses grow.
 *
 * The recorded log-probability is log softmax(ℓ)[token] over the model's whole vocabulary at
 * temperature 1 (ℓ the soft-capped logits), computed exactly as the training forward computes
 * it (float max + log Σ exp), so the trainer can check that both agree. The token itself is
 * drawn with the sampler settings (temperature, top-p, vocab limit). */
#ifndef GRIFFIN_ROLLOUT_H
#define GRIFFIN_ROLLOUT_H

#include <stdint.h>

#include "model/decode.h"
#include "model/sampler.h"

typedef struct {
    int S, max_new;
    int *tokens;     /* [S, max_new] sampled ids */
    float *logp;     /* [S, max_new] log p(token) at temperature 1 while sampling */
    int *len;        /* [S] tokens generated (a stop token included) */
    int *stopped;    /* [S] 1 when a stop id ended the sequence */
    int *last;       /* [S] the last generated id (−1 if none) */
} Rollout;

void rollout_alloc(Rollout *r, int S, int max_new);
void rollout_free(Rollout *r);

/* Samples k responses for each of G prompts (prompt g: prompt_len[g] ids, BOS first).
 * m must be allocated for at least G x max(prompt_len); prompt_state has batch G (NULL when
 * k == 1: state is prefilled directly); state has batch G·k. Sequence i = g·k + j draws from
 * RNG stream (seed, streams[i]). */
void rollout_sample(GriffinModel *m, DecodeState *prompt_state, DecodeState *state, const int *const *prompts,
                    const int *prompt_len, int G, int k, int max_new, const SamplerParams *sp, const int *stop_ids,
                    int n_stop, uint64_t seed, const uint64_t *streams, Rollout *out);

#endif
