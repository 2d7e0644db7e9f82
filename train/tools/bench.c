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
#include "common/sys.h"
#include "common/rng.h"
#include <cblas.h>

#include "model/griffin.h"
#include "model/layers.h"
#include "optim/adamw.h"
#include "optim/dist.h"
#include "train/commands.h"
#include "train/config/config.h"
#include "train/tools/perf.h"
#include "optim/zero.h"


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
        double t0 = now_seconds();
        gemm(ta, tb, M, N, K, a, ta ? M : K, b, tb ? K : N, 0.0f, c, N);
        double g = 2.0 * M * N * K / (now_seconds() - t0) / 1e9;
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
           "                           [--batch B] [--seq T] [--window A] [--steps N] [--warmup N] [--threads N] [--json F]\n"
           "                           [--precision fp32|bf16|bf16-emulated] [--recompute on|off]\n"
           "                           [--freeze PATTERN[,PATTERN...]] [--lora RANK]\n"
           "Times forward+backward+AdamW on random tokens (the model of CONFIG.ini, or a preset) and prints\n"
           "the median step, tokens/s, model FLOPs per token, achieved GFLOP/s, MFU against the sgemm peak\n"
           "and against the FMA peak (register-resident AVX2+FMA / AVX-512 loops), both measured in the same\n"
           "run, and where the time goes per layer kind. --precision (default: the\n"
           "config's train.precision, else fp32) sets the matrix products' precision; bf16 falls back to fp32\n"
           "without avx512_bf16. Other than fp32, the Linear products at the run's shape are timed in fp32 and\n"
           "in that precision first, and MFU is also given against that precision's measured rate.\n"
           "--window sets the attention window (model.window; e.g. 2048 with --seq 2048, the 2B model's).\n"
           "--recompute (default: the config's train.recompute, else off) keeps only each block's input and\n"
           "recomputes its activations in backward (activation checkpointing); MFU counts model FLOPs only.\n"
           "--freeze (default: the config's train.freeze) trains all but the tensors matching the globs, as\n"
           "train.freeze does: no weight gradients or AdamW moments for them.\n"
           "--lora RANK puts LoRA adapters of that rank (alpha 2·RANK) on every linear layer and trains only\n"
           "them (the base frozen); model FLOPs then count the frozen weights' forward and input-gradient\n"
           "products and the adapters' forward and backward, as the step runs them.\n");
}

/* one `bench train` run: options, the model, the timings */
typedef struct {
    const char *preset, *family, *json, *config, *precision, *recompute, *freeze;
    int B, T, steps, warmup, threads, rec, world, lora, window; /* window 0: the model's */
    GriffinConfig cfg;
    GemmPrecision prec;
    double prec_peak, peak, rss_mb, opt_time, comm_time, med, medf;
    FmaPeak fma; /* the FMA loops' GFLOP/s, summed over ranks */
    GemmProfile prod; /* seconds and FLOPs per product kind of the timed steps (rank 0) */
    char cfg_freeze[CFG_STR];
    GriffinModel *m;
    TrainableSet set;
    size_t shard; /* this rank's moments, floats of each of m and v */
} BenchRun;

/* the options; 0, or 1 after --help */
static int bench_options(BenchRun *r, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' && !r->config) {
            r->config = a;
            continue;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return bench_usage(), 1;
        CHECK(v, "griffin bench train: option %s needs a value", a);
        if (!strcmp(a, "--preset")) r->preset = v;
        else if (!strcmp(a, "--family")) r->family = v;
        else if (!strcmp(a, "--batch")) r->B = atoi(v);
        else if (!strcmp(a, "--seq")) r->T = atoi(v);
        else if (!strcmp(a, "--window")) r->window = atoi(v);
        else if (!strcmp(a, "--steps")) r->steps = atoi(v);
        else if (!strcmp(a, "--warmup")) r->warmup = atoi(v);
        else if (!strcmp(a, "--threads")) r->threads = atoi(v);
        else if (!strcmp(a, "--json")) r->json = v;
        else if (!strcmp(a, "--precision")) r->precision = v;
        else if (!strcmp(a, "--recompute")) r->recompute = v;
        else if (!strcmp(a, "--freeze")) r->freeze = v;
        else if (!strcmp(a, "--lora")) r->lora = atoi(v);
        else DIE("griffin bench train: unknown option %s (see --help)", a);
        i++;
    }
    CHECK(r->B > 0 && r->T > 1 && r->steps > 0 && r->warmup >= 0 && r->window >= 0,
          "griffin bench train: batch, seq, steps and window must be positive");
    CHECK(r->lora >= 0, "griffin bench train: --lora must be a rank >= 0");
    return 0;
}

