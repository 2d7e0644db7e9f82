/* griffin bench data: what reading a config's corpora costs one rank — the time to open them
 * (index reading; no token is read), the memory they hold (index + chunk caches, and the
 * process's peak RSS), and the time to pack a batch of B x T tokens with the stage-1 mixture,
 * on a cold cache (the first batches after opening) and a warm one. Compare the packing time
 * with the step time `griffin bench train` reports for the same config. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "common/check.h"
#include "common/sys.h"
#include "data/mixture.h"
#include "train/commands.h"
#include "train/config/config.h"
#include "train/run/corpus_open.h"
#include "train/run/runlog.h"

static void bench_data_usage(FILE *f) {
    fprintf(f, "usage: griffin bench data CONFIG.ini [--batches N] [--rank R --world W] [--json F]\n"
               "                         [--section.key=value ...]\n"
               "Opens the config's [data] corpora as one rank of a W-rank run would (train.batch_size,\n"
               "train.seq_len, train.seed, train.data_cache_mb, the stage-1 mix) and packs N batches\n"
               "(default 200): open time, corpus memory, peak RSS, packing time cold and warm.\n");
}

static double peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss * 1024.0 / 1e6;
}

/* the stage-1 weights of the config's mixture */
static void stage1_weights(const TrainConfig *cfg, double *w) {
    for (int i = 0; i < cfg->n_data; i++) w[i] = 0.0;
    if (cfg->n_stages == 0) {
        for (int i = 0; i < cfg->n_data; i++) w[i] = 1.0;
        return;
    }
    const StageConfig *st = &cfg->stage[0];
    for (int m = 0; m < st->n_mix; m++) w[train_config_find_data(cfg, st->mix[m].name)] = st->mix[m].weight;
}

typedef struct {
    const char *path, *json;
    int batches, rank, world, n_over;
    char **over;
} BenchDataArgs;

typedef struct {
    double open_s, rss0, rss, cold_ms, warm_ms;
    size_t docs, index_bytes, resident;
    uint64_t tokens, loads, hits;
} BenchDataResult;

/* 0, 1 (--help) or 2 (usage) */
static int parse_args(int argc, char **argv, BenchDataArgs *a) {
    memset(a, 0, sizeof *a);
    a->batches = 200;
    a->world = 1;
    a->over = callocCheck((size_t)argc, sizeof *a->over);
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            bench_data_usage(stdout);
            return 1;
        } else if (!strncmp(o, "--", 2) && strchr(o, '=') && strchr(o, '.')) {
            a->over[a->n_over++] = argv[i];
        } else if (v && (!strcmp(o, "--batches") || !strcmp(o, "--rank") || !strcmp(o, "--world"))) {
            int x = atoi(v);
            CHECK(x > 0 || (x == 0 && !strcmp(o, "--rank")), "bench data: %s %s", o, v);
            *(!strcmp(o, "--batches") ? &a->batches : !strcmp(o, "--rank") ? &a->rank : &a->world) = x;
            i++;
        } else if (v && !strcmp(o, "--json")) {
            a->json = argv[++i];
        } else if (o[0] != '-' && !a->path) {
            a->path = o;
        } else {
            bench_data_usage(stderr);
            DIE("bench data: unexpected argument '%s'", o);
        }
    }
    CHECK(a->rank < a->world, "bench data: --rank %d of --world %d", a->rank, a->world);
    if (!a->path) bench_data_usage(stderr);
    return a->path ? 0 : 2;
}

