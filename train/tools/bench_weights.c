/* griffin bench sample --weights fp32,bf16,int8: decode tokens/s per weight format and batch
 * size beside the read bandwidth of this machine, measured in the same run by a streaming
 * read loop (over as many bytes as the format's weights, and over 1 GiB); and prefill tokens/s
 * per format. Decode is a stream over the weights: at batch 1
 * a step reads every weight once, so bytes per step × steps/s is the bandwidth the decode
 * reaches, and the ratio to the measured read bandwidth says how close to the limit it is.
 * The formats, batches and the bandwidth loop alternate inside each round and the medians over
 * the rounds are printed (a shared machine drifts; alternation spreads the drift alike). */
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/check.h"
#include "common/rng.h"
#include "model/decode.h"
#include "train/tools/bench_weights.h"
#include "train/config/config.h"
#include "train/tools/weights_opt.h"

enum { MAX_FMT = 3, MAX_BATCH = 8, MAX_ROUNDS = 64 };

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n) {
    double s[MAX_ROUNDS];
    memcpy(s, v, sizeof(double) * (size_t)n);
    qsort(s, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

static volatile uint64_t read_sink; /* keeps the read loop's result alive */

/* bytes/s of one pass of every thread over its share of buf [n] (xor of 8-byte words) */
static double read_bandwidth(const uint64_t *buf, size_t n) {
    uint64_t acc = 0;
    double t0 = now_s();
#pragma omp parallel for reduction(^ : acc) schedule(static)
    for (size_t i = 0; i < n; i++) acc ^= buf[i];
    double dt = now_s() - t0;
    read_sink ^= acc;
    return (double)n * sizeof(uint64_t) / dt;
}

/* bytes a decode step reads from the weights: every stored tensor once (the table by the
 * unembedding) */
static double step_weight_bytes(const GriffinModel *m) {
    double bytes = 0;
    for (int t = 0; t < m->table.count; t++) {
        WeightView w = griffin_weight(m, t);
        bytes += (double)m->table.t[t].numel * weight_format_bytes(w.fmt) +
                 (w.fmt == WEIGHTS_INT8 ? 4.0 * w.parts * w.rows : 0.0);
    }
    return bytes;
}

/* decode tokens/s of B rows copied from the prefilled row one, over steps steps */
static double decode_rate(GriffinModel *m, const DecodeState *one, int B, int steps, Rng *r) {
    DecodeState *s = decode_create(m, B);
    for (int b = 0; b < B; b++) decode_copy_row(s, b, one, 0);
    int next[64];
    double t0 = now_s();
    for (int k = 0; k < steps; k++) {
        for (int b = 0; b < B; b++) next[b] = (int)rng_below(r, (uint64_t)m->cfg.vocab_size);
        decode_step(s, next);
    }
    double tps = (double)steps * B / (now_s() - t0);
    decode_free(s);
    return tps;
}

/* seconds per pass of the decode products alone: every converted matrix once, B rows */
static double products_time(const GriffinModel *m, int B, int passes) {
    size_t most = 1;
    for (int t = 0; t < m->table.count; t++) {
        WeightView w = griffin_weight(m, t);
        size_t n = (size_t)(w.rows > w.cols ? w.rows : w.cols);
        most = n > most ? n : most;
    }
    float *x = alignedCallocCheck(sizeof(float) * most * B), *y = alignedCallocCheck(sizeof(float) * most * B);
    for (size_t i = 0; i < most * B; i++) x[i] = 0.01f * (float)(i % 97);
    double t0 = now_s();
    for (int k = 0; k < passes; k++)
        for (int t = 0; t < m->table.count; t++) {
            if (!weight_converts(&m->table, t)) continue;
            WeightView w = griffin_weight(m, t);
            for (int p = 0; p < w.parts; p++) gemv_view(y, x, &w, p, NULL, B);
        }
    double dt = (now_s() - t0) / passes;
    free(x);
    free(y);
    return dt;
}

typedef struct {
    const char *preset, *config;
    int nf, nb, prompt, steps, rounds, threads;
    WeightFormat fmt[MAX_FMT];
    int batch[MAX_BATCH];
} WeightsBench;

static void usage(void) {
    printf("usage: griffin bench sample --weights fp32,bf16,int8 [--preset small | --config CFG.ini]\n"
           "                            [--batches 1,8] [--prompt 256] [--steps 64] [--rounds 5] [--threads N]\n"
           "Decode tokens/s per weight format and batch (each format's weights converted from the same\n"
           "random fp32 model), beside the read bandwidth of a streaming loop in the same run, and\n"
           "prefill tokens/s of a --prompt-token prompt; medians over --rounds alternating rounds.\n");
}

static void parse(WeightsBench *wb, int argc, char **argv) {
    memset(wb, 0, sizeof *wb);
    wb->preset = "small";
    wb->prompt = 256, wb->steps = 64, wb->rounds = 5;
    wb->batch[0] = 1, wb->batch[1] = 8, wb->nb = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage();
            exit(0);
        }
        CHECK(i + 1 < argc, "griffin bench sample: %s needs a value", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--weights")) {
            char buf[64];
            snprintf(buf, sizeof buf, "%s", v);
            wb->nf = 0;
            for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
                CHECK(wb->nf < MAX_FMT, "griffin bench sample: --weights lists at most %d formats", MAX_FMT);
                wb->fmt[wb->nf++] = weights_option("griffin bench sample", tok);
            }
        } else if (!strcmp(a, "--batches")) {
            wb->nb = 0;
            for (const char *s = v; *s && wb->nb < MAX_BATCH;) {
                char *end;
                long b = strtol(s, &end, 10);
                CHECK(end != s && b > 0 && b <= 64, "griffin bench sample: --batches %s: numbers 1..64", v);
                wb->batch[wb->nb++] = (int)b;
                s = *end == ',' ? end + 1 : end;
            }
        } else if (!strcmp(a, "--preset")) wb->preset = v;
        else if (!strcmp(a, "--config")) wb->config = v;
        else if (!strcmp(a, "--prompt")) wb->prompt = atoi(v);
        else if (!strcmp(a, "--steps")) wb->steps = atoi(v);
        else if (!strcmp(a, "--rounds")) wb->rounds = atoi(v);
        else if (!strcmp(a, "--threads")) wb->threads = atoi(v);
        else DIE("griffin bench sample: unknown option %s with --weights (see --weights fp32 --help)", a);
    }
    CHECK(wb->nf > 0 && wb->nb > 0, "griffin bench sample: --weights needs at least one format");
    CHECK(wb->prompt > 0 && wb->steps > 0 && wb->rounds > 0 && wb->rounds <= MAX_ROUNDS,
          "griffin bench sample: --prompt, --steps must be positive, --rounds 1..%d", MAX_ROUNDS);
}

