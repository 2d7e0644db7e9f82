#include "params.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/check.h"
#include "../common/rng.h"

static int add(ParamTable *pt, int cap, int layer, int slot, const char *name, ParamGroup g,
               InitKind init, float std, int ndim, int s0, int s1, int s2, int s3) {
    CHECK(pt->count < cap, "parameter table overflow");
    TensorInfo *t = &pt->t[pt->count];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim;
    int s[4] = {s0, s1, s2, s3};
    t->numel = 1;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = s[i];
        t->numel *= (size_t)s[i];
    }
    t->offset = pt->total;
    pt->total += t->numel;
    t->layer = layer;
    t->slot = slot;
    t->group = g;
    t->init = init;
    t->init_std = std;
    t->lora_of = -1;
    return pt->count++;
}

ParamSlot lora_target_slot(LoraTarget t) {
    static const ParamSlot slot[LORA_NUM] = {P_Q_W, P_K_W, P_V_W, P_FINAL_W, P_LIN_X_W,
                                             P_LIN_Y_W, P_LIN_OUT_W, P_UP_W, P_DOWN_W};
    return slot[t];
}

int lora_tensor(const ParamTable *pt, int layer, LoraTarget t, int part) {
    return pt->lora_index ? pt->lora_index[((size_t)layer * LORA_NUM + t) * 2 + part] : -1;
}

int lora_tensor_of_slot(const ParamTable *pt, int layer, ParamSlot s, int part) {
    for (int t = 0; t < LORA_NUM; t++)
        if (lora_target_slot((LoraTarget)t) == s) return lora_tensor(pt, layer, (LoraTarget)t, part);
    return -1;
}

/* A [r,NI] uniform(±1/sqrt(NI)), B [NO,r] zero (the adapted model starts as the base); per
 * branch for ffw_up. Adapters go in layer order, A before B. */
static void add_lora(ParamTable *pt, int cap, const GriffinConfig *c) {
    const int r = c->lora_rank, L = c->depth;
    pt->lora_first = pt->count;
    if (r <= 0) return;
    pt->lora_index = mallocCheck(sizeof(int) * (size_t)L * LORA_NUM * 2);
    for (int i = 0; i < L * LORA_NUM * 2; i++) pt->lora_index[i] = -1;
    for (int l = 0; l < L; l++) {
        for (int t = 0; t < LORA_NUM; t++) {
            int w = pt->slot_index[l * P_NUM_SLOTS + lora_target_slot((LoraTarget)t)];
            if (!(c->lora_targets & (1u << t)) || w < 0) continue;
            const TensorInfo *base = &pt->t[w];
            char stem[64], n[96]; /* the longest stem, blocks.255.recurrent_block.linear_out, has 38 characters */
            snprintf(stem, sizeof stem, "%.*s", (int)(strlen(base->name) - (t == LORA_UP ? 2 : 7)), base->name);
            int up = t == LORA_UP, NO = up ? base->shape[2] : base->shape[0], NI = base->shape[1];
            int *idx = &pt->lora_index[((size_t)l * LORA_NUM + t) * 2];
            snprintf(n, sizeof n, "%s.lora_A.weight", stem);
            idx[0] = up ? add(pt, cap, l, -1, n, GROUP_WEIGHT, INIT_UNIFORM, 1.0f / sqrtf((float)NI), 3, 2, r, NI, 0)
                        : add(pt, cap, l, -1, n, GROUP_WEIGHT, INIT_UNIFORM, 1.0f / sqrtf((float)NI), 2, r, NI, 0, 0);
            snprintf(n, sizeof n, "%s.lora_B.weight", stem);
            idx[1] = up ? add(pt, cap, l, -1, n, GROUP_WEIGHT, INIT_ZERO, 0, 3, 2, NO, r, 0)
                        : add(pt, cap, l, -1, n, GROUP_WEIGHT, INIT_ZERO, 0, 2, NO, r, 0, 0);
            pt->t[idx[0]].lora_of = pt->t[idx[1]].lora_of = w;
            pt->t[idx[0]].lora_part = 'A';
            pt->t[idx[1]].lora_part = 'B';
        }
    }
}