/* opens the corpora, packs the batches, measures */
static void measure(const TrainConfig *cfg, const BenchDataArgs *a, BenchDataResult *r) {
    enum { COLD = 5 };
    memset(r, 0, sizeof *r);
    r->rss0 = peak_rss_mb();
    double t0 = now_seconds();
    Corpus *cs[CFG_MAX_DATA];
    for (int i = 0; i < cfg->n_data; i++) {
        cs[i] = train_open_corpus(cfg, &cfg->data[i], CORPUS_TEXT);
        r->tokens += corpus_num_tokens(cs[i], 0);
        r->docs += corpus_num_docs(cs[i]);
    }
    r->open_s = now_seconds() - t0;
    for (int i = 0; i < cfg->n_data; i++) r->index_bytes += corpus_resident_bytes(cs[i]);
    int B = cfg->train.batch_size, T = cfg->train.seq_len;
    Mixture mix;
    mixture_init(&mix, cs, cfg->n_data, (uint64_t)cfg->train.seed, 1, PACK_STREAM, B, T, a->rank, a->world);
    double w[MIXTURE_MAX_CORPORA], cold = 0.0, warm = 0.0;
    stage1_weights(cfg, w);
    mixture_set_weights(&mix, w);
    Batch b;
    batch_alloc(&b, B, T);
    for (int k = 0; k < a->batches; k++) {
        double s = now_seconds();
        mixture_next_batch(&mix, &b);
        *(k < COLD ? &cold : &warm) += now_seconds() - s;
    }
    for (int i = 0; i < cfg->n_data; i++) {
        uint64_t l, h;
        r->resident += corpus_resident_bytes(cs[i]) + (mix.perm[i] ? corpus_num_docs(cs[i]) * sizeof(uint64_t) : 0);
        corpus_cache_stats(cs[i], &l, &h);
        r->loads += l;
        r->hits += h;
    }
    r->cold_ms = 1e3 * cold / (a->batches < COLD ? a->batches : COLD);
    r->warm_ms = a->batches > COLD ? 1e3 * warm / (a->batches - COLD) : 0.0;
    r->rss = peak_rss_mb();
    batch_free(&b);
    mixture_free(&mix);
    for (int i = 0; i < cfg->n_data; i++) corpus_close(cs[i]);
}

static void report(const TrainConfig *cfg, const BenchDataArgs *a, const BenchDataResult *r) {
    int B = cfg->train.batch_size, T = cfg->train.seq_len;
    printf("bench data: %s: %d corpora, %zu documents, %llu tokens; rank %d of %d, batch %d x %d, cache %d MiB/corpus\n",
           a->path, cfg->n_data, r->docs, (unsigned long long)r->tokens, a->rank, a->world, B, T,
           cfg->train.data_cache_mb);
    printf("  open %.3f s (index reading); index %.1f MB; after %d batches: corpus memory %.1f MB (index, caches, "
           "permutations), peak RSS %.1f MB (%.1f MB before opening)\n", r->open_s, r->index_bytes / 1e6, a->batches,
           r->resident / 1e6, r->rss, r->rss0);
    printf("  packing a batch: %.3f ms cold (first 5), %.3f ms warm; %.1f M tokens/s warm; %llu chunk reads, %llu hits\n",
           r->cold_ms, r->warm_ms, r->warm_ms > 0 ? (double)B * T / r->warm_ms / 1e3 : 0.0,
           (unsigned long long)r->loads, (unsigned long long)r->hits);
    if (!a->json) return;
    FILE *f = fopenCheck(a->json, "w");
    fprintf(f, "{\"config\":\"%s\",\"corpora\":%d,\"documents\":%zu,\"tokens\":%llu,\"rank\":%d,\"world\":%d,"
               "\"B\":%d,\"T\":%d,\"open_s\":%.6f,\"index_mb\":%.3f,\"corpus_mb\":%.3f,\"peak_rss_mb\":%.3f,"
               "\"pack_cold_ms\":%.6f,\"pack_warm_ms\":%.6f,\"chunk_reads\":%llu}\n",
            a->path, cfg->n_data, r->docs, (unsigned long long)r->tokens, a->rank, a->world, B, T, r->open_s,
            r->index_bytes / 1e6, r->resident / 1e6, r->rss, r->cold_ms, r->warm_ms, (unsigned long long)r->loads);
    fclose(f);
}

int bench_data(int argc, char **argv) {
    BenchDataArgs a;
    int rc = parse_args(argc, argv, &a);
    if (rc) {
        free(a.over);
        return rc == 1 ? 0 : 2;
    }
    TrainConfig *cfg = callocCheck(1, sizeof *cfg);
    char err[2048];
    CHECK(train_config_load(cfg, a.path, a.n_over, a.over, err, sizeof err) == 0, "bench data: %s", err);
    CHECK(cfg->n_data > 0, "bench data: %s has no [data] corpora", a.path);
    BenchDataResult r;
    measure(cfg, &a, &r);
    report(cfg, &a, &r);
    free(cfg);
    free(a.over);
    return 0;
}
