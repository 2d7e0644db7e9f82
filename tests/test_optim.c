/* optim/: AdamW against a double-precision reference (weight-decay groups, bias correction),
 * ranged (ZeRO-1 shard) updates, LR schedules at their key steps, global-norm clipping and
 * its independence of the thread count. Exits non-zero on any failure. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "common/rng.h"
#include "optim/adamw.h"
#include "optim/clip.h"
#include "optim/schedule.h"
#include "tests/expect.h"

static int close_rel(double a, double b, double tol) {
    return fabs(a - b) <= tol * fmax(1.0, fmax(fabs(a), fabs(b)));
}

/* a hand-made table: one tensor per optimizer group */
static TensorInfo tensors[] = {
    {.name = "w", .ndim = 2, .shape = {2, 3}, .numel = 6, .offset = 0, .group = GROUP_WEIGHT},
    {.name = "b", .ndim = 1, .shape = {3}, .numel = 3, .offset = 6, .group = GROUP_BIAS},
    {.name = "emb", .ndim = 2, .shape = {2, 2}, .numel = 4, .offset = 9, .group = GROUP_EMBED},
    {.name = "norm", .ndim = 1, .shape = {2}, .numel = 2, .offset = 13, .group = GROUP_NORM},
    {.name = "a", .ndim = 1, .shape = {2}, .numel = 2, .offset = 15, .group = GROUP_A_PARAM},
};
#define NT (sizeof tensors / sizeof tensors[0])
#define NP 17

static ParamTable table(void) {
    ParamTable pt = {.count = (int)NT, .total = NP, .t = tensors, .embed = 2, .final_norm = 3};
    return pt;
}

static int group_of(size_t i) {
    for (size_t k = 0; k < NT; k++)
        if (i >= tensors[k].offset && i < tensors[k].offset + tensors[k].numel) return (int)tensors[k].group;
    return -1;
}

static void test_adamw_reference(int decay_embeddings) {
    ParamTable pt = table();
    AdamWConfig cfg = adamw_defaults();
    cfg.weight_decay = 0.1f;
    cfg.decay_embeddings = decay_embeddings;
    float p[NP], g[NP], m[NP] = {0}, v[NP] = {0};
    double rp[NP], rm[NP] = {0}, rv[NP] = {0};
    Rng r;
    rng_seed(&r, 42, 0);
    for (int i = 0; i < NP; i++) rp[i] = p[i] = (float)rng_normal(&r);
    const float lrs[4] = {1e-2f, 5e-3f, 2e-2f, 1e-3f};
    const float scales[4] = {1.0f, 0.5f, 1.0f, 0.25f};
    for (int t = 1; t <= 4; t++) {
        for (int i = 0; i < NP; i++) g[i] = (float)rng_normal(&r);
        adamw_update(&pt, p, g, m, v, &cfg, lrs[t - 1], t, scales[t - 1]);
        for (int i = 0; i < NP; i++) {
            int grp = group_of((size_t)i);
            double wd = (grp == GROUP_WEIGHT || (grp == GROUP_EMBED && decay_embeddings)) ? 0.1 : 0.0;
            double gi = (double)g[i] * (double)scales[t - 1];
            rm[i] = 0.9 * rm[i] + 0.1 * gi;
            rv[i] = 0.95 * rv[i] + 0.05 * gi * gi;
            double mh = rm[i] / (1 - pow(0.9, t)), vh = rv[i] / (1 - pow(0.95, t));
            rp[i] -= (double)lrs[t - 1] * (mh / (sqrt(vh) + 1e-8) + wd * rp[i]);
        }
        for (int i = 0; i < NP; i++) {
            EXPECT(close_rel(p[i], rp[i], 2e-6), "adamw step %d param %d: %.9g vs ref %.9g", t, i, (double)p[i], rp[i]);
            EXPECT(close_rel(m[i], rm[i], 2e-6), "adamw step %d m %d", t, i);
            EXPECT(close_rel(v[i], rv[i], 2e-6), "adamw step %d v %d", t, i);
        }
    }
}

/* First step by hand: m_hat = g, v_hat = g^2, so p -= lr (g/(|g|+eps) + wd p). With g = 0
 * only the decay acts: decayed groups shrink by exactly (1 - lr wd), others stay. */
