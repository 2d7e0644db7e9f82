/* The trainable set (optim/trainable.h) and frozen tensors in backward (griffin_set_trainable):
 * - patterns: globs over the official names, the complement form, both together; a pattern
 *   that matches nothing and a set with nothing left are refused with the pattern named;
 * - the packed table: the trainable tensors in order, offsets packed, pack/unpack round trip;
 * - backward with frozen tensors: every trainable tensor's gradient is bitwise the gradient of
 *   the model with nothing frozen (input gradients flow through frozen weights unchanged),
 *   frozen tensors have no gradient (packed away); checked per family, for the language
 *   model loss and the hidden-state path, with several freeze patterns;
 * - ZeRO-1 on one rank over a frozen set: AdamW updates the trainable tensors exactly as a
 *   full update does, frozen tensors are bitwise unchanged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "model/griffin.h"
#include "optim/adamw.h"
#include "optim/trainable.h"
#include "optim/zero.h"
#include "tests/expect.h"

static GriffinModel *make(Family fam) {
    GriffinConfig cfg = {0};
    cfg.family = fam;
    cfg.vocab_size = 64;
    cfg.width = 32;
    cfg.lru_width = 40;
    cfg.mlp_width = 72;
    cfg.num_heads = 4;
    cfg.depth = 4;
    cfg.window = 8;
    cfg.soft_cap = 30.0f;
    cfg.embed_scale = 1;
    return griffin_create_ex(&cfg, 2, 16, 7, 0);
}

static void test_patterns(void) {
    GriffinModel *m = make(FAMILY_GRIFFIN);
    const ParamTable *pt = &m->table;
    TrainableSet s;
    char err[512];
    EXPECT(trainable_build(&s, pt, "", "", err, sizeof err) == 0 && s.all && s.n == pt->total, "empty patterns: all");
    trainable_free(&s);
    EXPECT(trainable_build(&s, pt, "embedder.*", "", err, sizeof err) == 0, "freeze embedder.*: %s", err);
    EXPECT(!s.all && s.mt.count == pt->count - 1 && s.n == pt->total - pt->t[pt->embed].numel,
           "freeze embedder.*: %d tensors, %zu floats", s.mt.count, s.n);
    EXPECT(trainable_frozen_tensors(&s) == 1, "one frozen tensor");
    /* packed offsets: contiguous, in table order, starting at 0 */
    size_t off = 0;
    for (int k = 0; k < s.mt.count; k++) {
        EXPECT(s.mt.t[k].offset == off && !strcmp(s.mt.t[k].name, pt->t[s.src[k]].name), "packed table row %d", k);
        off += s.mt.t[k].numel;
    }
    float *packed = malloc(s.n * sizeof(float)), *back = calloc(pt->total, sizeof(float));
    trainable_pack(&s, pt, packed, m->params);
    trainable_unpack(&s, pt, back, packed);
    int same = 1;
    for (int i = 0; i < pt->count; i++)
        if (s.on[i]) same &= !memcmp(back + pt->t[i].offset, m->params + pt->t[i].offset, pt->t[i].numel * sizeof(float));
    EXPECT(same, "pack / unpack round trip");
    free(packed);
    free(back);
    trainable_free(&s);
    EXPECT(trainable_build(&s, pt, "", "blocks.*.mlp_block.*", err, sizeof err) == 0 && s.mt.count == 4 * 4,
           "trainable blocks.*.mlp_block.*: %d tensors (%s)", s.mt.count, err);
    trainable_free(&s);
    EXPECT(trainable_build(&s, pt, "blocks.1.*, final_norm.scale", "blocks.*", err, sizeof err) == 0,
           "trainable blocks.* minus block 1: %s", err);
    for (int k = 0; k < s.mt.count; k++) EXPECT(!strncmp(s.mt.t[k].name, "blocks.", 7) && pt->t[s.src[k]].layer != 1,
                                                "%s should be frozen", s.mt.t[k].name);
    trainable_free(&s);
    EXPECT(trainable_build(&s, pt, "embeder.*", "", err, sizeof err) == -1 && strstr(err, "'embeder.*'") &&
           strstr(err, "train.freeze"), "a typo is refused naming it: %s", err);
    EXPECT(trainable_build(&s, pt, "", "nothing.here", err, sizeof err) == -1 && strstr(err, "train.trainable"),
           "trainable that matches nothing: %s", err);
    EXPECT(trainable_build(&s, pt, "*", "", err, sizeof err) == -1 && strstr(err, "nothing would train"),
           "everything frozen: %s", err);
    griffin_free(m);
}

/* backward of one batch, grads left in m->grads */
static void grads(GriffinModel *m, int hidden) {
    enum { B = 2, T = 16 };
    int tok[B * T], tgt[B * T], pos[B * T];
    Rng r;
    rng_seed(&r, 11, 0);
    for (int n = 0; n < B * T; n++) {
        tok[n] = (int)rng_below(&r, 64);
        tgt[n] = (int)rng_below(&r, 64);
        pos[n] = n % T < 9 ? n % T : n % T - 9; /* two documents per row */
    }
    griffin_zero_grad(m);
    if (!hidden) {
        griffin_forward(m, tok, tgt, pos, NULL, B, T);
        griffin_backward(m);
        return;
    }
    size_t ND = (size_t)B * T * m->cfg.width;
    float *dh = malloc(ND * sizeof(float));
    for (size_t i = 0; i < ND; i++) dh[i] = (float)rng_uniform(&r) - 0.5f;
    griffin_forward_hidden(m, tok, pos, B, T);
    griffin_backward_hidden(m, dh);
    free(dh);
}

