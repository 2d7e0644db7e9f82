/* Refusing a training step that produced non-finite values, on every rank at once, naming
 * the rank(s) where they appeared.
 *
 * Each rank flags what it saw itself: its own loss, its own gradient before the ranks average
 * them (so a NaN is traced to the rank it came from, not the rank whose shard it lands in),
 * and the averaged gradient of its shard. One integer all-reduce decides for every rank alike;
 * only when a step is refused do the ranks exchange their flags (adding whether their own
 * weights are finite) to build the message.
 *
 * Fault injection for the tests: GRIFFIN_FAULT_NONFINITE=WHAT:RANK:STEP makes rank RANK put a
 * NaN into its gradient (WHAT = grad) or an Inf into its weights (WHAT = weight) at step STEP
 * (1-based, the step being computed). The training loop announces it when set. */
#ifndef GRIFFIN_STEP_CHECK_H
#define GRIFFIN_STEP_CHECK_H

#include <stddef.h>
#include <stdint.h>

enum { NF_LOSS = 1, NF_GRAD = 2, NF_AVERAGED = 4, NF_WEIGHTS = 8 };

/* Collective: every rank calls it once per step with its own NF_* flags. Returns 0 on every
 * rank when no rank flagged anything; otherwise 1 on every rank, with the same message in msg,
 * e.g. "on rank 1 (gradient)" or "on ranks 0 (loss, gradient, weights), 1 (loss)".
 * params/n: this rank's weights, scanned only for a refused step. */
int step_check_nonfinite(int local, const float *params, size_t n, char *msg, size_t msglen);

typedef struct {
    int what;      /* 0 none, NF_GRAD or NF_WEIGHTS */
    int rank;
    int64_t step;
} NonfiniteFault;

/* Reads GRIFFIN_FAULT_NONFINITE (dies naming it if malformed); what = 0 when unset. */
void nonfinite_fault_from_env(NonfiniteFault *f);

#endif
