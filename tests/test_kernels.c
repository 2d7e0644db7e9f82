/* Every kernel's backward against central finite differences of L = Σ out ⊙ R (R fixed
 * random, so a plain-sum shortcut cannot hide softmax or normalisation errors), at sizes that
 * cross the attention window and a document boundary; and the accumulation contract
 * (backward twice doubles every gradient).
 *
 * Kernels run in float32, so the differences are taken with a step of 1e-3 and L
 * is summed in double (a step of 1e-2 for the scalar loss). Stated tolerance: max |analytic − numeric| over a tensor ≤ 1e-2 of
 * the tensor's largest numeric gradient (the observed error is printed; typically ~1e-4). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "model/config.h"
#include "model/layers.h"

#define MAXIN 8
#define TOL 1e-2

typedef struct Case Case;
struct Case {
    const char *name;
    int nin;
    const char *in_name[MAXIN];
    float *in[MAXIN];
    size_t in_n[MAXIN];
    float *out;
    size_t out_n;
    void (*fwd)(Case *c);
    void (*bwd)(Case *c, const float *dout, float **din);
    /* sizes and integer inputs */
    int B, T, N, D, E, F, H, K, A, V;
    int *pos, *tokens, *targets;
    uint8_t *mask;
    float scale;
    float h; /* finite-difference step (default 1e-3) */
    float *scratch[8];
};

static Rng rng;
static int failures = 0;

static float *randn(size_t n, float std) {
    float *p = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = (float)((double)std * rng_normal(&rng));
    return p;
}
static float *zeros(size_t n) { return calloc(n, sizeof(float)); }

static double objective(Case *c, const float *R) {
    c->fwd(c);
    double L = 0.0;
    for (size_t i = 0; i < c->out_n; i++) L += (double)c->out[i] * (double)R[i];
    return L;
}

static void check_case(Case *c) {
    float *R = randn(c->out_n, 1.0f);
    float *din[MAXIN], *din2[MAXIN];
    for (int i = 0; i < c->nin; i++) {
        din[i] = zeros(c->in_n[i]);
        din2[i] = zeros(c->in_n[i]);
    }
    c->fwd(c);
    c->bwd(c, R, din);
    c->fwd(c);
    c->bwd(c, R, din2);
    c->bwd(c, R, din2); /* accumulation contract: twice = double */
    printf("%-12s", c->name);
    for (int i = 0; i < c->nin; i++) {
        double maxerr = 0.0, maxg = 0.0, acc_err = 0.0;
        size_t n = c->in_n[i], stride = n > 400 ? n / 400 : 1;
        for (size_t j = 0; j < n; j += stride) {
            float orig = c->in[i][j];
            const float h = c->h > 0 ? c->h : 1e-3f;
            c->in[i][j] = orig + h;
            double lp = objective(c, R);
            c->in[i][j] = orig - h;
            double lm = objective(c, R);
            c->in[i][j] = orig;
            double fd = (lp - lm) / (2.0 * (double)h);
            double err = fabs(fd - (double)din[i][j]);
            if (err > maxerr) maxerr = err;
            if (fabs(fd) > maxg) maxg = fabs(fd);
        }
        double maxd = 1e-30;
        for (size_t j = 0; j < n; j++) {
            double e = fabs((double)din2[i][j] - 2.0 * (double)din[i][j]);
            if (e > acc_err) acc_err = e;
            if (fabs((double)din[i][j]) > maxd) maxd = fabs((double)din[i][j]);
        }
        acc_err /= maxd;
        double rel = maxerr / (maxg > 1e-6 ? maxg : 1e-6);
        int ok = rel <= TOL && acc_err <= 1e-5 && maxg > 0.0;
        printf(" %s:%.1e%s", c->in_name[i], rel, ok ? "" : "(FAIL)");
        if (!ok) {
            failures++;
            fprintf(stderr, "\n  %s d%s: rel err %.3e (max |fd| %.3e), accumulation err %.3e\n", c->name,
                    c->in_name[i], rel, maxg, acc_err);
        }
        free(din[i]);
        free(din2[i]);
    }
    printf("\n");
    free(R);
    /* the case owns its buffers (pos is shared by the cases and freed by main) */
    for (int i = 0; i < c->nin; i++) free(c->in[i]);
    for (int i = 0; i < 8; i++) free(c->scratch[i]);
    free(c->out);
    free(c->tokens);
    free(c->targets);
    free(c->mask);
}

