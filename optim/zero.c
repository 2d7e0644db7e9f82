#include "optim/zero.h"

#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "optim/clip.h"
#include "optim/dist.h"

void zero_init(ZeroShard *z, const TrainableSet *set, const ParamTable *pt) {
    memset(z, 0, sizeof *z);
    z->set = set;
    z->pt = pt;
    z->n = set->n;
    dist_shard(z->n, dist_rank(), dist_size(), &z->lo, &z->hi);
    z->m = alignedCallocCheck((z->hi - z->lo) * sizeof(float));
    z->v = alignedCallocCheck((z->hi - z->lo) * sizeof(float));
    if (!set->all && dist_size() > 1) z->pg = alignedCallocCheck(z->n * sizeof(float));
}

void zero_free(ZeroShard *z) {
    free(z->m);
    free(z->v);
    free(z->pg);
    z->m = z->v = z->pg = NULL;
}

size_t zero_state_bytes(const ZeroShard *z) { return (2 * (z->hi - z->lo) + (z->pg ? z->n : 0)) * sizeof(float); }

/* piece k of the trainable set inside this rank's shard: packed [*a, *b), flat offset of *a */
static int piece(const ZeroShard *z, int k, size_t *a, size_t *b, size_t *flat) {
    const TensorInfo *t = &z->set->mt.t[k];
    *a = t->offset > z->lo ? t->offset : z->lo;
    *b = t->offset + t->numel < z->hi ? t->offset + t->numel : z->hi;
    *flat = z->pt->t[z->set->src[k]].offset + (*a - t->offset);
    return *a < *b;
}

double zero_reduce(ZeroShard *z, float *grads) {
    if (dist_size() > 1) dist_reduce_scatter_mean(grads, z->n);
    if (z->set->all || dist_size() > 1) return grad_sumsq(grads + z->lo, z->hi - z->lo);
    double s = 0.0; /* one rank, some tensors frozen: tensor by tensor */
    for (int k = 0; k < z->set->mt.count; k++) s += grad_sumsq(grads + z->set->mt.t[k].offset, z->set->mt.t[k].numel);
    return s;
}

void zero_update_shard(ZeroShard *z, float *params, float *grads, const AdamWConfig *ac, float lr, long t,
                       float grad_scale) {
    if (z->set->all) {
        adamw_update_range(z->pt, params, grads, z->m, z->v, ac, lr, t, grad_scale, z->lo, z->hi);
        return;
    }
    for (int k = 0; k < z->set->mt.count; k++) {
        size_t a, b, flat;
        if (!piece(z, k, &a, &b, &flat)) continue;
        adamw_update_span(params + flat, grads + a, z->m + (a - z->lo), z->v + (a - z->lo), b - a, z->set->mt.t[k].group, ac,
                          lr, t, grad_scale);
    }
}

void zero_gather(ZeroShard *z, float *params) {
    if (dist_size() == 1) return;
    if (z->set->all) {
        dist_allgather(params, z->n);
        return;
    }
    /* the packed buffer carries the parameters now: this rank's shard in, everything out */
    for (int k = 0; k < z->set->mt.count; k++) {
        size_t a, b, flat;
        if (piece(z, k, &a, &b, &flat)) memcpy(z->pg + a, params + flat, (b - a) * sizeof(float));
    }
    dist_allgather(z->pg, z->n);
    trainable_unpack(z->set, z->pt, params, z->pg);
}

void zero_update(ZeroShard *z, float *params, float *grads, const AdamWConfig *ac, float lr, long t,
                 float grad_scale) {
    zero_update_shard(z, params, grads, ac, lr, t, grad_scale);
    zero_gather(z, params);
}
