/* Token selection and batched generation with the fixed-size state.
 * Selection: temperature (0 = greedy argmax), then top-k, then top-p (nucleus) over the
 * soft-capped logits. Each sequence draws from its own RNG stream (seed, sequence index), so a
 * sequence's sample does not depend on what else is in the batch. */
#ifndef GRIFFIN_SAMPLER_H
#define GRIFFIN_SAMPLER_H

#include <stdint.h>

#include "../common/rng.h"
#include "decode.h"

typedef struct {
    float temperature; /* 0: greedy */
    int top_k;         /* 0: all */
    float top_p;       /* 1: all */
    int vocab_limit;   /* > 0: only ids below it (a tokenizer smaller than the model's vocabulary) */
} SamplerParams;

/* One token from logits [V]. scratch: V floats and V ints. */
int sample_token(const float *logits, int V, const SamplerParams *p, Rng *rng, float *scratch, int *idx);

typedef struct {
    int B, max_new;
    int *tokens;   /* [B, max_new] generated ids */
    int *len;      /* [B] how many were generated (a stop token included) */
    int *stopped;  /* [B] 1 if a stop token ended the sequence */
    int *last;     /* [B] the last generated id (−1 if none) */
    float *logp;   /* [B, max_new] log p(token) at temperature 1 as drawn, or NULL: not recorded */
} Generation;

/* with_logp: record each drawn token's log-probability log softmax(ℓ)[token] over the whole
 * vocabulary at temperature 1 (ℓ the soft-capped logits), computed as the training forward
 * computes it (vm_logsumexp), so a trainer can check that both agree (RLHF rollouts) */
void generation_alloc(Generation *g, int B, int max_new, int with_logp);
void generation_free(Generation *g);

/* Left-pads B prompts (prompt b: prompt_len[b] ids, BOS first) to the longest, pads at position
 * −1 with token 0 (invisible), and prefills s; returns the logits [B,V] of each prompt's last
 * token. m must have been created for at least B x max(prompt_len). */
const float *prefill_prompts(GriffinModel *m, DecodeState *s, const int *const *prompts, const int *prompt_len);

/* The decode loop after a prefill: from logits [B,V] (s's rows), up to max_new tokens per
 * sequence, each stopped at any of the n_stop stop ids; sequence b draws from RNG stream
 * (seed, streams[b]). generate and the RLHF rollouts (rlhf/rollout.h) both run it. */
void generate_from(DecodeState *s, const float *logits, int max_new, const SamplerParams *p, const int *stop_ids,
                   int n_stop, uint64_t seed, const uint64_t *streams, Generation *g);

/* Generates up to max_new tokens for B prompts (prompt b: prompt_len[b] ids, BOS first, one
 * document). m must have been created for at least B x max(prompt_len); s for batch B.
 * Stops a sequence at any of the n_stop stop ids. Sequence b draws from RNG stream
 * (seed, first_stream + b), so splitting a job into batches does not change its samples. */
void generate(GriffinModel *m, DecodeState *s, const int *const *prompts, const int *prompt_len, int max_new,
              const SamplerParams *p, const int *stop_ids, int n_stop, uint64_t seed, uint64_t first_stream,
              Generation *g);

#endif
