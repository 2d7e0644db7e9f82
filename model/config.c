#include "config.h"

#include <math.h>
#include <stdint.h>
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
