#include "train/weights_opt.h"

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
