/* AdamW over the flat buffers laid out by the parameter table.
 *
 * Decoupled weight decay (Loshchilov & Hutter), bias-corrected moments, the update of
 * PyTorch's torch.optim.AdamW written as llm.c's adamw kernel writes it:
 *   g      = grad * grad_scale                     (grad_scale carries global-norm clipping)
 *   m      = beta1 * m + (1 - beta1) * g
 *   v      = beta2 * v + (1 - beta2) * g^2
 *   m_hat  = m / (1 - beta1^t),  v_hat = v / (1 - beta2^t)      (t = 1 on the first update)
 *   param -= lr * (m_hat / (sqrt(v_hat) + eps) + wd * param)    (wd = 0 outside decayed groups)
 * Weight decay applies to GROUP_WEIGHT tensors, and to GROUP_EMBED when decay_embeddings is
 * set; never to biases, norm scales or the RG-LRU a_param.
 * Every element is updated independently, so the result is bitwise the same for any thread
 * count (OpenMP over elements). */
#ifndef GRIFFIN_ADAMW_H
#define GRIFFIN_ADAMW_H

#include <stddef.h>

#include "model/params.h"

typedef struct {
    float beta1;            /* 0.9 */
    float beta2;            /* 0.95 */
    float eps;              /* 1e-8 */
    float weight_decay;     /* 0.1, decoupled: multiplied by lr */
    int decay_embeddings;   /* 1: GROUP_EMBED is decayed too */
} AdamWConfig;

/* Defaults above. */
AdamWConfig adamw_defaults(void);

/* 1 when tensors of group g receive weight decay under cfg. */
int adamw_group_decays(const AdamWConfig *cfg, ParamGroup g);

/* One update of every parameter. t is the 1-based update count (bias correction);
 * grad_scale multiplies every gradient (1.0f, or the clipping factor of clip_scale()). */
void adamw_update(const ParamTable *pt, float *params, const float *grads, float *m, float *v,
                  const AdamWConfig *cfg, float lr, long t, float grad_scale);

/* The update of n contiguous elements of one tensor of group `group` (the kernel of the two
 * functions below; a trainable set's shard calls it per piece of tensor). */
void adamw_update_span(float *params, const float *grads, float *m, float *v, size_t n, ParamGroup group,
                       const AdamWConfig *cfg, float lr, long t, float grad_scale);

/* The same update restricted to the flat range [lo, hi) of the buffers (a ZeRO-1 shard:
 * each rank updates its slice, then the params are all-gathered). params and grads point at
 * the start of the full buffers; m and v hold the moments of [lo, hi) only (m[0] is element
 * lo), so a rank keeps just its shard of them. */
void adamw_update_range(const ParamTable *pt, float *params, const float *grads, float *m,
                        float *v, const AdamWConfig *cfg, float lr, long t, float grad_scale,
                        size_t lo, size_t hi);

#endif