void param_table_build(ParamTable *pt, const GriffinConfig *c) {
    const int V = c->vocab_size, D = c->width, E = c->lru_width, F = c->mlp_width;
    const int H = c->num_heads, K = D / H, bw = E / H, L = c->depth;
    const float nscale = 2.0f / (float)L; /* final-layer variance scale 2/N */
    int cap = 4 + L * (P_NUM_SLOTS + 2 * LORA_NUM);
    memset(pt, 0, sizeof *pt);
    pt->t = callocCheck((size_t)cap, sizeof(TensorInfo));
    pt->slot_index = mallocCheck(sizeof(int) * (size_t)L * P_NUM_SLOTS);
    for (int i = 0; i < L * P_NUM_SLOTS; i++) pt->slot_index[i] = -1;

    pt->embed = add(pt, cap, -1, -1, "embedder.input_embedding", GROUP_EMBED, INIT_NORMAL,
                    sqrtf(1.0f / D), 2, V, D, 0, 0);
    char n[96];
#define ADD(slot, suffix, g, init, std, nd, a, b, cc, d)                                  \
    do {                                                                                 \
        snprintf(n, sizeof n, "blocks.%d.%s", l, suffix);                                \
        pt->slot_index[l * P_NUM_SLOTS + (slot)] = add(pt, cap, l, slot, n, g, init, std, nd, a, b, cc, d); \
    } while (0)
    for (int l = 0; l < L; l++) {
        ADD(P_TEMPORAL_NORM, "temporal_pre_norm.scale", GROUP_NORM, INIT_ZERO, 0, 1, D, 0, 0, 0);
        if (c->block_types[l] == BLOCK_RECURRENT) {
            ADD(P_LIN_Y_W, "recurrent_block.linear_y.weight", GROUP_WEIGHT, INIT_NORMAL, sqrtf(1.0f / D), 2, E, D, 0, 0);
            ADD(P_LIN_Y_B, "recurrent_block.linear_y.bias", GROUP_BIAS, INIT_ZERO, 0, 1, E, 0, 0, 0);
            ADD(P_LIN_X_W, "recurrent_block.linear_x.weight", GROUP_WEIGHT, INIT_NORMAL, sqrtf(1.0f / D), 2, E, D, 0, 0);
            ADD(P_LIN_X_B, "recurrent_block.linear_x.bias", GROUP_BIAS, INIT_ZERO, 0, 1, E, 0, 0, 0);
            ADD(P_LIN_OUT_W, "recurrent_block.linear_out.weight", GROUP_WEIGHT, INIT_NORMAL, sqrtf(nscale / E), 2, D, E, 0, 0);
            ADD(P_LIN_OUT_B, "recurrent_block.linear_out.bias", GROUP_BIAS, INIT_ZERO, 0, 1, D, 0, 0, 0);
            ADD(P_CONV_W, "recurrent_block.conv_1d.w", GROUP_WEIGHT, INIT_NORMAL, sqrtf(0.01f / GRIFFIN_CONV_WIDTH), 2, GRIFFIN_CONV_WIDTH, E, 0, 0);
            ADD(P_CONV_B, "recurrent_block.conv_1d.b", GROUP_BIAS, INIT_ZERO, 0, 1, E, 0, 0, 0);
            ADD(P_A_PARAM, "recurrent_block.rg_lru.a_param", GROUP_A_PARAM, INIT_A_PARAM, 0, 1, E, 0, 0, 0);
            ADD(P_IGATE_W, "recurrent_block.rg_lru.input_gate.w", GROUP_WEIGHT, INIT_NORMAL, sqrtf(1.0f / bw), 3, H, bw, bw, 0);
            ADD(P_IGATE_B, "recurrent_block.rg_lru.input_gate.b", GROUP_BIAS, INIT_ZERO, 0, 2, H, bw, 0, 0);
            ADD(P_AGATE_W, "recurrent_block.rg_lru.a_gate.w", GROUP_WEIGHT, INIT_NORMAL, sqrtf(1.0f / bw), 3, H, bw, bw, 0);
            ADD(P_AGATE_B, "recurrent_block.rg_lru.a_gate.b", GROUP_BIAS, INIT_ZERO, 0, 2, H, bw, 0, 0);
        } else {
            ADD(P_Q_W, "attention_block.proj_q.weight", GROUP_WEIGHT, INIT_NORMAL, sqrtf(1.0f / D), 2, D, D, 0, 0);
            ADD(P_K_W, "attention_block.proj_k.weight", GROUP_WEIGHT, INIT_NORMAL, sqrtf(1.0f / D), 2, K, D, 0, 0);
            ADD(P_V_W, "attention_block.proj_v.weight", GROUP_WEIGHT, INIT_NORMAL, sqrtf(1.0f / D), 2, K, D, 0, 0);
            ADD(P_FINAL_W, "attention_block.proj_final.weight", GROUP_WEIGHT, INIT_NORMAL, sqrtf(nscale / D), 2, D, D, 0, 0);
            ADD(P_FINAL_B, "attention_block.proj_final.bias", GROUP_BIAS, INIT_ZERO, 0, 1, D, 0, 0, 0);
        }
        ADD(P_CHANNEL_NORM, "channel_pre_norm.scale", GROUP_NORM, INIT_ZERO, 0, 1, D, 0, 0, 0);
        ADD(P_UP_W, "mlp_block.ffw_up.w", GROUP_WEIGHT, INIT_NORMAL, sqrtf(1.0f / D), 3, 2, D, F, 0);
        ADD(P_UP_B, "mlp_block.ffw_up.b", GROUP_BIAS, INIT_ZERO, 0, 4, 2, 1, 1, F);
        ADD(P_DOWN_W, "mlp_block.ffw_down.weight", GROUP_WEIGHT, INIT_NORMAL, sqrtf(nscale / F), 2, D, F, 0, 0);
        ADD(P_DOWN_B, "mlp_block.ffw_down.bias", GROUP_BIAS, INIT_ZERO, 0, 1, D, 0, 0, 0);
    }
#undef ADD
    pt->final_norm = add(pt, cap, -1, -1, "final_norm.scale", GROUP_NORM, INIT_ZERO, 0, 1, D, 0, 0, 0);
    /* reward models: a scalar head appended last, so a language model's tensors are a prefix
     * of the reward model's (same names, same offsets): an SFT checkpoint loads into it.
     * Zero init: every reward starts at 0 and the Bradley-Terry loss at log 2. */
    pt->reward_w = pt->reward_b = -1;
    if (c->reward_head) {
        pt->reward_w = add(pt, cap, -1, -1, "reward_head.weight", GROUP_BIAS, INIT_ZERO, 0, 1, D, 0, 0, 0);
        pt->reward_b = add(pt, cap, -1, -1, "reward_head.bias", GROUP_BIAS, INIT_ZERO, 0, 1, 1, 0, 0, 0);
    }
    add_lora(pt, cap, c);
}

