/* Model assembly: embedding → residual blocks → final norm → tied unembedding → soft cap,
 * and the backward pass in exact reverse (docs/architecture.md §2, §5, §7, §8).
 * Pitfall 19: the temporal block's output is added to the un-normalised input, and the MLP
 * normalises that sum. */
#include "common/sys.h"
#include "griffin.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/check.h"
#include "layers.h"
#include "lora.h"
#include "vmath.h"

const char *const prof_kind_name[PROF_NUM] = {"embedding", "norms", "mlp", "recurrent linears", "conv1d",
                                               "rg-lru", "attention linears", "attention core", "loss+unembed",
                                               "residual/other"};

/* profiling: t holds the time of the last mark; toc charges the time since to a kind */
static double tic(const GriffinModel *m) { return m->profile ? now_seconds() : 0.0; }
static void toc(GriffinModel *m, ProfKind k, int dir, double *t) {
    if (!m->profile) return;
    double n = now_seconds();
    m->prof[k][dir] += n - *t;
    *t = n;
}

/* Arena carving: the first pass (base == NULL) only counts, the second hands out pointers. */
typedef struct {
    float *base;
    size_t used;
} Carver;

static float *carve(Carver *c, size_t n) {
    size_t start = c->used;
    c->used += (n + 15) / 16 * 16; /* keep 64-byte alignment */
    return c->base ? c->base + start : NULL;
}

/* the buffers every block has besides its input: norms, residual, MLP */
static void carve_common(LayerActs *a, Carver *cv, size_t N, size_t D, size_t F) {
    a->tn_rstd = carve(cv, N);
    a->tn_out = carve(cv, N * D);
    a->resid = carve(cv, N * D);
    a->cn_rstd = carve(cv, N);
    a->cn_out = carve(cv, N * D);
    a->gate_pre = carve(cv, N * F);
    a->up_pre = carve(cv, N * F);
    a->mprod = carve(cv, N * F);
}

static void share_common(LayerActs *a, const LayerActs *s) {
    a->tn_rstd = s->tn_rstd, a->tn_out = s->tn_out, a->resid = s->resid;
    a->cn_rstd = s->cn_rstd, a->cn_out = s->cn_out;
    a->gate_pre = s->gate_pre, a->up_pre = s->up_pre, a->mprod = s->mprod;
}

/* the temporal block's own buffers */
static void carve_block(LayerActs *a, Carver *cv, int recurrent, size_t N, size_t D, size_t E, size_t K,
                        size_t band) {
    if (recurrent) {
        a->y_pre = carve(cv, N * E);
        a->x_br = carve(cv, N * E);
        a->conv = carve(cv, N * E);
        a->gx = carve(cv, N * E);
        a->ga = carve(cv, N * E);
        a->lru = carve(cv, N * E);
        a->rprod = carve(cv, N * E);
    } else {
        a->q = carve(cv, N * D);
        a->k = carve(cv, N * K);
        a->v = carve(cv, N * K);
        a->probs = carve(cv, band);
        a->att = carve(cv, N * D);
    }
}

static void layout(GriffinModel *m, Carver *cv) {
    const GriffinConfig *c = &m->cfg;
    size_t N = (size_t)m->max_B * m->max_T;
    size_t D = c->width, E = c->lru_width, F = c->mlp_width, H = c->num_heads, K = D / H, V = c->vocab_size;
    size_t band = (size_t)m->max_B * H * m->max_T * (size_t)attention_band(m->max_T, c->window);
    size_t S = D > E ? D : E;
    S = S > F ? S : F;
    for (int l = 0; l < c->depth; l++) {
        LayerActs *a = &m->layers[l];
        int first = 0; /* the first layer of l's block type */
        while (c->block_types[first] != c->block_types[l]) first++;
        memset(a, 0, sizeof *a);
        /* recompute: every layer keeps its own input only; the common buffers are layer 0's and
         * the block type's those of the type's first layer */
        if (m->recompute && first < l) {
            *a = m->layers[first];
        } else {
            if (m->recompute && l > 0) share_common(a, &m->layers[0]);
            else carve_common(a, cv, N, D, F);
            carve_block(a, cv, c->block_types[l] == BLOCK_RECURRENT, N, D, E, K, band);
        }
        a->x_in = carve(cv, N * D);
    }
    m->x_final = carve(cv, N * D);
    m->fn_rstd = carve(cv, N);
    m->fn_out = carve(cv, N * D);
    size_t NL = m->chunked_loss && (size_t)m->loss_rows < N ? (size_t)m->loss_rows : N; /* logit rows held */
    m->logits = carve(cv, NL * V);
    m->lse = carve(cv, N);
    m->row_weight = carve(cv, N);
    size_t R = (size_t)c->lora_rank;
    if (R) m->lora_u = carve(cv, N * R);
    if (m->inference_only) return; /* no backward buffers (and no dropout) */
    if (R && c->lora_dropout > 0) m->drop_x = carve(cv, N * S), m->drop_dx = carve(cv, N * S);
    m->dlogits = carve(cv, NL * V);
    m->d_res = carve(cv, N * D);
    m->d_norm = carve(cv, N * D);
    for (int i = 0; i < 7; i++) m->d_s[i] = carve(cv, N * S);
    m->d_k = carve(cv, N * K);
    m->d_v = carve(cv, N * K);
    m->d_scores = carve(cv, band);
    if (R) m->lora_du = carve(cv, N * R);
}