/* packed rows: row 0 continues a document (starts at pos 5) and has a boundary at t=7;
 * row 1 starts a document at 0 and another at t = T-4 */
static int *make_pos(int B, int T) {
    int *pos = malloc(sizeof(int) * (size_t)B * T);
    for (int b = 0; b < B; b++) {
        int p = b == 0 ? 5 : 0;
        for (int t = 0; t < T; t++) {
            if ((b == 0 && t == 7) || (b == 1 && t == T - 4)) p = 0;
            pos[b * T + t] = p++;
        }
    }
    return pos;
}

/* ---- linear ---- */
static void linear_f(Case *c) { linear_forward(c->out, c->in[0], c->in[1], c->in[2], c->N, c->D, c->E); }
static void linear_b(Case *c, const float *g, float **d) {
    linear_backward(d[0], d[1], d[2], g, c->in[0], c->in[1], c->N, c->D, c->E);
}

/* ---- embedding ---- */
static void embed_f(Case *c) { embedding_forward(c->out, c->tokens, c->in[0], c->scale, c->N, c->D); }
static void embed_b(Case *c, const float *g, float **d) { embedding_backward(d[0], g, c->tokens, c->scale, c->N, c->D); }

/* ---- rmsnorm ---- */
static void rms_f(Case *c) { rmsnorm_forward(c->out, c->scratch[0], c->in[0], c->in[1], c->N, c->D); }
static void rms_b(Case *c, const float *g, float **d) {
    rmsnorm_backward(d[0], d[1], g, c->in[0], c->scratch[0], c->in[1], c->N, c->D);
}

/* ---- mlp ---- */
static void mlp_f(Case *c) {
    mlp_forward(c->out, c->scratch[0], c->scratch[1], c->scratch[2], c->in[0], c->in[1], c->in[2], c->in[3],
                c->in[4], c->N, c->D, c->F);
}
static void mlp_b(Case *c, const float *g, float **d) {
    mlp_backward(d[0], d[1], d[2], d[3], d[4], c->scratch[3], c->scratch[4], c->scratch[5], g, c->in[0],
                 c->scratch[0], c->scratch[1], c->scratch[2], c->in[1], c->in[3], c->N, c->D, c->F);
}

/* ---- conv1d ---- */
static void conv_f(Case *c) { conv1d_forward(c->out, c->in[0], c->pos, c->in[1], c->in[2], c->B, c->T, c->E); }
static void conv_b(Case *c, const float *g, float **d) {
    conv1d_backward(d[0], d[1], d[2], g, c->in[0], c->pos, c->in[1], c->B, c->T, c->E);
}

/* ---- rglru ---- */
static void lru_f(Case *c) {
    rglru_forward(c->out, c->scratch[0], c->scratch[1], c->in[0], c->pos, c->in[1], c->in[2], c->in[3],
                  c->in[4], c->in[5], c->B, c->T, c->E, c->H);
}
static void lru_b(Case *c, const float *g, float **d) {
    rglru_backward(d[0], d[1], d[2], d[3], d[4], d[5], c->scratch[2], c->scratch[3], g, c->out, c->scratch[0],
                   c->scratch[1], c->in[0], c->pos, c->in[1], c->in[2], c->in[4], c->B, c->T, c->E, c->H);
}

/* ---- rope ---- */
static void rope_f(Case *c) {
    memcpy(c->out, c->in[0], c->out_n * sizeof(float));
    rope_forward(c->out, c->pos, c->N, c->H, c->K);
}
static void rope_b(Case *c, const float *g, float **d) {
    float *t = c->scratch[0];
    memcpy(t, g, c->out_n * sizeof(float));
    rope_backward(t, c->pos, c->N, c->H, c->K);
    for (size_t i = 0; i < c->out_n; i++) d[0][i] += t[i];
}

