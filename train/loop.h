/* The one training step loop every stage shares (DESIGN.md): parse the config, set up model,
 * data, optimizer and ranks, resume, then loop { stage, eval, micro-steps, average gradients,
 * clip, update, log, checkpoint }. Stages differ only in the batches they feed it. */
#ifndef GRIFFIN_LOOP_H
#define GRIFFIN_LOOP_H

#include "train/runlog.h"

typedef enum {
    TRAIN_PRETRAIN = 0, /* text corpora, documents streamed across rows */
    TRAIN_SFT = 1       /* chat corpora, whole conversations, loss on model turns */
} TrainKind;

/* argv: [command, config.ini, --section.key=value ...]; returns the process exit code */
int train_main(TrainKind kind, int argc, char **argv);

/* train.precision (a Precision of train/config.h) for every matrix product of this process from now on,
 * saying in the log what runs (bf16 falls back to fp32 without avx512_bf16) */
void train_apply_precision(int precision, RunOut *out);

#endif
