/* Prefill + token-by-token decode with the fixed-size state reproduces the parallel forward:
 * every family, prompts shorter than the conv width, generation far past the attention window
 * (the key/value ring wraps), and left-padded batches of unequal prompts (padding invisible). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "model/decode.h"

static int fails = 0;

static GriffinModel *make_model(Family fam, int maxB, int maxT) {
    GriffinConfig cfg = {0};
    cfg.family = fam;
    cfg.vocab_size = 50;
    cfg.width = 32;
    cfg.lru_width = 40;
    cfg.mlp_width = 48;
    cfg.num_heads = 2;
    cfg.depth = 3;
    cfg.window = 6;
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
    return m;
}

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
static void check_teacher_forced(Family fam, int P, int reset) {
    enum { T = 30 };
    GriffinModel *m = make_model(fam, 1, T);
    int V = m->cfg.vocab_size;
    int tokens[T], pos[T];
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
    printf("%-12s prefill %2d + decode %2d (window %d, %s): max rel logit diff %.2e, state %zu bytes %s\n",
           family_name(fam), P, T - P, m->cfg.window, reset ? "document reset in the prompt" : "one document",
           worst, bytes0, ok ? "ok" : "FAIL");
    fails += !ok;
    decode_free(s);
    free(full);
    griffin_free(m);
}

/* left-padded batch of unequal prompts vs each prompt alone */
static void check_left_padding(Family fam) {
    enum { B = 3, P = 11, G = 12 };
    const int lens[B] = {2, 11, 8}; /* a BOS inside the last 3 prompt slots: conv state zeroing */
    GriffinModel *m = make_model(fam, B, P);
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
    printf("%-12s left-padded batch of prompts %d/%d/%d vs alone: max rel diff %.2e %s\n", family_name(fam), lens[0],
           lens[1], lens[2], worst, ok ? "ok" : "FAIL");
    fails += !ok;
    free(batch);
    griffin_free(m);
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
    for (int i = 0; i < 3; i++) {
        check_teacher_forced(fams[i], 1, 0);
        check_teacher_forced(fams[i], 2, 0);
        check_teacher_forced(fams[i], 6, 0); /* k = window */
        check_teacher_forced(fams[i], 9, 0); /* k > window */
        check_teacher_forced(fams[i], 9, 7);
        check_teacher_forced(fams[i], 14, 7); /* the reset more than a window back */
        check_teacher_forced(fams[i], 8, 7);  /* the new document starts one token before the end */
        check_left_padding(fams[i]);
    }
    check_long_generation(FAMILY_GRIFFIN);
    check_long_generation(FAMILY_HAWK);
    printf("decode: %s\n", fails ? "FAILED" : "ok");
    return fails ? 1 : 0;
}
