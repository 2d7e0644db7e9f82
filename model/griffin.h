/* The Griffin model: parameters, gradients and activations in flat buffers, and the whole
 * forward and backward pass (docs/architecture.md §2, §5; reference: recurrentgemma torch
 * griffin.Griffin and modules.ResidualBlock). */
#ifndef GRIFFIN_MODEL_H
#define GRIFFIN_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "params.h"
#include "weights.h"

/* Activations one layer keeps for backward; pointers into the activation arena. Rows are
 * tokens (N = B*T). Only the fields of the layer's block type are set. */
typedef struct {
    float *x_in;      /* [N,D] residual stream entering the block */
    float *tn_rstd;   /* [N] */
    float *tn_out;    /* [N,D] RMSNorm_t(x_in) */
    /* recurrent */
    float *y_pre;     /* [N,E] linear_y output (before GeLU) */
    float *x_br;      /* [N,E] linear_x output */
    float *conv;      /* [N,E] Conv1D(x_br) */
    float *gx, *ga;   /* [N,E] RG-LRU gates */
    float *lru;       /* [N,E] RG-LRU output */
    float *rprod;     /* [N,E] lru ⊙ GeLU(y_pre) */
    /* attention */
    float *q;         /* [N,D] after RoPE */
    float *k, *v;     /* [N,K] k after RoPE */
    float *probs;     /* [B,H,T,A1] */
    float *att;       /* [N,D] attention output before proj_final */
    /* residual after the temporal block, channel norm and MLP */
    float *resid;     /* [N,D] */
    float *cn_rstd;   /* [N] */
    float *cn_out;    /* [N,D] */
    float *gate_pre, *up_pre, *mprod; /* [N,F] */
} LayerActs;

/* Where a step's time goes (griffin bench train): seconds per kind, forward and backward,
 * accumulated while m->profile is set. */
typedef enum {
    PROF_EMBED = 0, PROF_NORM, PROF_MLP, PROF_REC_LINEAR, PROF_CONV, PROF_RGLRU, PROF_ATT_LINEAR,
    PROF_ATTENTION, PROF_LOSS, PROF_OTHER, PROF_NUM
} ProfKind;
extern const char *const prof_kind_name[PROF_NUM];

struct GriffinModel;
/* Called by griffin_forward with targets for each chunk of rows while the chunk's soft-capped
 * logits exist: lg [nr,V] holds rows r0 … r0+nr−1, and m->lse of those rows is set. Lets a
 * caller read per-row quantities (log-probabilities, entropies) of a GRIFFIN_CHUNKED_LOSS
 * model, which keeps no logits. */
typedef void (*GriffinLogitsHook)(void *ctx, const struct GriffinModel *m, const float *lg, int r0, int nr);

typedef struct GriffinModel {
    GriffinConfig cfg;
    ParamTable table;
    float *params;        /* [table.total] */
    float *grads;         /* [grad_floats]: laid out by the table, or packed by the trainable set;
                           * allocated by the first griffin_zero_grad / backward (NULL before) */
    size_t grad_floats;   /* table.total, or the trainable floats (griffin_set_trainable) */
    size_t *grad_off;     /* [table.count] offset of each tensor's gradient in grads, or NULL: the table's */
    int max_B, max_T;
    int inference_only;   /* no gradients or backward buffers */
    int recompute;        /* activation checkpointing: see GRIFFIN_RECOMPUTE */
    int acts_layer;       /* recompute: the layer whose activations the shared buffers hold (-1: none) */
    int chunked_loss;     /* GRIFFIN_CHUNKED_LOSS: logits live one chunk at a time */
    int loss_rows;        /* rows per chunk of the unembedding + loss (may be lowered, not raised) */
    /* activation arena, sized once for (max_B, max_T) */
    float *arena;
    size_t arena_floats;
    LayerActs *layers;    /* [depth] */
    float *x_final;       /* [N,D] residual stream after the last block */
    float *fn_rstd;       /* [N] */
    float *fn_out;        /* [N,D] final-norm output */
    float *logits;        /* [N,V] soft-capped ([loss_rows,V] scratch with GRIFFIN_CHUNKED_LOSS) */
    float *lse;           /* [N] */
    float *row_weight;    /* [N] loss weight per row for backward */
    float *dlogits;       /* [N,V] ([loss_rows,V] with GRIFFIN_CHUNKED_LOSS) */
    /* backward scratch */
    float *d_res, *d_norm;   /* [N,D] */
    float *d_s[7];           /* [N, max(D,E,F)] each */
    float *d_k, *d_v;        /* [N,K] */
    float *d_scores;         /* [B,H,T,A1] */
    /* inputs of the last forward (copied) */
    int *tokens, *targets, *pos;
    uint8_t *mask;
    int B, T;
    int has_targets;
    double loss_count;    /* number of unmasked targets of the last forward */
    float loss;
    GriffinLogitsHook logits_hook; /* NULL, or called per chunk by griffin_forward with targets */
    void *logits_ctx;
    NarrowWeights *narrow;        /* NULL: fp32; else the bf16/int8 copies (griffin_set_weights) */
    int profile;                  /* accumulate prof[][] */
    uint8_t *frozen;              /* [table.count] 1: no weight gradient (griffin_set_trainable), or NULL */
    double prof[PROF_NUM][2];     /* seconds: [kind][0 forward, 1 backward] */
    int lora_active;              /* cfg.lora_rank > 0 and the adapters are on (griffin_set_adapters) */
    float *lora_u, *lora_du;      /* [N, r] adapter scratch */
    uint64_t drop_key;            /* != 0: adapter dropout of cfg.lora_dropout in this forward/backward */
    float *drop_x, *drop_dx;      /* [N, max(D,E,F)] dropped adapter input and its gradient (lora_dropout > 0) */
} GriffinModel;

