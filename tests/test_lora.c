/* LoRA adapters (model/lora.h, the table of model/params.h, the hooks of model/griffin.c):
 * - the kernel pair: dx, dA, dB against central finite differences (y is linear in each);
 * - the whole model, per family, every target on: the adapters' gradients equal the chain rule
 *   through the merged weight, dA = s·Bᵀ·G_W and dB = s·G_W·Aᵀ, with G_W the merged model's
 *   weight gradient; the merged model's logits equal the adapted model's to 1e-5 relative
 *   and every other tensor's gradient matches;
 * - B = 0 (a fresh adapter) gives bitwise the base model's logits, and so do adapters off;
 * - recompute: gradients bitwise those without it; the frozen base (train only the
 *   adapters) gives the adapters bitwise the gradients of a full backward;
 * - decode with adapters on (prefill + steps) equals the parallel forward (rollouts sample from
 *   the trained model itself), also with a recomputing model;
 * - configuration: names (official and Hugging Face), a rank above a layer's side and targets
 *   the family lacks are refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "model/decode.h"
#include "model/griffin.h"
#include "model/layers.h"
#include "model/lora.h"
#include "optim/trainable.h"
#include "tests/expect.h"

enum { B = 2, T = 12, V = 64 };

static void fill(float *v, size_t n, Rng *r, float amp) {
    for (size_t i = 0; i < n; i++) v[i] = amp * (float)(2.0 * rng_uniform(r) - 1.0);
}

/* L = Σ G ⊙ y(x, A, B) */
static double objective(const float *G, const float *x, const float *A, const float *Bm, float s, int N, int NI,
                        int NO, int r) {
    float *y = calloc((size_t)N * NO, sizeof(float)), *u = malloc(sizeof(float) * (size_t)N * r);
    lora_forward(y, u, x, A, Bm, s, N, NI, NO, r);
    double L = 0;
    for (size_t i = 0; i < (size_t)N * NO; i++) L += (double)G[i] * (double)y[i];
    free(y);
    free(u);
    return L;
}

static double worst_fd(float *p, const float *analytic, size_t n, const float *G, const float *x, const float *A,
                       const float *Bm, float s, int N, int NI, int NO, int r) {
    double worst = 0, scale = 1e-6;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs((double)analytic[i]));
    for (size_t i = 0; i < n; i++) {
        float keep = p[i], h = 1e-2f;
        p[i] = keep + h;
        double up = objective(G, x, A, Bm, s, N, NI, NO, r);
        p[i] = keep - h;
        double dn = objective(G, x, A, Bm, s, N, NI, NO, r);
        p[i] = keep;
        worst = fmax(worst, fabs((up - dn) / (2.0 * (double)h) - (double)analytic[i]) / scale);
    }
    return worst;
}

static void test_kernel(void) {
    const int N = 7, NI = 9, NO = 5, r = 3;
    const float s = 16.0f / r;
    Rng g;
    rng_seed(&g, 3, 0);
    float x[7 * 9], A[3 * 9], Bm[5 * 3], G[7 * 5], u[7 * 3], du[7 * 3];
    fill(x, sizeof x / 4, &g, 1), fill(A, sizeof A / 4, &g, 1), fill(Bm, sizeof Bm / 4, &g, 1), fill(G, sizeof G / 4, &g, 1);
    float dx[7 * 9] = {0}, dA[3 * 9] = {0}, dB[5 * 3] = {0};
    lora_backward(dx, dA, dB, u, du, G, x, A, Bm, s, N, NI, NO, r);
    double ex = worst_fd(x, dx, sizeof x / 4, G, x, A, Bm, s, N, NI, NO, r);
    double ea = worst_fd(A, dA, sizeof A / 4, G, x, A, Bm, s, N, NI, NO, r);
    double eb = worst_fd(Bm, dB, sizeof Bm / 4, G, x, A, Bm, s, N, NI, NO, r);
    EXPECT(ex < 1e-4 && ea < 1e-4 && eb < 1e-4, "lora kernel vs finite differences: dx %.2e dA %.2e dB %.2e", ex, ea, eb);
    printf("kernel: finite differences, worst relative error dx %.2e dA %.2e dB %.2e\n", ex, ea, eb);
    /* a frozen part is skipped, the other gradients unchanged */
    float dx2[7 * 9] = {0}, dB2[5 * 3] = {0};
    lora_backward(dx2, NULL, dB2, u, du, G, x, A, Bm, s, N, NI, NO, r);
    EXPECT(!memcmp(dx, dx2, sizeof dx) && !memcmp(dB, dB2, sizeof dB), "frozen A: dx and dB bitwise unchanged");
}

