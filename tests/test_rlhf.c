/* rlhf/ kernels: the reward head and Bradley-Terry loss against central finite differences of
 * L = Σ out ⊙ R (R random); KL estimators, leave-one-out advantages and the clipped policy
 * loss against hand-computed values; the policy-gradient row weights and the reward-model
 * gradients through a whole tiny model against finite differences; KL = 0 when policy =
 * reference; backward twice doubles. Exits non-zero on failure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "model/griffin.h"
#include "rlhf/reward_model.h"
#include "rlhf/rlhf.h"

static int failures = 0;

static void expect(int ok, const char *what, double got, double want) {
    printf("%-58s got %+.6g want %+.6g %s\n", what, got, want, ok ? "ok" : "FAIL");
    if (!ok) failures++;
}
static void close_to(const char *what, double got, double want, double tol) {
    expect(fabs(got - want) <= tol * (1.0 + fabs(want)), what, got, want);
}
static void fill(float *x, size_t n, Rng *r, double s) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(s * rng_normal(r));
}
static double rel_err(double a, double b) { return fabs(a - b) / (fabs(a) + fabs(b) + 1e-6); }

/* ---- reward head ------------------------------------------------------------------ */
static double head_L(const float *h, const int *rows, const float *w, const float *b, const float *R, int M, int D) {
    float r[8];
    reward_head_forward(r, h, rows, w, b, M, D);
    double L = 0;
    for (int m = 0; m < M; m++) L += (double)r[m] * (double)R[m];
    return L;
}

static void test_reward_head(void) {
    enum { N = 6, D = 5, M = 3 };
    Rng g;
    rng_seed(&g, 1, 1);
    float h[N * D], w[D], b[1], R[M], dh[N * D] = {0}, dw[D] = {0}, db[1] = {0};
    int rows[M] = {1, 4, 5};
    fill(h, N * D, &g, 1), fill(w, D, &g, 1), fill(b, 1, &g, 1), fill(R, M, &g, 1);
    reward_head_backward(dh, dw, db, R, h, rows, w, M, D);
    double worst = 0;
    const double eps = 1e-3;
    float *bufs[3] = {h, w, b}, *grads[3] = {dh, dw, db};
    int sizes[3] = {N * D, D, 1};
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < sizes[k]; i++) {
            double keep = bufs[k][i];
            bufs[k][i] = (float)(keep + eps);
            double lp = head_L(h, rows, w, b, R, M, D);
            bufs[k][i] = (float)(keep - eps);
            double lm = head_L(h, rows, w, b, R, M, D);
            bufs[k][i] = (float)keep;
            double fd = (lp - lm) / (2 * eps), e = rel_err(fd, grads[k][i]);
            worst = e > worst ? e : worst;
        }
    expect(worst < 1e-2, "reward head: worst relative error vs finite differences", worst, 0);
    /* untouched rows stay zero; backward twice doubles */
    expect(dh[0] == 0.0f && dh[2 * D] == 0.0f, "reward head: rows not scored get no gradient", dh[0], 0);
    float dw2[D] = {0}, db2[1] = {0}, dh2[N * D] = {0};
    reward_head_backward(dh2, dw2, db2, R, h, rows, w, M, D);
    reward_head_backward(dh2, dw2, db2, R, h, rows, w, M, D);
    expect(fabsf(dw2[2] - 2 * dw[2]) <= 1e-6f * fabsf(dw[2]) && db2[0] == 2 * db[0], "reward head: backward twice doubles",
           dw2[2], 2 * dw[2]);
}

