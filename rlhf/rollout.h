/* Rollouts with the fixed-size decoding state: k sampled responses per prompt, each token's
 * log-probability recorded as it is drawn (model/sampler.h's generate_from, the one sampling
 * loop). The prompts are prefilled once (G rows) and their states fanned out to the G·k
 * sequences (decode_copy_row), so memory per sequence stays the state's fixed size however
 * long the responses grow. The token is drawn with the sampler settings (temperature, top-p,
 * vocab limit); the recorded log-probability is at temperature 1 over the whole vocabulary. */
#ifndef GRIFFIN_ROLLOUT_H
#define GRIFFIN_ROLLOUT_H

#include <stdint.h>

#include "model/decode.h"
#include "model/sampler.h"

/* Samples k responses for each of G prompts (prompt g: prompt_len[g] ids, BOS first) into
 * out (generation_alloc(out, G·k, max_new, 1): log-probabilities recorded).
 * m must be allocated for at least G x max(prompt_len); prompt_state has batch G (NULL when
 * k == 1: state is prefilled directly); state has batch G·k. Sequence i = g·k + j draws from
 * RNG stream (seed, streams[i]). */
void rollout_sample(GriffinModel *m, DecodeState *prompt_state, DecodeState *state, const int *const *prompts,
                    const int *prompt_len, int G, int k, int max_new, const SamplerParams *sp, const int *stop_ids,
                    int n_stop, uint64_t seed, const uint64_t *streams, Generation *out);

#endif