GriffinModel *griffin_create(const GriffinConfig *cfg, int max_B, int max_T, uint64_t seed) {
    return griffin_create_ex(cfg, max_B, max_T, seed, 0);
}

/* the flags, config and sizes of a model, before anything large is allocated */
static void shape(GriffinModel *m, const GriffinConfig *cfg, int max_B, int max_T, int flags) {
    CHECK(max_B > 0 && max_T > 0, "griffin_create: batch %d x %d must be positive", max_B, max_T);
    m->inference_only = (flags & GRIFFIN_INFERENCE) != 0;
    m->recompute = (flags & GRIFFIN_RECOMPUTE) != 0 && !m->inference_only;
    m->chunked_loss = (flags & GRIFFIN_CHUNKED_LOSS) != 0;
    m->acts_layer = -1;
    m->cfg = *cfg;
    const char *err = config_finalize(&m->cfg);
    CHECK(!err, "model config: %s", err);
    /* 32 MiB of logits per chunk (1024 rows at V 8192), but at least 256 rows: at V 256,000 the
     * 32 rows of 32 MiB made the unembedding 56% of a 2B LoRA step (GEMMs of M = 32) */
    int rows = (1 << 23) / m->cfg.vocab_size;
    m->loss_rows = rows < 256 ? 256 : rows > 1024 ? 1024 : rows;
    m->max_B = max_B;
    m->max_T = max_T;
    m->lora_active = m->cfg.lora_rank > 0;
}

size_t griffin_arena_bytes(const GriffinConfig *cfg, int max_B, int max_T, int flags) {
    GriffinModel m = {0};
    shape(&m, cfg, max_B, max_T, flags);
    m.layers = callocCheck((size_t)m.cfg.depth, sizeof(LayerActs));
    Carver count = {NULL, 0};
    layout(&m, &count);
    free(m.layers);
    return count.used * sizeof(float);
}

/* the activation arena and the input copies for (max_B, max_T) */
static void alloc_arena(GriffinModel *m) {
    m->layers = callocCheck((size_t)m->cfg.depth, sizeof(LayerActs));
    Carver count = {NULL, 0};
    layout(m, &count);
    m->arena_floats = count.used;
    m->arena = alignedCallocCheck(count.used * sizeof(float));
    Carver real = {m->arena, 0};
    layout(m, &real);
    size_t N = (size_t)m->max_B * m->max_T;
    m->tokens = mallocCheck(N * sizeof(int));
    m->targets = mallocCheck(N * sizeof(int));
    m->pos = mallocCheck(N * sizeof(int));
    m->mask = mallocCheck(N);
}

static void free_arena(GriffinModel *m) {
    free(m->arena);
    free(m->layers);
    free(m->tokens);
    free(m->targets);
    free(m->pos);
    free(m->mask);
}

GriffinModel *griffin_create_ex(const GriffinConfig *cfg, int max_B, int max_T, uint64_t seed, int flags) {
    GriffinModel *m = callocCheck(1, sizeof *m);
    shape(m, cfg, max_B, max_T, flags);
    param_table_build(&m->table, &m->cfg);
    m->params = alignedCallocCheck(m->table.total * sizeof(float));
    m->grads = NULL; /* allocated at first use, once the trainable set says how large (grads_buffer) */
    m->grad_floats = m->inference_only ? 0 : m->table.total;
    params_init(&m->table, m->params, seed);
    alloc_arena(m);
    return m;
}

void griffin_reshape(GriffinModel *m, int max_B, int max_T, int flags) {
    GriffinConfig c = m->cfg;
    int active = m->lora_active, was_inference = m->inference_only;
    free_arena(m);
    shape(m, &c, max_B, max_T, flags);
    m->lora_active = active;
    if (m->inference_only) { /* no gradients from here on */
        free(m->grads);
        m->grads = NULL;
        m->grad_floats = 0;
    } else if (was_inference) {
        CHECK(!m->frozen, "griffin_reshape: set the trainable set again after making an inference model trainable");
        m->grad_floats = m->table.total;
    }
    alloc_arena(m);
}

void griffin_free(GriffinModel *m) {
    if (!m) return;
    narrow_weights_free(m->narrow);
    param_table_free(&m->table);
    free(m->params);
    free(m->grads);
    free_arena(m);
    free(m->frozen);
    free(m->grad_off);
    free(m);
}

