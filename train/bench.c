/* griffin bench train: times forward + backward of a model preset on random tokens and
 * reports the median step, tokens/s, the analytic FLOPs per token and memory.
 * Under mpirun every rank trains its own B rows and the step ends as training's does (ZeRO-1:
 * reduce-scatter of the gradients, AdamW on the rank's shard, all-gather of the parameters),
 * so `mpirun -np 2 griffin bench train --batch 4 --threads 1` and
 * `griffin bench train --batch 8 --threads 2` compare the two process layouts. */
#include <omp.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/check.h"
#include "common/rng.h"
#include <cblas.h>

#include "model/griffin.h"
#include "model/layers.h"
#include "optim/adamw.h"
#include "optim/dist.h"
#include "train/commands.h"
#include "train/config.h"
#include "train/perf.h"
#include "train/zero.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* best GFLOP/s of gemm() in the precision in force: C [M,N] = op(A) op(B), op = (ta, tb) */
static double gemm_rate(int ta, int tb, int M, int N, int K) {
    float *a = alignedCallocCheck(sizeof(float) * (size_t)M * K), *b = alignedCallocCheck(sizeof(float) * (size_t)K * N);
    float *c = alignedCallocCheck(sizeof(float) * (size_t)M * N);
    for (size_t i = 0; i < (size_t)M * K; i++) a[i] = (float)(i % 7) * 0.1f - 0.3f;
    for (size_t i = 0; i < (size_t)K * N; i++) b[i] = (float)(i % 5) * 0.1f - 0.2f;
    double best = 0.0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now_s();
        gemm(ta, tb, M, N, K, a, ta ? M : K, b, tb ? K : N, 0.0f, c, N);
        double g = 2.0 * M * N * K / (now_s() - t0) / 1e9;
        best = g > best ? g : best;
    }
    free(a);
    free(b);
    free(c);
    return best;
}

/* the three products of a Linear [F <- D] on N rows, fp32 then precision p, one process:
 * forward y = x wᵀ (NT), dx = dy w (NN), dw = dyᵀ x (TN). Returns p's best rate. */
static double gemm_ab(GemmPrecision p, int N, int D, int F) {
    const char *name[3] = {"y=x*wT", "dx=dy*w", "dw=dyT*x"};
    double r[2][3];
    for (int k = 0; k < 2; k++) {
        gemm_set_precision(k ? p : GEMM_FP32);
        r[k][0] = gemm_rate(0, 1, N, F, D);
        r[k][1] = gemm_rate(0, 0, N, D, F);
        r[k][2] = gemm_rate(1, 0, F, D, N);
    }
    gemm_set_precision(p);
    double best = 0.0;
    if (dist_rank() == 0) printf("gemm         N=%d D=%d F=%d, GFLOP/s     fp32   %s\n", N, D, F, gemm_precision_name(p));
    for (int i = 0; i < 3; i++) {
        if (dist_rank() == 0) printf("  %-24s %14.1f %8.1f  (x%.2f)\n", name[i], r[0][i], r[1][i], r[1][i] / r[0][i]);
        best = r[1][i] > best ? r[1][i] : best;
    }
    return best;
}

static void bench_usage(void) {
    printf("usage: griffin bench train [CONFIG.ini] [--preset tiny|small|2b] [--family griffin|hawk|transformer]\n"
           "                           [--batch B] [--seq T] [--steps N] [--warmup N] [--threads N] [--json F]\n"
           "                           [--precision fp32|bf16|bf16-emulated] [--recompute on|off]\n"
           "Times forward+backward+AdamW on random tokens (the model of CONFIG.ini, or a preset) and prints\n"
           "the median step, tokens/s, model FLOPs per token, achieved GFLOP/s, MFU against the sgemm peak\n"
           "measured in the same run, and where the time goes per layer kind. --precision (default: the\n"
           "config's train.precision, else fp32) sets the matrix products' precision; bf16 falls back to fp32\n"
           "without avx512_bf16. Other than fp32, the Linear products at the run's shape are timed in fp32 and\n"
           "in that precision first, and MFU is also given against that precision's measured rate.\n"
           "--recompute (default: the config's train.recompute, else off) keeps only each block's input and\n"
           "recomputes its activations in backward (activation checkpointing); MFU counts model FLOPs only.\n");
}

