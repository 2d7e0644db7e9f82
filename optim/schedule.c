#include "schedule.h"

#include <math.h>
#include <string.h>

static const char *const kind_names[] = {"constant", "cosine", "wsd"};

const char *lr_kind_name(LrKind k) {
    return (k >= LR_CONSTANT && k <= LR_WSD) ? kind_names[k] : "?";
}

int lr_kind_parse(const char *name, LrKind *k) {
    for (int i = 0; i <= LR_WSD; i++)
        if (!strcmp(name, kind_names[i])) {
            *k = (LrKind)i;
            return 0;
        }
    return -1;
}

/* lr -> min_lr as r goes 0 -> 1 */
static double anneal(double lr, double min_lr, double r, int cosine) {
    if (r < 0) r = 0;
    if (r > 1) r = 1;
    double coeff = cosine ? 0.5 * (1.0 + cos(3.14159265358979323846 * r)) : 1.0 - r;
    return min_lr + (lr - min_lr) * coeff;
}

float lr_at(const LrSchedule *s, long step) {
    const double lr = s->lr, min_lr = s->min_lr;
    if (step < 0) step = 0;
    if (step < s->warmup_steps) return (float)(lr * (double)(step + 1) / (double)s->warmup_steps);
    switch (s->kind) {
    case LR_CONSTANT: return s->lr;
    case LR_COSINE: {
        if (step >= s->steps) return s->min_lr;
        long span = s->steps - 1 - s->warmup_steps;
        if (span <= 0) return s->min_lr;
        return (float)anneal(lr, min_lr, (double)(step - s->warmup_steps) / (double)span, 1);
    }
    case LR_WSD: {
        if (step >= s->steps) return s->min_lr;
        long decay = lround((double)s->decay_fraction * (double)s->steps);
        if (decay < 1) decay = 1;
        long start = s->steps - decay;
        if (start < s->warmup_steps) start = s->warmup_steps; /* decay never eats the warmup */
        if (step < start) return s->lr;
        long span = s->steps - start;
        return (float)anneal(lr, min_lr, (double)(step - start + 1) / (double)span,
                             s->decay_shape == DECAY_COSINE);
    }
    }
    return s->lr;
}