size_t griffin_activation_bytes(const GriffinModel *m) { return m->arena_floats * sizeof(float); }

/* the gradient buffer, allocated (zeroed) at first use: a model whose base is frozen never holds
 * a gradient of the whole table, not even while it is being set up */
static float *grads_buffer(GriffinModel *m) {
    CHECK(!m->inference_only, "griffin: an inference-only model has no gradients");
    if (!m->grads) m->grads = alignedCallocCheck(m->grad_floats * sizeof(float));
    return m->grads;
}

void griffin_zero_grad(GriffinModel *m) { memset(grads_buffer(m), 0, m->grad_floats * sizeof(float)); }

void griffin_set_trainable(GriffinModel *m, const uint8_t *on) {
    free(m->frozen);
    free(m->grad_off);
    m->frozen = NULL;
    m->grad_off = NULL;
    size_t n = m->table.total;
    if (on) {
        m->frozen = mallocCheck((size_t)m->table.count);
        m->grad_off = mallocCheck(sizeof(size_t) * (size_t)m->table.count);
        n = 0;
        for (int i = 0; i < m->table.count; i++) {
            m->frozen[i] = !on[i];
            m->grad_off[i] = n;
            if (on[i]) n += m->table.t[i].numel;
        }
    }
    if (m->inference_only || n == m->grad_floats) return;
    free(m->grads);
    m->grads = NULL; /* reallocated at its new size at first use */
    m->grad_floats = n;
}

float *griffin_grad_of(GriffinModel *m, int i) {
    if (m->frozen && m->frozen[i]) return NULL;
    return grads_buffer(m) + (m->grad_off ? m->grad_off[i] : m->table.t[i].offset);
}

void griffin_set_logits_hook(GriffinModel *m, GriffinLogitsHook hook, void *ctx) {
    m->logits_hook = hook;
    m->logits_ctx = hook ? ctx : NULL;
}

void griffin_set_profile(GriffinModel *m, int on) { m->profile = on != 0; }

/* layer l's gradient pointers, NULL for frozen tensors (the kernels skip those) */
static void grad_ptrs(GriffinModel *m, int l, LayerPtrs *g) {
    for (int s = 0; s < P_NUM_SLOTS; s++) {
        int i = m->table.slot_index[l * P_NUM_SLOTS + s];
        g->p[s] = i < 0 ? NULL : griffin_grad_of(m, i);
    }
}

int griffin_set_weights(GriffinModel *m, WeightFormat f) {
    narrow_weights_free(m->narrow);
    m->narrow = NULL;
    if (f == WEIGHTS_FP32) return -1;
    int bad;
    m->narrow = narrow_weights_create(&m->table, m->params, f, &bad);
    return m->narrow ? -1 : bad;
}

WeightFormat griffin_weight_format(const GriffinModel *m) { return narrow_weights_format(m->narrow); }

WeightView griffin_weight(const GriffinModel *m, int t) { return narrow_weights_view(m->narrow, &m->table, m->params, t); }

/* the fp32 matrix of layer l's slot s for a GEMM: the parameter w->p[s], or its narrow copy
 * dequantised into the one scratch (valid until the next call) */
static const float *layer_matrix(const GriffinModel *m, const LayerPtrs *w, int l, ParamSlot s) {
    if (!m->narrow) return w->p[s];
    WeightView v = griffin_weight(m, m->table.slot_index[l * P_NUM_SLOTS + s]);
    return weight_f32(&v, narrow_weights_scratch(m->narrow));
}

static void recurrent_forward(GriffinModel *m, int l, LayerActs *a, LayerPtrs *w, float *out) {
    const GriffinConfig *c = &m->cfg;
    int N = m->B * m->T, D = c->width, E = c->lru_width;
    size_t NE = (size_t)N * E;
    double t = tic(m);
    gemm_profile_kind(GEMM_REC_LINEAR, 0);
    linear_forward(a->y_pre, a->tn_out, layer_matrix(m, w, l, P_LIN_Y_W), w->p[P_LIN_Y_B], N, D, E);
    lora_adapt_forward(m, l, LORA_LIN_Y, 0, a->y_pre, a->tn_out, D, E);
    linear_forward(a->x_br, a->tn_out, layer_matrix(m, w, l, P_LIN_X_W), w->p[P_LIN_X_B], N, D, E);
    lora_adapt_forward(m, l, LORA_LIN_X, 0, a->x_br, a->tn_out, D, E);
    toc(m, PROF_REC_LINEAR, 0, &t);
    conv1d_forward(a->conv, a->x_br, m->pos, w->p[P_CONV_W], w->p[P_CONV_B], m->B, m->T, E);
    toc(m, PROF_CONV, 0, &t);
    gemm_profile_kind(GEMM_GATES, 0);
    rglru_forward(a->lru, a->gx, a->ga, a->conv, m->pos, w->p[P_A_PARAM], w->p[P_IGATE_W],
                  w->p[P_IGATE_B], w->p[P_AGATE_W], w->p[P_AGATE_B], m->B, m->T, E, c->num_heads);
    toc(m, PROF_RGLRU, 0, &t);
    vm_gelu_mul(a->rprod, a->y_pre, a->lru, NE); /* GeLU(y branch) ⊙ RG-LRU */
    gemm_profile_kind(GEMM_REC_LINEAR, 0);
    linear_forward(out, a->rprod, layer_matrix(m, w, l, P_LIN_OUT_W), w->p[P_LIN_OUT_B], N, E, D);
    lora_adapt_forward(m, l, LORA_LIN_OUT, 0, out, a->rprod, E, D);
    toc(m, PROF_REC_LINEAR, 0, &t);
}

