/* Non-finite steps refused on every rank, with the ranks named (see step_check.h). */
#include "train/run/step_check.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "optim/clip.h"
#include "optim/dist.h"

#define MAX_NAMED 16 /* ranks listed in the message; the rest are counted */

/* "loss, gradient, weights" from a rank's flags (the averaged gradient only when alone) */
static void describe(int flags, char *buf, size_t n) {
    static const struct {
        int bit;
        const char *name;
    } parts[] = {{NF_LOSS, "loss"}, {NF_GRAD, "gradient"}, {NF_WEIGHTS, "weights"}};
    size_t u = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if ((flags & parts[i].bit) && u < n) u += (size_t)snprintf(buf + u, n - u, "%s%s", u ? ", " : "", parts[i].name);
    if (!u) snprintf(buf, n, "its shard of the gradient averaged over ranks");
}

int step_check_nonfinite(int local, const float *params, size_t n, char *msg, size_t msglen) {
    msg[0] = '\0';
    if (!dist_max_int(local != 0)) return 0;
    int world = dist_size(), rank = dist_rank();
    if (!isfinite(grad_sumsq(params, n))) local |= NF_WEIGHTS;
    int64_t *flags = calloc((size_t)world, sizeof *flags);
    CHECK(flags, "out of memory");
    flags[rank] = local;
    dist_allreduce_sum_i64(flags, (size_t)world);
    /* ranks where a value appeared first; a non-finite average alone (an overflow when the
     * ranks' gradients were summed) is reported by the ranks holding that shard */
    int origin = 0;
    for (int r = 0; r < world; r++) origin |= (flags[r] & (NF_LOSS | NF_GRAD | NF_WEIGHTS)) != 0;
    int count = 0, named = 0;
    for (int r = 0; r < world; r++) count += origin ? (flags[r] & (NF_LOSS | NF_GRAD | NF_WEIGHTS)) != 0 : flags[r] != 0;
    size_t u = (size_t)snprintf(msg, msglen, "on rank%s ", count > 1 ? "s" : "");
    for (int r = 0; r < world && u < msglen; r++) {
        int f = (int)flags[r];
        if (origin) f &= NF_LOSS | NF_GRAD | NF_WEIGHTS;
        if (!f) continue;
        if (named == MAX_NAMED) {
            u += (size_t)snprintf(msg + u, msglen - u, ", and %d more", count - named);
            break;
        }
        char what[96];
        describe(f, what, sizeof what);
        u += (size_t)snprintf(msg + u, msglen - u, "%s%d (%s)", named ? ", " : "", r, what);
        named++;
    }
    free(flags);
    return 1;
}

void nonfinite_fault_from_env(NonfiniteFault *f) {
    memset(f, 0, sizeof *f);
    const char *v = getenv("GRIFFIN_FAULT_NONFINITE");
    if (!v || !v[0]) return;
    char what[16];
    int rank, used = 0;
    int64_t step;
    int ok = sscanf(v, "%15[a-z]:%d:%" SCNd64 "%n", what, &rank, &step, &used) == 3 && !v[used] && rank >= 0 && step >= 1 &&
             (!strcmp(what, "grad") || !strcmp(what, "weight"));
    CHECK(ok, "GRIFFIN_FAULT_NONFINITE = '%s': expected grad:RANK:STEP or weight:RANK:STEP (fault injection for tests)", v);
    f->what = !strcmp(what, "grad") ? NF_GRAD : NF_WEIGHTS;
    f->rank = rank;
    f->step = step;
}
