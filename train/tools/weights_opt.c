#include "train/tools/weights_opt.h"

#include <string.h>

#include "common/check.h"

WeightFormat weights_option(const char *cmd, const char *value) {
    WeightFormat f;
    CHECK(weight_format_parse(value, &f) == 0, "%s: --weights %s: choose one of " WEIGHT_FORMAT_CHOICES, cmd, value);
    return f;
}

void weights_apply(GriffinModel *m, WeightFormat f, const char *ckpt) {
    int bad = griffin_set_weights(m, f);
    CHECK(bad < 0, "checkpoint %s: tensor %s holds values that %s cannot store (not finite%s)", ckpt,
          m->table.t[bad].name, weight_format_name(f), f == WEIGHTS_BF16 ? ", or beyond bf16's range" : "");
}

GriffinModel *weights_sampler(GriffinModel *m, WeightFormat f) {
    if (f == WEIGHTS_FP32) return m;
    GriffinModel *smp = griffin_create_ex(&m->cfg, m->max_B, m->max_T, 0, GRIFFIN_INFERENCE);
    CHECK(griffin_set_weights(smp, f) < 0, "weights_sampler: the zero weights of a new model convert");
    weights_sampler_refresh(smp, m);
    return smp;
}

void weights_sampler_refresh(GriffinModel *smp, const GriffinModel *m) {
    if (smp == m) return;
    WeightFormat f = griffin_weight_format(smp);
    memcpy(smp->params, m->params, m->table.total * sizeof(float));
    griffin_set_adapters(smp, m->lora_active); /* the base narrow, the adapters fp32 as trained */
    int bad = griffin_set_weights(smp, f);
    CHECK(bad < 0, "rlhf: the policy's %s holds values %s cannot store", m->table.t[bad < 0 ? 0 : bad].name,
          weight_format_name(f));
}

void weights_sampler_free(GriffinModel *smp, const GriffinModel *m) {
    if (smp != m) griffin_free(smp);
}
