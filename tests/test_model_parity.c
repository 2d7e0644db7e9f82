/* Writes the whole model's forward and backward for one test case to a dump file that
 * tests/ref/check_parity.py compares, tensor by tensor, with the independent PyTorch
 * reference (tests/ref/griffin_ref.py).
 *
 * usage: test_model_parity CASE OUT.dump
 * Dump format: one JSON header line (config, B, T, loss, tensor directory with byte offsets),
 * then raw little-endian tensors: param/<name>, grad/<name>, input/{tokens,targets,
 * segment_pos,loss_mask}, output/{logits,loss}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "common/rng.h"
#include "model/griffin.h"

typedef struct {
    const char *name;
    Family family;
    int D, E, F, H, depth, A, V, B, T;
    int packed; /* documents packed into rows, some targets masked */
    float cap;
    int lora_rank;       /* LoRA adapters (0: none), perturbed like every tensor so B != 0 */
    float lora_alpha;
    unsigned lora_targets;
} ParityCase;

static const ParityCase cases[] = {
    {"griffin_packed", FAMILY_GRIFFIN, 32, 24, 48, 2, 3, 5, 37, 2, 14, 1, 30.0f, 0, 0, 0},
    {"griffin_plain", FAMILY_GRIFFIN, 32, 32, 40, 2, 3, 6, 29, 2, 11, 0, 30.0f, 0, 0, 0},
    {"griffin_deep", FAMILY_GRIFFIN, 16, 20, 24, 2, 6, 3, 23, 3, 9, 1, 0.0f, 0, 0, 0},
    {"hawk_packed", FAMILY_HAWK, 32, 40, 48, 4, 2, 5, 31, 2, 14, 1, 30.0f, 0, 0, 0},
    {"transformer_packed", FAMILY_TRANSFORMER, 32, 32, 48, 2, 2, 4, 31, 2, 14, 1, 30.0f, 0, 0, 0},
    {"transformer_global", FAMILY_TRANSFORMER, 32, 32, 48, 4, 2, 16, 31, 2, 16, 0, 30.0f, 0, 0, 0},
    /* adapters on every linear of both temporal blocks and the MLP */
    {"griffin_lora", FAMILY_GRIFFIN, 32, 24, 48, 2, 3, 5, 37, 2, 14, 1, 30.0f, 3, 6.0f, LORA_ALL},
    /* a subset (attention K/V and the MLP's down projection only), another rank and scale */
    {"transformer_lora", FAMILY_TRANSFORMER, 32, 32, 48, 2, 2, 4, 31, 2, 14, 1, 30.0f, 2, 1.0f,
     (1u << LORA_K) | (1u << LORA_V) | (1u << LORA_DOWN)},
};

typedef struct {
    FILE *data;
    char *dir;
    size_t dir_len, dir_cap;
    size_t offset;
} Dump;

static void dir_append(Dump *d, const char *s) {
    size_t n = strlen(s);
    if (d->dir_len + n + 1 > d->dir_cap) {
        d->dir_cap = (d->dir_len + n + 1) * 2;
        d->dir = realloc(d->dir, d->dir_cap);
        CHECK(d->dir, "out of memory");
    }
    memcpy(d->dir + d->dir_len, s, n + 1);
    d->dir_len += n;
}

static void put(Dump *d, const char *name, const char *dtype, const void *p, size_t bytes, int ndim,
                const int *shape) {
    char buf[512];
    int k = snprintf(buf, sizeof buf, "%s{\"name\":\"%s\",\"dtype\":\"%s\",\"shape\":[", d->offset || d->dir_len ? "," : "",
                     name, dtype);
    for (int i = 0; i < ndim; i++) k += snprintf(buf + k, sizeof buf - (size_t)k, "%s%d", i ? "," : "", shape[i]);
    snprintf(buf + k, sizeof buf - (size_t)k, "],\"offset\":%zu}", d->offset);
    dir_append(d, buf);
    CHECK(fwrite(p, 1, bytes, d->data) == bytes, "short write of %s", name);
    d->offset += bytes;
}

