/* Activation checkpointing (GRIFFIN_RECOMPUTE, model/griffin.h): a model that keeps only each
 * block's input and recomputes the rest in backward must give bitwise the gradients and loss of
 * the model that keeps everything: the recomputation runs the same code on the same inputs.
 * The same for GRIFFIN_CHUNKED_LOSS on top (logits one chunk of rows at a time, recomputed in
 * backward; here chunks of 8 rows, the last one partial).
 * Checked per family (griffin, hawk, transformer) on a mixed-type stack, with a loss mask,
 * packed documents, a batch smaller than the allocation, two backward passes after one
 * forward (the second recomputes the top layer too), and the reward model's path
 * (griffin_forward_hidden + griffin_backward_hidden). A prefill from the recomputing model
 * (decode_prefill reads every layer's activations) then decodes the same logits, bitwise.
 * Also reports the activation bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "model/decode.h"
#include "model/griffin.h"

static int fails;

static GriffinModel *make(Family fam, int flags) {
    GriffinConfig cfg = {0};
    cfg.family = fam;
    cfg.vocab_size = 64;
    cfg.width = 32;
    cfg.lru_width = 40;
    cfg.mlp_width = 72;
    cfg.num_heads = 4;
    cfg.depth = 5;
    cfg.window = 8;
    cfg.soft_cap = 30.0f;
    cfg.embed_scale = 1;
    return griffin_create_ex(&cfg, 3, 24, 7, flags);
}

static void same(const char *fam, const char *what, const void *a, const void *b, size_t bytes) {
    if (memcmp(a, b, bytes)) {
        printf("FAIL %s: %s differ between the full and the recomputing model\n", fam, what);
        fails++;
    }
}

static void check(Family fam) {
    const char *name = family_name(fam);
    GriffinModel *full = make(fam, 0), *rec = make(fam, GRIFFIN_RECOMPUTE),
                 *chk = make(fam, GRIFFIN_RECOMPUTE | GRIFFIN_CHUNKED_LOSS);
    size_t bytes[3] = {griffin_activation_bytes(full), griffin_activation_bytes(rec), griffin_activation_bytes(chk)};
    int rows0 = chk->loss_rows;
    full->loss_rows = rec->loss_rows = chk->loss_rows = 8; /* several chunks of 42 rows */
    size_t P = full->table.total;
    same(name, "initial parameters", full->params, rec->params, P * sizeof(float));
    enum { B = 2, T = 21 }; /* below the allocated 3 x 24 */
    int tok[B * T], tgt[B * T], pos[B * T];
    uint8_t mask[B * T];
    Rng r;
    rng_seed(&r, 5, (uint64_t)fam);
    for (int b = 0; b < B; b++)
        for (int t = 0, p = 0; t < T; t++, p++) {
            if (t == 9 && b == 1) p = 0; /* a second document */
            tok[b * T + t] = (int)rng_below(&r, 64);
            tgt[b * T + t] = (int)rng_below(&r, 64);
            pos[b * T + t] = p;
            mask[b * T + t] = (t % 5) != 2;
        }
    GriffinModel *ms[3] = {full, rec, chk};
    float loss[3];
    for (int k = 0; k < 3; k++) {
        griffin_zero_grad(ms[k]);
        loss[k] = griffin_forward(ms[k], tok, tgt, pos, mask, B, T);
        griffin_backward(ms[k]);
    }
    same(name, "losses", &loss[0], &loss[1], sizeof(float));
    same(name, "losses (chunked loss)", &loss[0], &loss[2], sizeof(float));
    same(name, "gradients", full->grads, rec->grads, P * sizeof(float));
    same(name, "gradients (chunked loss)", full->grads, chk->grads, P * sizeof(float));
    for (int k = 0; k < 3; k++) griffin_backward(ms[k]); /* again, accumulating */
    same(name, "gradients after a second backward", full->grads, rec->grads, P * sizeof(float));
    same(name, "gradients after a second backward (chunked loss)", full->grads, chk->grads, P * sizeof(float));
    /* the reward model's path: hidden states and a gradient on them */
    float *dh = malloc(sizeof(float) * B * T * 32);
    for (int i = 0; i < B * T * 32; i++) dh[i] = (float)rng_normal(&r);
    for (int k = 0; k < 3; k++) {
        griffin_zero_grad(ms[k]);
        griffin_forward_hidden(ms[k], tok, pos, B, T);
        griffin_backward_hidden(ms[k], dh);
    }
    same(name, "hidden-state gradients", full->grads, rec->grads, P * sizeof(float));
    same(name, "hidden-state gradients (chunked loss)", full->grads, chk->grads, P * sizeof(float));
    /* prefill 3 prompts of 16 tokens (the second holds two documents) and decode 3 steps */
    int V = full->cfg.vocab_size, step_tok[3] = {1, 2, 3}, ptok[3 * 16], ppos[3 * 16];
    for (int i = 0; i < 3 * 16; i++) {
        ptok[i] = (int)rng_below(&r, 64);
        ppos[i] = i / 16 == 1 && i % 16 >= 10 ? i % 16 - 10 : i % 16;
    }
    float *lg[3];
    for (int k = 0; k < 3; k++) {
        DecodeState *s = decode_create(ms[k], 3);
        lg[k] = malloc(sizeof(float) * 4 * 3 * V);
        memcpy(lg[k], decode_prefill(s, ms[k], ptok, ppos, 16), sizeof(float) * 3 * V);
        for (int i = 1; i < 4; i++) memcpy(lg[k] + (size_t)i * 3 * V, decode_step(s, step_tok), sizeof(float) * 3 * V);
        decode_free(s);
    }
    same(name, "prefill + decode logits", lg[0], lg[1], sizeof(float) * 4 * 3 * V);
    same(name, "prefill + decode logits (chunked loss)", lg[0], lg[2], sizeof(float) * 4 * 3 * V);
    for (int k = 0; k < 3; k++) free(lg[k]);
    printf("%-12s loss %.6f, %zu gradients bitwise equal; activations %zu -> %zu (recompute) -> %zu bytes "
           "(+ chunked loss at its default %d rows)\n", name, (double)loss[0], P, bytes[0], bytes[1], bytes[2],
           rows0);
    free(dh);
    griffin_free(full);
    griffin_free(rec);
    griffin_free(chk);
}

int main(void) {
    check(FAMILY_GRIFFIN);
    check(FAMILY_HAWK);
    check(FAMILY_TRANSFORMER);
    printf("test_recompute: %s\n", fails ? "FAILED" : "ok");
    return fails ? 1 : 0;
}