/* ---- attention core ---- */
static void att_f(Case *c) {
    attention_forward(c->out, c->scratch[0], c->in[0], c->in[1], c->in[2], c->pos, c->B, c->T, c->H, c->K, c->A);
}
static void att_b(Case *c, const float *g, float **d) {
    attention_backward(d[0], d[1], d[2], c->scratch[1], g, c->scratch[0], c->in[0], c->in[1], c->in[2], c->pos,
                       c->B, c->T, c->H, c->K, c->A);
}

/* ---- soft cap + cross-entropy: out = [loss] ---- */
static void ce_f(Case *c) {
    memcpy(c->scratch[0], c->in[0], sizeof(float) * (size_t)c->N * c->V);
    softcap_forward(c->scratch[0], 30.0f, (size_t)c->N * c->V);
    double tot = crossentropy_forward(c->scratch[1], c->scratch[0], c->targets, c->mask, c->N, c->V);
    c->out[0] = (float)(tot / 5.0);
}
static void ce_b(Case *c, const float *g, float **d) {
    size_t n = (size_t)c->N * c->V;
    float *t = c->scratch[2];
    memset(t, 0, n * sizeof(float));
    float *w = c->scratch[3];
    for (int r = 0; r < c->N; r++) w[r] = c->mask[r] ? g[0] / 5.0f : 0.0f;
    crossentropy_backward(t, c->scratch[0], c->scratch[1], c->targets, w, c->N, c->V);
    softcap_backward(t, c->scratch[0], 30.0f, n);
    for (size_t i = 0; i < n; i++) d[0][i] += t[i];
}

static void add_in(Case *c, const char *name, float *p, size_t n) {
    c->in_name[c->nin] = name;
    c->in[c->nin] = p;
    c->in_n[c->nin] = n;
    c->nin++;
}