static int bench_train(int argc, char **argv) {
    const char *preset = "small";
    const char *family = NULL, *json = NULL, *config = NULL, *precision = NULL, *recompute = NULL;
    int B = 8, T = 256, steps = 5, warmup = 1, threads = 0;
    dist_init(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' && !config) {
            config = a;
            continue;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            bench_usage();
            dist_finalize();
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
        else if (!strcmp(a, "--precision")) precision = v;
        else if (!strcmp(a, "--recompute")) recompute = v;
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
        if (!precision) precision = tc->train.precision == PRECISION_BF16 ? "bf16"
                                    : tc->train.precision == PRECISION_BF16_EMULATED ? "bf16-emulated" : "fp32";
        if (!recompute) recompute = tc->train.recompute ? "on" : "off";
        free(tc);
    } else {
        CHECK(config_preset(preset, &cfg) == 0, "griffin bench train: unknown preset '%s' (tiny, small, 2b)", preset);
    }
    if (family) {
        CHECK(family_parse(family, &cfg.family) == 0, "griffin bench train: unknown family '%s'", family);
        const char *err = config_finalize(&cfg);
        CHECK(!err, "griffin bench train: %s", err);
    }
    GemmPrecision want = GEMM_FP32;
    if (precision && !strcmp(precision, "bf16")) want = GEMM_BF16;
    else if (precision && !strcmp(precision, "bf16-emulated")) want = GEMM_BF16_EMULATED;
    else CHECK(!precision || !strcmp(precision, "fp32"), "griffin bench train: --precision %s is not fp32|bf16|bf16-emulated", precision);
    GemmPrecision prec = gemm_set_precision(want);
    if (prec != want && dist_rank() == 0) printf("precision    bf16 asked for, but this CPU has no avx512_bf16: fp32\n");
    double prec_peak = prec != GEMM_FP32 ? gemm_ab(prec, B * T, cfg.width, cfg.mlp_width) : 0.0;
    CHECK(!recompute || !strcmp(recompute, "on") || !strcmp(recompute, "off"),
          "griffin bench train: --recompute %s is not on|off", recompute);
    int rec = recompute && !strcmp(recompute, "on");
    GriffinModel *m = griffin_create_ex(&cfg, B, T, 1, rec ? GRIFFIN_RECOMPUTE | GRIFFIN_CHUNKED_LOSS : 0);
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
    ZeroShard zs; /* this rank's shard of the moments, as in training */
    zero_init(&zs, P);
    AdamWConfig ac = adamw_defaults();
    double opt_time = 0.0, comm_time = 0.0;
    int world = dist_size();
    dist_barrier();
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
        double tr = t2; /* ZeRO-1 as in training: reduce-scatter, AdamW on this rank's shard, all-gather */
        if (world > 1) {
            dist_reduce_scatter_mean(m->grads, P);
            tr = now_s();
        }
        adamw_update_range(&m->table, m->params, m->grads, zs.m, zs.v, &ac, 1e-4f, s + warmup + 1, 1.0f, zs.lo, zs.hi);
        double tu = now_s();
        if (world > 1) dist_allgather(m->params, P);
        double t3 = now_s();
        if (s >= 0) {
            fwd[s] = t1 - t0;
            tot[s] = t3 - t0;
            opt_time += tu - tr;
            comm_time += (tr - t2) + (t3 - tu);
        }
    }
    m->profile = 0;
    /* every rank measures its cores' sgemm rate at the same time; the machine's peak is the sum */
    double peak = dist_sum_double(sgemm_peak_gflops(B * T, cfg.width, cfg.mlp_width));
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss_mb = (double)ru.ru_maxrss * 1024.0 / 1e6;
    if (dist_rank() != 0) {
        zero_free(&zs);
        free(fwd), free(tot), free(tokens), free(targets), free(pos);
        griffin_free(m);
        dist_finalize();
        return 0;
    }
    qsort(fwd, (size_t)steps, sizeof(double), cmp_double);
    qsort(tot, (size_t)steps, sizeof(double), cmp_double);
    double med = tot[steps / 2], medf = fwd[steps / 2];
    double flops = griffin_flops_per_token(&m->cfg, T);
    printf("model        %s %s: D=%d E=%d F=%d H=%d L=%d A=%d V=%d, %zu parameters\n", preset,
           family_name(m->cfg.family), m->cfg.width, m->cfg.lru_width, m->cfg.mlp_width, m->cfg.num_heads,
           m->cfg.depth, m->cfg.window, m->cfg.vocab_size, m->table.total);
    printf("batch        B=%d T=%d (%d tokens) per rank, %d rank(s) × %d threads, %d timed steps, %s matrix products\n",
           B, T, N, world, omp_get_max_threads(), steps, gemm_precision_name(prec));
    printf("forward      %.1f ms (median)\n", 1e3 * medf);
    printf("step         %.1f ms (median; forward+backward+AdamW)   %.0f tokens/s\n", 1e3 * med, (double)N * world / med);
    double achieved = flops * N * world / med / 1e9;
    printf("flops        %.1f MFLOP/token, %.1f GFLOP/s achieved; sgemm peak here %.1f GFLOP/s; MFU %.1f%%\n",
           flops / 1e6, achieved, peak, 100.0 * achieved / peak);
    if (prec != GEMM_FP32)
        printf("             %s gemm peak here %.1f GFLOP/s; MFU against it %.1f%%\n", gemm_precision_name(prec),
               prec_peak, 100.0 * achieved / prec_peak);
    double prof_total = 0.0;
    for (int k = 0; k < PROF_NUM; k++) prof_total += m->prof[k][0] + m->prof[k][1];
    prof_total += opt_time;
    printf("breakdown    per step, ms      forward  backward   share\n");
    for (int k = 0; k < PROF_NUM; k++)
        printf("  %-20s %12.2f %9.2f %6.1f%%\n", prof_kind_name[k], 1e3 * m->prof[k][0] / steps,
               1e3 * m->prof[k][1] / steps, 100.0 * (m->prof[k][0] + m->prof[k][1]) / prof_total);
    printf("  %-20s %12s %9.2f %6.1f%%\n", "optimizer (AdamW)", "-", 1e3 * opt_time / steps, 100.0 * opt_time / prof_total);
    if (world > 1)
        printf("  %-20s %12s %9.2f %6.1f%%  (reduce-scatter + all-gather, %d ranks)\n", "all-reduce", "-",
               1e3 * comm_time / steps, 100.0 * comm_time / prof_total, world);
    else
        printf("  %-20s %12s %9s %6s\n", "all-reduce", "-", "-", "(1 rank)");
    if (json) {
        FILE *f = fopenCheck(json, "w");
        fprintf(f, "{\"model\":\"%s\",\"family\":\"%s\",\"parameters\":%zu,\"batch\":%d,\"seq\":%d,"
                   "\"threads\":%d,\"precision\":\"%s\",\"step_ms\":%.3f,\"forward_ms\":%.3f,\"tokens_per_s\":%.1f,"
                   "\"mflop_per_token\":%.3f,\"gflops\":%.2f,\"sgemm_peak_gflops\":%.2f,\"mfu\":%.4f,\"breakdown_ms\":{",
                preset, family_name(m->cfg.family), m->table.total, B, T, omp_get_max_threads(),
                gemm_precision_name(prec), 1e3 * med,
                1e3 * medf, N / med, flops / 1e6, achieved, peak, achieved / peak);
        for (int k = 0; k < PROF_NUM; k++)
            fprintf(f, "\"%s\":{\"forward\":%.3f,\"backward\":%.3f},", prof_kind_name[k],
                    1e3 * m->prof[k][0] / steps, 1e3 * m->prof[k][1] / steps);
        fprintf(f, "\"optimizer\":{\"forward\":0,\"backward\":%.3f},\"allreduce\":{\"forward\":0,\"backward\":%.3f}},"
                   "\"ranks\":%d,\"peak_rss_mb\":%.1f,\"activation_bytes_per_token\":%.0f,\"recompute\":%s}\n",
                1e3 * opt_time / steps, 1e3 * comm_time / steps, world, rss_mb, (double)griffin_activation_bytes(m) / N,
                rec ? "true" : "false");
        fclose(f);
        printf("wrote %s\n", json);
    }
    size_t shard = zs.hi - zs.lo;
    zero_free(&zs);
    printf("memory       parameters %.1f MB, gradients %.1f MB, AdamW moments %.1f MB%s, activations %.1f MB"
           " (%.0f KB per token%s); peak resident %.1f MB%s\n",
           m->table.total * 4.0 / 1e6, m->table.total * 4.0 / 1e6, (double)shard * 8.0 / 1e6,
           world > 1 ? " (this rank's shard)" : "",
           griffin_activation_bytes(m) / 1e6, griffin_activation_bytes(m) / 1e3 / N, rec ? ", recompute on" : "", rss_mb,
           world > 1 ? " (rank 0)" : "");
    free(fwd);
    free(tot);
    free(tokens);
    free(targets);
    free(pos);
    griffin_free(m);
    dist_finalize();
    return 0;
}

int cmd_bench(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "train")) return bench_train(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "sample")) return bench_sample(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "data")) return bench_data(argc - 1, argv + 1);
    printf("usage: griffin bench train|sample|data [options]   (griffin bench train --help)\n");
    return argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) ? 0 : 2;
}
