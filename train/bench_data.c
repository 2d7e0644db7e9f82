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
#include "data/mixture.h"
#include "train/commands.h"
#include "train/config.h"
#include "train/corpus_open.h"
#include "train/runlog.h"

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

int bench_data(int argc, char **argv) {
    const char *path = NULL, *json = NULL;
    int batches = 200, rank = 0, world = 1, n_over = 0;
    char **over = callocCheck((size_t)argc, sizeof *over);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            bench_data_usage(stdout);
            return 0;
        } else if (!strncmp(a, "--", 2) && strchr(a, '=') && strchr(a, '.')) {
            over[n_over++] = argv[i];
        } else if (v && (!strcmp(a, "--batches") || !strcmp(a, "--rank") || !strcmp(a, "--world"))) {
            int x = atoi(v);
            CHECK(x > 0 || (x == 0 && !strcmp(a, "--rank")), "bench data: %s %s", a, v);
            *(!strcmp(a, "--batches") ? &batches : !strcmp(a, "--rank") ? &rank : &world) = x;
            i++;
        } else if (v && !strcmp(a, "--json")) {
            json = argv[++i];
        } else if (a[0] != '-' && !path) {
            path = a;
        } else {
            bench_data_usage(stderr);
            DIE("bench data: unexpected argument '%s'", a);
        }
    }
    if (!path) {
        bench_data_usage(stderr);
        return 2;
    }
    CHECK(rank < world, "bench data: --rank %d of --world %d", rank, world);
    TrainConfig *cfg = callocCheck(1, sizeof *cfg);
    char err[2048];
    CHECK(train_config_load(cfg, path, n_over, over, err, sizeof err) == 0, "bench data: %s", err);
    CHECK(cfg->n_data > 0, "bench data: %s has no [data] corpora", path);
    double rss0 = peak_rss_mb(), t0 = run_now_s();
    Corpus *cs[CFG_MAX_DATA];
    uint64_t tokens = 0;
    size_t docs = 0;
    for (int i = 0; i < cfg->n_data; i++) {
        cs[i] = train_open_corpus(cfg, &cfg->data[i], CORPUS_TEXT);
        tokens += corpus_num_tokens(cs[i], 0);
        docs += corpus_num_docs(cs[i]);
    }
    double open_s = run_now_s() - t0;
    size_t index_bytes = 0;
    for (int i = 0; i < cfg->n_data; i++) index_bytes += corpus_resident_bytes(cs[i]);
    int B = cfg->train.batch_size, T = cfg->train.seq_len;
    Mixture mix;
    mixture_init(&mix, cs, cfg->n_data, (uint64_t)cfg->train.seed, 1, PACK_STREAM, B, T, rank, world);
    double w[MIXTURE_MAX_CORPORA];
    stage1_weights(cfg, w);
    mixture_set_weights(&mix, w);
    Batch b;
    batch_alloc(&b, B, T);
    enum { COLD = 5 };
    double cold = 0.0, warm = 0.0;
    for (int k = 0; k < batches; k++) {
        double s = run_now_s();
        mixture_next_batch(&mix, &b);
        double dt = run_now_s() - s;
        if (k < COLD) cold += dt;
        else warm += dt;
    }
    size_t resident = 0;
    uint64_t loads = 0, hits = 0;
    for (int i = 0; i < cfg->n_data; i++) {
        uint64_t l, h;
        resident += corpus_resident_bytes(cs[i]);
        corpus_cache_stats(cs[i], &l, &h);
        loads += l;
        hits += h;
    }
    resident += (size_t)mixture_state_len(cfg->n_data) * 8;
    for (int i = 0; i < cfg->n_data; i++) resident += mix.perm[i] ? corpus_num_docs(cs[i]) * sizeof(uint64_t) : 0;
    double cold_ms = 1e3 * cold / (batches < COLD ? batches : COLD);
    double warm_ms = batches > COLD ? 1e3 * warm / (batches - COLD) : 0.0;
    double rss = peak_rss_mb();
    printf("bench data: %s: %d corpora, %zu documents, %llu tokens; rank %d of %d, batch %d x %d, cache %d MiB/corpus\n",
           path, cfg->n_data, docs, (unsigned long long)tokens, rank, world, B, T, cfg->train.data_cache_mb);
    printf("  open %.3f s (index reading); index %.1f MB; after %d batches: corpus memory %.1f MB (index, caches, "
           "permutations), peak RSS %.1f MB (%.1f MB before opening)\n", open_s, index_bytes / 1e6, batches,
           resident / 1e6, rss, rss0);
    printf("  packing a batch: %.3f ms cold (first %d), %.3f ms warm; %.1f M tokens/s warm; %llu chunk reads, %llu hits\n",
           cold_ms, COLD, warm_ms, warm_ms > 0 ? (double)B * T / warm_ms / 1e3 : 0.0, (unsigned long long)loads,
           (unsigned long long)hits);
    if (json) {
        FILE *f = fopenCheck(json, "w");
        fprintf(f, "{\"config\":\"%s\",\"corpora\":%d,\"documents\":%zu,\"tokens\":%llu,\"rank\":%d,\"world\":%d,"
                   "\"B\":%d,\"T\":%d,\"open_s\":%.6f,\"index_mb\":%.3f,\"corpus_mb\":%.3f,\"peak_rss_mb\":%.3f,"
                   "\"pack_cold_ms\":%.6f,\"pack_warm_ms\":%.6f,\"chunk_reads\":%llu}\n",
                path, cfg->n_data, docs, (unsigned long long)tokens, rank, world, B, T, open_s, index_bytes / 1e6,
                resident / 1e6, rss, cold_ms, warm_ms, (unsigned long long)loads);
        fclose(f);
    }
    batch_free(&b);
    mixture_free(&mix);
    for (int i = 0; i < cfg->n_data; i++) corpus_close(cs[i]);
    free(cfg);
    free(over);
    return 0;
}
