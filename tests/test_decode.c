/* Prefill + token-by-token decode with the fixed-size state reproduces the parallel forward:
 * every family, prompts shorter than the conv width, generation far past the attention window
 * (the key/value ring wraps), a head dim that is no multiple of the vector width, a long
 * global window (the online softmax rescales across key blocks), and left-padded batches of
 * unequal prompts (padding invisible). The decode products (model/gemv.c) against a double
 * reference, bitwise the same for any thread count and batch. The same with bf16 and int8
 * weights (model/weights.h): decode's narrow GEMV against the forward's dequantised GEMM. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "model/decode.h"
#include "model/gemv.h"

static int fails = 0;
/* the weights every model of a check stores (model/weights.h), and its vocabulary: 150 with
 * narrow weights, so that the forward's unembedding reads the narrow table in two blocks */
static WeightFormat g_fmt = WEIGHTS_FP32;
static int g_vocab = 50;

static GriffinModel *make_model_ex(Family fam, int maxB, int maxT, int width, int heads, int window) {
    GriffinConfig cfg = {0};
    cfg.family = fam;
    cfg.vocab_size = g_vocab;
    cfg.width = width;
    cfg.lru_width = 40;
    cfg.mlp_width = 48;
    cfg.num_heads = heads;
    cfg.depth = 3;
    cfg.window = window;
    cfg.soft_cap = 30.0f;
    cfg.embed_scale = 1;
    GriffinModel *m = griffin_create(&cfg, maxB, maxT, 3);
    Rng r;
    rng_seed(&r, 11, 0);
    for (int i = 0; i < m->table.count; i++) {
        const TensorInfo *t = &m->table.t[i];
        if (t->init == INIT_A_PARAM) continue;
        float std = t->init == INIT_ZERO ? 0.2f : t->init_std * 0.5f;
        for (size_t j = 0; j < t->numel; j++) m->params[t->offset + j] += (float)((double)std * rng_normal(&r));
    }
    if (griffin_set_weights(m, g_fmt) >= 0) {
        printf("FAIL: the weights do not convert to %s\n", weight_format_name(g_fmt));
        fails++;
    }
    return m;
}

static GriffinModel *make_model(Family fam, int maxB, int maxT) { return make_model_ex(fam, maxB, maxT, 32, 2, 6); }

static double rel_diff(const float *a, const float *b, int n) {
    double md = 0, mx = 1e-30;
    for (int i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        md = d > md ? d : md;
        mx = fabs((double)b[i]) > mx ? fabs((double)b[i]) : mx;
    }
    return md / mx;
}

/* full forward of one row vs prefill(P) + decode of the rest; reset > 0 starts a second
 * document at that index (inside the prompt) */
static void check_teacher_forced_ex(Family fam, int P, int reset, int width, int heads, int window, int T) {
    GriffinModel *m = make_model_ex(fam, 1, T, width, heads, window);
    int V = m->cfg.vocab_size;
    int *tokens = malloc(sizeof(int) * (size_t)T), *pos = malloc(sizeof(int) * (size_t)T);
    Rng r;
    rng_seed(&r, 5, (uint64_t)P);
    for (int t = 0; t < T; t++) {
        tokens[t] = (int)rng_below(&r, (uint64_t)V);
        pos[t] = reset > 0 && t >= reset ? t - reset : t;
    }
    griffin_forward(m, tokens, NULL, pos, NULL, 1, T);
    float *full = malloc(sizeof(float) * T * V);
    memcpy(full, m->logits, sizeof(float) * T * V);
    DecodeState *s = decode_create(m, 1);
    size_t bytes0 = decode_state_bytes(s);
    const float *lg = decode_prefill(s, m, tokens, pos, P);
    double worst = rel_diff(lg, full + (P - 1) * V, V);
    for (int t = P; t < T; t++) {
        lg = decode_step(s, &tokens[t]);
        double d = rel_diff(lg, full + t * V, V);
        worst = d > worst ? d : worst;
    }
    int ok = worst < 1e-5 && decode_state_bytes(s) == bytes0;
    printf("%s %-12s prefill %2d + decode %2d (window %d, head dim %d, %s): max rel logit diff %.2e, state %zu bytes %s\n",
           weight_format_name(g_fmt), family_name(fam), P, T - P, m->cfg.window, width / heads,
           reset ? "document reset in the prompt" : "one document", worst, bytes0, ok ? "ok" : "FAIL");
    fails += !ok;
    decode_free(s);
    free(full);
    free(tokens);
    free(pos);
    griffin_free(m);
}

static void check_teacher_forced(Family fam, int P, int reset) { check_teacher_forced_ex(fam, P, reset, 32, 2, 6, 30); }

/* left-padded batch of unequal prompts vs each prompt alone; with maxB < B the prefill runs
 * in chunks of maxB rows (the model holds activations for maxB rows only) */