static GriffinConfig config(Family fam, int rank) {
    GriffinConfig c = {0};
    c.family = fam;
    c.vocab_size = V;
    c.width = 32;
    c.lru_width = 40;
    c.mlp_width = 48;
    c.num_heads = 4;
    c.depth = 3;
    c.window = 6;
    c.soft_cap = 30.0f;
    c.embed_scale = 1;
    c.lora_rank = rank;
    c.lora_alpha = 8.0f;
    c.lora_targets = LORA_ALL;
    return c;
}

static void batch(int *tok, int *tgt, int *pos) {
    Rng r;
    rng_seed(&r, 5, 0);
    for (int n = 0; n < B * T; n++) {
        tok[n] = (int)rng_below(&r, V);
        tgt[n] = (int)rng_below(&r, V);
        pos[n] = n % T < 7 ? n % T : n % T - 7;
    }
}

static void run(GriffinModel *m, int backward) {
    int tok[B * T], tgt[B * T], pos[B * T];
    batch(tok, tgt, pos);
    griffin_forward(m, tok, tgt, pos, NULL, B, T);
    if (!backward) return;
    griffin_zero_grad(m);
    griffin_backward(m);
}

/* every adapter tensor random (B too), so the adapters change the function */
static void randomize_adapters(GriffinModel *m) {
    Rng r;
    rng_seed(&r, 9, 0);
    for (int i = m->table.lora_first; i < m->table.count; i++)
        fill(m->params + m->table.t[i].offset, m->table.t[i].numel, &r, 0.2f);
}

static int count_adapters(const ParamTable *pt) { return pt->count - pt->lora_first; }

static void test_base_identity(Family fam) {
    GriffinConfig cb = config(fam, 0), cl = config(fam, 4);
    GriffinModel *base = griffin_create(&cb, B, T, 21), *ad = griffin_create(&cl, B, T, 21);
    EXPECT(ad->table.lora_first == base->table.count && count_adapters(&ad->table) > 0,
           "%s: adapters after every base tensor (%d adapters)", family_name(fam), count_adapters(&ad->table));
    EXPECT(!memcmp(base->params, ad->params, base->table.total * sizeof(float)),
           "%s: the base tensors of an adapted model are the base model's (a prefix, same init)", family_name(fam));
    size_t NV = (size_t)B * T * V;
    run(base, 0);
    run(ad, 0);
    EXPECT(!memcmp(base->logits, ad->logits, NV * sizeof(float)), "%s: B = 0 gives bitwise the base logits", family_name(fam));
    randomize_adapters(ad);
    run(ad, 0);
    EXPECT(memcmp(base->logits, ad->logits, NV * sizeof(float)), "%s: random adapters change the logits", family_name(fam));
    griffin_set_adapters(ad, 0);
    run(ad, 0);
    EXPECT(!memcmp(base->logits, ad->logits, NV * sizeof(float)), "%s: adapters off give bitwise the base logits",
           family_name(fam));
    griffin_free(base);
    griffin_free(ad);
}

static double rel_diff(const float *a, const double *b, size_t n) {
    double d = 0, s = 1e-30;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i])), s = fmax(s, fabs(b[i]));
    return d / s;
}

