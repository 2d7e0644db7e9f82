/* The one training step loop every stage shares (DESIGN.md): parse the config, set up model,
 * data, optimizer and ranks, resume, then loop { stage, eval, micro-steps, average gradients,
 * clip, update, log, checkpoint }. Stages differ only in the batches they feed it. */
#ifndef GRIFFIN_LOOP_H
#define GRIFFIN_LOOP_H

typedef enum {
    TRAIN_PRETRAIN = 0, /* text corpora, documents streamed across rows */
    TRAIN_SFT = 1       /* chat corpora, whole conversations, loss on model turns */
} TrainKind;

/* argv: [command, config.ini, --section.key=value ...]; returns the process exit code */
int train_main(TrainKind kind, int argc, char **argv);

#endif
