#include "adamw.h"

#include <math.h>

AdamWConfig adamw_defaults(void) {
    AdamWConfig c = {.beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f,
                     .decay_embeddings = 0};
    return c;
}

int adamw_group_decays(const AdamWConfig *cfg, ParamGroup g) {
    if (g == GROUP_WEIGHT) return 1;
    if (g == GROUP_EMBED) return cfg->decay_embeddings != 0;
    return 0; /* biases, norm scales, a_param */
}

void adamw_update_span(float *params, const float *grads, float *m, float *v, size_t count, ParamGroup group,
                       const AdamWConfig *cfg, float lr, long t, float grad_scale) {
    const float b1 = cfg->beta1, b2 = cfg->beta2, eps = cfg->eps;
    /* bias corrections in double, then rounded once */
    const float c1 = (float)(1.0 - pow((double)b1, (double)t));
    const float c2 = (float)(1.0 - pow((double)b2, (double)t));
    const float wd = adamw_group_decays(cfg, group) ? cfg->weight_decay : 0.0f;
    const long n = (long)count;
    float *p = params, *mm = m, *vv = v;
    const float *g = grads;
#pragma omp parallel for schedule(static) if (n > 32768)
    for (long j = 0; j < n; j++) {
        float gj = g[j] * grad_scale;
        float mj = b1 * mm[j] + (1.0f - b1) * gj;
        float vj = b2 * vv[j] + (1.0f - b2) * gj * gj;
        mm[j] = mj;
        vv[j] = vj;
        float mhat = mj / c1, vhat = vj / c2;
        p[j] -= lr * (mhat / (sqrtf(vhat) + eps) + wd * p[j]);
    }
}

void adamw_update_range(const ParamTable *pt, float *params, const float *grads, float *m,
                        float *v, const AdamWConfig *cfg, float lr, long t, float grad_scale,
                        size_t lo, size_t hi) {
    for (int i = 0; i < pt->count; i++) {
        const TensorInfo *ti = &pt->t[i];
        size_t a = ti->offset, b = ti->offset + ti->numel;
        if (a < lo) a = lo;
        if (b > hi) b = hi;
        if (a >= b) continue;
        adamw_update_span(params + a, grads + a, m + (a - lo), v + (a - lo), b - a, ti->group, cfg, lr, t, grad_scale);
    }
}

void adamw_update(const ParamTable *pt, float *params, const float *grads, float *m, float *v,
                  const AdamWConfig *cfg, float lr, long t, float grad_scale) {
    adamw_update_range(pt, params, grads, m, v, cfg, lr, t, grad_scale, 0, pt->total);
}