static void check_left_padding(Family fam, int maxB) {
    enum { B = 3, P = 11, G = 12 };
    const int lens[B] = {2, 11, 8}; /* a BOS inside the last 3 prompt slots: conv state zeroing */
    GriffinModel *m = make_model(fam, maxB, P);
    int V = m->cfg.vocab_size;
    int tokens[B * P], pos[B * P], gen[B][G];
    Rng r;
    rng_seed(&r, 77, 0);
    for (int b = 0; b < B; b++) {
        int pad = P - lens[b];
        for (int t = 0; t < P; t++) {
            tokens[b * P + t] = t < pad ? 0 : (int)rng_below(&r, (uint64_t)V);
            pos[b * P + t] = t < pad ? -1 : t - pad;
        }
        for (int g = 0; g < G; g++) gen[b][g] = (int)rng_below(&r, (uint64_t)V);
    }
    DecodeState *s = decode_create(m, B);
    float *batch = malloc(sizeof(float) * B * (G + 1) * V);
    memcpy(batch, decode_prefill(s, m, tokens, pos, P), sizeof(float) * B * V);
    for (int g = 0; g < G; g++) {
        int step[B];
        for (int b = 0; b < B; b++) step[b] = gen[b][g];
        memcpy(batch + (size_t)(g + 1) * B * V, decode_step(s, step), sizeof(float) * B * V);
    }
    decode_free(s);
    double worst = 0;
    for (int b = 0; b < B; b++) {
        DecodeState *s1 = decode_create(m, 1);
        int pad = P - lens[b];
        const float *lg = decode_prefill(s1, m, tokens + b * P + pad, pos + b * P + pad, lens[b]);
        double d = rel_diff(batch + (size_t)b * V, lg, V);
        worst = d > worst ? d : worst;
        for (int g = 0; g < G; g++) {
            lg = decode_step(s1, &gen[b][g]);
            d = rel_diff(batch + ((size_t)(g + 1) * B + b) * V, lg, V);
            worst = d > worst ? d : worst;
        }
        decode_free(s1);
    }
    int ok = worst < 1e-5;
    printf("%s %-12s left-padded batch of prompts %d/%d/%d (prefill in chunks of %d) vs alone: max rel diff %.2e %s\n",
           weight_format_name(g_fmt), family_name(fam), lens[0], lens[1], lens[2], maxB, worst, ok ? "ok" : "FAIL");
    fails += !ok;
    free(batch);
    griffin_free(m);
}

/* y = x·wᵀ + b and y = x·w + b against a double reference for batches 1..16 and sizes that
 * are no multiple of the vector width; the same bits for 1 and 3 threads, and each row the
 * same bits alone as inside the batch */
static void check_gemv(void) {
    static const int shapes[][3] = {{1, 37, 5},   {2, 8, 1},    {3, 64, 13},  {4, 100, 33}, {5, 129, 70},
                                    {7, 1, 9},    {8, 17, 3},   {9, 250, 41}, {12, 33, 100}, {16, 250, 41},
                                    {16, 512, 67}, {1, 1536, 29}};
    int nshapes = (int)(sizeof shapes / sizeof shapes[0]), bad = 0, nth0 = omp_get_max_threads();
    double worst = 0;
    Rng r;
    rng_seed(&r, 23, 0);
    for (int si = 0; si < nshapes; si++) {
        int B = shapes[si][0], NI = shapes[si][1], NO = shapes[si][2], ldx = NI + 3, ldy = NO + 5;
        float *x = malloc(sizeof(float) * (size_t)B * ldx), *w = malloc(sizeof(float) * (size_t)NI * NO);
        float *bias = malloc(sizeof(float) * (size_t)NO), *y[3], *yo = malloc(sizeof(float) * (size_t)NO * ldy);
        for (int i = 0; i < 3; i++) y[i] = calloc((size_t)B * ldy, sizeof(float));
        for (int i = 0; i < B * ldx; i++) x[i] = (float)rng_normal(&r);
        for (int i = 0; i < NI * NO; i++) w[i] = (float)rng_normal(&r);
        for (int i = 0; i < NO; i++) bias[i] = (float)rng_normal(&r);
        for (int io = 0; io < 2; io++)
            for (int hb = 0; hb < 2; hb++) {
                const float *bb = hb ? bias : NULL;
                for (int t = 0; t < 2; t++) { /* 1 and 3 threads */
                    omp_set_num_threads(t ? 3 : 1);
                    if (io) gemv_io(y[t], x, w, bb, B, NI, NO, ldx, ldy);
                    else gemv_linear(y[t], x, w, bb, B, NI, NO); /* packed: rows of NI, NO */
                }
                omp_set_num_threads(nth0);
                int ly = io ? ldy : NO, lx = io ? ldx : NI;
                bad += memcmp(y[0], y[1], sizeof(float) * (size_t)((B - 1) * ly + NO)) != 0;
                for (int b = 0; b < B; b++) { /* row b alone */
                    if (io) gemv_io(yo, x + (size_t)b * lx, w, bb, 1, NI, NO, ldx, ldy);
                    else gemv_linear(yo, x + (size_t)b * lx, w, bb, 1, NI, NO);
                    bad += memcmp(yo, y[0] + (size_t)b * ly, sizeof(float) * (size_t)NO) != 0;
                    for (int n = 0; n < NO; n++) {
                        double ref = bb ? (double)bb[n] : 0.0, mag = fabs(ref);
                        for (int k = 0; k < NI; k++) {
                            double p = (double)x[(size_t)b * lx + k] * (double)(io ? w[(size_t)k * NO + n] : w[(size_t)n * NI + k]);
                            ref += p;
                            mag += fabs(p);
                        }
                        double d = fabs((double)y[0][(size_t)b * ly + n] - ref) / mag;
                        worst = d > worst ? d : worst;
                    }
                }
            }
        /* the dot product of the decode attention */
        double ref = 0, mag = 0;
        for (int k = 0; k < NI; k++) {
            ref += (double)x[k] * (double)w[k];
            mag += fabs((double)x[k] * (double)w[k]);
        }
        double d = fabs((double)gemv_dot(x, w, NI) - ref) / mag;
        worst = d > worst ? d : worst;
        free(x);
        free(w);
        free(bias);
        free(yo);
        for (int i = 0; i < 3; i++) free(y[i]);
    }
    int ok = worst < 1e-6 && bad == 0;
    printf("gemv_linear, gemv_io, gemv_dot: %d shapes (batch 1..16), max error / sum|terms| %.2e vs double, "
           "%d differences across thread counts or batch %s\n", nshapes, worst, bad, ok ? "ok" : "FAIL");
    fails += !ok;
}

