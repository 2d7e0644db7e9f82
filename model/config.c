#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

const char *family_name(Family f) {
    switch (f) {
    case FAMILY_GRIFFIN: return "griffin";
    case FAMILY_HAWK: return "hawk";
    case FAMILY_TRANSFORMER: return "transformer";
    }
    return "?";
}

int family_parse(const char *name, Family *f) {
    if (!strcmp(name, "griffin")) *f = FAMILY_GRIFFIN;
    else if (!strcmp(name, "hawk")) *f = FAMILY_HAWK;
    else if (!strcmp(name, "transformer")) *f = FAMILY_TRANSFORMER;
    else return -1;
    return 0;
}

static const char *const lora_official[LORA_NUM] = {"proj_q", "proj_k", "proj_v", "proj_final", "linear_x",
                                                    "linear_y", "linear_out", "ffw_up", "ffw_down"};

const char *lora_target_name(LoraTarget t) { return t >= 0 && t < LORA_NUM ? lora_official[t] : "?"; }

int lora_target_parse(const char *name) {
    static const struct { const char *hf; LoraTarget t; } hf[] = {
        {"q_proj", LORA_Q}, {"k_proj", LORA_K}, {"v_proj", LORA_V}, {"o_proj", LORA_FINAL},
        {"gate_proj", LORA_UP}, {"up_proj", LORA_UP}, {"down_proj", LORA_DOWN}};
    for (int t = 0; t < LORA_NUM; t++)
        if (!strcmp(name, lora_official[t])) return t;
    for (size_t i = 0; i < sizeof hf / sizeof hf[0]; i++)
        if (!strcmp(name, hf[i].hf)) return (int)hf[i].t;
    return -1;
}

/* the smallest side of a target's matrices: a rank above it adds nothing a full update lacks */
static int lora_smallest_side(const GriffinConfig *c, LoraTarget t) {
    int D = c->width, K = c->width / c->num_heads, E = c->lru_width, F = c->mlp_width;
    switch (t) {
    case LORA_K: case LORA_V: return K;
    case LORA_Q: case LORA_FINAL: return D;
    case LORA_LIN_X: case LORA_LIN_Y: case LORA_LIN_OUT: return D < E ? D : E;
    case LORA_UP: case LORA_DOWN: return D < F ? D : F;
    default: return 0;
    }
}

static int has_block(const GriffinConfig *c, BlockType b) {
    for (int i = 0; i < c->depth; i++)
        if (c->block_types[i] == b) return 1;
    return 0;
}

const char *config_finalize(GriffinConfig *c) {
    if (c->lru_width == 0) c->lru_width = c->width;
    if (c->vocab_size < 2) return "vocab_size must be >= 2";
    if (c->width < 1) return "width must be >= 1";
    if (c->mlp_width < 1) return "mlp_width must be >= 1";
    if (c->num_heads < 1) return "heads must be >= 1";
    if (c->depth < 1 || c->depth > GRIFFIN_MAX_LAYERS) return "depth must be in 1..256";
    if (c->window < 1) return "window must be >= 1";
    if (c->soft_cap < 0) return "soft_cap must be >= 0";
    if (c->width % c->num_heads) return "heads must divide width";
    if (c->lru_width % c->num_heads) return "heads must divide lru_width";
    if ((c->width / c->num_heads) % 4) return "head dim (width/heads) must be a multiple of 4 (half-dim RoPE pairs)";
    for (int i = 0; i < c->depth; i++) {
        switch (c->family) {
        case FAMILY_GRIFFIN: c->block_types[i] = (i % 3 == 2) ? BLOCK_ATTENTION : BLOCK_RECURRENT; break;
        case FAMILY_HAWK: c->block_types[i] = BLOCK_RECURRENT; break;
        case FAMILY_TRANSFORMER: c->block_types[i] = BLOCK_ATTENTION; break;
        default: return "unknown family";
        }
    }
    if (c->lora_rank < 0) return "lora_rank must be >= 0";
    if (c->lora_rank > 0) {
        static char msg[160];
        if (!(c->lora_alpha > 0)) return "lora_alpha must be > 0";
        if (!(c->lora_dropout >= 0 && c->lora_dropout < 1)) return "lora_dropout must be in [0, 1)";
        if (!c->lora_targets || (c->lora_targets & ~LORA_ALL)) return "lora_targets must name at least one layer";
        int any = 0;
        for (int t = 0; t < LORA_NUM; t++) {
            if (!(c->lora_targets & (1u << t))) continue;
            int side = lora_smallest_side(c, (LoraTarget)t);
            if (c->lora_rank > side) {
                snprintf(msg, sizeof msg, "lora_rank %d is larger than %s's smallest side %d", c->lora_rank,
                         lora_official[t], side);
                return msg;
            }
            BlockType need = t <= LORA_FINAL ? BLOCK_ATTENTION : BLOCK_RECURRENT;
            any |= t >= LORA_UP || has_block(c, need);
        }
        if (!any) return "lora_targets names only layers this model family does not have";
    }
    return NULL;
}

int config_preset(const char *name, GriffinConfig *c) {
    memset(c, 0, sizeof *c);
    c->family = FAMILY_GRIFFIN;
    c->embed_scale = 1;
    c->soft_cap = 30.0f;
    if (!strcmp(name, "tiny")) {
        c->vocab_size = 512; c->width = 64; c->mlp_width = 192; c->num_heads = 2;
        c->depth = 3; c->window = 32;
    } else if (!strcmp(name, "small")) {
        c->vocab_size = 8192; c->width = 512; c->mlp_width = 1536; c->num_heads = 4;
        c->depth = 8; c->window = 256;
    } else if (!strcmp(name, "2b")) {
        c->vocab_size = 256000; c->width = 2560; c->mlp_width = 7680; c->num_heads = 10;
        c->depth = 26; c->window = 2048;
    } else {
        return -1;
    }
    return config_finalize(c) ? -1 : 0;
}

float embed_scale_value(int width) {
    float f = sqrtf((float)width);
    uint32_t bits;
    memcpy(&bits, &f, 4);
    bits += 0x7FFFu + ((bits >> 16) & 1u); /* round to nearest even on the 16 dropped bits */
    bits &= 0xFFFF0000u;
    memcpy(&f, &bits, 4);
    return f;
}