static void test_adamw_by_hand(void) {
    ParamTable pt = table();
    AdamWConfig cfg = adamw_defaults();
    cfg.weight_decay = 0.5f;
    float p[NP], g[NP] = {0}, m[NP] = {0}, v[NP] = {0};
    for (int i = 0; i < NP; i++) p[i] = 2.0f;
    adamw_update(&pt, p, g, m, v, &cfg, 0.1f, 1, 1.0f);
    for (int i = 0; i < NP; i++) {
        float want = group_of((size_t)i) == GROUP_WEIGHT ? 2.0f - 0.1f * 0.5f * 2.0f : 2.0f;
        EXPECT(p[i] == want, "zero-grad decay: param %d (group %d) = %g, want %g", i, group_of((size_t)i), (double)p[i], (double)want);
    }
    for (int i = 0; i < NP; i++) {
        p[i] = 1.0f;
        g[i] = (i % 2) ? 3.0f : -0.5f;
        m[i] = v[i] = 0;
    }
    cfg.weight_decay = 0;
    adamw_update(&pt, p, g, m, v, &cfg, 0.01f, 1, 1.0f);
    for (int i = 0; i < NP; i++) {
        double want = 1.0 - 0.01 * ((double)g[i] / (fabs((double)g[i]) + 1e-8));
        EXPECT(close_rel(p[i], want, 1e-6), "first step by hand: param %d = %.9g want %.9g", i, (double)p[i], want);
    }
    /* bias correction: with beta1 = 0.9 the second identical gradient still gives m_hat = g */
    adamw_update(&pt, p, g, m, v, &cfg, 0.01f, 2, 1.0f);
    for (int i = 0; i < NP; i++) {
        double want = 1.0 - 0.02 * ((double)g[i] / (fabs((double)g[i]) + 1e-8));
        EXPECT(close_rel(p[i], want, 1e-6), "second step by hand: param %d = %.9g want %.9g", i, (double)p[i], want);
    }
}

/* shard-wise updates equal the full update bitwise, for any cut */
/* ZeRO-1 shards: each range updates with its own slice of the moments (m[0] = element lo) */
static void test_adamw_ranges(void) {
    ParamTable pt = table();
    AdamWConfig cfg = adamw_defaults();
    float p1[NP], p2[NP], g[NP], m1[NP] = {0}, v1[NP] = {0}, m2[NP] = {0}, v2[NP] = {0};
    Rng r;
    rng_seed(&r, 7, 1);
    for (int i = 0; i < NP; i++) {
        p1[i] = p2[i] = (float)rng_normal(&r);
        g[i] = (float)rng_normal(&r);
    }
    adamw_update(&pt, p1, g, m1, v1, &cfg, 1e-2f, 1, 1.0f);
    size_t cuts[] = {0, 4, 7, 11, 16, NP};
    for (size_t k = 0; k + 1 < sizeof cuts / sizeof cuts[0]; k++)
        adamw_update_range(&pt, p2, g, m2 + cuts[k], v2 + cuts[k], &cfg, 1e-2f, 1, 1.0f, cuts[k], cuts[k + 1]);
    EXPECT(!memcmp(p1, p2, sizeof p1) && !memcmp(m1, m2, sizeof m1) && !memcmp(v1, v2, sizeof v1),
           "ranged updates differ from the full update");
}

static void test_adamw_threads(void) {
    /* a big buffer crosses the OpenMP threshold; 1 vs 4 threads must agree bitwise */
    const size_t n = 300000;
    TensorInfo t[2] = {{.name = "w", .ndim = 1, .shape = {200000}, .numel = 200000, .offset = 0, .group = GROUP_WEIGHT},
                       {.name = "b", .ndim = 1, .shape = {100000}, .numel = 100000, .offset = 200000, .group = GROUP_BIAS}};
    ParamTable pt = {.count = 2, .total = n, .t = t};
    float *p[2], *m[2], *v[2], *g = mallocCheck(n * 4);
    Rng r;
    rng_seed(&r, 3, 3);
    for (int k = 0; k < 2; k++) {
        p[k] = mallocCheck(n * 4);
        m[k] = callocCheck(n, 4);
        v[k] = callocCheck(n, 4);
    }
    for (size_t i = 0; i < n; i++) {
        p[0][i] = p[1][i] = (float)rng_normal(&r);
        g[i] = (float)rng_normal(&r);
    }
    AdamWConfig cfg = adamw_defaults();
    for (int k = 0; k < 2; k++) {
        omp_set_num_threads(k ? 4 : 1);
        for (int s = 1; s <= 3; s++) adamw_update(&pt, p[k], g, m[k], v[k], &cfg, 1e-3f, s, 0.7f);
    }
    EXPECT(!memcmp(p[0], p[1], n * 4), "adamw differs between 1 and 4 threads");
    for (int k = 0; k < 2; k++) {
        free(p[k]);
        free(m[k]);
        free(v[k]);
    }
    free(g);
}