/* the model of CONFIG.ini (its batch, seq_len, precision, recompute and freeze unless given)
 * or of a preset, and the family override */
static void bench_model_config(BenchRun *r, int argc, char **argv) {
    if (r->config) {
        TrainConfig *tc = callocCheck(1, sizeof *tc);
        char err[2048];
        CHECK(train_config_load(tc, r->config, 0, NULL, err, sizeof err) == 0, "griffin bench train: %s", err);
        r->cfg = tc->griffin;
        r->preset = r->config;
        int bset = 0, tset = 0, fset = 0;
        for (int i = 1; i < argc; i++) {
            bset |= !strcmp(argv[i], "--batch");
            tset |= !strcmp(argv[i], "--seq");
            fset |= !strcmp(argv[i], "--freeze");
        }
        if (!bset) r->B = tc->train.batch_size;
        if (!tset) r->T = tc->train.seq_len;
        if (!r->precision) r->precision = gemm_precision_name((GemmPrecision)tc->train.precision);
        if (!r->recompute) r->recompute = tc->train.recompute ? "on" : "off";
        snprintf(r->cfg_freeze, sizeof r->cfg_freeze, "%s", tc->train.freeze);
        if (!fset) r->freeze = r->cfg_freeze;
        free(tc);
    } else {
        CHECK(config_preset(r->preset, &r->cfg) == 0, "griffin bench train: unknown preset '%s' (tiny, small, 2b)", r->preset);
    }
    if (r->lora) {
        r->cfg.lora_rank = r->lora, r->cfg.lora_alpha = 2.0f * (float)r->lora, r->cfg.lora_targets = LORA_ALL;
        const char *err = config_finalize(&r->cfg);
        CHECK(!err, "griffin bench train: --lora %d: %s", r->lora, err);
    }
    if (r->window) r->cfg.window = r->window;
    if (r->family || r->window) {
        CHECK(!r->family || family_parse(r->family, &r->cfg.family) == 0, "griffin bench train: unknown family '%s'",
              r->family);
        const char *err = config_finalize(&r->cfg);
        CHECK(!err, "griffin bench train: %s", err);
    }
}

static void bench_precision(BenchRun *r) {
    const char *p = r->precision;
    GemmPrecision want = GEMM_FP32;
    if (p && !strcmp(p, "bf16")) want = GEMM_BF16;
    else if (p && !strcmp(p, "bf16-emulated")) want = GEMM_BF16_EMULATED;
    else CHECK(!p || !strcmp(p, "fp32"), "griffin bench train: --precision %s is not fp32|bf16|bf16-emulated", p);
    r->prec = gemm_set_precision(want);
    if (r->prec != want && dist_rank() == 0) printf("precision    bf16 asked for, but this CPU has no avx512_bf16: fp32\n");
    r->prec_peak = r->prec != GEMM_FP32 ? gemm_ab(r->prec, r->B * r->T, r->cfg.width, r->cfg.mlp_width) : 0.0;
    CHECK(!r->recompute || !strcmp(r->recompute, "on") || !strcmp(r->recompute, "off"),
          "griffin bench train: --recompute %s is not on|off", r->recompute);
    r->rec = r->recompute && !strcmp(r->recompute, "on");
}

/* warmup + timed steps on random tokens: forward, backward, ZeRO-1 as in training
 * (reduce-scatter, AdamW on this rank's shard, all-gather); fwd/tot [steps] seconds */
