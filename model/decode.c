/* Fixed-size decoding state: prefill from the training forward, then one token per step
 * (docs/architecture.md §9; reference: recurrentgemma torch griffin.Griffin with cache and the
 * per-layer cache updates of modules/layers).
 * Pitfalls: the conv state holds linear_x OUTPUTS (pre-conv) and zeros the ones before a
 * document start inside the last 3 prompt positions (5); slots of the key/value ring come
 * from the token count n (pads included), the new key is written after attending, into slot
 * n mod A, and after a prefill the token at row index t sits in slot t mod A (20); RoPE and
 * the RG-LRU use the segment position; the LRU state is float32 (11). Unlike the official
 * decode, keys of an earlier document of the prompt are masked (seg_start), so a prompt
 * holding several documents decodes exactly as the parallel forward computes.
 * Every matrix product of a step (the MLP and unembedding included) goes through gemv_view
 * (model/gemv.c, gemv_narrow.c), which reads each weight once for the whole batch, in the
 * format the model stores it (fp32, bf16, int8: model/weights.h); the RG-LRU's small
 * block-diagonal gates stay in rglru_step. A model's LoRA adapters, when on, are added after
 * their linear's product (y += (alpha/r)·(x·Aᵀ)·Bᵀ, model/lora.c), as its forward adds them. */
#include "decode.h"

#include <stdlib.h>
#include <string.h>

#include "../common/check.h"
#include "gemv.h"
#include "layers.h"
#include "lora.h"
#include "vmath.h"

#define CW GRIFFIN_CONV_WIDTH

DecodeState *decode_create(const GriffinModel *m, int B) {
    const GriffinConfig *c = &m->cfg;
    CHECK(B > 0, "decode_create: batch must be positive");
    DecodeState *s = callocCheck(1, sizeof *s);
    s->m = m;
    s->B = B;
    int L = c->depth;
    size_t D = c->width, E = c->lru_width, F = c->mlp_width, H = c->num_heads, K = D / H, A = c->window;
    s->lru = callocCheck((size_t)L, sizeof(float *));
    s->conv = callocCheck((size_t)L, sizeof(float *));
    s->kc = callocCheck((size_t)L, sizeof(float *));
    s->vc = callocCheck((size_t)L, sizeof(float *));
    for (int l = 0; l < L; l++) {
        if (c->block_types[l] == BLOCK_RECURRENT) {
            s->lru[l] = alignedCallocCheck(sizeof(float) * B * E);
            s->conv[l] = alignedCallocCheck(sizeof(float) * B * (CW - 1) * E);
            s->state_floats += (size_t)B * E * CW;
        } else {
            s->kc[l] = alignedCallocCheck(sizeof(float) * B * A * K);
            s->vc[l] = alignedCallocCheck(sizeof(float) * B * A * K);
            s->state_floats += 2 * (size_t)B * A * K;
        }
    }
    s->n = callocCheck((size_t)B, sizeof(int));
    s->seg_start = callocCheck((size_t)B, sizeof(int));
    s->next_pos = callocCheck((size_t)B, sizeof(int));
    s->pos = callocCheck((size_t)B, sizeof(int));
    size_t S = D > E ? D : E;
    S = S > F ? S : F;
    s->x = alignedCallocCheck(sizeof(float) * B * D);
    s->tn = alignedCallocCheck(sizeof(float) * B * D);
    s->res = alignedCallocCheck(sizeof(float) * B * D);
    for (int i = 0; i < 6; i++) s->s[i] = alignedCallocCheck(sizeof(float) * B * S);
    s->q = alignedCallocCheck(sizeof(float) * B * D);
    s->k = alignedCallocCheck(sizeof(float) * B * K);
    s->v = alignedCallocCheck(sizeof(float) * B * K);
    s->att = alignedCallocCheck(sizeof(float) * B * D);
    s->rstd = alignedCallocCheck(sizeof(float) * B);
    s->logits = alignedCallocCheck(sizeof(float) * B * (size_t)c->vocab_size);
    if (c->lora_rank > 0) s->lora_u = alignedCallocCheck(sizeof(float) * B * (size_t)c->lora_rank);
    return s;
}

