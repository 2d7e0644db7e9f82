/* A model with everything it needs from one checkpoint: the resolved config stored in it,
 * its parameters and its tokenizer (so `sample`, `eval`, `sft`, `reward` and `rlhf` can
 * start from a checkpoint file alone). */
#ifndef GRIFFIN_MODEL_IO_H
#define GRIFFIN_MODEL_IO_H

#include <stdint.h>

#include "data/tokenizer.h"
#include "model/griffin.h"
#include "train/config/config.h"

typedef struct {
    TrainConfig *cfg;   /* the config the checkpoint was trained with */
    GriffinModel *m;
    Tokenizer *tok;     /* NULL if the checkpoint carries none */
    int64_t step;
} LoadedModel;

/* Loads path for batches up to max_B x max_T; dies with a one-line message naming the file. */
void load_model(const char *path, int max_B, int max_T, LoadedModel *out);
void loaded_model_free(LoadedModel *lm);

/* An inference-only copy (GRIFFIN_INFERENCE | flags) of a checkpoint's model for batches up
 * to B x T: a frozen reference or reward model. Dies with "WHAT PATH was trained with another
 * tokenizer" unless the checkpoint's tokenizer (if it has one) is tok, and, with want set,
 * unless its vocabulary is want's. */
GriffinModel *load_frozen(const char *path, int B, int T, const GriffinConfig *want, const Tokenizer *tok,
                          const char *what, int flags);

#endif