/* ---- Bradley-Terry ---------------------------------------------------------------- */
static void test_bradley_terry(void) {
    float rc[1] = {1.0f}, rr[1] = {0.0f};
    int ok = 0;
    close_to("BT: -log sigmoid(1 - 0) = log(1 + e^-1)", bt_loss_forward(rc, rr, 0.0f, 1, &ok), log1p(exp(-1.0)), 1e-7);
    close_to("BT: margin 0.5 gives log(1 + e^-0.5)", bt_loss_forward(rc, rr, 0.5f, 1, NULL), log1p(exp(-0.5)), 1e-7);
    expect(ok == 1, "BT: the pair counts as correct", ok, 1);
    float big[1] = {200.0f}, zero[1] = {0.0f};
    close_to("BT: no overflow for a gap of -200", bt_loss_forward(zero, big, 0, 1, NULL), 200.0, 1e-9);
    enum { M = 4 };
    Rng g;
    rng_seed(&g, 2, 1);
    float a[M], b[M], da[M] = {0}, db[M] = {0};
    fill(a, M, &g, 2), fill(b, M, &g, 2);
    const float margin = 0.3f;
    const double scale = 0.7;
    bt_loss_backward(da, db, a, b, margin, (float)scale, M);
    double worst = 0, eps = 1e-3;
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < M; i++) {
            float *x = k ? b : a;
            double keep = x[i];
            x[i] = (float)(keep + eps);
            double lp = scale * bt_loss_forward(a, b, margin, M, NULL);
            x[i] = (float)(keep - eps);
            double lm = scale * bt_loss_forward(a, b, margin, M, NULL);
            x[i] = (float)keep;
            double e = rel_err((lp - lm) / (2 * eps), (double)(k ? db[i] : da[i]));
            worst = e > worst ? e : worst;
        }
    expect(worst < 1e-2, "BT with margin: worst relative error vs finite differences", worst, 0);
}

/* ---- KL, RLOO, clipped loss, entropy ---------------------------------------------- */
static void test_kl(void) {
    float lp[3] = {-1.0f, -0.5f, -3.0f}, lq[3] = {-2.0f, -0.5f, -1.0f}, k[3];
    kl_forward(k, lp, lq, RLHF_KL_K1, 3);
    close_to("KL k1: log p - log q = -1 - (-2)", k[0], 1.0, 1e-7);
    expect(k[1] == 0.0f, "KL k1: 0 where p = q", k[1], 0);
    kl_forward(k, lp, lq, RLHF_KL_K3, 3);
    close_to("KL k3: e^-1 - 1 + 1", k[0], exp(-1.0), 1e-6);
    close_to("KL k3: e^2 - 1 - 2", k[2], exp(2.0) - 3.0, 1e-6);
    expect(k[1] == 0.0f, "KL k3: 0 where p = q", k[1], 0);
    /* gradient wrt log p */
    for (int kind = 0; kind < 2; kind++) {
        float d[3] = {0}, ones[3] = {1, 1, 1}, x[3];
        kl_backward(d, ones, lp, lq, (RlhfKl)kind, 3);
        double worst = 0, eps = 1e-3;
        for (int i = 0; i < 3; i++) {
            double keep = lp[i];
            lp[i] = (float)(keep + eps);
            kl_forward(x, lp, lq, (RlhfKl)kind, 3);
            double up = x[i];
            lp[i] = (float)(keep - eps);
            kl_forward(x, lp, lq, (RlhfKl)kind, 3);
            double dn = x[i];
            lp[i] = (float)keep;
            double e = fabs((up - dn) / (2 * eps) - (double)d[i]);
            worst = e > worst ? e : worst;
        }
        expect(worst < 1e-2, kind ? "KL k3 backward vs finite differences" : "KL k1 backward vs finite differences", worst, 0);
    }
}

static void test_rloo(void) {
    float r[8] = {1, 2, 3, 6, 0, 0, 4, 0}, a[8];
    rloo_advantages(a, r, 2, 4, 0);
    double want[8] = {1 - 11.0 / 3, 2 - 10.0 / 3, 0, 4, -4.0 / 3, -4.0 / 3, 4, -4.0 / 3};
    double worst = 0;
    for (int i = 0; i < 8; i++) worst = fmax(worst, fabs((double)a[i] - want[i]));
    expect(worst < 1e-6, "RLOO: A_i = R_i - mean of the other k-1 (hand values)", worst, 0);
    float r2[2] = {1, 3}, a2[2];
    rloo_advantages(a2, r2, 1, 2, 0);
    expect(a2[0] == -2 && a2[1] == 2, "RLOO k=2: A = R_i - R_other", a2[1], 2);
    rloo_advantages(a, r, 2, 4, 1);
    double m = 0, v = 0;
    for (int i = 0; i < 8; i++) m += (double)a[i];
    m /= 8;
    for (int i = 0; i < 8; i++) v += ((double)a[i] - m) * ((double)a[i] - m);
    expect(fabs(m) < 1e-6 && fabs(sqrt(v / 8) - 1) < 1e-5, "RLOO whitened: mean 0, std 1", sqrt(v / 8), 1);
}