/* the adapted model against its merge: logits, and the chain rule through the merged weight */
static void test_chain_rule(Family fam) {
    GriffinConfig cl = config(fam, 3), cb = config(fam, 0);
    GriffinModel *ad = griffin_create(&cl, B, T, 4), *mg = griffin_create(&cb, B, T, 4);
    randomize_adapters(ad);
    run(ad, 1);
    /* the merged model: the adapted model's weights with the adapters added in */
    GriffinModel *tmp = griffin_create(&cl, 1, 1, 0);
    memcpy(tmp->params, ad->params, ad->table.total * sizeof(float));
    griffin_merge_adapters(tmp);
    memcpy(mg->params, tmp->params, mg->table.total * sizeof(float));
    griffin_free(tmp);
    run(mg, 1);
    size_t NV = (size_t)B * T * V;
    double lg = 0, ls = 1e-30;
    for (size_t i = 0; i < NV; i++) lg = fmax(lg, fabs((double)(ad->logits[i] - mg->logits[i]))), ls = fmax(ls, fabs((double)mg->logits[i]));
    EXPECT(lg / ls < 1e-5, "%s: merged logits vs adapted: %.2e relative", family_name(fam), lg / ls);
    const ParamTable *pt = &ad->table;
    const int r = cl.lora_rank;
    const double s = (double)(cl.lora_alpha / (float)r);
    double worst_ad = 0, worst_base = 0;
    for (int i = 0; i < pt->lora_first; i++) { /* every base tensor: the same function, the same gradient */
        size_t n = pt->t[i].numel;
        double *ref = malloc(n * sizeof(double));
        for (size_t j = 0; j < n; j++) ref[j] = mg->grads[pt->t[i].offset + j];
        worst_base = fmax(worst_base, rel_diff(ad->grads + pt->t[i].offset, ref, n));
        free(ref);
    }
    for (int ia = pt->lora_first; ia < pt->count; ia += 2) {
        const TensorInfo *A = &pt->t[ia], *Bt = &pt->t[ia + 1], *W = &pt->t[A->lora_of];
        int up = A->ndim == 3, NI = W->shape[1], NO = up ? W->shape[2] : W->shape[0];
        for (int c = 0; c < (up ? 2 : 1); c++) {
            const float *a = ad->params + A->offset + (size_t)c * r * NI, *b = ad->params + Bt->offset + (size_t)c * NO * r;
            const float *G = mg->grads + W->offset + (size_t)c * NI * NO; /* [NO,NI], or [NI,NO] for ffw_up */
            double *dA = calloc((size_t)r * NI, sizeof(double)), *dB = calloc((size_t)NO * r, sizeof(double));
            for (int o = 0; o < NO; o++)
                for (int k = 0; k < NI; k++) {
                    double g = up ? G[(size_t)k * NO + o] : G[(size_t)o * NI + k]; /* dL/dW_eff[o][k] */
                    for (int q = 0; q < r; q++) {
                        dA[(size_t)q * NI + k] += s * (double)b[(size_t)o * r + q] * g;
                        dB[(size_t)o * r + q] += s * g * (double)a[(size_t)q * NI + k];
                    }
                }
            worst_ad = fmax(worst_ad, rel_diff(ad->grads + A->offset + (size_t)c * r * NI, dA, (size_t)r * NI));
            worst_ad = fmax(worst_ad, rel_diff(ad->grads + Bt->offset + (size_t)c * NO * r, dB, (size_t)NO * r));
            free(dA);
            free(dB);
        }
    }
    EXPECT(worst_ad < 1e-4, "%s: adapter gradients vs the chain rule through the merged weight: %.2e", family_name(fam),
           worst_ad);
    EXPECT(worst_base < 1e-4, "%s: base gradients vs the merged model's: %.2e", family_name(fam), worst_base);
    printf("%s: merged logits %.2e relative; adapter gradients vs chain rule %.2e; base gradients %.2e (%d adapters)\n",
           family_name(fam), lg / ls, worst_ad, worst_base, count_adapters(pt));
    griffin_free(ad);
    griffin_free(mg);
}