void decode_free(DecodeState *s) {
    if (!s) return;
    for (int l = 0; l < s->m->cfg.depth; l++) {
        free(s->lru[l]);
        free(s->conv[l]);
        free(s->kc[l]);
        free(s->vc[l]);
    }
    free(s->lru);
    free(s->conv);
    free(s->kc);
    free(s->vc);
    free(s->n);
    free(s->seg_start);
    free(s->next_pos);
    free(s->pos);
    free(s->x);
    free(s->tn);
    free(s->res);
    for (int i = 0; i < 6; i++) free(s->s[i]);
    free(s->q);
    free(s->k);
    free(s->v);
    free(s->att);
    free(s->rstd);
    free(s->logits);
    free(s->lora_u);
    free(s);
}

size_t decode_state_bytes(const DecodeState *s) { return s->state_floats * sizeof(float) + 3 * (size_t)s->B * sizeof(int); }

void decode_reset(DecodeState *s) {
    const GriffinConfig *c = &s->m->cfg;
    size_t D = c->width, E = c->lru_width, K = D / c->num_heads, A = c->window, B = s->B;
    for (int l = 0; l < c->depth; l++) {
        if (s->lru[l]) {
            memset(s->lru[l], 0, sizeof(float) * B * E);
            memset(s->conv[l], 0, sizeof(float) * B * (CW - 1) * E);
        } else {
            memset(s->kc[l], 0, sizeof(float) * B * A * K);
            memset(s->vc[l], 0, sizeof(float) * B * A * K);
        }
    }
    memset(s->n, 0, sizeof(int) * B);
    memset(s->seg_start, 0, sizeof(int) * B);
    memset(s->next_pos, 0, sizeof(int) * B);
}

/* Loads the position bookkeeping of sequence b of s from its positions p [T]. */
static void prefill_row(DecodeState *s, int b, const int *p, int T) {
    s->n[b] = T;
    s->next_pos[b] = p[T - 1] + 1;
    s->seg_start[b] = 0;
    for (int t = 0; t < T; t++)
        if (p[t] == 0) s->seg_start[b] = t;
}

/* Loads layer l's state of sequence b from row r of m's activations of that layer. */
static void prefill_layer_row(DecodeState *s, const GriffinModel *m, int l, int b, size_t r, const int *p, int T) {
    const GriffinConfig *c = &m->cfg;
    size_t D = c->width, E = c->lru_width, K = D / c->num_heads, A = c->window;
    const LayerActs *a = &m->layers[l];
    if (c->block_types[l] == BLOCK_RECURRENT) {
        memcpy(s->lru[l] + b * E, a->lru + (r * T + T - 1) * E, sizeof(float) * E);
        /* state slot j (0 oldest) holds the input at t = T − 3 + j, zero if t < 0 or a
         * document starts after t within the prompt */
        for (int j = 0; j < CW - 1; j++) {
            int t = T - (CW - 1) + j;
            int keep = t >= 0;
            for (int u = t + 1; keep && u < T; u++) keep = p[u] != 0;
            float *dst = s->conv[l] + ((size_t)b * (CW - 1) + j) * E;
            if (keep) memcpy(dst, a->x_br + (r * T + t) * E, sizeof(float) * E);
            else memset(dst, 0, sizeof(float) * E);
        }
    } else {
        /* the keys the next token may see: its document's, at most A back */
        for (int t = 0; t < T; t++) {
            if (t < s->seg_start[b] || (size_t)t + A < (size_t)T) continue;
            size_t slot = (size_t)t % A;
            memcpy(s->kc[l] + ((size_t)b * A + slot) * K, a->k + (r * T + t) * K, sizeof(float) * K);
            memcpy(s->vc[l] + ((size_t)b * A + slot) * K, a->v + (r * T + t) * K, sizeof(float) * K);
        }
    }
}

