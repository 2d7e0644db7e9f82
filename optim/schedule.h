/* Learning-rate schedules, each a pure function of the 0-based optimizer step.
 *
 *   warmup (all kinds): step < warmup_steps      lr * (step + 1) / warmup_steps
 *   constant:           afterwards                lr
 *   cosine:             warmup_steps..steps-1     min_lr + (lr - min_lr) * 0.5 (1 + cos(pi r)),
 *                                                 r = (step - warmup) / (steps - 1 - warmup),
 *                                                 so the last step gets exactly min_lr
 *   wsd:                warmup-stable-decay: lr until the last decay_steps =
 *                       round(decay_fraction * steps) steps, then lr -> min_lr, linear or
 *                       cosine in r = (step - decay_start + 1) / decay_steps, so the last
 *                       step gets exactly min_lr
 * Steps at or past `steps` get min_lr (cosine, wsd) or lr (constant). */
#ifndef GRIFFIN_SCHEDULE_H
#define GRIFFIN_SCHEDULE_H

typedef enum { LR_CONSTANT = 0, LR_COSINE = 1, LR_WSD = 2 } LrKind;
typedef enum { DECAY_LINEAR = 0, DECAY_COSINE = 1 } DecayShape;

typedef struct {
    LrKind kind;
    float lr;              /* peak */
    float min_lr;          /* floor at the end of cosine / wsd */
    long warmup_steps;
    long steps;            /* total optimizer steps of the run */
    float decay_fraction;  /* wsd: share of `steps` spent decaying (0, 1] */
    DecayShape decay_shape;/* wsd: shape of the final decay */
} LrSchedule;

const char *lr_kind_name(LrKind k);
/* 0 and sets *k, or -1 for an unknown name ("constant", "cosine", "wsd") */
int lr_kind_parse(const char *name, LrKind *k);

float lr_at(const LrSchedule *s, long step);

#endif
