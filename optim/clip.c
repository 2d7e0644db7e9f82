#include "clip.h"

#include <math.h>

#define CLIP_BLOCKS 256 /* fixed number of partial sums, whatever the thread count */

double grad_sumsq(const float *x, size_t n) {
    double part[CLIP_BLOCKS];
    const size_t bs = (n + CLIP_BLOCKS - 1) / CLIP_BLOCKS;
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int b = 0; b < CLIP_BLOCKS; b++) {
        size_t lo = (size_t)b * bs, hi = lo + bs;
        if (hi > n) hi = n;
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0; /* 4 fixed lanes for speed, same order always */
        size_t i = lo;
        for (; i + 4 <= hi; i += 4) {
            s0 += (double)x[i] * (double)x[i];
            s1 += (double)x[i + 1] * (double)x[i + 1];
            s2 += (double)x[i + 2] * (double)x[i + 2];
            s3 += (double)x[i + 3] * (double)x[i + 3];
        }
        for (; i < hi; i++) s0 += (double)x[i] * (double)x[i];
        part[b] = (s0 + s1) + (s2 + s3);
    }
    double s = 0;
    for (int b = 0; b < CLIP_BLOCKS; b++) s += part[b];
    return s;
}

double grad_global_norm(const float *x, size_t n) { return sqrt(grad_sumsq(x, n)); }

float clip_scale(double norm, float max_norm) {
    if (max_norm > 0 && norm > (double)max_norm) return (float)((double)max_norm / norm);
    return 1.0f;
}

double grad_clip(float *x, size_t n, float max_norm) {
    double norm = grad_global_norm(x, n);
    float s = clip_scale(norm, max_norm);
    if (s != 1.0f) {
#pragma omp parallel for schedule(static) if (n > 65536)
        for (long i = 0; i < (long)n; i++) x[i] *= s;
    }
    return norm;
}
