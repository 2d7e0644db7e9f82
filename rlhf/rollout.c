/* Rollouts (see rollout.h). */
#include "rollout.h"

#include "common/check.h"

void rollout_sample(GriffinModel *m, DecodeState *prompt_state, DecodeState *state, const int *const *prompts,
                    const int *prompt_len, int G, int k, int max_new, const SamplerParams *sp, const int *stop_ids,
                    int n_stop, uint64_t seed, const uint64_t *streams, Generation *out) {
    int S = G * k;
    CHECK(state->B == S && out->B >= S && out->max_new >= max_new && out->logp, "rollout_sample: buffers too small");
    CHECK(k == 1 || (prompt_state && prompt_state->B == G), "rollout_sample: the prompt state needs batch %d", G);
    const float *logits;
    if (k == 1) {
        logits = prefill_prompts(m, state, prompts, prompt_len);
    } else {
        prefill_prompts(m, prompt_state, prompts, prompt_len);
        for (int i = 0; i < S; i++) decode_copy_row(state, i, prompt_state, i / k);
        logits = state->logits;
    }
    generate_from(state, logits, max_new, sp, stop_ids, n_stop, seed, streams, out);
}