static void test_grpo(void) {
    /* group 1: R = 1, 2, 3, 6: mean 3, sample std sqrt(14/3); group 2: constant -> A = 0 */
    float r[8] = {1, 2, 3, 6, 5, 5, 5, 5}, a[8];
    grpo_advantages(a, r, 2, 4);
    double sd = sqrt(14.0 / 3.0), worst = 0;
    double want[4] = {-2 / (sd + 1e-4), -1 / (sd + 1e-4), 0, 3 / (sd + 1e-4)};
    for (int i = 0; i < 4; i++) worst = fmax(worst, fabs((double)a[i] - want[i]));
    expect(worst < 1e-6, "GRPO: (R - group mean) / (group std + 1e-4) (hand values)", worst, 0);
    expect(a[4] == 0 && a[5] == 0 && a[6] == 0 && a[7] == 0, "GRPO: a constant group has advantage 0", a[4], 0);
}

static void test_policy_loss(void) {
    /* ratios 1.5, 0.5, 0.5, 1.5, 1 with A = +1, +1, -1, -1, +2; clip 0.2 */
    float lo[5] = {0, 0, 0, 0, -1};
    float lp[5] = {(float)log(1.5), (float)log(0.5), (float)log(0.5), (float)log(1.5), -1};
    float A[5] = {1, 1, -1, -1, 2}, w[5];
    unsigned char mask[5] = {1, 1, 1, 1, 1};
    size_t nc = 0;
    double L = policy_loss_forward(lp, lo, A, mask, 0.2f, 5, &nc);
    /* -min(1.5, 1.2) = -1.2; -min(0.5, 0.8) = -0.5; -min(-0.5, -0.8) = 0.8; -min(-1.5, -1.2) = 1.5; -2 */
    close_to("clipped loss: sum of hand-computed terms", L, -1.2 - 0.5 + 0.8 + 1.5 - 2.0, 1e-6);
    expect(nc == 2, "clipped loss: 2 of 5 tokens clipped (A>0,r>1+e and A<0,r<1-e)", (double)nc, 2);
    policy_loss_weights(w, lp, lo, A, mask, 0.2f, 1.0f, 5);
    double want[5] = {0, 0.5, 0, -1.5, 2};
    double worst = 0;
    for (int i = 0; i < 5; i++) worst = fmax(worst, fabs((double)w[i] - want[i]));
    expect(worst < 1e-6, "clipped loss: row weights dloss/dnll = ratio*A or 0 (hand)", worst, 0);
    /* finite differences in log p (away from the kinks): dloss/dlogp = -w */
    worst = 0;
    for (int i = 0; i < 5; i++) {
        double keep = lp[i];
        double eps = 1e-3;
        lp[i] = (float)(keep + eps);
        double up = policy_loss_forward(lp, lo, A, mask, 0.2f, 5, NULL);
        lp[i] = (float)(keep - eps);
        double dn = policy_loss_forward(lp, lo, A, mask, 0.2f, 5, NULL);
        lp[i] = (float)keep;
        worst = fmax(worst, fabs((up - dn) / (2 * eps) + (double)w[i]));
    }
    expect(worst < 1e-3, "clipped loss: -weights vs finite differences in log p", worst, 0);
    mask[4] = 0;
    policy_loss_weights(w, lp, lo, A, mask, 0.2f, 1.0f, 5);
    expect(w[4] == 0 && policy_loss_forward(lp, lo, A, mask, 0.2f, 5, NULL) == L + 2.0, "clipped loss: masked tokens drop out",
           w[4], 0);
    float z[4] = {3, 3, 3, 3};
    close_to("entropy of a uniform row = log V", softmax_entropy(z, 3.0f + logf(4.0f), 4), log(4.0), 1e-6);
}