static void test_recompute_and_frozen(Family fam) {
    GriffinConfig cl = config(fam, 2);
    GriffinModel *a = griffin_create_ex(&cl, B, T, 8, 0), *rc = griffin_create_ex(&cl, B, T, 8, GRIFFIN_RECOMPUTE);
    GriffinModel *fr = griffin_create_ex(&cl, B, T, 8, 0);
    randomize_adapters(a);
    memcpy(rc->params, a->params, a->table.total * sizeof(float));
    memcpy(fr->params, a->params, a->table.total * sizeof(float));
    TrainableSet set;
    char err[256];
    EXPECT(trainable_build(&set, &fr->table, "", "*.lora_A.weight,*.lora_B.weight", err, sizeof err) == 0, "%s", err);
    EXPECT(set.mt.count == count_adapters(&fr->table), "the glob *.lora_* selects the %d adapters (%d)",
           count_adapters(&fr->table), set.mt.count);
    griffin_set_trainable(fr, set.on);
    run(a, 1);
    run(rc, 1);
    run(fr, 1);
    size_t total = a->table.total * sizeof(float);
    EXPECT(!memcmp(a->grads, rc->grads, total), "%s: recompute gives bitwise the same gradients", family_name(fam));
    const ParamTable *pt = &a->table;
    int bad = 0;
    for (int i = 0; i < pt->count; i++) {
        size_t n = pt->t[i].numel;
        const float *g0 = a->grads + pt->t[i].offset, *g1 = griffin_grad_of(fr, i);
        bad += set.on[i] ? !g1 || memcmp(g0, g1, n * sizeof(float)) != 0 : g1 != NULL;
    }
    EXPECT(!bad, "%s: frozen base: adapter gradients bitwise the full backward's, no base gradients (%d wrong)",
           family_name(fam), bad);
    EXPECT(fr->grad_floats == set.n, "%s: the gradient buffer holds the trainable floats only (%zu of %zu)",
           family_name(fam), fr->grad_floats, set.n);
    GriffinConfig cb = config(fam, 0);
    GriffinModel *plain = griffin_create_ex(&cb, 1, T, 1, GRIFFIN_INFERENCE);
    double full = griffin_flops_per_token(&plain->cfg, T), step = griffin_step_flops_per_token(plain, T);
    double lora = griffin_step_flops_per_token(fr, T);
    EXPECT(fabs(step - full) < 1e-9 * full, "%s: step FLOPs of a full model %.0f = the analytic %.0f", family_name(fam), step, full);
    EXPECT(lora < full && lora > 0.6 * full, "%s: a frozen base's step FLOPs %.0f below the full model's %.0f", family_name(fam),
           lora, full);
    griffin_free(plain);
    trainable_free(&set);
    griffin_free(a);
    griffin_free(rc);
    griffin_free(fr);
}

/* dropout: off without a key; a key gives the same masks every time (and in recompute), other
 * keys others; its gradient against central differences of the loss at a fixed key */
static void test_dropout(void) {
    GriffinConfig cd = config(FAMILY_GRIFFIN, 3), c0 = config(FAMILY_GRIFFIN, 3);
    cd.lora_dropout = 0.5f;
    GriffinModel *m = griffin_create_ex(&cd, B, T, 6, 0), *z = griffin_create_ex(&c0, B, T, 6, 0);
    GriffinModel *rc = griffin_create_ex(&cd, B, T, 6, GRIFFIN_RECOMPUTE);
    randomize_adapters(m);
    memcpy(z->params, m->params, m->table.total * sizeof(float));
    memcpy(rc->params, m->params, m->table.total * sizeof(float));
    run(m, 0);
    run(z, 0);
    float l0 = m->loss;
    EXPECT(l0 == z->loss, "no key: no dropout (%.9g vs %.9g)", (double)l0, (double)z->loss);
    griffin_set_dropout_key(m, 77);
    run(m, 1);
    float l1 = m->loss;
    run(m, 0);
    EXPECT(l1 == m->loss && l1 != l0, "a key: the same masks each time (%.9g, %.9g), unlike none (%.9g)", (double)l1,
           (double)m->loss, (double)l0);
    griffin_set_dropout_key(rc, 77);
    run(m, 1);
    run(rc, 1);
    EXPECT(!memcmp(m->grads, rc->grads, m->table.total * sizeof(float)), "dropout: recompute gives bitwise the same gradients");
    griffin_set_dropout_key(m, 78);
    run(m, 0);
    EXPECT(m->loss != l1, "another key, other masks");
    /* central differences at key 77 over the largest gradients of a few adapters and a norm */
    griffin_set_dropout_key(m, 77);
    run(m, 1);
    const ParamTable *pt = &m->table;
    float *g = malloc(pt->total * sizeof(float));
    memcpy(g, m->grads, pt->total * sizeof(float));
    int probe[3] = {pt->lora_first, pt->lora_first + 1, pt->slot_index[P_CHANNEL_NORM]};
    double worst = 0;
    for (int k = 0; k < 3; k++) {
        const TensorInfo *t = &pt->t[probe[k]];
        size_t best[4] = {0};
        for (int q = 0; q < 4; q++) /* four largest gradients */
            for (size_t j = 0; j < t->numel; j++) {
                int taken = 0;
                for (int w = 0; w < q; w++) taken |= best[w] == j;
                if (!taken && fabs((double)g[t->offset + j]) > fabs((double)g[t->offset + best[q]])) best[q] = j;
            }
        for (int q = 0; q < 4; q++) {
            float *p = m->params + t->offset + best[q], keep = *p, h = 1e-2f;
            *p = keep + h;
            run(m, 0);
            double up = m->loss;
            *p = keep - h;
            run(m, 0);
            double dn = m->loss;
            *p = keep;
            double fd = (up - dn) / (2.0 * (double)h), an = g[t->offset + best[q]];
            worst = fmax(worst, fabs(fd - an) / fmax(fabs(an), 1e-3));
        }
    }
    EXPECT(worst < 3e-2, "dropout gradients vs central differences: worst relative %.2e", worst);
    printf("dropout 0.5: masks fixed by the key (recompute bitwise); gradients vs central differences %.2e\n", worst);
    free(g);
    griffin_free(m);
    griffin_free(z);
    griffin_free(rc);
}

