/* The micro model whose checkpoints seed the checkpoint harness: one recurrent block and a
 * few hundred parameters keep each file small (the reader is the same for every tensor). */
#ifndef GRIFFIN_FUZZ_MICRO_H
#define GRIFFIN_FUZZ_MICRO_H

#include "model/config.h"
#include "model/params.h"

static inline void fuzz_micro_table(ParamTable *pt) {
    GriffinConfig c;
    config_preset("tiny", &c);
    c.vocab_size = 16;
    c.width = 8;
    c.lru_width = 8;
    c.mlp_width = 8;
    c.num_heads = 2;
    c.depth = 1;
    c.window = 4;
    config_finalize(&c);
    param_table_build(pt, &c);
}

#endif