void param_table_free(ParamTable *pt) {
    free(pt->t);
    free(pt->slot_index);
    free(pt->lora_index);
    memset(pt, 0, sizeof *pt);
}

int param_table_find(const ParamTable *pt, const char *name) {
    for (int i = 0; i < pt->count; i++)
        if (!strcmp(pt->t[i].name, name)) return i;
    return -1;
}

void layer_ptrs(const ParamTable *pt, float *buf, int layer, LayerPtrs *out) {
    for (int s = 0; s < P_NUM_SLOTS; s++) {
        int idx = pt->slot_index[layer * P_NUM_SLOTS + s];
        out->p[s] = idx < 0 ? NULL : buf + pt->t[idx].offset;
    }
}

void params_init(const ParamTable *pt, float *params, uint64_t seed) {
    for (int i = 0; i < pt->count; i++) {
        const TensorInfo *t = &pt->t[i];
        float *p = params + t->offset;
        Rng r;
        rng_seed(&r, seed, (uint64_t)i + 1);
        switch (t->init) {
        case INIT_ZERO: memset(p, 0, t->numel * sizeof(float)); break;
        case INIT_NORMAL:
            for (size_t j = 0; j < t->numel; j++) p[j] = (float)((double)t->init_std * rng_normal(&r));
            break;
        case INIT_UNIFORM:
            for (size_t j = 0; j < t->numel; j++) p[j] = (float)((double)t->init_std * (2.0 * rng_uniform(&r) - 1.0));
            break;
        case INIT_A_PARAM: {
            const double lo = 0.9 * 0.9 + 1e-8, hi = 0.999 * 0.999 + 1e-8;
            for (size_t j = 0; j < t->numel; j++) {
                double u = lo + (hi - lo) * rng_uniform(&r);
                double rho = 0.5 * log(u);              /* log radius, negative */
                p[j] = (float)log(exp(-rho) - 1.0);     /* inverse softplus of -rho */
            }
            break;
        }
        }
    }
}
