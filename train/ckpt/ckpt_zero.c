#include "train/ckpt/ckpt_zero.h"

#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "optim/dist.h"

int zero_load(ZeroShard *z, const char *path, float *params, CkptLoaded *ld, char *err, size_t errlen) {
    size_t n = z->hi - z->lo;
    const ParamTable *mt = z->set->all ? z->pt : &z->set->mt;
    if (n == z->n) return ckpt_load_set(path, z->pt, params, mt, z->m, z->v, ld, err, errlen);
    float *m = alignedCallocCheck(z->n * sizeof(float)), *v = alignedCallocCheck(z->n * sizeof(float));
    int rc = ckpt_load_set(path, z->pt, params, mt, m, v, ld, err, errlen);
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
    *m = dist_rank() == 0 ? alignedCallocCheck(z->n * sizeof(float)) : NULL;
    *v = dist_rank() == 0 ? alignedCallocCheck(z->n * sizeof(float)) : NULL;
    dist_gather_shards(*m, z->m, z->n);
    dist_gather_shards(*v, z->v, z->n);
}

void zero_full_free(const ZeroShard *z, float *m, float *v) {
    if (m == z->m) return;
    free(m);
    free(v);
}