static void attention_block_forward(GriffinModel *m, int l, LayerActs *a, LayerPtrs *w, float *out) {
    const GriffinConfig *c = &m->cfg;
    int N = m->B * m->T, D = c->width, H = c->num_heads, K = D / H;
    double t = tic(m);
    gemm_profile_kind(GEMM_ATT_QKV, 0);
    linear_forward(a->q, a->tn_out, layer_matrix(m, w, l, P_Q_W), NULL, N, D, D);
    lora_adapt_forward(m, l, LORA_Q, 0, a->q, a->tn_out, D, D);
    linear_forward(a->k, a->tn_out, layer_matrix(m, w, l, P_K_W), NULL, N, D, K);
    lora_adapt_forward(m, l, LORA_K, 0, a->k, a->tn_out, D, K);
    linear_forward(a->v, a->tn_out, layer_matrix(m, w, l, P_V_W), NULL, N, D, K);
    lora_adapt_forward(m, l, LORA_V, 0, a->v, a->tn_out, D, K);
    rope_forward(a->q, m->pos, N, H, K);
    rope_forward(a->k, m->pos, N, 1, K);
    toc(m, PROF_ATT_LINEAR, 0, &t);
    attention_forward(a->att, a->probs, a->q, a->k, a->v, m->pos, m->B, m->T, H, K, c->window);
    toc(m, PROF_ATTENTION, 0, &t);
    gemm_profile_kind(GEMM_ATT_OUT, 0);
    linear_forward(out, a->att, layer_matrix(m, w, l, P_FINAL_W), w->p[P_FINAL_B], N, D, D);
    lora_adapt_forward(m, l, LORA_FINAL, 0, out, a->att, D, D);
    toc(m, PROF_ATT_LINEAR, 0, &t);
}

static void check_inputs(GriffinModel *m, const int *tokens, const int *targets, const int *pos,
                         const uint8_t *mask, int B, int T) {
    int V = m->cfg.vocab_size, N = B * T;
    CHECK(B > 0 && T > 0 && B <= m->max_B && T <= m->max_T,
          "griffin_forward: batch %d x %d exceeds the allocated %d x %d", B, T, m->max_B, m->max_T);
    m->B = B;
    m->T = T;
    for (int n = 0; n < N; n++) {
        CHECK(tokens[n] >= 0 && tokens[n] < V, "token %d at row %d outside the vocabulary (%d)", tokens[n], n, V);
        m->tokens[n] = tokens[n];
        m->pos[n] = pos[n];
        m->mask[n] = mask ? (mask[n] != 0) : 1;
        if (targets) {
            CHECK(!m->mask[n] || (targets[n] >= 0 && targets[n] < V),
                  "target %d at row %d outside the vocabulary (%d)", targets[n], n, V);
            m->targets[n] = m->mask[n] ? targets[n] : 0;
        }
    }
    m->has_targets = targets != NULL;
}

/* Block l from its input a->x_in: its activations, and next [N,D] = its output. With
 * next == NULL (backward's recomputation) it stops once backward's inputs are in place: the
 * MLP's down projection and the residual add are left out. */