static void bench_steps(BenchRun *r, double *fwd, double *tot) {
    GriffinModel *m = r->m;
    int N = r->B * r->T;
    int *tokens = mallocCheck(sizeof(int) * N), *targets = mallocCheck(sizeof(int) * N), *pos = mallocCheck(sizeof(int) * N);
    Rng g;
    rng_seed(&g, 5, 0);
    for (int n = 0; n < N; n++) {
        tokens[n] = (int)rng_below(&g, (uint64_t)r->cfg.vocab_size);
        targets[n] = (int)rng_below(&g, (uint64_t)r->cfg.vocab_size);
        pos[n] = n % r->T;
    }
    ZeroShard zs; /* this rank's shard of the moments over the trainable set, as in training */
    zero_init(&zs, &r->set, &m->table);
    r->shard = zs.hi - zs.lo;
    AdamWConfig ac = adamw_defaults();
    dist_barrier();
    for (int s = -r->warmup; s < r->steps; s++) {
        if (s == 0) {
            griffin_set_profile(m, 1);
            memset(m->prof, 0, sizeof m->prof);
            memset(&r->prod, 0, sizeof r->prod);
            gemm_profile_set(&r->prod);
        }
        double t0 = now_seconds();
        griffin_zero_grad(m);
        griffin_forward(m, tokens, targets, pos, NULL, r->B, r->T);
        double t1 = now_seconds();
        griffin_backward(m);
        double t2 = now_seconds();
        zero_reduce(&zs, m->grads);
        double tr = now_seconds();
        zero_update_shard(&zs, m->params, m->grads, &ac, 1e-4f, s + r->warmup + 1, 1.0f);
        double tu = now_seconds();
        zero_gather(&zs, m->params);
        double t3 = now_seconds();
        if (s < 0) continue;
        fwd[s] = t1 - t0;
        tot[s] = t3 - t0;
        r->opt_time += tu - tr;
        r->comm_time += (tr - t2) + (t3 - tu);
    }
    griffin_set_profile(m, 0);
    gemm_profile_set(NULL);
    zero_free(&zs);
    free(tokens), free(targets), free(pos);
}

/* GFLOP/s of each product kind (gemm() calls and the gate kernel), forward and backward */
static void bench_products(const BenchRun *r, double step_total) {
    const GemmProfile *p = &r->prod;
    printf("products     GFLOP/s (ms per step)     forward            backward   share\n");
    for (int k = 0; k < GEMM_KIND_NUM; k++) {
        double s0 = p->seconds[k][0], s1 = p->seconds[k][1];
        if (s0 + s1 <= 0.0) continue;
        printf("  %-20s %9.1f (%7.2f) %9.1f (%7.2f) %6.1f%%\n", gemm_kind_name[k], s0 > 0 ? p->flops[k][0] / s0 / 1e9 : 0.0,
               1e3 * s0 / r->steps, s1 > 0 ? p->flops[k][1] / s1 / 1e9 : 0.0, 1e3 * s1 / r->steps,
               100.0 * (s0 + s1) / step_total);
    }
}