/* ---- through a tiny model ---------------------------------------------------------- */
static GriffinConfig tiny(int reward_head) {
    GriffinConfig c;
    memset(&c, 0, sizeof c);
    c.family = FAMILY_GRIFFIN;
    c.vocab_size = 40, c.width = 16, c.mlp_width = 24, c.num_heads = 2, c.depth = 3, c.window = 4;
    c.soft_cap = 30, c.embed_scale = 1, c.reward_head = reward_head;
    config_finalize(&c);
    return c;
}

enum { B = 2, T = 7 };

static double rm_L(GriffinModel *m, const int *tok, const int *pos, const int *rows, const float *R) {
    float r[B];
    rm_score(m, r, tok, pos, rows, B, T);
    return (double)r[0] * (double)R[0] + (double)r[1] * (double)R[1];
}

/* FD on a few entries of each named tensor; returns the worst relative error */
static double fd_params(GriffinModel *m, double (*L)(GriffinModel *, void *), void *ctx, const char *const *names, int n) {
    double worst = 0;
    Rng g;
    rng_seed(&g, 9, 9);
    for (int k = 0; k < n; k++) {
        int t = param_table_find(&m->table, names[k]);
        if (t < 0) {
            printf("missing tensor %s\n", names[k]);
            failures++;
            continue;
        }
        for (int s = 0; s < 4; s++) {
            size_t i = m->table.t[t].offset + (size_t)rng_below(&g, m->table.t[t].numel);
            double keep = m->params[i];
            const double eps = 1e-2;
            m->params[i] = (float)(keep + eps);
            double lp = L(m, ctx);
            m->params[i] = (float)(keep - eps);
            double lm = L(m, ctx);
            m->params[i] = (float)keep;
            double fd = (lp - lm) / (2 * eps), an = m->grads[i];
            double e = fabs(fd - an) / (fabs(fd) + fabs(an) + 1e-3);
            worst = e > worst ? e : worst;
        }
    }
    return worst;
}

typedef struct {
    const int *tok, *tgt, *pos, *rows;
    const float *R, *lo, *adv;
    const uint8_t *mask;
    float *lp;
} Ctx;

static double rm_L_ctx(GriffinModel *m, void *p) {
    Ctx *c = p;
    return rm_L(m, c->tok, c->pos, c->rows, c->R);
}

static double pg_L_ctx(GriffinModel *m, void *p) {
    Ctx *c = p;
    griffin_forward(m, c->tok, c->tgt, c->pos, c->mask, B, T);
    int V = m->cfg.vocab_size;
    for (int i = 0; i < B * T; i++) c->lp[i] = c->mask[i] ? m->logits[(size_t)i * V + c->tgt[i]] - m->lse[i] : 0.0f;
    return c->lo ? policy_loss_forward(c->lp, c->lo, c->adv, c->mask, 0.2f, B * T, NULL) : 0.0;
}

