/* The language-model stages on the step engine: batches from a seeded mixture of corpora
 * (the [stage.N] weights switch at stage boundaries), next-token cross-entropy over the
 * unmasked targets, held-out loss and bits per byte. `pretrain` (train/run/pretrain.c) streams
 * text documents across rows; `sft` (train/run/sft.c) packs whole chat conversations with the
 * loss on model turns and logs greedy answers to held-out prompts at each evaluation.
 *
 * A step: train.grad_accum micro-batches of train.batch_size rows per rank; the loss is the
 * mean over every unmasked target of every micro-batch of every rank, so micro-batches and
 * ranks are weighted by their target counts. metrics.jsonl per step: stage, loss, grad_norm,
 * lr, ms, tokens_per_s, mfu, tokens; per evaluation: group, val_loss, val_bpb; at the end of a
 * mixture stage: stage_done and the token shares it realised. */
#ifndef GRIFFIN_LM_STAGE_H
#define GRIFFIN_LM_STAGE_H

#include "train/run/engine.h"

/* The StageDef of the language-model stage, sft = 0 (pretrain) or 1 (sft). */
void lm_stage_def(StageDef *def, int sft);

#endif