/* Builds the parameter table and allocates everything for batches up to (max_B, max_T);
 * parameters are initialised as the official torch code with seed. */
GriffinModel *griffin_create(const GriffinConfig *cfg, int max_B, int max_T, uint64_t seed);
/* The same with flags:
 * - GRIFFIN_INFERENCE allocates no gradients and no backward buffers;
 * - GRIFFIN_RECOMPUTE (activation checkpointing) keeps only each block's input x_in per layer;
 *   the other activations live in one set of buffers shared by the layers of a block type,
 *   and backward recomputes a block's forward from its input just before the block's
 *   backward. The recomputation runs the same code on the same inputs, so gradients are
 *   bitwise those without it; it costs one more trunk forward (without the MLP's down
 *   projection). decode_prefill reads every layer's activations through
 *   griffin_layer_activations (one more forward there).
 * - GRIFFIN_CHUNKED_LOSS keeps the logits and their gradient for one chunk of loss_rows rows
 *   at a time instead of [N,V]: the forward keeps only each row's log-sum-exp, and backward
 *   recomputes a chunk's logits before its gradient. Every model runs the unembedding and
 *   the loss in the same chunks, so results are bitwise those without the flag. The
 *   logits are not left in m->logits then, and a forward must have targets. Reward models
 *   (griffin_forward_hidden only) use it always: they never need the [N,V] logits.
 * The unembedding + loss always runs in chunks of loss_rows = clamp(2^23 / V, 256, 1024) rows. */
#define GRIFFIN_INFERENCE 1
#define GRIFFIN_RECOMPUTE 2
#define GRIFFIN_CHUNKED_LOSS 4
GriffinModel *griffin_create_ex(const GriffinConfig *cfg, int max_B, int max_T, uint64_t seed, int flags);
void griffin_free(GriffinModel *m);
/* The activation arena for batches up to (max_B, max_T) with flags (as griffin_create_ex),
 * keeping the parameters, adapters and weight formats: one copy of the weights however the
 * batch is sized (griffin sample sizes it once the prompts are tokenized). */
void griffin_reshape(GriffinModel *m, int max_B, int max_T, int flags);

/* Forward over a (B,T) batch. tokens, pos [B,T]; targets [B,T] or NULL (no loss); mask [B,T]
 * of 0/1 or NULL (all targets count). Returns the mean loss over unmasked targets (0 without
 * targets). Soft-capped logits are left in m->logits [B*T, V]. */
float griffin_forward(GriffinModel *m, const int *tokens, const int *targets, const int *pos,
                      const uint8_t *mask, int B, int T);

/* Backward of the last forward's loss; ACCUMULATES into m->grads. */
void griffin_backward(GriffinModel *m);
/* The same for the loss scale · Σ_{unmasked} nll (griffin_backward uses 1 / #unmasked);
 * lets a step weight micro-batches and ranks by their target counts. */
void griffin_backward_scaled(GriffinModel *m, float scale);
/* Backward of Σ_n row_weight[n] · nll_n (row n's target from the last forward; weight 0
 * skips a row): policy-gradient losses are weighted log-likelihoods. */
void griffin_backward_weighted(GriffinModel *m, const float *row_weight);

/* Forward without the unembedding: returns the final-norm output [B*T, D] (m->fn_out), for
 * heads other than the language model (the reward model). */
const float *griffin_forward_hidden(GriffinModel *m, const int *tokens, const int *pos, int B, int T);
/* Backward from dL/d(final-norm output) [B*T, D] of the last forward (either kind);
 * accumulates into m->grads. */
void griffin_backward_hidden(GriffinModel *m, const float *dhidden);

