/* The one training step loop every stage shares (DESIGN.md): parse the config, set up model,
 * data, optimizer and ranks, resume, then loop { stage, eval, micro-steps, average gradients,
 * clip, update, log, checkpoint }. Stages differ only in the batches they feed it. */
#ifndef GRIFFIN_LOOP_H
#define GRIFFIN_LOOP_H

#include "train/config/config.h"
#include "train/run/runlog.h"

typedef enum {
    TRAIN_PRETRAIN = 0, /* text corpora, documents streamed across rows */
    TRAIN_SFT = 1       /* chat corpora, whole conversations, loss on model turns */
} TrainKind;

/* argv: [command, config.ini, --section.key=value ...]; returns the process exit code */
int train_main(TrainKind kind, int argc, char **argv);

/* The start the training commands (pretrain, sft, reward, rlhf) share. train_load_config
 * starts MPI and reads the config (argv: [command, config.ini, --section.key=value ...]); a
 * bad one is reported by rank 0 as "griffin NAME: file:line: key: why", MPI is finalised
 * and NULL returned (exit code 2). train_open_run applies train.threads, opens the output
 * folder (log.txt, metrics.jsonl) on rank 0, says what runs on how many ranks and threads, and
 * prints the resolved config to the console and the log. */
TrainConfig *train_load_config(const char *name, int *argc, char ***argv);
void train_open_run(const char *name, const TrainConfig *cfg, RunOut *out);

/* train.precision (a Precision of train/config/config.h) for every matrix product of this process from now on,
 * saying in the log what runs (bf16 falls back to fp32 without avx512_bf16) */
void train_apply_precision(int precision, RunOut *out);

#endif
