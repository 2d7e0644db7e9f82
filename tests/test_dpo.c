/* rlhf/dpo.c: every DPO-family loss (sigmoid with label smoothing, robust, ipo, hinge, simpo,
 * each with the NLL term) against central finite differences of its backward; h = 0 gives
 * log 2 (sigmoid); backward twice doubles; the row weights −∂L/∂lp through a whole tiny model
 * against finite differences of the loss in the parameters.
 *   test_dpo              the checks above; exits non-zero on failure
 *   test_dpo --dump FILE  writes cases (inputs, C losses and gradients) as JSON for
 *                         tests/ref/check_dpo.py, the independent PyTorch computation */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "model/griffin.h"
#include "rlhf/dpo.h"
#include "tests/expect.h"

enum { M = 5 };

static const char *const kind_names[] = {"sigmoid", "robust", "ipo", "hinge", "simpo"};

/* the cases: every kind, plain and with ε / γ / λ */
static DpoLoss case_loss(int i) {
    DpoLoss L = {(DpoKind)(i % 5), 0.1 + 0.2 * (i % 3), 0, 0, 0};
    if (i >= 5) L.eps = L.kind == DPO_IPO || L.kind == DPO_HINGE ? 0 : 0.15, L.gamma = 0.7, L.sft = 0.3;
    return L;
}
#define N_CASES 10

static void case_inputs(int i, double *lp, double *lq, int *n) {
    Rng g;
    rng_seed(&g, 11, (uint64_t)i);
    for (int s = 0; s < 2 * M; s++) {
        n[s] = 1 + (int)rng_below(&g, 9);
        lp[s] = -n[s] * (0.5 + 2 * rng_uniform(&g));
        lq[s] = lp[s] + 2 * rng_normal(&g);
    }
}

static double max_fd_error(const DpoLoss *L, double *lp, const double *lq, const int *n) {
    double d[2 * M] = {0}, worst = 0, eps = 1e-5, scale = 0.7;
    dpo_loss_backward(d, L, lp, lq, n, scale, M);
    for (int s = 0; s < 2 * M; s++) {
        double keep = lp[s];
        lp[s] = keep + eps;
        double up = scale * dpo_loss_forward(L, lp, lq, n, M);
        lp[s] = keep - eps;
        double dn = scale * dpo_loss_forward(L, lp, lq, n, M);
        lp[s] = keep;
        double fd = (up - dn) / (2 * eps), e = fabs(fd - d[s]) / (fabs(fd) + fabs(d[s]) + 1e-4);
        worst = e > worst ? e : worst;
    }
    return worst;
}

static void test_kernels(void) {
    for (int i = 0; i < N_CASES; i++) {
        DpoLoss L = case_loss(i);
        double lp[2 * M], lq[2 * M];
        int n[2 * M];
        case_inputs(i, lp, lq, n);
        double worst = max_fd_error(&L, lp, lq, n);
        printf("%-8s beta %.2f eps %.2f gamma %.1f sft %.1f: loss %+.6f, worst FD error %.2e\n", kind_names[L.kind],
               L.beta, L.eps, L.gamma, L.sft, dpo_loss_forward(&L, lp, lq, n, M), worst);
        EXPECT(worst < 1e-6, "%s: backward vs finite differences: %g", kind_names[L.kind], worst);
        double a[2 * M] = {0}, b[2 * M] = {0};
        dpo_loss_backward(a, &L, lp, lq, n, 1.0, M);
        dpo_loss_backward(b, &L, lp, lq, n, 1.0, M);
        dpo_loss_backward(b, &L, lp, lq, n, 1.0, M);
        for (int s = 0; s < 2 * M; s++) EXPECT(b[s] == 2 * a[s], "%s: backward twice doubles", kind_names[L.kind]);
    }
    /* policy = reference: h = 0, sigmoid loss log 2 per pair, any ε */
    double lp[2 * M], lq[2 * M];
    int n[2 * M];
    case_inputs(0, lp, lq, n);
    DpoLoss L = {DPO_SIGMOID, 0.1, 0.2, 0, 0};
    double l = dpo_loss_forward(&L, lp, lp, n, M);
    EXPECT(fabs(l - M * log(2.0)) < 1e-12, "sigmoid at h = 0: %.17g, want %d log 2", l, M);
    /* robust with ε = 0 is sigmoid; hinge past the margin has no gradient */
    DpoLoss R = {DPO_ROBUST, 0.3, 0, 0, 0}, S = {DPO_SIGMOID, 0.3, 0, 0, 0};
    EXPECT(fabs(dpo_loss_forward(&R, lp, lq, n, M) - dpo_loss_forward(&S, lp, lq, n, M)) < 1e-12,
           "robust with eps 0 is sigmoid");
    DpoLoss H = {DPO_HINGE, 1.0, 0, 0, 0};
    double hp[2] = {5, 0}, hq[2] = {0, 0}, hd[2] = {0, 0};
    int hn[2] = {1, 1};
    dpo_loss_backward(hd, &H, hp, hq, hn, 1.0, 1);
    EXPECT(dpo_loss_forward(&H, hp, hq, hn, 1) == 0 && hd[0] == 0 && hd[1] == 0, "hinge: beta h > 1 gives 0");
}

/* ---- through a tiny model: 2 pairs = 4 rows ----------------------------------------- */
enum { P = 2, T = 8 };
typedef struct {
    int tok[2 * P * T], tgt[2 * P * T], pos[2 * P * T], n[2 * P];
    uint8_t mask[2 * P * T];
    double lq[2 * P], lp[2 * P];
    DpoLoss L;
} Batch;