static void layer_forward(GriffinModel *m, int l, float *next) {
    const GriffinConfig *c = &m->cfg;
    int N = m->B * m->T, D = c->width;
    size_t ND = (size_t)N * D;
    LayerActs *a = &m->layers[l];
    LayerPtrs w;
    layer_ptrs(&m->table, m->params, l, &w);
    double t = tic(m);
    rmsnorm_forward(a->tn_out, a->tn_rstd, a->x_in, w.p[P_TEMPORAL_NORM], N, D);
    toc(m, PROF_NORM, 0, &t);
    if (c->block_types[l] == BLOCK_RECURRENT) recurrent_forward(m, l, a, &w, a->resid);
    else attention_block_forward(m, l, a, &w, a->resid);
    t = tic(m);
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < ND; i++) a->resid[i] += a->x_in[i];
    toc(m, PROF_OTHER, 0, &t);
    rmsnorm_forward(a->cn_out, a->cn_rstd, a->resid, w.p[P_CHANNEL_NORM], N, D);
    toc(m, PROF_NORM, 0, &t);
    m->acts_layer = l;
    /* mlp_forward, with one weight matrix at a time */
    int F = c->mlp_width;
    gemm_profile_kind(GEMM_MLP_UP, 0);
    mlp_up_products(a->gate_pre, a->up_pre, a->cn_out, layer_matrix(m, &w, l, P_UP_W), w.p[P_UP_B], N, D, F);
    lora_adapt_forward(m, l, LORA_UP, 0, a->gate_pre, a->cn_out, D, F);
    lora_adapt_forward(m, l, LORA_UP, 1, a->up_pre, a->cn_out, D, F);
    vm_gelu_mul(a->mprod, a->gate_pre, a->up_pre, (size_t)N * F);
    if (!next) {
        toc(m, PROF_MLP, 0, &t);
        return;
    }
    gemm_profile_kind(GEMM_MLP_DOWN, 0);
    linear_forward(next, a->mprod, layer_matrix(m, &w, l, P_DOWN_W), w.p[P_DOWN_B], N, F, D);
    lora_adapt_forward(m, l, LORA_DOWN, 0, next, a->mprod, F, D);
    toc(m, PROF_MLP, 0, &t);
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < ND; i++) next[i] += a->resid[i];
    toc(m, PROF_OTHER, 0, &t);
}

/* embedding → blocks → final norm: leaves m->fn_out [N,D] */
static void forward_trunk(GriffinModel *m) {
    const GriffinConfig *c = &m->cfg;
    int N = m->B * m->T, D = c->width;
    float *x = m->layers[0].x_in;
    double t = tic(m);
    WeightView table = griffin_weight(m, m->table.embed);
    weight_embed(x, m->tokens, &table, c->embed_scale ? embed_scale_value(D) : 1.0f, N);
    toc(m, PROF_EMBED, 0, &t);
    for (int l = 0; l < c->depth; l++) layer_forward(m, l, l + 1 < c->depth ? m->layers[l + 1].x_in : m->x_final);
    t = tic(m);
    rmsnorm_forward(m->fn_out, m->fn_rstd, m->x_final, m->params + m->table.t[m->table.final_norm].offset, N, D);
    toc(m, PROF_NORM, 0, &t);
}

void griffin_layer_activations(GriffinModel *m, int l) {
    CHECK(l >= 0 && l < m->cfg.depth, "griffin_layer_activations: layer %d of %d", l, m->cfg.depth);
    if (m->recompute && m->acts_layer != l) layer_forward(m, l, NULL);
}

/* soft-capped logits of rows [r0, r0+nr): into m->logits at row r0, or at its start when the
 * logits are chunked; the same gemm call either way */
static float *loss_logits(GriffinModel *m, int r0, int nr) {
    const GriffinConfig *c = &m->cfg;
    int D = c->width, V = c->vocab_size;
    float *lg = m->chunked_loss ? m->logits : m->logits + (size_t)r0 * V;
    const float *x = m->fn_out + (size_t)r0 * D;
    if (!m->narrow) {
        gemm(0, 1, nr, V, D, x, D, m->params + m->table.t[m->table.embed].offset, D, 0.0f, lg, V);
    } else { /* the narrow table in blocks of rows, dequantised into the scratch one at a time */
        WeightView tv = griffin_weight(m, m->table.embed);
        int vb = narrow_weights_table_rows(m->narrow, D);
        for (int v0 = 0; v0 < V; v0 += vb) {
            int nv = V - v0 < vb ? V - v0 : vb;
            const float *tb = weight_rows_f32(&tv, v0, nv, narrow_weights_scratch(m->narrow));
            gemm(0, 1, nr, nv, D, x, D, tb, D, 0.0f, lg + v0, V);
        }
    }
    softcap_forward(lg, c->soft_cap, (size_t)nr * V);
    return lg;
}

const float *griffin_forward_hidden(GriffinModel *m, const int *tokens, const int *pos, int B, int T) {
    check_inputs(m, tokens, NULL, pos, NULL, B, T);
    forward_trunk(m);
    return m->fn_out;
}

