/* Per-token log-probabilities of a language model's targets, read chunk by chunk during a
 * forward with targets (through griffin_set_logits_hook, so GRIFFIN_CHUNKED_LOSS models that
 * keep no [N,V] logits work too). Used by RLHF (policy, reference) and DPO. */
#ifndef GRIFFIN_LOGPROBS_H
#define GRIFFIN_LOGPROBS_H

#include <stdint.h>

#include "model/griffin.h"

/* griffin_forward of rows tok, tgt, pos, mask [S,T]; out [S·T] = log p(tgt) on masked rows,
 * 0 elsewhere. With entropy set (then maxdiff and logp_s too): *entropy += the softmax
 * entropy of each masked row, *maxdiff = max(*maxdiff, |out − logp_s|) over them. */
void forward_logprobs(GriffinModel *m, float *out, const int *tok, const int *tgt, const int *pos, const uint8_t *mask,
                      int S, int T, double *entropy, double *maxdiff, const float *logp_s);

#endif