int main(int argc, char **argv) {
    CHECK(argc == 3, "usage: %s CASE OUT.dump", argv[0]);
    const ParityCase *pc = NULL;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (!strcmp(cases[i].name, argv[1])) pc = &cases[i];
    CHECK(pc, "unknown case %s", argv[1]);

    GriffinConfig cfg = {0};
    cfg.family = pc->family;
    cfg.vocab_size = pc->V;
    cfg.width = pc->D;
    cfg.lru_width = pc->E;
    cfg.mlp_width = pc->F;
    cfg.num_heads = pc->H;
    cfg.depth = pc->depth;
    cfg.window = pc->A;
    cfg.soft_cap = pc->cap;
    cfg.embed_scale = 1;
    cfg.lora_rank = pc->lora_rank;
    cfg.lora_alpha = pc->lora_alpha;
    cfg.lora_targets = pc->lora_targets;
    GriffinModel *m = griffin_create(&cfg, pc->B, pc->T, 42);
    cfg = m->cfg;

    /* perturb every parameter so that zero-initialised norms and biases are exercised */
    Rng r;
    rng_seed(&r, 7, 0);
    for (int i = 0; i < m->table.count; i++) {
        const TensorInfo *t = &m->table.t[i];
        if (t->init == INIT_A_PARAM) continue; /* keep the ring init: float32 cannot resolve the clip region */
        float std = t->init == INIT_ZERO ? 0.2f : t->init_std * 0.5f;
        for (size_t j = 0; j < t->numel; j++) m->params[t->offset + j] += (float)((double)std * rng_normal(&r));
    }

    int B = pc->B, T = pc->T, N = B * T;
    int *tokens = malloc(sizeof(int) * N), *targets = malloc(sizeof(int) * N), *pos = malloc(sizeof(int) * N);
    uint8_t *mask = malloc(N);
    for (int b = 0; b < B; b++) {
        int p = (pc->packed && b == 0) ? 3 : 0; /* row 0 continues a document */
        for (int t = 0; t < T; t++) {
            if (pc->packed && ((b == 0 && t == 6) || (b == 1 && (t == 4 || t == T - 3)) || (b == 2 && t == 5))) p = 0;
            int n = b * T + t;
            pos[n] = p++;
            tokens[n] = (int)rng_below(&r, (uint64_t)pc->V);
            targets[n] = (int)rng_below(&r, (uint64_t)pc->V);
            mask[n] = pc->packed ? (rng_below(&r, 4) != 0) : 1;
        }
    }
    griffin_zero_grad(m);
    float loss = griffin_forward(m, tokens, targets, pos, mask, B, T);
    griffin_backward(m);

    Dump d = {0};
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.data", argv[2]);
    d.data = fopenCheck(tmp, "wb");
    int shp[4];
    for (int i = 0; i < m->table.count; i++) {
        const TensorInfo *t = &m->table.t[i];
        char name[160];
        snprintf(name, sizeof name, "param/%s", t->name);
        put(&d, name, "f32", m->params + t->offset, t->numel * 4, t->ndim, t->shape);
        snprintf(name, sizeof name, "grad/%s", t->name);
        put(&d, name, "f32", m->grads + t->offset, t->numel * 4, t->ndim, t->shape);
    }
    shp[0] = B;
    shp[1] = T;
    put(&d, "input/tokens", "i32", tokens, (size_t)N * 4, 2, shp);
    put(&d, "input/targets", "i32", targets, (size_t)N * 4, 2, shp);
    put(&d, "input/segment_pos", "i32", pos, (size_t)N * 4, 2, shp);
    put(&d, "input/loss_mask", "u8", mask, (size_t)N, 2, shp);
    shp[2] = pc->V;
    put(&d, "output/logits", "f32", m->logits, (size_t)N * pc->V * 4, 3, shp);
    shp[0] = 1;
    put(&d, "output/loss", "f32", &loss, 4, 1, shp);
    fclose(d.data);

    FILE *f = fopenCheck(argv[2], "wb");
    fprintf(f, "{\"format\":\"griffin-dump\",\"version\":1,\"config\":{\"family\":\"%s\",\"vocab_size\":%d,"
               "\"width\":%d,\"lru_width\":%d,\"mlp_width\":%d,\"num_heads\":%d,\"depth\":%d,\"window\":%d,"
               "\"soft_cap\":%.9g,\"embed_scale\":%d,\"block_types\":[",
            family_name(cfg.family), cfg.vocab_size, cfg.width, cfg.lru_width, cfg.mlp_width, cfg.num_heads,
            cfg.depth, cfg.window, (double)cfg.soft_cap, cfg.embed_scale);
    for (int l = 0; l < cfg.depth; l++) fprintf(f, "%s%d", l ? "," : "", (int)cfg.block_types[l]);
    fprintf(f, "]");
    if (cfg.lora_rank > 0) {
        fprintf(f, ",\"lora\":{\"rank\":%d,\"alpha\":%.9g,\"targets\":[", cfg.lora_rank, (double)cfg.lora_alpha);
        int first = 1;
        for (int t = 0; t < LORA_NUM; t++)
            if (cfg.lora_targets & (1u << t)) fprintf(f, "%s\"%s\"", first ? "" : ",", lora_target_name((LoraTarget)t)), first = 0;
        fprintf(f, "]}");
    }
    fprintf(f, "},\"B\":%d,\"T\":%d,\"loss\":%.9g,\"tensors\":[%s]}\n", B, T, (double)loss, d.dir);
    FILE *src = fopenCheck(tmp, "rb");
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, src)) > 0) CHECK(fwrite(tmp, 1, n, f) == n, "short write");
    fclose(src);
    fclose(f);
    snprintf(tmp, sizeof tmp, "%s.data", argv[2]);
    remove(tmp);
    printf("%s: loss %.6f, %zu parameters, dump %s\n", pc->name, (double)loss, m->table.total, argv[2]);
    griffin_free(m);
    free(tokens);
    free(targets);
    free(pos);
    free(mask);
    free(d.dir);
    return 0;
}