static void bench_report(const BenchRun *r) {
    const GriffinModel *m = r->m;
    int N = r->B * r->T, world = r->world, steps = r->steps;
    double flops = griffin_step_flops_per_token(m, r->T);
    printf("model        %s %s: D=%d E=%d F=%d H=%d L=%d A=%d V=%d, %zu parameters\n", r->preset,
           family_name(m->cfg.family), m->cfg.width, m->cfg.lru_width, m->cfg.mlp_width, m->cfg.num_heads,
           m->cfg.depth, m->cfg.window, m->cfg.vocab_size, m->table.total);
    printf("batch        B=%d T=%d (%d tokens) per rank, %d rank(s) × %d threads, %d timed steps, %s matrix products\n",
           r->B, r->T, N, world, omp_get_max_threads(), steps, gemm_precision_name(r->prec));
    printf("forward      %.1f ms (median)\n", 1e3 * r->medf);
    printf("step         %.1f ms (median; forward+backward+AdamW)   %.0f tokens/s\n", 1e3 * r->med, (double)N * world / r->med);
    double achieved = flops * N * world / r->med / 1e9;
    printf("flops        %.1f MFLOP/token, %.1f GFLOP/s achieved; sgemm peak here %.1f GFLOP/s; MFU %.1f%%\n",
           flops / 1e6, achieved, r->peak, 100.0 * achieved / r->peak);
    char a512[32] = "none on this CPU";
    if (r->fma.avx512 > 0) snprintf(a512, sizeof a512, "%.1f", r->fma.avx512);
    printf("fma peak     %.1f GFLOP/s (AVX2+FMA loop %.1f, AVX-512 loop %s); MFU against it %.1f%%\n", r->fma.peak,
           r->fma.avx2, a512, 100.0 * achieved / r->fma.peak);
    if (r->prec != GEMM_FP32)
        printf("             %s gemm peak here %.1f GFLOP/s; MFU against it %.1f%%\n", gemm_precision_name(r->prec),
               r->prec_peak, 100.0 * achieved / r->prec_peak);
    double prof_total = r->opt_time;
    for (int k = 0; k < PROF_NUM; k++) prof_total += m->prof[k][0] + m->prof[k][1];
    printf("breakdown    per step, ms      forward  backward   share\n");
    for (int k = 0; k < PROF_NUM; k++)
        printf("  %-20s %12.2f %9.2f %6.1f%%\n", prof_kind_name[k], 1e3 * m->prof[k][0] / steps,
               1e3 * m->prof[k][1] / steps, 100.0 * (m->prof[k][0] + m->prof[k][1]) / prof_total);
    printf("  %-20s %12s %9.2f %6.1f%%\n", "optimizer (AdamW)", "-", 1e3 * r->opt_time / steps, 100.0 * r->opt_time / prof_total);
    if (world > 1)
        printf("  %-20s %12s %9.2f %6.1f%%  (reduce-scatter + all-gather, %d ranks)\n", "all-reduce", "-",
               1e3 * r->comm_time / steps, 100.0 * r->comm_time / prof_total, world);
    else
        printf("  %-20s %12s %9s %6s\n", "all-reduce", "-", "-", "(1 rank)");
    bench_products(r, prof_total);
}

static void bench_json(const BenchRun *r) {
    const GriffinModel *m = r->m;
    int N = r->B * r->T;
    double flops = griffin_step_flops_per_token(m, r->T), achieved = flops * N * r->world / r->med / 1e9;
    FILE *f = fopenCheck(r->json, "w");
    fprintf(f, "{\"model\":\"%s\",\"family\":\"%s\",\"parameters\":%zu,\"trainable\":%zu,\"batch\":%d,\"seq\":%d,\"window\":%d,"
               "\"threads\":%d,\"precision\":\"%s\",\"step_ms\":%.3f,\"forward_ms\":%.3f,\"tokens_per_s\":%.1f,"
               "\"mflop_per_token\":%.3f,\"gflops\":%.2f,\"sgemm_peak_gflops\":%.2f,\"mfu\":%.4f,"
               "\"fma_peak_gflops\":%.2f,\"fma_avx2_gflops\":%.2f,\"fma_avx512_gflops\":%.2f,\"mfu_fma\":%.4f,"
               "\"breakdown_ms\":{",
            r->preset, family_name(m->cfg.family), m->table.total, r->set.n, r->B, r->T, m->cfg.window, omp_get_max_threads(),
            gemm_precision_name(r->prec), 1e3 * r->med, 1e3 * r->medf, N / r->med, flops / 1e6, achieved, r->peak,
            achieved / r->peak, r->fma.peak, r->fma.avx2, r->fma.avx512, achieved / r->fma.peak);
    for (int k = 0; k < PROF_NUM; k++)
        fprintf(f, "\"%s\":{\"forward\":%.3f,\"backward\":%.3f},", prof_kind_name[k], 1e3 * m->prof[k][0] / r->steps,
                1e3 * m->prof[k][1] / r->steps);
    fprintf(f, "\"optimizer\":{\"forward\":0,\"backward\":%.3f},\"allreduce\":{\"forward\":0,\"backward\":%.3f}},"
               "\"products\":{", 1e3 * r->opt_time / r->steps, 1e3 * r->comm_time / r->steps);
    for (int k = 0; k < GEMM_KIND_NUM; k++) {
        const GemmProfile *p = &r->prod;
        double s0 = p->seconds[k][0], s1 = p->seconds[k][1];
        fprintf(f, "%s\"%s\":{\"forward_gflops\":%.2f,\"backward_gflops\":%.2f,\"forward_ms\":%.3f,\"backward_ms\":%.3f}",
                k ? "," : "", gemm_kind_name[k], s0 > 0 ? p->flops[k][0] / s0 / 1e9 : 0.0,
                s1 > 0 ? p->flops[k][1] / s1 / 1e9 : 0.0, 1e3 * s0 / r->steps, 1e3 * s1 / r->steps);
    }
    fprintf(f, "},\"ranks\":%d,\"peak_rss_mb\":%.1f,\"activation_bytes_per_token\":%.0f,\"recompute\":%s,"
               "\"adamw_moment_bytes\":%zu}\n",
            r->world, r->rss_mb,
            (double)griffin_activation_bytes(m) / N, r->rec ? "true" : "false", r->shard * 2 * sizeof(float));
    fclose(f);
    printf("wrote %s\n", r->json);
}

