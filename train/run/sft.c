/* griffin sft: instruction tuning of a checkpoint (train.init) on chat corpora: whole
 * conversations per row, the loss on the model turns and their closing <end_of_turn>, greedy
 * answers to held-out prompts in the log at each evaluation. The stage itself is the
 * language-model stage of train/run/lm_stage.c on the step engine. */
#include "train/commands.h"
#include "train/run/lm_stage.h"

int cmd_sft(int argc, char **argv) {
    StageDef def;
    lm_stage_def(&def, 1);
    return engine_main(&def, argc, argv);
}