/* the state does not grow: same bytes after 10 and 10,000 generated tokens, logits finite */
static void check_long_generation(Family fam) {
    GriffinModel *m = make_model(fam, 1, 4);
    int tokens[4] = {2, 7, 9, 11}, pos[4] = {0, 1, 2, 3};
    DecodeState *s = decode_create(m, 1);
    decode_prefill(s, m, tokens, pos, 4);
    size_t after10 = 0;
    int finite = 1;
    for (int k = 1; k <= 10000; k++) {
        int t = (k * 7) % m->cfg.vocab_size;
        const float *lg = decode_step(s, &t);
        finite &= isfinite(lg[0]) && isfinite(lg[m->cfg.vocab_size - 1]);
        if (k == 10) after10 = decode_state_bytes(s);
    }
    int ok = after10 == decode_state_bytes(s) && finite;
    printf("%-12s state after 10 tokens %zu bytes, after 10000 tokens %zu bytes, logits finite: %s %s\n",
           family_name(fam), after10, decode_state_bytes(s), finite ? "yes" : "no", ok ? "ok" : "FAIL");
    fails += !ok;
    decode_free(s);
    griffin_free(m);
}

int main(void) {
    const Family fams[] = {FAMILY_GRIFFIN, FAMILY_HAWK, FAMILY_TRANSFORMER};
    check_gemv();
    for (int i = 0; i < 3; i++) {
        check_teacher_forced(fams[i], 1, 0);
        check_teacher_forced(fams[i], 2, 0);
        check_teacher_forced(fams[i], 6, 0); /* k = window */
        check_teacher_forced(fams[i], 9, 0); /* k > window */
        check_teacher_forced(fams[i], 9, 7);
        check_teacher_forced(fams[i], 14, 7); /* the reset more than a window back */
        check_teacher_forced(fams[i], 8, 7);  /* the new document starts one token before the end */
        check_left_padding(fams[i], 3);
        check_left_padding(fams[i], 2);
        check_left_padding(fams[i], 1);
    }
    /* head dim 12 (no multiple of 8); a 40-token window over 70 tokens: blocks of keys in
     * the online softmax, a reset inside the prompt, and the ring wrapping */
    check_teacher_forced_ex(FAMILY_TRANSFORMER, 5, 0, 24, 2, 40, 70);
    check_teacher_forced_ex(FAMILY_TRANSFORMER, 30, 12, 24, 2, 40, 70);
    check_teacher_forced_ex(FAMILY_GRIFFIN, 33, 0, 24, 2, 40, 70);
    check_long_generation(FAMILY_GRIFFIN);
    check_long_generation(FAMILY_HAWK);
    /* narrow weights: prefill + decode (the narrow GEMV) against the parallel forward with the
     * same weights (dequantised, one matrix at a time, through the GEMM) */
    for (int f = WEIGHTS_BF16; f <= WEIGHTS_INT8; f++) {
        g_fmt = (WeightFormat)f;
        g_vocab = 150;
        for (int i = 0; i < 3; i++) {
            check_teacher_forced(fams[i], 2, 0);
            check_teacher_forced(fams[i], 9, 7);
            check_left_padding(fams[i], 2);
        }
        check_teacher_forced_ex(FAMILY_TRANSFORMER, 30, 12, 24, 2, 40, 70);
        check_teacher_forced_ex(FAMILY_GRIFFIN, 33, 0, 24, 2, 40, 70);
    }
    printf("decode: %s\n", fails ? "FAILED" : "ok");
    return fails ? 1 : 0;
}