static void test_schedules(void) {
    LrSchedule s = {.kind = LR_COSINE, .lr = 1.0f, .min_lr = 0.1f, .warmup_steps = 10, .steps = 111};
    EXPECT(lr_at(&s, 0) == 0.1f, "cosine warmup step 0: %g", (double)lr_at(&s, 0));
    EXPECT(close_rel(lr_at(&s, 4), 0.5, 1e-7), "cosine warmup step 4: %g", (double)lr_at(&s, 4));
    EXPECT(lr_at(&s, 9) == 1.0f, "cosine end of warmup: %g", (double)lr_at(&s, 9));
    EXPECT(lr_at(&s, 10) == 1.0f, "cosine first decay step: %g", (double)lr_at(&s, 10));
    EXPECT(close_rel(lr_at(&s, 60), 0.55, 1e-6), "cosine midpoint: %g", (double)lr_at(&s, 60));
    EXPECT(close_rel(lr_at(&s, 35), 0.1 + 0.9 * 0.5 * (1 + cos(3.14159265358979 * 0.25)), 1e-6), "cosine quarter: %g", (double)lr_at(&s, 35));
    EXPECT(close_rel(lr_at(&s, 110), 0.1, 1e-7), "cosine last step: %g", (double)lr_at(&s, 110));
    EXPECT(lr_at(&s, 500) == 0.1f, "cosine past the end: %g", (double)lr_at(&s, 500));
    for (long t = 11; t < 111; t++) EXPECT(lr_at(&s, t) <= lr_at(&s, t - 1), "cosine not monotone at %ld", t);

    LrSchedule w = {.kind = LR_WSD, .lr = 1.0f, .min_lr = 0.0f, .warmup_steps = 10, .steps = 100,
                    .decay_fraction = 0.2f, .decay_shape = DECAY_LINEAR};
    EXPECT(close_rel(lr_at(&w, 0), 0.1, 1e-7), "wsd warmup step 0: %g", (double)lr_at(&w, 0));
    EXPECT(lr_at(&w, 10) == 1.0f && lr_at(&w, 50) == 1.0f && lr_at(&w, 79) == 1.0f, "wsd stable phase");
    EXPECT(close_rel(lr_at(&w, 80), 0.95, 1e-6), "wsd first decay step: %g", (double)lr_at(&w, 80));
    EXPECT(close_rel(lr_at(&w, 89), 0.5, 1e-6), "wsd mid decay: %g", (double)lr_at(&w, 89));
    EXPECT(lr_at(&w, 99) == 0.0f, "wsd last step: %g", (double)lr_at(&w, 99));
    w.decay_shape = DECAY_COSINE;
    EXPECT(close_rel(lr_at(&w, 89), 0.5, 1e-6), "wsd cosine mid decay: %g", (double)lr_at(&w, 89));
    EXPECT(close_rel(lr_at(&w, 84), 0.5 * (1 + cos(3.14159265358979 * 0.25)), 1e-6), "wsd cosine quarter: %g", (double)lr_at(&w, 84));
    EXPECT(lr_at(&w, 99) == 0.0f, "wsd cosine last step");

    LrSchedule c = {.kind = LR_CONSTANT, .lr = 3e-4f, .min_lr = 0, .warmup_steps = 0, .steps = 10};
    EXPECT(lr_at(&c, 0) == 3e-4f && lr_at(&c, 9) == 3e-4f && lr_at(&c, 100) == 3e-4f, "constant");
    c.warmup_steps = 4;
    EXPECT(close_rel(lr_at(&c, 1), 1.5e-4, 1e-7) && lr_at(&c, 3) == 3e-4f, "constant with warmup");

    LrKind k;
    EXPECT(lr_kind_parse("wsd", &k) == 0 && k == LR_WSD && lr_kind_parse("linear", &k) == -1, "lr_kind_parse");
    EXPECT(!strcmp(lr_kind_name(LR_COSINE), "cosine"), "lr_kind_name");
}

static void test_clip(void) {
    const size_t n = 1000003; /* not a multiple of the block count */
    float *x = mallocCheck(n * 4);
    Rng r;
    rng_seed(&r, 11, 0);
    long double ref = 0;
    for (size_t i = 0; i < n; i++) {
        x[i] = (float)rng_normal(&r);
        ref += (long double)x[i] * (long double)x[i];
    }
    omp_set_num_threads(1);
    double n1 = grad_global_norm(x, n);
    omp_set_num_threads(3);
    double n3 = grad_global_norm(x, n);
    omp_set_num_threads(4);
    double n4 = grad_global_norm(x, n);
    EXPECT(n1 == n3 && n1 == n4, "norm depends on the thread count: %.17g %.17g %.17g", n1, n3, n4);
    EXPECT(close_rel(n1, (double)sqrtl(ref), 1e-12), "norm %.17g vs reference %.17g", n1, (double)sqrtl(ref));

    EXPECT(clip_scale(2.0, 1.0f) == 0.5f && clip_scale(0.5, 1.0f) == 1.0f && clip_scale(5.0, 0.0f) == 1.0f, "clip_scale");
    double before = grad_clip(x, n, 1.0f);
    EXPECT(before == n1, "grad_clip returns the norm before clipping");
    EXPECT(close_rel(grad_global_norm(x, n), 1.0, 1e-6), "clipped norm %.9g", grad_global_norm(x, n));
    double again = grad_clip(x, n, 10.0f);
    EXPECT(close_rel(again, 1.0, 1e-6), "no clipping below the threshold");

    float small[3] = {3, 4, 0};
    EXPECT(grad_global_norm(small, 3) == 5.0, "norm of (3,4,0)");
    EXPECT(grad_global_norm(small, 0) == 0.0, "norm of nothing");
    small[2] = NAN;
    EXPECT(!isfinite(grad_global_norm(small, 3)), "NaN gradient gives a non-finite norm");
    free(x);
}

int main(void) {
    test_adamw_reference(0);
    test_adamw_reference(1);
    test_adamw_by_hand();
    test_adamw_ranges();
    test_adamw_threads();
    test_schedules();
    test_clip();
    if (failures) {
        fprintf(stderr, "test_optim: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_optim: all passed\n");
    return 0;
}
