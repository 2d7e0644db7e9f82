/* griffin pretrain: a language model trained from scratch (or train.init) on a staged
 * mixture of text corpora, documents streamed across rows with resets at their boundaries.
 * The stage itself is the language-model stage of train/run/lm_stage.c on the step engine. */
#include "train/commands.h"
#include "train/run/lm_stage.h"

int cmd_pretrain(int argc, char **argv) {
    StageDef def;
    lm_stage_def(&def, 0);
    return engine_main(&def, argc, argv);
}