float griffin_forward(GriffinModel *m, const int *tokens, const int *targets, const int *pos,
                      const uint8_t *mask, int B, int T) {
    const GriffinConfig *c = &m->cfg;
    check_inputs(m, tokens, targets, pos, mask, B, T);
    forward_trunk(m);
    int N = B * T, V = c->vocab_size;
    CHECK(targets || !m->chunked_loss, "griffin_forward: a GRIFFIN_CHUNKED_LOSS model keeps no logits: give targets");
    double t = tic(m);
    gemm_profile_kind(GEMM_UNEMBED, 0);
    m->loss = 0.0f;
    m->loss_count = 0.0;
    double total = 0.0;
    for (int r0 = 0; r0 < N; r0 += m->loss_rows) {
        int nr = N - r0 < m->loss_rows ? N - r0 : m->loss_rows;
        float *lg = loss_logits(m, r0, nr);
        if (!targets) continue;
        total += crossentropy_forward(m->lse + r0, lg, m->targets + r0, m->mask + r0, nr, V);
        if (m->logits_hook) m->logits_hook(m->logits_ctx, m, lg, r0, nr);
    }
    if (targets) {
        for (int n = 0; n < N; n++) m->loss_count += m->mask[n];
        m->loss = m->loss_count > 0 ? (float)(total / m->loss_count) : 0.0f;
    }
    toc(m, PROF_LOSS, 0, &t);
    return m->loss;
}

static void recurrent_backward(GriffinModel *m, int l, LayerActs *a, LayerPtrs *w, LayerPtrs *g,
                               const float *dout, float *dnorm) {
    const GriffinConfig *c = &m->cfg;
    int N = m->B * m->T, D = c->width, E = c->lru_width;
    size_t NE = (size_t)N * E;
    float *d_rprod = m->d_s[0], *d_lru = m->d_s[1], *d_conv = m->d_s[2], *d_xbr = m->d_s[3];
    float *d_ypre = m->d_s[4], *d_prex = m->d_s[5], *d_prea = m->d_s[6];
    double t = tic(m);
    gemm_profile_kind(GEMM_REC_LINEAR, 1);
    memset(d_rprod, 0, NE * sizeof(float));
    linear_backward(d_rprod, g->p[P_LIN_OUT_W], g->p[P_LIN_OUT_B], dout, a->rprod, w->p[P_LIN_OUT_W], N, E, D);
    lora_adapt_backward(m, l, LORA_LIN_OUT, 0, d_rprod, dout, a->rprod, E, D);
    vm_gelu_mul_backward(d_ypre, d_lru, d_rprod, a->y_pre, a->lru, NE);
    memset(d_conv, 0, NE * sizeof(float));
    toc(m, PROF_REC_LINEAR, 1, &t);
    gemm_profile_kind(GEMM_GATES, 1);
    rglru_backward(d_conv, g->p[P_A_PARAM], g->p[P_IGATE_W], g->p[P_IGATE_B], g->p[P_AGATE_W], g->p[P_AGATE_B],
                   d_prex, d_prea, d_lru, a->lru, a->gx, a->ga, a->conv, m->pos, w->p[P_A_PARAM],
                   w->p[P_IGATE_W], w->p[P_AGATE_W], m->B, m->T, E, c->num_heads);
    toc(m, PROF_RGLRU, 1, &t);
    memset(d_xbr, 0, NE * sizeof(float));
    conv1d_backward(d_xbr, g->p[P_CONV_W], g->p[P_CONV_B], d_conv, a->x_br, m->pos, w->p[P_CONV_W], m->B, m->T, E);
    toc(m, PROF_CONV, 1, &t);
    gemm_profile_kind(GEMM_REC_LINEAR, 1);
    linear_backward(dnorm, g->p[P_LIN_X_W], g->p[P_LIN_X_B], d_xbr, a->tn_out, w->p[P_LIN_X_W], N, D, E);
    lora_adapt_backward(m, l, LORA_LIN_X, 0, dnorm, d_xbr, a->tn_out, D, E);
    linear_backward(dnorm, g->p[P_LIN_Y_W], g->p[P_LIN_Y_B], d_ypre, a->tn_out, w->p[P_LIN_Y_W], N, D, E);
    lora_adapt_backward(m, l, LORA_LIN_Y, 0, dnorm, d_ypre, a->tn_out, D, E);
    toc(m, PROF_REC_LINEAR, 1, &t);
}