static void model_config(const WeightsBench *wb, GriffinConfig *cfg) {
    if (wb->config) {
        TrainConfig *tc = callocCheck(1, sizeof *tc);
        char err[1024];
        CHECK(train_config_load(tc, wb->config, 0, NULL, err, sizeof err) == 0, "griffin bench sample: %s", err);
        *cfg = tc->griffin;
        free(tc);
        return;
    }
    CHECK(config_preset(wb->preset, cfg) == 0, "griffin bench sample: unknown preset %s", wb->preset);
}

int bench_sample_weights(int argc, char **argv) {
    WeightsBench wb;
    parse(&wb, argc, argv);
    if (wb.threads > 0) omp_set_num_threads(wb.threads);
    GriffinConfig cfg;
    model_config(&wb, &cfg);
    GriffinModel *m[MAX_FMT];
    DecodeState *one[MAX_FMT];
    Rng r;
    rng_seed(&r, 3, 0);
    int *tok = mallocCheck(sizeof(int) * (size_t)wb.prompt), *pos = mallocCheck(sizeof(int) * (size_t)wb.prompt);
    for (int t = 0; t < wb.prompt; t++) {
        tok[t] = (int)rng_below(&r, (uint64_t)cfg.vocab_size);
        pos[t] = t;
    }
    for (int f = 0; f < wb.nf; f++) { /* the same random model in every format */
        m[f] = griffin_create_ex(&cfg, 1, wb.prompt, 1, GRIFFIN_INFERENCE);
        weights_apply(m[f], wb.fmt[f], "(random)");
        one[f] = decode_create(m[f], 1);
    }
    /* the read loop over as many bytes as each format's weights (the same cache level as its
     * decode: a model may fit a large L3) and over 1 GiB (memory) */
    size_t nbuf = (size_t)1 << 27;
    uint64_t *buf = alignedCallocCheck(nbuf * sizeof(uint64_t));
    for (size_t i = 0; i < nbuf; i++) buf[i] = i * 0x9E3779B97F4A7C15ull;
    double bw[MAX_ROUNDS], bwf[MAX_FMT][MAX_ROUNDS], tps[MAX_FMT][MAX_BATCH][MAX_ROUNDS], pre[MAX_FMT][MAX_ROUNDS];
    double prod[MAX_FMT][MAX_BATCH][MAX_ROUNDS];
    for (int k = 0; k < wb.rounds; k++) {
        bw[k] = read_bandwidth(buf, nbuf);
        for (int f = 0; f < wb.nf; f++) {
            size_t words = (size_t)(step_weight_bytes(m[f]) / sizeof(uint64_t));
            bwf[f][k] = read_bandwidth(buf, words < nbuf ? words : nbuf);
            double t0 = now_s();
            decode_prefill(one[f], m[f], tok, pos, wb.prompt);
            pre[f][k] = wb.prompt / (now_s() - t0);
            for (int b = 0; b < wb.nb; b++) {
                tps[f][b][k] = decode_rate(m[f], one[f], wb.batch[b], wb.steps, &r);
                prod[f][b][k] = products_time(m[f], wb.batch[b], wb.steps / 4 + 1);
            }
        }
    }
    double bwm = median(bw, wb.rounds), bwmax = 0, base[MAX_BATCH] = {0}, base_pre = 0;
    for (int k = 0; k < wb.rounds; k++) bwmax = bw[k] > bwmax ? bw[k] : bwmax;
    printf("model: %s, %zu parameters; %d threads; %d rounds of %d decode steps after a %d-token prompt\n",
           wb.config ? wb.config : wb.preset, m[0]->table.total, omp_get_max_threads(), wb.rounds, wb.steps,
           wb.prompt);
    printf("read bandwidth (streaming loop, this run) over 1 GiB: %.2f GB/s median, %.2f GB/s best\n", bwm / 1e9,
           bwmax / 1e9);
    printf("%-6s %11s %9s %5s %11s %8s %11s %7s %9s %9s %13s\n", "format", "weights MB", "loop GB/s", "batch",
           "tokens/s", "vs fp32", "read GB/s", "of loop", "step ms", "products", "prefill tok/s");
    for (int f = 0; f < wb.nf; f++) {
        double bytes = step_weight_bytes(m[f]), p = median(pre[f], wb.rounds), loop = median(bwf[f], wb.rounds);
        if (wb.fmt[f] == WEIGHTS_FP32) base_pre = p;
        for (int b = 0; b < wb.nb; b++) {
            double t = median(tps[f][b], wb.rounds), steps_s = t / wb.batch[b];
            if (wb.fmt[f] == WEIGHTS_FP32) base[b] = t;
            char vs[16] = "-", pv[24] = "";
            if (base[b] > 0) snprintf(vs, sizeof vs, "%.2fx", t / base[b]);
            if (b == 0) snprintf(pv, sizeof pv, "%.0f", p);
            double step_ms = 1e3 / steps_s, prod_ms = 1e3 * median(prod[f][b], wb.rounds);
            printf("%-6s %11.1f %9.2f %5d %11.1f %8s %11.2f %6.0f%% %9.2f %8.0f%% %13s\n",
                   weight_format_name(wb.fmt[f]), bytes / 1e6, loop / 1e9, wb.batch[b], t, vs, bytes * steps_s / 1e9,
                   100.0 * bytes * steps_s / loop, step_ms, 100.0 * prod_ms / step_ms, pv);
        }
    }
    printf("products: the share of a decode step the matrix products alone take (every converted matrix once,\n"
           "timed separately); the rest is the RG-LRU, conv, attention, norms, embedding, soft cap, thread forks\n");
    if (base_pre > 0)
        for (int f = 0; f < wb.nf; f++)
            printf("prefill %s: %.0f tokens/s, %.0f%% of fp32's\n", weight_format_name(wb.fmt[f]),
                   median(pre[f], wb.rounds), 100.0 * median(pre[f], wb.rounds) / base_pre);
    for (int f = 0; f < wb.nf; f++) {
        decode_free(one[f]);
        griffin_free(m[f]);
    }
    free(buf);
    free(tok);
    free(pos);
    return 0;
}