/* lp per row from one forward with targets */
static double model_loss(GriffinModel *m, Batch *b) {
    griffin_forward(m, b->tok, b->tgt, b->pos, b->mask, 2 * P, T);
    int V = m->cfg.vocab_size;
    for (int r = 0; r < 2 * P; r++) {
        b->lp[r] = 0;
        for (int t = 0; t < T; t++) {
            size_t x = (size_t)r * T + t;
            if (b->mask[x]) b->lp[r] += (double)m->logits[x * V + b->tgt[x]] - (double)m->lse[x];
        }
    }
    return dpo_loss_forward(&b->L, b->lp, b->lq, b->n, P);
}

static void make_batch(Batch *b, Rng *g) {
    for (int r = 0; r < 2 * P; r++) {
        int prompt = 2 + r % 2; /* reply tokens: targets at t + 1 >= prompt */
        b->n[r] = 0;
        for (int t = 0; t < T; t++) {
            size_t x = (size_t)r * T + t;
            b->tok[x] = (int)rng_below(g, 40), b->tgt[x] = (int)rng_below(g, 40), b->pos[x] = t;
            b->mask[x] = t + 1 >= prompt && t < T - 1;
            b->n[r] += b->mask[x];
        }
        b->lq[r] = -3.0 * b->n[r] + rng_normal(g);
    }
}

static void test_through_model(void) {
    GriffinConfig c;
    memset(&c, 0, sizeof c);
    c.family = FAMILY_GRIFFIN;
    c.vocab_size = 40, c.width = 16, c.mlp_width = 24, c.num_heads = 2, c.depth = 3, c.window = 4;
    c.soft_cap = 30, c.embed_scale = 1;
    config_finalize(&c);
    GriffinModel *m = griffin_create(&c, 2 * P, T, 7);
    Rng g;
    rng_seed(&g, 5, 5);
    Batch b;
    make_batch(&b, &g);
    const char *names[] = {"embedder.input_embedding", "final_norm.scale", "blocks.0.recurrent_block.linear_x.weight",
                           "blocks.2.attention_block.proj_q.weight", "blocks.1.mlp_block.ffw_down.weight"};
    for (int k = 0; k < 5; k++) {
        b.L = (DpoLoss){(DpoKind)k, 0.5, k == 0 ? 0.1 : 0, 0.2, 0.25};
        model_loss(m, &b);
        double dlp[2 * P] = {0};
        dpo_loss_backward(dlp, &b.L, b.lp, b.lq, b.n, 1.0, P);
        float w[2 * P * T];
        for (int x = 0; x < 2 * P * T; x++) w[x] = b.mask[x] ? (float)-dlp[x / T] : 0.0f; /* nll = −logp */
        griffin_zero_grad(m);
        griffin_backward_weighted(m, w);
        double worst = 0;
        for (int q = 0; q < 5; q++) {
            int t = param_table_find(&m->table, names[q]);
            for (int s = 0; s < 3; s++) {
                size_t i = m->table.t[t].offset + (size_t)rng_below(&g, m->table.t[t].numel);
                double keep = m->params[i];
                const double eps = 1e-2;
                m->params[i] = (float)(keep + eps);
                double up = model_loss(m, &b);
                m->params[i] = (float)(keep - eps);
                double dn = model_loss(m, &b);
                m->params[i] = (float)keep;
                double fd = (up - dn) / (2 * eps), an = m->grads[i];
                double e = fabs(fd - an) / (fabs(fd) + fabs(an) + 1e-3);
                worst = e > worst ? e : worst;
            }
        }
        printf("%-8s through the model: worst FD error %.2e\n", kind_names[k], worst);
        EXPECT(worst < 5e-2, "%s through the model: weighted-NLL backward vs FD: %g", kind_names[k], worst);
    }
    griffin_free(m);
}

static void dump_list(FILE *f, const char *key, const double *x, int n) {
    fprintf(f, "\"%s\":[", key);
    for (int i = 0; i < n; i++) fprintf(f, "%s%.17g", i ? "," : "", x[i]);
    fprintf(f, "]");
}

static int dump(const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) return 1;
    fprintf(f, "{\"pairs\":%d,\"cases\":[", M);
    for (int i = 0; i < N_CASES; i++) {
        DpoLoss L = case_loss(i);
        double lp[2 * M], lq[2 * M], n[2 * M], d[2 * M] = {0};
        int ni[2 * M];
        case_inputs(i, lp, lq, ni);
        for (int s = 0; s < 2 * M; s++) n[s] = ni[s];
        dpo_loss_backward(d, &L, lp, lq, ni, 1.0, M);
        fprintf(f, "%s{\"loss\":\"%s\",\"beta\":%.17g,\"label_smoothing\":%.17g,\"gamma\":%.17g,\"sft_weight\":%.17g,",
                i ? "," : "", kind_names[L.kind], L.beta, L.eps, L.gamma, L.sft);
        dump_list(f, "logp", lp, 2 * M), fprintf(f, ",");
        dump_list(f, "logp_ref", lq, 2 * M), fprintf(f, ",");
        dump_list(f, "tokens", n, 2 * M), fprintf(f, ",");
        dump_list(f, "grad", d, 2 * M);
        fprintf(f, ",\"value\":%.17g}", dpo_loss_forward(&L, lp, lq, ni, M));
    }
    fprintf(f, "]}\n");
    return fclose(f) != 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--dump")) return dump(argv[2]);
    test_kernels();
    test_through_model();
    printf(failures ? "FAILED: %d check(s)\n" : "all dpo checks passed\n", failures);
    return failures ? 1 : 0;
}
