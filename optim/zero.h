/* ZeRO-1 over the trainable set (optim/trainable.h), shared by every training stage: a rank
 * holds the AdamW moments of its shard [lo, hi) of the n trainable floats only. A step
 * reduce-scatters the gradients (each rank gets the mean of its shard), updates its shard of
 * the parameters and moments, and all-gathers the parameters. On one rank the shard is
 * everything and nothing is communicated.
 *
 * Gradients are laid out by the trainable set (packed, as a model with griffin_set_trainable
 * keeps them; when every tensor trains that is the flat buffer itself), so the reduce-scatter
 * works on them in place. Parameters stay flat: with frozen tensors on several ranks, one
 * packing buffer of n floats carries the updated trainable parameters through the
 * all-gather. Frozen tensors are neither communicated nor updated.
 * Whole moments for a checkpoint and loading a shard from one: train/ckpt/ckpt_zero.c. */
#ifndef GRIFFIN_ZERO_H
#define GRIFFIN_ZERO_H

#include <stddef.h>

#include "model/params.h"
#include "optim/adamw.h"
#include "optim/trainable.h"

typedef struct {
    const TrainableSet *set;
    const ParamTable *pt;   /* the full table */
    size_t n, lo, hi;       /* packed floats, this rank's shard */
    float *m, *v;           /* [hi - lo] */
    float *pg;              /* [n] packed parameters for the all-gather (several ranks, some frozen) */
} ZeroShard;

void zero_init(ZeroShard *z, const TrainableSet *set, const ParamTable *pt);
void zero_free(ZeroShard *z);
/* bytes of this rank's moments (+ the packing buffer) */
size_t zero_state_bytes(const ZeroShard *z);
/* grads [n] (packed by the trainable set) summed by this rank -> this rank's shard of the mean
 * over ranks, in place; returns the sum of squares of that shard (add it over ranks for the
 * global norm of the trainable gradients) */
double zero_reduce(ZeroShard *z, float *grads);
/* AdamW on this rank's shard (of the gradients zero_reduce left), then every rank gets every
 * trainable parameter: zero_update = zero_update_shard + zero_gather */
void zero_update(ZeroShard *z, float *params, float *grads, const AdamWConfig *ac, float lr, long t,
                 float grad_scale);
void zero_update_shard(ZeroShard *z, float *params, float *grads, const AdamWConfig *ac, float lr, long t,
                       float grad_scale);
void zero_gather(ZeroShard *z, float *params);

#endif
