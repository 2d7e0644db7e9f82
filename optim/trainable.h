/* The trainable set: the tensors of the parameter table that an optimizer updates.
 *
 * train.freeze = PATTERN[, PATTERN...] freezes the tensors whose official names match a glob
 * (fnmatch: `*` also crosses dots, e.g. `embedder.*`, `blocks.*.mlp_block.*`);
 * train.trainable = PATTERN... is the complement form: only matching tensors train (both may
 * be given: trainable first, then freeze removes from it). A pattern that matches no tensor is
 * an error (a typo would otherwise train everything).
 *
 * The set is a ParamTable of its own, `mt`: the trainable tensors in table order with their
 * offsets packed into [0, n). Moments, ZeRO shards and the moments of checkpoints are laid out
 * by it, so frozen tensors cost none of them. When every tensor trains (`all`), mt's offsets
 * are the table's and packed buffers are the flat buffers themselves. */
#ifndef GRIFFIN_TRAINABLE_H
#define GRIFFIN_TRAINABLE_H

#include <stddef.h>
#include <stdint.h>

#include "model/params.h"

typedef struct {
    ParamTable mt;   /* trainable tensors, packed offsets (mt.total = n) */
    int *src;        /* [mt.count] index of each in the full table */
    uint8_t *on;     /* [full count] 1 = trainable */
    size_t n, P;     /* trainable floats, all floats */
    int count;       /* tensors of the full table */
    int all;         /* every tensor trains */
} TrainableSet;

/* freeze / trainable: comma-separated globs, "" for none. Returns 0, or -1 with a one-line
 * message naming the pattern (no tensor matches it, or nothing would train). */
int trainable_build(TrainableSet *s, const ParamTable *pt, const char *freeze, const char *trainable, char *err,
                    size_t errlen);
void trainable_free(TrainableSet *s);
/* packed [n] <- the trainable tensors of flat [P], and back */
void trainable_pack(const TrainableSet *s, const ParamTable *pt, float *packed, const float *flat);
void trainable_unpack(const TrainableSet *s, const ParamTable *pt, float *flat, const float *packed);
/* tensors not in the set */
int trainable_frozen_tensors(const TrainableSet *s);

#endif