static void test_decode_adapters(Family fam, int flags) {
    GriffinConfig cl = config(fam, 3);
    enum { TT = 16, P = 9 };
    GriffinModel *m = griffin_create_ex(&cl, 1, TT, 12, flags);
    randomize_adapters(m);
    int tok[TT], pos[TT];
    Rng r;
    rng_seed(&r, 13, 0);
    for (int t = 0; t < TT; t++) tok[t] = (int)rng_below(&r, V), pos[t] = t;
    GriffinModel *f = griffin_create_ex(&cl, 1, TT, 12, 0); /* the parallel forward's logits */
    memcpy(f->params, m->params, m->table.total * sizeof(float));
    griffin_forward(f, tok, NULL, pos, NULL, 1, TT);
    DecodeState *s = decode_create(m, 1);
    const float *lg = decode_prefill(s, m, tok, pos, P);
    double worst = 0;
    for (int t = P - 1; t < TT; t++) {
        if (t >= P) lg = decode_step(s, &tok[t]);
        double d = 0, sc = 1e-30;
        for (int v = 0; v < V; v++)
            d = fmax(d, fabs((double)(lg[v] - f->logits[(size_t)t * V + v]))), sc = fmax(sc, fabs((double)f->logits[(size_t)t * V + v]));
        worst = fmax(worst, d / sc);
    }
    EXPECT(worst < 1e-5, "%s%s: decode with adapters vs the parallel forward: %.2e", family_name(fam),
           flags ? " (recompute)" : "", worst);
    printf("%s%s: prefill %d + decode %d with adapters on vs the parallel forward: %.2e relative\n", family_name(fam),
           flags ? " (recompute)" : "", P, TT - P, worst);
    decode_free(s);
    griffin_free(m);
    griffin_free(f);
}

static void test_config(void) {
    EXPECT(lora_target_parse("proj_q") == LORA_Q && lora_target_parse("q_proj") == LORA_Q &&
               lora_target_parse("o_proj") == LORA_FINAL && lora_target_parse("gate_proj") == LORA_UP &&
               lora_target_parse("up_proj") == LORA_UP && lora_target_parse("down_proj") == LORA_DOWN &&
               lora_target_parse("linear_out") == LORA_LIN_OUT && lora_target_parse("conv_1d") == -1,
           "target names, official and Hugging Face");
    GriffinConfig c = config(FAMILY_GRIFFIN, 9); /* head dim 8: proj_k has a side of 8 */
    const char *e = config_finalize(&c);
    EXPECT(e && strstr(e, "proj_k") && strstr(e, "9"), "rank above a layer's side refused: %s", e ? e : "(accepted)");
    c = config(FAMILY_HAWK, 2);
    c.lora_targets = 1u << LORA_Q;
    e = config_finalize(&c);
    EXPECT(e && strstr(e, "family"), "attention targets on hawk refused: %s", e ? e : "(accepted)");
    c = config(FAMILY_HAWK, 2);
    c.lora_targets = (1u << LORA_Q) | (1u << LORA_UP);
    EXPECT(!config_finalize(&c), "a target the family has is enough");
    c = config(FAMILY_GRIFFIN, 2);
    c.lora_alpha = 0;
    EXPECT(config_finalize(&c) != NULL, "alpha 0 refused");
}

int main(void) {
    test_kernel();
    test_config();
    test_dropout();
    const Family fams[] = {FAMILY_GRIFFIN, FAMILY_HAWK, FAMILY_TRANSFORMER};
    for (int f = 0; f < 3; f++) {
        test_base_identity(fams[f]);
        test_chain_rule(fams[f]);
        test_recompute_and_frozen(fams[f]);
        test_decode_adapters(fams[f], 0);
    }
    test_decode_adapters(FAMILY_GRIFFIN, GRIFFIN_RECOMPUTE);
    if (!failures) printf("test_lora: all passed\n");
    return failures != 0;
}
