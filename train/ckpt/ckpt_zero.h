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
/* ckpt_save of cs (everything but the moments) with this rank's ZeRO-1 moments: on one rank
 * straight from the shard, which is everything; on several, rank 0 writes and fetches each
 * piece of the moments from the ranks that own it (dist_fetch_piece) while the others serve
 * their shards, so no rank ever holds the whole moments. Collective; returns rank 0's code on
 * rank 0 (message in err), CKPT_OK elsewhere. */
int zero_save(const ZeroShard *z, const char *dir, CkptState *cs, int keep, char *path, size_t path_len, char *err,
              size_t errlen);

#endif