static void attention_block_backward(GriffinModel *m, int l, LayerActs *a, LayerPtrs *w, LayerPtrs *g,
                                     const float *dout, float *dnorm) {
    const GriffinConfig *c = &m->cfg;
    int N = m->B * m->T, D = c->width, H = c->num_heads, K = D / H;
    size_t ND = (size_t)N * D, NK = (size_t)N * K;
    float *d_att = m->d_s[0], *d_q = m->d_s[1];
    double t = tic(m);
    gemm_profile_kind(GEMM_ATT_OUT, 1);
    memset(d_att, 0, ND * sizeof(float));
    linear_backward(d_att, g->p[P_FINAL_W], g->p[P_FINAL_B], dout, a->att, w->p[P_FINAL_W], N, D, D);
    lora_adapt_backward(m, l, LORA_FINAL, 0, d_att, dout, a->att, D, D);
    memset(d_q, 0, ND * sizeof(float));
    memset(m->d_k, 0, NK * sizeof(float));
    memset(m->d_v, 0, NK * sizeof(float));
    toc(m, PROF_ATT_LINEAR, 1, &t);
    attention_backward(d_q, m->d_k, m->d_v, m->d_scores, d_att, a->probs, a->q, a->k, a->v, m->pos,
                       m->B, m->T, H, K, c->window);
    toc(m, PROF_ATTENTION, 1, &t);
    rope_backward(d_q, m->pos, N, H, K);
    rope_backward(m->d_k, m->pos, N, 1, K);
    gemm_profile_kind(GEMM_ATT_QKV, 1);
    linear_backward(dnorm, g->p[P_Q_W], NULL, d_q, a->tn_out, w->p[P_Q_W], N, D, D);
    lora_adapt_backward(m, l, LORA_Q, 0, dnorm, d_q, a->tn_out, D, D);
    linear_backward(dnorm, g->p[P_K_W], NULL, m->d_k, a->tn_out, w->p[P_K_W], N, D, K);
    lora_adapt_backward(m, l, LORA_K, 0, dnorm, m->d_k, a->tn_out, D, K);
    linear_backward(dnorm, g->p[P_V_W], NULL, m->d_v, a->tn_out, w->p[P_V_W], N, D, K);
    lora_adapt_backward(m, l, LORA_V, 0, dnorm, m->d_v, a->tn_out, D, K);
    toc(m, PROF_ATT_LINEAR, 1, &t);
}

void griffin_backward(GriffinModel *m) {
    griffin_backward_scaled(m, m->loss_count > 0 ? (float)(1.0 / m->loss_count) : 0.0f);
}

void griffin_backward_scaled(GriffinModel *m, float scale) {
    int N = m->B * m->T;
    for (int n = 0; n < N; n++) m->row_weight[n] = m->mask[n] ? scale : 0.0f;
    griffin_backward_weighted(m, m->row_weight);
}

/* dL/d fn_out [N,D] in m->d_norm → final norm, blocks in reverse, embedding */
static void backward_trunk(GriffinModel *m) {
    const GriffinConfig *c = &m->cfg;
    int N = m->B * m->T, D = c->width, F = c->mlp_width;
    size_t ND = (size_t)N * D;
    const ParamTable *pt = &m->table;
    float *dtable = griffin_grad_of(m, pt->embed);
    double t = tic(m);
    memset(m->d_res, 0, ND * sizeof(float));
    rmsnorm_backward(m->d_res, griffin_grad_of(m, pt->final_norm), m->d_norm, m->x_final, m->fn_rstd,
                     m->params + pt->t[pt->final_norm].offset, N, D);
    toc(m, PROF_NORM, 1, &t);

    /* m->d_res holds dL/d(block output); each block turns it into dL/d(block input) */
    for (int l = c->depth - 1; l >= 0; l--) {
        /* recompute: the shared buffers hold the last layer run (the top one, right after
         * the forward); any other layer's activations are recomputed from its input */
        griffin_layer_activations(m, l);
        t = tic(m);
        LayerActs *a = &m->layers[l];
        LayerPtrs w, g;
        layer_ptrs(pt, m->params, l, &w);
        grad_ptrs(m, l, &g);
        /* out = MLP(RMSNorm_c(resid)) + resid */
        memset(m->d_norm, 0, ND * sizeof(float));
        /* mlp_backward, with the adapters between its products */
        float *dprod = m->d_s[0], *dgate = m->d_s[1], *dup = m->d_s[2];
        memset(dprod, 0, (size_t)N * F * sizeof(float));
        gemm_profile_kind(GEMM_MLP_DOWN, 1);
        linear_backward(dprod, g.p[P_DOWN_W], g.p[P_DOWN_B], m->d_res, a->mprod, w.p[P_DOWN_W], N, F, D);
        lora_adapt_backward(m, l, LORA_DOWN, 0, dprod, m->d_res, a->mprod, F, D);
        vm_gelu_mul_backward(dgate, dup, dprod, a->gate_pre, a->up_pre, (size_t)N * F);
        mlp_backward_up(m->d_norm, g.p[P_UP_W], g.p[P_UP_B], dgate, dup, a->cn_out, w.p[P_UP_W], N, D, F);
        lora_adapt_backward(m, l, LORA_UP, 0, m->d_norm, dgate, a->cn_out, D, F);
        lora_adapt_backward(m, l, LORA_UP, 1, m->d_norm, dup, a->cn_out, D, F);
        toc(m, PROF_MLP, 1, &t);
        rmsnorm_backward(m->d_res, g.p[P_CHANNEL_NORM], m->d_norm, a->resid, a->cn_rstd, w.p[P_CHANNEL_NORM], N, D);
        /* resid = Temporal(RMSNorm_t(x_in)) + x_in */
        memset(m->d_norm, 0, ND * sizeof(float));
        toc(m, PROF_NORM, 1, &t);
        if (c->block_types[l] == BLOCK_RECURRENT) recurrent_backward(m, l, a, &w, &g, m->d_res, m->d_norm);
        else attention_block_backward(m, l, a, &w, &g, m->d_res, m->d_norm);
        t = tic(m);
        rmsnorm_backward(m->d_res, g.p[P_TEMPORAL_NORM], m->d_norm, a->x_in, a->tn_rstd, w.p[P_TEMPORAL_NORM], N, D);
        toc(m, PROF_NORM, 1, &t);
    }
    if (dtable) embedding_backward(dtable, m->d_res, m->tokens, c->embed_scale ? embed_scale_value(D) : 1.0f, N, D);
    toc(m, PROF_EMBED, 1, &t);
}