static void test_frozen_backward(Family fam, const char *freeze, int hidden) {
    GriffinModel *full = make(fam), *part = make(fam);
    const ParamTable *pt = &full->table;
    TrainableSet s;
    char err[512];
    if (trainable_build(&s, pt, freeze, "", err, sizeof err)) {
        EXPECT(0, "%s: %s", freeze, err);
        return;
    }
    griffin_set_trainable(part, s.on);
    grads(full, hidden);
    grads(part, hidden);
    int bad = 0;
    for (int i = 0; i < pt->count; i++) {
        const float *a = full->grads + pt->t[i].offset, *b = griffin_grad_of(part, i);
        size_t n = pt->t[i].numel;
        if (s.on[i] && (!b || memcmp(a, b, n * sizeof(float)))) bad++, printf("  %s: trainable gradient differs\n", pt->t[i].name);
        if (!s.on[i] && b) bad++, printf("  %s: a frozen tensor has a gradient\n", pt->t[i].name);
    }
    EXPECT(!bad, "%s, freeze %s, %s: %d tensors wrong", family_name(fam), freeze, hidden ? "hidden path" : "LM loss", bad);
    printf("%s, freeze %-40s %s: %d of %d tensors trainable, gradients as the full model's\n", family_name(fam), freeze,
           hidden ? "hidden" : "LM", s.mt.count, pt->count);
    trainable_free(&s);
    griffin_free(full);
    griffin_free(part);
}

/* A full model and one with a trainable set, both stepped `steps` times by AdamW through their
 * ZeRO-1 shards from the same initial weights. */
typedef struct {
    GriffinModel *full, *part;
    TrainableSet all, set;
    size_t bytes_all, bytes_part;
} Pair;

static void pair_run(Pair *p, Family fam, const char *freeze, const char *trainable, int steps, float scale) {
    char err[512];
    p->full = make(fam), p->part = make(fam);
    const ParamTable *pt = &p->full->table;
    trainable_build(&p->all, pt, "", "", err, sizeof err);
    EXPECT(trainable_build(&p->set, pt, freeze, trainable, err, sizeof err) == 0, "%s", err);
    griffin_set_trainable(p->part, p->set.on);
    ZeroShard za, zp;
    zero_init(&za, &p->all, pt);
    zero_init(&zp, &p->set, pt);
    p->bytes_all = zero_state_bytes(&za), p->bytes_part = zero_state_bytes(&zp);
    AdamWConfig ac = adamw_defaults();
    for (int t = 1; t <= steps; t++) {
        grads(p->full, 0);
        grads(p->part, 0);
        zero_reduce(&za, p->full->grads);
        zero_reduce(&zp, p->part->grads);
        zero_update(&za, p->full->params, p->full->grads, &ac, 1e-2f, t, scale);
        zero_update(&zp, p->part->params, p->part->grads, &ac, 1e-2f, t, scale);
    }
    zero_free(&za);
    zero_free(&zp);
}

static void pair_free(Pair *p) {
    trainable_free(&p->all);
    trainable_free(&p->set);
    griffin_free(p->full);
    griffin_free(p->part);
}

/* tensors i with on[i] == want whose parameters in a and b differ */
static int differing(const GriffinModel *a, const GriffinModel *b, const uint8_t *on, int want) {
    int n = 0;
    for (int i = 0; i < a->table.count; i++)
        if (on[i] == want)
            n += memcmp(a->params + a->table.t[i].offset, b->params + b->table.t[i].offset,
                        a->table.t[i].numel * sizeof(float)) != 0;
    return n;
}

/* three updates through the shard of a frozen set: frozen tensors bitwise unchanged, the
 * trainable ones moved, moments for the trainable set only */
static void test_zero_update(void) {
    Pair p;
    pair_run(&p, FAMILY_GRIFFIN, "embedder.*,blocks.2.*", "", 3, 1.0f);
    EXPECT(p.bytes_part == 2 * p.set.n * sizeof(float) && p.bytes_all == 2 * p.all.n * sizeof(float),
           "moments cover the trainable set only (one rank: no packing buffer)");
    GriffinModel *init = make(FAMILY_GRIFFIN);
    EXPECT(differing(p.part, init, p.set.on, 0) == 0, "frozen tensors changed");
    EXPECT(differing(p.part, init, p.set.on, 1) > 0, "the trainable tensors did not move");
    griffin_free(init);
    pair_free(&p);
}

/* one update from the same weights: the trainable tensors' update is the full update's, bitwise */
static void test_zero_first_step(void) {
    Pair p;
    pair_run(&p, FAMILY_HAWK, "", "blocks.*.recurrent_block.*", 1, 0.5f);
    EXPECT(differing(p.part, p.full, p.set.on, 1) == 0, "trainable tensors updated differently from the full update");
    pair_free(&p);
}

int main(void) {
    test_patterns();
    const char *freezes[] = {"embedder.*", "blocks.*.mlp_block.*", "blocks.0.*,final_norm.scale",
                             "*.weight,*.w", "blocks.*.*norm*,blocks.*.recurrent_block.rg_lru.a_param"};
    Family fams[] = {FAMILY_GRIFFIN, FAMILY_HAWK, FAMILY_TRANSFORMER};
    for (int f = 0; f < 3; f++)
        for (size_t k = 0; k < sizeof freezes / sizeof freezes[0]; k++) {
            if (fams[f] == FAMILY_TRANSFORMER && strstr(freezes[k], "rg_lru")) continue; /* no RG-LRU there */
            test_frozen_backward(fams[f], freezes[k], 0);
            test_frozen_backward(fams[f], freezes[k], 1);
        }
    test_zero_update();
    test_zero_first_step();
    printf(failures ? "FAILED (%d)\n" : "ok\n", failures);
    return failures != 0;
}