const float *decode_prefill(DecodeState *s, GriffinModel *m, const int *tokens, const int *pos, int T) {
    CHECK(m->params == s->m->params, "decode_prefill: the state belongs to another model");
    CHECK(griffin_weight_format(m) == griffin_weight_format(s->m), "decode_prefill: the models store different weights");
    decode_reset(s);
    size_t D = m->cfg.width, V = m->cfg.vocab_size;
    WeightView table = griffin_weight(m, m->table.embed);
    float *last = mallocCheck(sizeof(float) * D * (size_t)(s->B < m->max_B ? s->B : m->max_B));
    /* in chunks of the rows m holds activations for */
    for (int b0 = 0; b0 < s->B; b0 += m->max_B) {
        int nb = s->B - b0 < m->max_B ? s->B - b0 : m->max_B;
        const float *h = griffin_forward_hidden(m, tokens + (size_t)b0 * T, pos + (size_t)b0 * T, nb, T);
        /* the logits of each row's last position only, by the decode step's unembedding */
        for (int b = b0; b < b0 + nb; b++) {
            prefill_row(s, b, pos + (size_t)b * T, T);
            memcpy(last + (size_t)(b - b0) * D, h + ((size_t)(b - b0) * T + T - 1) * D, sizeof(float) * D);
        }
        gemv_view(s->logits + (size_t)b0 * V, last, &table, 0, NULL, nb);
        softcap_forward(s->logits + (size_t)b0 * V, m->cfg.soft_cap, (size_t)nb * V);
        for (int l = 0; l < m->cfg.depth; l++) {
            griffin_layer_activations(m, l); /* a recomputing model holds one layer's at a time */
            for (int b = b0; b < b0 + nb; b++)
                prefill_layer_row(s, m, l, b, (size_t)(b - b0), pos + (size_t)b * T, T);
        }
    }
    free(last);
    return s->logits;
}

void decode_copy_row(DecodeState *dst, int b_dst, const DecodeState *src, int b_src) {
    const GriffinConfig *c = &src->m->cfg;
    CHECK(dst->m->params == src->m->params || dst->m->table.total == src->m->table.total,
          "decode_copy_row: states of different models");
    size_t D = c->width, E = c->lru_width, K = D / c->num_heads, A = c->window, V = c->vocab_size;
    for (int l = 0; l < c->depth; l++) {
        if (src->lru[l]) {
            memcpy(dst->lru[l] + b_dst * E, src->lru[l] + b_src * E, sizeof(float) * E);
            memcpy(dst->conv[l] + b_dst * (CW - 1) * E, src->conv[l] + b_src * (CW - 1) * E, sizeof(float) * (CW - 1) * E);
        } else {
            memcpy(dst->kc[l] + b_dst * A * K, src->kc[l] + b_src * A * K, sizeof(float) * A * K);
            memcpy(dst->vc[l] + b_dst * A * K, src->vc[l] + b_src * A * K, sizeof(float) * A * K);
        }
    }
    dst->n[b_dst] = src->n[b_src];
    dst->seg_start[b_dst] = src->seg_start[b_src];
    dst->next_pos[b_dst] = src->next_pos[b_src];
    memcpy(dst->logits + b_dst * V, src->logits + b_src * V, sizeof(float) * V);
}

/* y [B,NO] = x [B,NI] · wᵀ + b for layer l's weight slot (part p of it) as the model stores
 * it: fp32, bf16 or int8 (gemv_view) */
static void step_linear(const DecodeState *s, float *y, const float *x, int l, ParamSlot slot, int p,
                        const float *b, int B) {
    const GriffinModel *m = s->m;
    int wi = m->table.slot_index[l * P_NUM_SLOTS + slot];
    WeightView w = griffin_weight(m, wi);
    gemv_view(y, x, &w, p, b, B);
    if (!m->lora_active) return;
    int ia = lora_tensor_of_slot(&m->table, l, slot, 0), ib = lora_tensor_of_slot(&m->table, l, slot, 1);
    if (ia < 0) return;
    const TensorInfo *W = &m->table.t[wi];
    int up = slot == P_UP_W, NI = W->shape[1], NO = up ? W->shape[2] : W->shape[0], r = m->cfg.lora_rank;
    const float *A = m->params + m->table.t[ia].offset + (size_t)p * r * NI;
    const float *Bm = m->params + m->table.t[ib].offset + (size_t)p * NO * r;
    lora_forward(y, s->lora_u, x, A, Bm, m->cfg.lora_alpha / (float)r, B, NI, NO, r);
}

/* mlp_forward (mlp.c) with the decode products: x [B,D]; layer l's w_up [2,D,F], b_up [2,F];
 * w_down [D,F], b_down [D]; scratch gate, up [B,F]
 * out [B,D] = (gelu(x·w_up[0] + b_up[0]) ⊙ (x·w_up[1] + b_up[1])) · w_downᵀ + b_down */
