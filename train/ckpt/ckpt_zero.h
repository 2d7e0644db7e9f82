/* Checkpoints of the ZeRO-1 optimizer state (optim/zero.h): loading keeps this rank's shard
 * of the saved moments, saving gathers the shards on rank 0. Moments are laid out by the
 * trainable set's table (only trainable tensors have them). */
#ifndef GRIFFIN_CKPT_ZERO_H
#define GRIFFIN_CKPT_ZERO_H

#include <stddef.h>

#include "optim/zero.h"
#include "train/ckpt/checkpoint.h"

/* ckpt_load_set of parameters, metadata and the trainable set's moments; keeps this rank's
 * shard of the moments */
int zero_load(ZeroShard *z, const char *path, float *params, CkptLoaded *ld, char *err, size_t errlen);
/* whole (packed) moments for a checkpoint in *m, *v on rank 0 (NULL elsewhere); collective;
 * zero_full_free after */
void zero_full(const ZeroShard *z, float **m, float **v);
void zero_full_free(const ZeroShard *z, float *m, float *v);

#endif