static void test_through_model(void) {
    int tok[B * T], tgt[B * T], pos[B * T], rows[B] = {5, T + 6};
    uint8_t mask[B * T];
    Rng g;
    rng_seed(&g, 3, 3);
    for (int i = 0; i < B * T; i++) {
        tok[i] = (int)rng_below(&g, 40);
        tgt[i] = (int)rng_below(&g, 40);
        pos[i] = i % T;
        mask[i] = (i % T) >= 3;
    }
    /* reward model: head + backbone gradients */
    GriffinConfig rc = tiny(1);
    GriffinModel *rm = griffin_create(&rc, B, T, 4);
    int hw = rm->table.reward_w, hb = rm->table.reward_b;
    expect(hw == rm->table.final_norm + 1 && hb == hw + 1 && hb == rm->table.count - 1,
           "reward head: the last two tensors, after final_norm", hw, rm->table.final_norm + 1);
    GriffinConfig lc = tiny(0);
    ParamTable lt;
    param_table_build(&lt, &lc);
    expect(lt.total + rc.width + 1 == rm->table.total && lt.reward_w < 0,
           "reward head: the language model's table is a prefix", (double)lt.total, (double)(rm->table.total - 17));
    param_table_free(&lt);
    fill(rm->params + rm->table.t[hw].offset, (size_t)rc.width, &g, 0.5);
    rm->params[rm->table.t[hb].offset] = 0.1f;
    float R[B] = {0.8f, -1.3f};
    float *dh = calloc((size_t)B * T * rc.width, sizeof(float));
    griffin_zero_grad(rm);
    rm_score(rm, (float[B]){0}, tok, pos, rows, B, T);
    rm_backward(rm, dh, R, rows, B);
    Ctx c = {tok, tgt, pos, rows, R, NULL, NULL, mask, NULL};
    const char *rnames[] = {"reward_head.weight", "reward_head.bias", "final_norm.scale", "embedder.input_embedding",
                            "blocks.0.recurrent_block.linear_x.weight", "blocks.2.attention_block.proj_q.weight",
                            "blocks.1.mlp_block.ffw_down.weight"};
    double worst = fd_params(rm, rm_L_ctx, &c, rnames, 7);
    expect(worst < 5e-2, "reward model: head + backbone gradients vs finite differences", worst, 0);
    free(dh);
    griffin_free(rm);

    /* policy gradient = weighted NLL backward (the sign: w = +ratio*A / n) */
    GriffinModel *pm = griffin_create(&lc, B, T, 5), *ref = griffin_create(&lc, B, T, 5);
    float lo[B * T], adv[B * T], lp[B * T], w[B * T], lq[B * T], kl[B * T];
    c.lp = lp;
    pg_L_ctx(pm, &c);
    /* KL = 0 when policy = reference (same weights) */
    griffin_forward(ref, tok, tgt, pos, mask, B, T);
    for (int i = 0; i < B * T; i++) lq[i] = mask[i] ? ref->logits[(size_t)i * 40 + tgt[i]] - ref->lse[i] : 0.0f;
    double kmax = 0;
    for (int kind = 0; kind < 2; kind++) {
        kl_forward(kl, lp, lq, (RlhfKl)kind, B * T);
        for (int i = 0; i < B * T; i++) kmax = fmax(kmax, fabs(kl[i]));
    }
    expect(kmax == 0.0, "KL (k1 and k3) = 0 exactly when policy = reference", kmax, 0);
    for (int i = 0; i < B * T; i++) {
        lo[i] = lp[i] + (float)(0.05 * rng_normal(&g)); /* ratios near 1: few tokens clipped */
        adv[i] = (float)rng_normal(&g);
    }
    c.lo = lo, c.adv = adv;
    pg_L_ctx(pm, &c);
    policy_loss_weights(w, lp, lo, adv, mask, 0.2f, 1.0f, B * T);
    griffin_zero_grad(pm);
    griffin_backward_weighted(pm, w);
    const char *pnames[] = {"embedder.input_embedding", "final_norm.scale", "blocks.0.recurrent_block.rg_lru.a_param",
                            "blocks.2.attention_block.proj_k.weight", "blocks.1.mlp_block.ffw_up.w"};
    worst = fd_params(pm, pg_L_ctx, &c, pnames, 5);
    expect(worst < 5e-2, "policy loss through the model: weighted-NLL backward vs FD", worst, 0);
    griffin_free(pm);
    griffin_free(ref);
}

int main(void) {
    test_reward_head();
    test_bradley_terry();
    test_kl();
    test_rloo();
    test_grpo();
    test_policy_loss();
    test_through_model();
    printf(failures ? "FAILED: %d check(s)\n" : "all rlhf kernel checks passed\n", failures);
    return failures ? 1 : 0;
}