static void mlp_step(const DecodeState *s, int l, float *out, float *gate, float *up, const float *x,
                     const float *b_up, const float *b_down, int B, int F) {
    step_linear(s, gate, x, l, P_UP_W, 0, b_up, B);
    step_linear(s, up, x, l, P_UP_W, 1, b_up + F, B);
    vm_gelu_mul(gate, gate, up, (size_t)B * F); /* in place: each element read before it is written */
    step_linear(s, out, gate, l, P_DOWN_W, 0, b_down, B);
}

const float *decode_step(DecodeState *s, const int *tokens) {
    const GriffinModel *m = s->m;
    const GriffinConfig *c = &m->cfg;
    const ParamTable *pt = &m->table;
    int B = s->B, D = c->width, E = c->lru_width, F = c->mlp_width, H = c->num_heads, K = D / H, V = c->vocab_size;
    size_t BD = (size_t)B * D, BE = (size_t)B * E;
    WeightView table = griffin_weight(m, pt->embed);
    for (int b = 0; b < B; b++) {
        CHECK(tokens[b] >= 0 && tokens[b] < V, "decode_step: token %d outside the vocabulary", tokens[b]);
        s->pos[b] = s->next_pos[b];
    }
    weight_embed(s->x, tokens, &table, c->embed_scale ? embed_scale_value(D) : 1.0f, B);
    for (int l = 0; l < c->depth; l++) {
        LayerPtrs w;
        layer_ptrs(pt, m->params, l, &w);
        rmsnorm_forward(s->tn, s->rstd, s->x, w.p[P_TEMPORAL_NORM], B, D);
        if (c->block_types[l] == BLOCK_RECURRENT) {
            float *y = s->s[0], *xb = s->s[1], *cv = s->s[2], *o = s->s[3];
            step_linear(s, y, s->tn, l, P_LIN_Y_W, 0, w.p[P_LIN_Y_B], B);
            step_linear(s, xb, s->tn, l, P_LIN_X_W, 0, w.p[P_LIN_X_B], B);
            conv1d_step(cv, s->conv[l], xb, w.p[P_CONV_W], w.p[P_CONV_B], B, E);
            rglru_step(o, s->lru[l], s->s[4], s->s[5], cv, s->pos, w.p[P_A_PARAM], w.p[P_IGATE_W], w.p[P_IGATE_B],
                       w.p[P_AGATE_W], w.p[P_AGATE_B], B, E, H);
            vm_gelu_mul(o, y, o, BE);
            step_linear(s, s->res, o, l, P_LIN_OUT_W, 0, w.p[P_LIN_OUT_B], B);
        } else {
            step_linear(s, s->q, s->tn, l, P_Q_W, 0, NULL, B);
            step_linear(s, s->k, s->tn, l, P_K_W, 0, NULL, B);
            step_linear(s, s->v, s->tn, l, P_V_W, 0, NULL, B);
            rope_forward(s->q, s->pos, B, H, K);
            rope_forward(s->k, s->pos, B, 1, K);
            attention_step(s->att, s->kc[l], s->vc[l], s->q, s->k, s->v, s->n, s->seg_start, B, H, K, c->window);
            step_linear(s, s->res, s->att, l, P_FINAL_W, 0, w.p[P_FINAL_B], B);
        }
        for (size_t i = 0; i < BD; i++) s->res[i] += s->x[i];
        rmsnorm_forward(s->tn, s->rstd, s->res, w.p[P_CHANNEL_NORM], B, D);
        mlp_step(s, l, s->x, s->s[0], s->s[1], s->tn, w.p[P_UP_B], w.p[P_DOWN_B], B, F);
        for (size_t i = 0; i < BD; i++) s->x[i] += s->res[i];
    }
    rmsnorm_forward(s->tn, s->rstd, s->x, m->params + pt->t[pt->final_norm].offset, B, D);
    gemv_view(s->logits, s->tn, &table, 0, NULL, B);
    softcap_forward(s->logits, c->soft_cap, (size_t)B * V);
    for (int b = 0; b < B; b++) {
        s->n[b]++;
        s->next_pos[b]++;
    }
    return s->logits;
}
