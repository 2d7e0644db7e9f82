/* ZeRO-1 optimizer state shared by the trainers (pretrain/sft, reward, rlhf): a rank holds the
 * AdamW moments of its shard [lo, hi) of the P parameters only. A step reduce-scatters the
 * gradients (each rank gets the mean of its shard), updates its shard of the parameters and
 * moments, and all-gathers the parameters. Whole moments exist only on rank 0 while it writes
 * a checkpoint; a resumed rank keeps its shard of the saved ones. On one rank the shard is
 * everything and nothing is communicated. */
#ifndef GRIFFIN_ZERO_H
#define GRIFFIN_ZERO_H

#include <stddef.h>

#include "model/params.h"
#include "optim/adamw.h"
#include "train/ckpt/checkpoint.h"

typedef struct {
    size_t P, lo, hi;
    float *m, *v; /* [hi - lo] */
} ZeroShard;

void zero_init(ZeroShard *z, size_t P);
void zero_free(ZeroShard *z);
/* ckpt_load of parameters, metadata and moments; keeps this rank's shard of the moments */
int zero_load(ZeroShard *z, const char *path, const ParamTable *pt, float *params, CkptLoaded *ld, char *err,
              size_t errlen);
/* whole moments for a checkpoint in *m, *v on rank 0 (NULL elsewhere); zero_full_free after */
void zero_full(const ZeroShard *z, float **m, float **v);
void zero_full_free(const ZeroShard *z, float *m, float *v);
/* grads [P] summed by this rank → grads[lo, hi) = the mean over ranks; returns the sum of
 * squares of this rank's shard (add it over ranks for the global norm) */
double zero_reduce(const ZeroShard *z, float *grads);
/* AdamW on this rank's shard, then every rank gets all parameters */
void zero_update(ZeroShard *z, const ParamTable *pt, float *params, const float *grads, const AdamWConfig *ac,
                 float lr, long t, float grad_scale);

#endif
