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

/* The model rollouts sample with: m itself (fp32), or an inference-only model of m's shape
 * holding f copies of m's weights (LoRA adapters stay fp32 and on), made by
 * weights_sampler_refresh. */
GriffinModel *weights_sampler(GriffinModel *m, WeightFormat f);
/* copies m's current parameters into the sampler smp and converts them (nothing when smp == m) */
void weights_sampler_refresh(GriffinModel *smp, const GriffinModel *m);
void weights_sampler_free(GriffinModel *smp, const GriffinModel *m);

#endif