/* Makes m->layers[l] hold layer l's activations of the last forward: a recomputing model
 * (GRIFFIN_RECOMPUTE) recomputes them from the layer's input; otherwise nothing to do. */
void griffin_layer_activations(GriffinModel *m, int l);

void griffin_zero_grad(GriffinModel *m);

/* The tensors backward computes weight gradients for: on [table.count] (1 = trainable), or
 * NULL for every tensor. A frozen tensor has no gradient (griffin_grad_of is NULL) and its
 * weight-gradient products are skipped; input gradients flow through it as before, so the
 * trainable tensors' gradients are bitwise those of a run without frozen tensors. m->grads
 * then holds only the trainable tensors', packed in table order (the layout of the trainable
 * set's table, optim/trainable.h): a frozen base costs no gradient memory. */
void griffin_set_trainable(GriffinModel *m, const uint8_t *on);
/* The gradient of tensor i in m->grads, or NULL when it is frozen. */
float *griffin_grad_of(GriffinModel *m, int i);
/* LoRA adapters (cfg.lora_rank > 0, model/lora.h) take part in forward and backward while on
 * (the default); off, the model is its base, bitwise (a reference policy that shares the
 * weights). */
void griffin_set_adapters(GriffinModel *m, int on);
/* Adapter dropout (cfg.lora_dropout > 0) for the next forward and its backward: key != 0
 * draws the masks (the same key, the same masks), 0 switches it off (evaluation). Training
 * sets a key per micro-batch from (seed, step, update, micro-batch, rank). */
void griffin_set_dropout_key(GriffinModel *m, uint64_t key);
/* Adds every adapter into its base weight (W += (alpha/r)·B·A) and switches the adapters
 * off: the model computes the same function with plain weights (for decode and export). */
void griffin_merge_adapters(GriffinModel *m);

/* Per-chunk logits hook of griffin_forward (see GriffinLogitsHook); hook NULL removes it. */
void griffin_set_logits_hook(GriffinModel *m, GriffinLogitsHook hook, void *ctx);
/* Accumulate the time of each kind of work into m->prof while on (griffin bench train). */
void griffin_set_profile(GriffinModel *m, int on);
/* Weight storage for inference (model/weights.h): fp32 (the parameters, the default) or
 * narrow copies of the big matrices made from the current parameters, in bf16 or int8. Every
 * forward (prefill, evaluation) then multiplies by the dequantised matrices, one at a time
 * through one fp32 scratch and the usual GEMM, and decode_step reads the narrow weights
 * directly; backward refuses such a model. Call it once the parameters are final. Returns -1,
 * or the index of a tensor that cannot be converted (non-finite values; the model is left in
 * fp32). */
int griffin_set_weights(GriffinModel *m, WeightFormat f);
WeightFormat griffin_weight_format(const GriffinModel *m);
/* the view of tensor t the forward and decode read (its narrow copy, or the parameter) */
WeightView griffin_weight(const GriffinModel *m, int t);

/* analytic model FLOPs per trained token (forward + backward) at sequence length T */
double griffin_flops_per_token(const GriffinConfig *c, int T);
/* the same for m's step as it runs: every matrix (the tied embedding, linears, RG-LRU gates,
 * LoRA adapters) costs 2·numel forward and 2·numel for its input gradient per token, and 2·numel
 * more for its weight gradient when it trains (griffin_set_trainable); plus the attention core.
 * Equals griffin_flops_per_token when everything trains and there are no adapters. */
double griffin_step_flops_per_token(const GriffinModel *m, int T);

/* bytes of the activation arena a model created with these arguments would hold, computed
 * without allocating it (memory plans) */
size_t griffin_arena_bytes(const GriffinConfig *cfg, int max_B, int max_T, int flags);
/* bytes of the activation arena (for reports) */
size_t griffin_activation_bytes(const GriffinModel *m);

/* Precision of every matrix product of every model in the process (model/gemm.c; set once
 * at start-up from train.precision). Parameters, gradients and optimizer stay fp32.
 * fp32: cblas_sgemm. bf16: both operands rounded to bf16 (nearest even), products summed in
 * fp32 by vdpbf16ps (AVX-512 BF16), the same for any thread count. bf16-emulated: the same
 * sums by portable C on any CPU, for checking bf16 numerics (slower than fp32).
 * Returns the precision in force: bf16 falls back to fp32 where the CPU lacks avx512_bf16. */
typedef enum { GEMM_FP32 = 0, GEMM_BF16 = 1, GEMM_BF16_EMULATED = 2 } GemmPrecision;
GemmPrecision gemm_set_precision(GemmPrecision p);
GemmPrecision gemm_precision(void);
const char *gemm_precision_name(GemmPrecision p);

#endif
