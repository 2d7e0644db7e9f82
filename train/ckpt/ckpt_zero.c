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

static int fetch(const void *ctx, int which, size_t off, size_t n, float *out) {
    const ZeroShard *z = ctx;
    const float *bufs[2] = {z->m, z->v};
    dist_fetch_piece(bufs, which, off, n, z->n, out);
    return 0;
}

int zero_save(const ZeroShard *z, const char *dir, CkptState *cs, int keep, char *path, size_t path_len, char *err,
              size_t errlen) {
    if (dist_size() == 1) { /* the shard is the whole */
        cs->adam_m = z->m, cs->adam_v = z->v;
        return ckpt_save(dir, cs, keep, path, path_len, err, errlen);
    }
    if (dist_rank() != 0) {
        const float *bufs[2] = {z->m, z->v};
        dist_serve_pieces(bufs, 2, z->n);
        return CKPT_OK;
    }
    cs->fetch = fetch, cs->fetch_ctx = z;
    int rc = ckpt_save(dir, cs, keep, path, path_len, err, errlen);
    dist_fetch_done();
    return rc;
}
