/* Global-norm gradient clipping.
 *
 * The sum of squares is accumulated in double over fixed blocks whose boundaries depend only
 * on n (never on the thread count), and the block sums are added in block order, so the norm
 * is bitwise the same for 1 or 64 threads. */
#ifndef GRIFFIN_CLIP_H
#define GRIFFIN_CLIP_H

#include <stddef.h>

/* sum of x[i]^2 in double, deterministic; non-finite if any element is */
double grad_sumsq(const float *x, size_t n);
/* sqrt(grad_sumsq) */
double grad_global_norm(const float *x, size_t n);
/* Multiplier that brings a gradient of global norm `norm` down to max_norm:
 * max_norm / norm when norm > max_norm > 0, else 1. Pass it to adamw_update's grad_scale. */
float clip_scale(double norm, float max_norm);
/* In place: computes the norm, scales x by clip_scale, returns the norm before clipping. */
double grad_clip(float *x, size_t n, float max_norm);

#endif
