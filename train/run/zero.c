#include "train/run/zero.h"

#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "optim/clip.h"
#include "optim/dist.h"

void zero_init(ZeroShard *z, size_t P) {
    z->P = P;
    dist_shard(P, dist_rank(), dist_size(), &z->lo, &z->hi);
    z->m = alignedCallocCheck((z->hi - z->lo) * sizeof(float));
    z->v = alignedCallocCheck((z->hi - z->lo) * sizeof(float));
}

void zero_free(ZeroShard *z) {
    free(z->m);
    free(z->v);
    z->m = z->v = NULL;
}

int zero_load(ZeroShard *z, const char *path, const ParamTable *pt, float *params, CkptLoaded *ld, char *err,
              size_t errlen) {
    size_t n = z->hi - z->lo;
    if (n == z->P) return ckpt_load(path, pt, params, z->m, z->v, ld, err, errlen);
    float *m = alignedCallocCheck(z->P * sizeof(float)), *v = alignedCallocCheck(z->P * sizeof(float));
    int rc = ckpt_load(path, pt, params, m, v, ld, err, errlen);
    if (rc == CKPT_OK) {
        memcpy(z->m, m + z->lo, n * sizeof(float));
        memcpy(z->v, v + z->lo, n * sizeof(float));
    }
    free(m);
    free(v);
    return rc;
}

void zero_full(const ZeroShard *z, float **m, float **v) {
    if (dist_size() == 1) { /* the shard is the whole */
        *m = z->m, *v = z->v;
        return;
    }
    *m = dist_rank() == 0 ? alignedCallocCheck(z->P * sizeof(float)) : NULL;
    *v = dist_rank() == 0 ? alignedCallocCheck(z->P * sizeof(float)) : NULL;
    dist_gather_shards(*m, z->m, z->P);
    dist_gather_shards(*v, z->v, z->P);
}

void zero_full_free(const ZeroShard *z, float *m, float *v) {
    if (m == z->m) return;
    free(m);
    free(v);
}

double zero_reduce(const ZeroShard *z, float *grads) {
    if (dist_size() > 1) dist_reduce_scatter_mean(grads, z->P);
    return grad_sumsq(grads + z->lo, z->hi - z->lo);
}

void zero_update(ZeroShard *z, const ParamTable *pt, float *params, const float *grads, const AdamWConfig *ac,
                 float lr, long t, float grad_scale) {
    adamw_update_range(pt, params, grads, z->m, z->v, ac, lr, t, grad_scale, z->lo, z->hi);
    if (dist_size() > 1) dist_allgather(params, z->P);
}
