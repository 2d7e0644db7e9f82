/* griffin bench sample: generation throughput and state/cache memory as generation grows,
 * for a Griffin preset and a same-size MQA Transformer with global attention (its key/value
 * cache grows with every token), after a prompt; and prefill throughput by prompt length.
 * Prints a table and writes CSV for scripts/plot_bench.py. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/check.h"
#include "common/sys.h"
#include "common/rng.h"
#include "model/decode.h"
#include "train/tools/bench_weights.h"
#include "train/commands.h"


static int parse_list(const char *s, int *out, int max) {
    int n = 0;
    while (*s && n < max) {
        char *end;
        long v = strtol(s, &end, 10);
        CHECK(end != s && v > 0, "griffin bench sample: bad number list '%s'", s);
        out[n++] = (int)v;
        s = *end == ',' ? end + 1 : end;
    }
    return n;
}

/* bytes of the state a sequence carries after n tokens: fixed for recurrent layers and local
 * attention rings; for attention the keys/values actually held (min(n, window) tokens) */
static double state_bytes_used(const GriffinConfig *c, int B, long n) {
    double per = 0, K = (double)c->width / c->num_heads;
    for (int l = 0; l < c->depth; l++) {
        if (c->block_types[l] == BLOCK_RECURRENT) per += (double)c->lru_width * GRIFFIN_CONV_WIDTH * 4.0;
        else per += 2.0 * K * 4.0 * (double)(n < c->window ? n : c->window);
    }
    return per * B;
}


