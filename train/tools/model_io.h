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
    int merged;         /* the checkpoint had LoRA adapters, merged into the weights */
} LoadedModel;

/* Loads path for batches up to max_B x max_T; dies with a one-line message naming the file.
 * A checkpoint with LoRA adapters loads merged, in place: out->m's weights include
 * (alpha/r)·B·A, its config (and out->cfg->griffin) says lora_rank 0, so it and every model
 * made from its config compute as the plain model; its first table.lora_first tensors are that
 * model's (the adapters stay after them, unused); out->merged is set. */
void load_model(const char *path, int max_B, int max_T, LoadedModel *out);
void loaded_model_free(LoadedModel *lm);

/* A start point's weights into m (train.init, the rlhf policy): the checkpoint holds m's
 * tensors, or a prefix of them — a model without m's LoRA adapters (they keep their
 * initialisation, B = 0: the adapted model starts as that model) and/or without m's reward
 * head (zero) — or it holds adapters m lacks, which are merged into their weights first.
 * Writes what it loaded into how; dies with one line naming `what` = path otherwise. Returns 1
 * when m has adapters that kept their initialisation (switched off, m is the checkpoint's model).
 * *from_file (if not NULL): how many of m's first tensors are now bitwise the file's (all, a
 * prefix, or 0 when adapters were merged): those an adapter checkpoint may leave to the file. */
int load_init_weights(const char *path, GriffinModel *m, const char *what, char *how, size_t howlen, int *from_file);

/* An inference-only copy (GRIFFIN_INFERENCE | flags) of a checkpoint's model for batches up
 * to B x T: a frozen reference or reward model. Dies with "WHAT PATH was trained with another
 * tokenizer" unless the checkpoint's tokenizer (if it has one) is tok, and, with want set,
 * unless its vocabulary is want's. */
GriffinModel *load_frozen(const char *path, int B, int T, const GriffinConfig *want, const Tokenizer *tok,
                          const char *what, int flags);

#endif