int main(void) {
    rng_seed(&rng, 1234, 0);
    const int B = 2, T = 13, N = B * T, D = 8, E = 12, F = 10, H = 2, K = 8, A = 4, V = 11;
    int *pos = make_pos(B, T);
    {
        Case c = {.name = "linear", .N = N, .D = D, .E = E, .fwd = linear_f, .bwd = linear_b};
        add_in(&c, "x", randn((size_t)N * D, 1), (size_t)N * D);
        add_in(&c, "w", randn((size_t)E * D, 0.5f), (size_t)E * D);
        add_in(&c, "b", randn(E, 0.5f), E);
        c.out = zeros((size_t)N * E);
        c.out_n = (size_t)N * E;
        check_case(&c);
    }
    {
        Case c = {.name = "embedding", .N = N, .D = D, .scale = embed_scale_value(D), .fwd = embed_f, .bwd = embed_b};
        c.tokens = malloc(sizeof(int) * N);
        for (int i = 0; i < N; i++) c.tokens[i] = i % 5; /* repeated tokens */
        add_in(&c, "table", randn((size_t)V * D, 1), (size_t)V * D);
        c.out = zeros((size_t)N * D);
        c.out_n = (size_t)N * D;
        check_case(&c);
    }
    {
        Case c = {.name = "rmsnorm", .N = N, .D = D, .fwd = rms_f, .bwd = rms_b};
        add_in(&c, "x", randn((size_t)N * D, 1), (size_t)N * D);
        add_in(&c, "scale", randn(D, 0.3f), D);
        c.scratch[0] = zeros(N);
        c.out = zeros((size_t)N * D);
        c.out_n = (size_t)N * D;
        check_case(&c);
    }
    {
        Case c = {.name = "mlp", .N = N, .D = D, .F = F, .fwd = mlp_f, .bwd = mlp_b};
        add_in(&c, "x", randn((size_t)N * D, 1), (size_t)N * D);
        add_in(&c, "w_up", randn((size_t)2 * D * F, 0.4f), (size_t)2 * D * F);
        add_in(&c, "b_up", randn((size_t)2 * F, 0.3f), (size_t)2 * F);
        add_in(&c, "w_down", randn((size_t)D * F, 0.4f), (size_t)D * F);
        add_in(&c, "b_down", randn(D, 0.3f), D);
        for (int i = 0; i < 6; i++) c.scratch[i] = zeros((size_t)N * F);
        c.out = zeros((size_t)N * D);
        c.out_n = (size_t)N * D;
        check_case(&c);
    }
    {
        Case c = {.name = "conv1d", .B = B, .T = T, .E = E, .pos = pos, .fwd = conv_f, .bwd = conv_b};
        add_in(&c, "x", randn((size_t)N * E, 1), (size_t)N * E);
        add_in(&c, "w", randn((size_t)4 * E, 0.5f), (size_t)4 * E);
        add_in(&c, "b", randn(E, 0.5f), E);
        c.out = zeros((size_t)N * E);
        c.out_n = (size_t)N * E;
        check_case(&c);
    }
    {
        Case c = {.name = "rglru", .B = B, .T = T, .E = E, .H = 3, .pos = pos, .fwd = lru_f, .bwd = lru_b};
        int bw = E / 3;
        add_in(&c, "c", randn((size_t)N * E, 1), (size_t)N * E);
        float *ap = malloc(sizeof(float) * E);
        for (int j = 0; j < E; j++) ap[j] = -6.0f + 4.0f * (float)rng_uniform(&rng); /* realistic a_param */
        ap[0] = -9.0f; /* base decay ~0.99988: 1 − a² close to the clip region */
        add_in(&c, "a_param", ap, E);
        add_in(&c, "wx", randn((size_t)3 * bw * bw, 0.5f), (size_t)3 * bw * bw);
        add_in(&c, "bx", randn(E, 0.3f), E);
        add_in(&c, "wa", randn((size_t)3 * bw * bw, 0.5f), (size_t)3 * bw * bw);
        add_in(&c, "ba", randn(E, 0.3f), E);
        for (int i = 0; i < 4; i++) c.scratch[i] = zeros((size_t)N * E);
        c.out = zeros((size_t)N * E);
        c.out_n = (size_t)N * E;
        check_case(&c);
    }
    {
        Case c = {.name = "rope", .N = N, .H = H, .K = K, .pos = pos, .fwd = rope_f, .bwd = rope_b};
        add_in(&c, "x", randn((size_t)N * H * K, 1), (size_t)N * H * K);
        c.scratch[0] = zeros((size_t)N * H * K);
        c.out = zeros((size_t)N * H * K);
        c.out_n = (size_t)N * H * K;
        check_case(&c);
    }
    {
        Case c = {.name = "attention", .B = B, .T = T, .H = H, .K = K, .A = A, .pos = pos, .fwd = att_f, .bwd = att_b};
        add_in(&c, "q", randn((size_t)N * H * K, 1), (size_t)N * H * K);
        add_in(&c, "k", randn((size_t)N * K, 1), (size_t)N * K);
        add_in(&c, "v", randn((size_t)N * K, 1), (size_t)N * K);
        size_t band = (size_t)B * H * T * attention_band(T, A);
        c.scratch[0] = zeros(band);
        c.scratch[1] = zeros(band);
        c.out = zeros((size_t)N * H * K);
        c.out_n = (size_t)N * H * K;
        check_case(&c);
    }
    {
        Case c = {.name = "softcap+ce", .N = N, .V = V, .h = 1e-2f, .fwd = ce_f, .bwd = ce_b};
        c.targets = malloc(sizeof(int) * N);
        c.mask = malloc(N);
        for (int i = 0; i < N; i++) {
            c.targets[i] = (int)rng_below(&rng, V);
            c.mask[i] = (i % 3) != 1;
        }
        add_in(&c, "logits", randn((size_t)N * V, 10.0f), (size_t)N * V); /* large: exercises the cap */
        for (int i = 0; i < 4; i++) c.scratch[i] = zeros((size_t)N * V);
        c.out = zeros(1);
        c.out_n = 1;
        check_case(&c);
    }
    printf("kernels: %s (%d failed)\n", failures ? "FAILED" : "ok", failures);
    free(pos);
    return failures ? 1 : 0;
}