static void bench_memory(const BenchRun *r) {
    const GriffinModel *m = r->m;
    int N = r->B * r->T;
    if (!r->set.all)
        printf("trainable    %zu of %zu parameters (%.1f%%), %d tensors frozen (%s%s)\n", r->set.n, r->set.P,
               100.0 * (double)r->set.n / (double)r->set.P, trainable_frozen_tensors(&r->set),
               r->lora ? "LoRA adapters only" : "--freeze ", r->lora ? "" : r->freeze);
    printf("memory       parameters %.1f MB, gradients %.1f MB, AdamW moments %.1f MB%s, activations %.1f MB"
           " (%.0f KB per token%s); peak resident %.1f MB%s\n",
           m->table.total * 4.0 / 1e6, m->grad_floats * 4.0 / 1e6, (double)r->shard * 8.0 / 1e6,
           r->world > 1 ? " (this rank's shard)" : "", griffin_activation_bytes(m) / 1e6,
           griffin_activation_bytes(m) / 1e3 / N, r->rec ? ", recompute on" : "", r->rss_mb,
           r->world > 1 ? " (rank 0)" : "");
}

static int bench_train(int argc, char **argv) {
    BenchRun r = {.preset = "small", .freeze = "", .B = 8, .T = 256, .steps = 5, .warmup = 1};
    dist_init(&argc, &argv);
    if (bench_options(&r, argc, argv)) {
        dist_finalize();
        return 0;
    }
    if (r.threads > 0) omp_set_num_threads(r.threads);
    bench_model_config(&r, argc, argv);
    bench_precision(&r);
    r.world = dist_size();
    r.m = griffin_create_ex(&r.cfg, r.B, r.T, 1, r.rec ? GRIFFIN_RECOMPUTE | GRIFFIN_CHUNKED_LOSS : 0);
    char err[1024];
    CHECK(trainable_build(&r.set, &r.m->table, r.freeze, r.lora ? "*.lora_A.weight,*.lora_B.weight" : "", err, sizeof err) == 0,
          "griffin bench train: --freeze: %s", err);
    griffin_set_trainable(r.m, r.set.all ? NULL : r.set.on);
    double *fwd = mallocCheck(sizeof(double) * r.steps), *tot = mallocCheck(sizeof(double) * r.steps);
    bench_steps(&r, fwd, tot);
    /* every rank measures its cores' sgemm rate at the same time; the machine's peak is the sum */
    r.peak = dist_sum_double(sgemm_peak_gflops(r.B * r.T, r.cfg.width, r.cfg.mlp_width));
    r.fma = fma_peak_gflops();
    r.fma.avx2 = dist_sum_double(r.fma.avx2), r.fma.avx512 = dist_sum_double(r.fma.avx512);
    r.fma.peak = dist_sum_double(r.fma.peak);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    r.rss_mb = (double)ru.ru_maxrss * 1024.0 / 1e6;
    qsort(fwd, (size_t)r.steps, sizeof(double), cmp_double);
    qsort(tot, (size_t)r.steps, sizeof(double), cmp_double);
    r.med = tot[r.steps / 2], r.medf = fwd[r.steps / 2];
    if (dist_rank() == 0) {
        bench_report(&r);
        if (r.json) bench_json(&r);
        bench_memory(&r);
    }
    free(fwd);
    free(tot);
    trainable_free(&r.set);
    griffin_free(r.m);
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
