/* griffin bench train: times forward + backward of a model preset on random tokens and
 * reports the median step, tokens/s, the analytic FLOPs per token and memory. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/check.h"
#include "common/rng.h"
#include <cblas.h>

#include "model/griffin.h"
#include "optim/adamw.h"
#include "train/commands.h"
#include "train/config.h"
#include "train/perf.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void bench_usage(void) {
    printf("usage: griffin bench train [CONFIG.ini] [--preset tiny|small|2b] [--family griffin|hawk|transformer]\n"
           "                           [--batch B] [--seq T] [--steps N] [--warmup N] [--threads N] [--json F]\n"
           "Times forward+backward+AdamW on random tokens (the model of CONFIG.ini, or a preset) and prints\n"
           "the median step, tokens/s, model FLOPs per token, achieved GFLOP/s, MFU against the sgemm peak\n"
           "measured in the same run, and where the time goes per layer kind.\n");
}

static int bench_train(int argc, char **argv) {
    const char *preset = "small";
    const char *family = NULL, *json = NULL, *config = NULL;
    int B = 8, T = 256, steps = 5, warmup = 1, threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' && !config) {
            config = a;
            continue;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            bench_usage();
            return 0;
        }
        CHECK(v, "griffin bench train: option %s needs a value", a);
        if (!strcmp(a, "--preset")) preset = v;
        else if (!strcmp(a, "--family")) family = v;
        else if (!strcmp(a, "--batch")) B = atoi(v);
        else if (!strcmp(a, "--seq")) T = atoi(v);
        else if (!strcmp(a, "--steps")) steps = atoi(v);
        else if (!strcmp(a, "--warmup")) warmup = atoi(v);
        else if (!strcmp(a, "--threads")) threads = atoi(v);
        else if (!strcmp(a, "--json")) json = v;
        else DIE("griffin bench train: unknown option %s (see --help)", a);
        i++;
    }
    CHECK(B > 0 && T > 1 && steps > 0 && warmup >= 0, "griffin bench train: batch, seq and steps must be positive");
    if (threads > 0) omp_set_num_threads(threads);
    GriffinConfig cfg;
    if (config) {
        TrainConfig *tc = callocCheck(1, sizeof *tc);
        char err[2048];
        CHECK(train_config_load(tc, config, 0, NULL, err, sizeof err) == 0, "griffin bench train: %s", err);
        cfg = tc->griffin;
        preset = config;
        int bset = 0, tset = 0;
        for (int i = 1; i < argc; i++) {
            bset |= !strcmp(argv[i], "--batch");
            tset |= !strcmp(argv[i], "--seq");
        }
        if (!bset) B = tc->train.batch_size;
        if (!tset) T = tc->train.seq_len;
        free(tc);
    } else {
        CHECK(config_preset(preset, &cfg) == 0, "griffin bench train: unknown preset '%s' (tiny, small, 2b)", preset);
    }
    if (family) {
        CHECK(family_parse(family, &cfg.family) == 0, "griffin bench train: unknown family '%s'", family);
        const char *err = config_finalize(&cfg);
        CHECK(!err, "griffin bench train: %s", err);
    }
    GriffinModel *m = griffin_create(&cfg, B, T, 1);
    int N = B * T;
    int *tokens = mallocCheck(sizeof(int) * N), *targets = mallocCheck(sizeof(int) * N), *pos = mallocCheck(sizeof(int) * N);
    Rng r;
    rng_seed(&r, 5, 0);
    for (int n = 0; n < N; n++) {
        tokens[n] = (int)rng_below(&r, (uint64_t)cfg.vocab_size);
        targets[n] = (int)rng_below(&r, (uint64_t)cfg.vocab_size);
        pos[n] = n % T;
    }
    double *fwd = mallocCheck(sizeof(double) * steps), *tot = mallocCheck(sizeof(double) * steps);
    size_t P = m->table.total;
    float *am = alignedCallocCheck(P * sizeof(float)), *av = alignedCallocCheck(P * sizeof(float));
    AdamWConfig ac = adamw_defaults();
    double opt_time = 0.0;
    for (int s = -warmup; s < steps; s++) {
        if (s == 0) {
            m->profile = 1;
            memset(m->prof, 0, sizeof m->prof);
        }
        double t0 = now_s();
        griffin_zero_grad(m);
        griffin_forward(m, tokens, targets, pos, NULL, B, T);
        double t1 = now_s();
        griffin_backward(m);
        double t2 = now_s();
        adamw_update(&m->table, m->params, m->grads, am, av, &ac, 1e-4f, s + warmup + 1, 1.0f);
        double t3 = now_s();
        if (s >= 0) {
            fwd[s] = t1 - t0;
            tot[s] = t3 - t0;
            opt_time += t3 - t2;
        }
    }
    m->profile = 0;
    double peak = sgemm_peak_gflops(B * T, cfg.width, cfg.mlp_width);
    qsort(fwd, (size_t)steps, sizeof(double), cmp_double);
    qsort(tot, (size_t)steps, sizeof(double), cmp_double);
    double med = tot[steps / 2], medf = fwd[steps / 2];
    double flops = griffin_flops_per_token(&m->cfg, T);
    printf("model        %s %s: D=%d E=%d F=%d H=%d L=%d A=%d V=%d, %zu parameters\n", preset,
           family_name(m->cfg.family), m->cfg.width, m->cfg.lru_width, m->cfg.mlp_width, m->cfg.num_heads,
           m->cfg.depth, m->cfg.window, m->cfg.vocab_size, m->table.total);
    printf("batch        B=%d T=%d (%d tokens), %d threads, %d timed steps\n", B, T, N, omp_get_max_threads(), steps);
    printf("forward      %.1f ms (median)\n", 1e3 * medf);
    printf("step         %.1f ms (median; forward+backward+AdamW)   %.0f tokens/s\n", 1e3 * med, N / med);
    double achieved = flops * N / med / 1e9;
    printf("flops        %.1f MFLOP/token, %.1f GFLOP/s achieved; sgemm peak here %.1f GFLOP/s; MFU %.1f%%\n",
           flops / 1e6, achieved, peak, 100.0 * achieved / peak);
    double prof_total = 0.0;
    for (int k = 0; k < PROF_NUM; k++) prof_total += m->prof[k][0] + m->prof[k][1];
    prof_total += opt_time;
    printf("breakdown    per step, ms      forward  backward   share\n");
    for (int k = 0; k < PROF_NUM; k++)
        printf("  %-20s %12.2f %9.2f %6.1f%%\n", prof_kind_name[k], 1e3 * m->prof[k][0] / steps,
               1e3 * m->prof[k][1] / steps, 100.0 * (m->prof[k][0] + m->prof[k][1]) / prof_total);
    printf("  %-20s %12s %9.2f %6.1f%%\n", "optimizer (AdamW)", "-", 1e3 * opt_time / steps, 100.0 * opt_time / prof_total);
    printf("  %-20s %12s %9s %6s\n", "all-reduce", "-", "-", "(1 rank)");
    if (json) {
        FILE *f = fopenCheck(json, "w");
        fprintf(f, "{\"model\":\"%s\",\"family\":\"%s\",\"parameters\":%zu,\"batch\":%d,\"seq\":%d,"
                   "\"threads\":%d,\"step_ms\":%.3f,\"forward_ms\":%.3f,\"tokens_per_s\":%.1f,"
                   "\"mflop_per_token\":%.3f,\"gflops\":%.2f,\"sgemm_peak_gflops\":%.2f,\"mfu\":%.4f,\"breakdown_ms\":{",
                preset, family_name(m->cfg.family), m->table.total, B, T, omp_get_max_threads(), 1e3 * med,
                1e3 * medf, N / med, flops / 1e6, achieved, peak, achieved / peak);
        for (int k = 0; k < PROF_NUM; k++)
            fprintf(f, "\"%s\":{\"forward\":%.3f,\"backward\":%.3f},", prof_kind_name[k],
                    1e3 * m->prof[k][0] / steps, 1e3 * m->prof[k][1] / steps);
        fprintf(f, "\"optimizer\":{\"forward\":0,\"backward\":%.3f}}}\n", 1e3 * opt_time / steps);
        fclose(f);
        printf("wrote %s\n", json);
    }
    free(am);
    free(av);
    printf("memory       parameters %.1f MB, gradients %.1f MB, activations %.1f MB\n",
           m->table.total * 4.0 / 1e6, m->table.total * 4.0 / 1e6, griffin_activation_bytes(m) / 1e6);
    free(fwd);
    free(tot);
    free(tokens);
    free(targets);
    free(pos);
    griffin_free(m);
    return 0;
}



int cmd_bench(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "train")) return bench_train(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "sample")) return bench_sample(argc - 1, argv + 1);
    printf("usage: griffin bench train|sample [options]   (griffin bench train --help)\n");
    return argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) ? 0 : 2;
}
