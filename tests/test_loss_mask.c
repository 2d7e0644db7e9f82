/* Loss on the model's turns only: changing the targets where the loss mask is 0 (user turns,
 * padding) changes neither the loss nor any gradient, bitwise; changing one target where the
 * mask is 1 changes both. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "model/griffin.h"

int main(void) {
    GriffinConfig cfg = {0};
    cfg.family = FAMILY_GRIFFIN;
    cfg.vocab_size = 48;
    cfg.width = 32;
    cfg.mlp_width = 48;
    cfg.num_heads = 2;
    cfg.depth = 3;
    cfg.window = 6;
    cfg.soft_cap = 30.0f;
    cfg.embed_scale = 1;
    enum { B = 2, T = 20, N = B * T };
    GriffinModel *m = griffin_create(&cfg, B, T, 5);
    size_t P = m->table.total;
    int tok[N], tgt[N], pos[N];
    uint8_t mask[N];
    Rng r;
    rng_seed(&r, 8, 0);
    for (int n = 0; n < N; n++) {
        tok[n] = (int)rng_below(&r, 48);
        tgt[n] = (int)rng_below(&r, 48);
        pos[n] = n % T;
        mask[n] = (n % T) >= 8 && (n % T) < 16; /* a "model turn" in the middle of each row */
    }
    float *g0 = malloc(P * sizeof(float));
    griffin_zero_grad(m);
    float l0 = griffin_forward(m, tok, tgt, pos, mask, B, T);
    griffin_backward(m);
    memcpy(g0, m->grads, P * sizeof(float));

    int tgt2[N];
    memcpy(tgt2, tgt, sizeof tgt);
    for (int n = 0; n < N; n++)
        if (!mask[n]) tgt2[n] = (tgt[n] + 1 + (int)rng_below(&r, 40)) % 48;
    griffin_zero_grad(m);
    float l1 = griffin_forward(m, tok, tgt2, pos, mask, B, T);
    griffin_backward(m);
    int same = l0 == l1 && !memcmp(g0, m->grads, P * sizeof(float));

    memcpy(tgt2, tgt, sizeof tgt);
    tgt2[10] = (tgt[10] + 7) % 48; /* a model-turn target */
    griffin_zero_grad(m);
    float l2 = griffin_forward(m, tok, tgt2, pos, mask, B, T);
    griffin_backward(m);
    int differs = l2 != l0 && memcmp(g0, m->grads, P * sizeof(float)) != 0;
    printf("masked targets changed: loss %.7f vs %.7f, gradients %s\n", (double)l0, (double)l1,
           same ? "bitwise identical" : "DIFFERENT");
    printf("one model-turn target changed: loss %.7f vs %.7f, gradients %s\n", (double)l0, (double)l2,
           differs ? "differ" : "IDENTICAL");
    free(g0);
    griffin_free(m);
    printf("loss mask: %s\n", same && differs ? "ok" : "FAILED");
    return same && differs ? 0 : 1;
}
