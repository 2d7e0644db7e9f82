/* `--weights fp32|bf16|int8` of the generation and evaluation commands (sample, eval, bench
 * sample): the option's value, and the conversion of a loaded model (model/weights.h). */
#ifndef GRIFFIN_WEIGHTS_OPT_H
#define GRIFFIN_WEIGHTS_OPT_H

#include "model/griffin.h"

/* the format named by value, or dies: "<cmd>: --weights <value>: choose fp32, bf16 or int8" */
WeightFormat weights_option(const char *cmd, const char *value);

/* Converts m (its parameters final) to f; dies naming the checkpoint and the tensor that
 * holds values f cannot store. */
void weights_apply(GriffinModel *m, WeightFormat f, const char *ckpt);

#endif