void griffin_backward_weighted(GriffinModel *m, const float *row_weight) {
    const GriffinConfig *c = &m->cfg;
    CHECK(!m->inference_only, "griffin_backward: the model was created for inference only");
    CHECK(!m->narrow, "griffin_backward: a model with %s weights is for inference only",
          weight_format_name(griffin_weight_format(m)));
    CHECK(m->has_targets, "griffin_backward: the last forward had no targets");
    int N = m->B * m->T, D = c->width, V = c->vocab_size;
    const ParamTable *pt = &m->table;
    float *table = m->params + pt->t[pt->embed].offset;
    float *dtable = griffin_grad_of(m, pt->embed);
    double t = tic(m);
    gemm_profile_kind(GEMM_UNEMBED, 1);
    /* z = fn_out · tableᵀ:  d fn_out = dz · table;  dtable += dzᵀ · fn_out, chunk by chunk */
    for (int r0 = 0; r0 < N; r0 += m->loss_rows) {
        int nr = N - r0 < m->loss_rows ? N - r0 : m->loss_rows;
        size_t nv = (size_t)nr * V;
        const float *lg = m->chunked_loss ? loss_logits(m, r0, nr) : m->logits + (size_t)r0 * V;
        float *dl = m->chunked_loss ? m->dlogits : m->dlogits + (size_t)r0 * V;
        memset(dl, 0, nv * sizeof(float));
        crossentropy_backward(dl, lg, m->lse + r0, m->targets + r0, row_weight + r0, nr, V);
        softcap_backward(dl, lg, c->soft_cap, nv);
        gemm(0, 0, nr, D, V, dl, V, table, D, 0.0f, m->d_norm + (size_t)r0 * D, D);
        if (dtable) gemm(1, 0, V, D, nr, dl, V, m->fn_out + (size_t)r0 * D, D, 1.0f, dtable, D);
    }
    toc(m, PROF_LOSS, 1, &t);
    backward_trunk(m);
}

void griffin_backward_hidden(GriffinModel *m, const float *dhidden) {
    CHECK(!m->inference_only, "griffin_backward: the model was created for inference only");
    CHECK(!m->narrow, "griffin_backward: a model with %s weights is for inference only",
          weight_format_name(griffin_weight_format(m)));
    size_t ND = (size_t)m->B * m->T * m->cfg.width;
    memcpy(m->d_norm, dhidden, ND * sizeof(float));
    backward_trunk(m);
}

double griffin_flops_per_token(const GriffinConfig *c, int T) {
    double D = c->width, E = c->lru_width, F = c->mlp_width, H = c->num_heads, K = D / H;
    double per = 6.0 * D * c->vocab_size;
    for (int l = 0; l < c->depth; l++) {
        per += 6.0 * (3.0 * D * F);                 /* ffw_up (2 branches) + ffw_down */
        if (c->block_types[l] == BLOCK_RECURRENT)
            per += 6.0 * (3.0 * D * E + 2.0 * E * E / H); /* linear_x, linear_y, linear_out, 2 gates */
        else
            per += 6.0 * (2.0 * D * D + 2.0 * D * K) + 3.0 * 4.0 * H * K * attention_band(T, c->window);
    }
    return per;
}

double griffin_step_flops_per_token(const GriffinModel *m, int T) {
    const GriffinConfig *c = &m->cfg;
    const ParamTable *pt = &m->table;
    double per = 0, K = (double)c->width / c->num_heads;
    for (int i = 0; i < pt->count; i++) {
        const TensorInfo *t = &pt->t[i];
        if (t->ndim < 2 || t->group == GROUP_BIAS || t->slot == P_CONV_W) continue; /* vectors, biases, conv taps */
        if (t->lora_of >= 0 && !m->lora_active) continue;
        per += (double)t->numel * (m->frozen && m->frozen[i] ? 4.0 : 6.0);
    }
    for (int l = 0; l < c->depth; l++)
        if (c->block_types[l] == BLOCK_ATTENTION) per += 3.0 * 4.0 * c->num_heads * K * attention_band(T, c->window);
    return per;
}