int bench_sample(int argc, char **argv) {
    for (int i = 1; i < argc; i++) /* per weight format: its own table (train/tools/bench_weights.c) */
        if (!strcmp(argv[i], "--weights")) return bench_sample_weights(argc, argv);
    const char *preset = "small", *csv_path = "bench_sample.csv";
    int prompt = 2048, lens[16], nl = 0, batches[8], nb = 0, prefills[16], np = 0, threads = 0;
    int run_fam[2] = {1, 1}; /* griffin (the preset's family), transformer */
    nl = parse_list("256,512,1024,2048,4096,8192,16384", lens, 16);
    nb = parse_list("1,8", batches, 8);
    np = parse_list("256,512,1024,2048,4096,8192", prefills, 16);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: griffin bench sample [--preset small] [--prompt 2048] [--lengths 256,...,16384]\n"
                   "                            [--batches 1,8] [--prefill 256,...,8192|none]\n"
                   "                            [--families griffin,transformer] [--threads N] [--csv F]\n"
                   "Griffin (preset) vs a same-size global-attention MQA Transformer: tokens/s of each\n"
                   "generation segment up to each length, and the state/cache bytes held at that length.\n"
                   "--families picks the rows to run (e.g. --families transformer --batches 8\n"
                   "--prefill none measures only the transformer's batch-8 decode rows).\n"
                   "--weights fp32,bf16,int8 instead compares weight formats (see --weights fp32 --help).\n");
            return 0;
        }
        CHECK(i + 1 < argc, "griffin bench sample: %s needs a value", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--preset")) preset = v;
        else if (!strcmp(a, "--prompt")) prompt = atoi(v);
        else if (!strcmp(a, "--lengths")) nl = parse_list(v, lens, 16);
        else if (!strcmp(a, "--batches")) nb = parse_list(v, batches, 8);
        else if (!strcmp(a, "--prefill")) np = strcmp(v, "none") ? parse_list(v, prefills, 16) : 0;
        else if (!strcmp(a, "--families")) {
            run_fam[0] = strstr(v, "griffin") != NULL;
            run_fam[1] = strstr(v, "transformer") != NULL;
            CHECK(run_fam[0] || run_fam[1], "griffin bench sample: --families takes griffin, transformer or both");
        }
        else if (!strcmp(a, "--threads")) threads = atoi(v);
        else if (!strcmp(a, "--csv")) csv_path = v;
        else DIE("griffin bench sample: unknown option %s (see --help)", a);
    }
    CHECK(prompt > 0, "griffin bench sample: --prompt must be positive");
    for (int i = 1; i < nl; i++)
        CHECK(lens[i] > lens[i - 1], "griffin bench sample: --lengths must increase (each is a total generated)");
    if (threads > 0) omp_set_num_threads(threads);
    int maxlen = lens[nl - 1];
    FILE *csv = fopenCheck(csv_path, "w");
    fprintf(csv, "kind,family,batch,length,tokens_per_s,state_bytes\n");
    printf("%-11s %5s %7s %12s %14s\n", "family", "batch", "length", "tokens/s", "state MB");
    for (int fam = 0; fam < 2; fam++) {
        if (!run_fam[fam]) continue;
        GriffinConfig cfg;
        CHECK(config_preset(preset, &cfg) == 0, "griffin bench sample: unknown preset %s", preset);
        if (fam == 1) { /* same size, every layer global attention over prompt + generation */
            cfg.family = FAMILY_TRANSFORMER;
            cfg.window = prompt + maxlen;
            CHECK(!config_finalize(&cfg), "config");
        }
        const char *fname = family_name(cfg.family);
        GriffinModel *m = griffin_create_ex(&cfg, 1, prompt, 1, 1);
        Rng r;
        rng_seed(&r, 3, 0);
        int *tok = mallocCheck(sizeof(int) * (size_t)prompt), *pos = mallocCheck(sizeof(int) * (size_t)prompt);
        for (int t = 0; t < prompt; t++) {
            tok[t] = (int)rng_below(&r, (uint64_t)cfg.vocab_size);
            pos[t] = t;
        }
        DecodeState *one = decode_create(m, 1);
        decode_prefill(one, m, tok, pos, prompt);
        for (int bi = 0; bi < nb; bi++) {
            int B = batches[bi];
            DecodeState *s = decode_create(m, B);
            for (int b = 0; b < B; b++) decode_copy_row(s, b, one, 0);
            int *next = mallocCheck(sizeof(int) * (size_t)B);
            long done = 0;
            for (int li = 0; li < nl; li++) {
                double t0 = now_seconds();
                long seg = lens[li] - done;
                for (long k = 0; k < seg; k++) {
                    for (int b = 0; b < B; b++) next[b] = (int)rng_below(&r, (uint64_t)cfg.vocab_size);
                    decode_step(s, next);
                }
                double dt = now_seconds() - t0;
                done = lens[li];
                double tps = (double)seg * B / dt;
                double bytes = state_bytes_used(&cfg, B, prompt + done);
                printf("%-11s %5d %7d %12.1f %14.2f\n", fname, B, lens[li], tps, bytes / 1e6);
                fprintf(csv, "decode,%s,%d,%d,%.3f,%.0f\n", fname, B, lens[li], tps, bytes);
                fflush(stdout);
                fflush(csv);
            }
            free(next);
            decode_free(s);
        }
        decode_free(one);
        free(tok);
        free(pos);
        griffin_free(m);
        /* prefill throughput: one parallel forward over prompts of each length */
        for (int pi = 0; pi < np; pi++) {
            int P = prefills[pi];
            GriffinModel *pm = griffin_create_ex(&cfg, 1, P, 1, 1);
            int *pt = mallocCheck(sizeof(int) * (size_t)P), *pp = mallocCheck(sizeof(int) * (size_t)P);
            for (int t = 0; t < P; t++) {
                pt[t] = (int)rng_below(&r, (uint64_t)cfg.vocab_size);
                pp[t] = t;
            }
            double t0 = now_seconds();
            griffin_forward(pm, pt, NULL, pp, NULL, 1, P);
            double tps = P / (now_seconds() - t0);
            printf("%-11s %5s %7d %12.1f %14s   (prefill)\n", fname, "1", P, tps, "-");
            fprintf(csv, "prefill,%s,1,%d,%.3f,\n", fname, P, tps);
            free(pt);
            free(pp);
            griffin_free(pm);
        }
    }
    fclose(csv);
    printf("wrote %s\n", csv_path);
    return 0;
}
