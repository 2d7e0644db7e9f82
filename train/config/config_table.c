/* The table of config keys: section, key, type, default, required, range, help. Adding a key
 * here (and its field in config.h) is all it takes: parsing, overrides, validation, the
 * start-up table, serialisation and the usage text all follow from this list. */
#include "config_table.h"

#include "model/griffin.h"
#include "rlhf/rlhf.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "rlhf/dpo.h"

#define OFF(field) offsetof(TrainConfig, field)
#define BIG 1e12
const CfgKey cfg_keys[] = {
    /* [model] */
    {"model", "family", CT_ENUM, OFF(model.family), "griffin", 0, 0, 0, 0, "griffin|hawk|transformer",
     "block pattern: griffin (2 recurrent : 1 attention), hawk (recurrent), transformer (attention)"},
    {"model", "width", CT_INT, OFF(model.width), "0", 1, 4, 65536, 0, NULL, "model width D"},
    {"model", "depth", CT_INT, OFF(model.depth), "0", 1, 1, GRIFFIN_MAX_LAYERS, 0, NULL, "number of residual blocks L"},
    {"model", "heads", CT_INT, OFF(model.heads), "0", 1, 1, 1024, 0, NULL, "attention heads = RG-LRU gate blocks H"},
    {"model", "lru_width", CT_INT, OFF(model.lru_width), "0", 0, 0, 65536, 0, NULL, "RG-LRU width E (0 = width)"},
    {"model", "mlp_width", CT_INT, OFF(model.mlp_width), "0", 1, 1, 1 << 20, 0, NULL, "MLP hidden width F per branch"},
    {"model", "window", CT_INT, OFF(model.window), "2048", 0, 1, 1 << 24, 0, NULL, "local attention window A (a query sees A+1 keys)"},
    {"model", "vocab_size", CT_INT, OFF(model.vocab_size), "0", 1, 2, 1 << 24, 0, NULL, "vocabulary size V"},
    {"model", "soft_cap", CT_FLOAT, OFF(model.soft_cap), "30", 0, 0, 1e4, 0, NULL, "logit soft-cap (0 disables)"},
    {"model", "embed_scale", CT_BOOL, OFF(model.embed_scale), "true", 0, 0, 0, 0, NULL, "scale input embeddings by bf16(sqrt(width))"},
    {"model", "reward_head", CT_BOOL, OFF(model.reward_head), "false", 0, 0, 0, 0, NULL, "scalar reward head on the final hidden state (reward models)"},
    {"model", "tokenizer", CT_PATH, OFF(model.tokenizer), "", 0, 0, 0, 0, NULL, "SentencePiece model (stored in checkpoints)"},
    /* [train] */
    {"train", "out_dir", CT_PATH, OFF(train.out_dir), "", 0, 0, 0, 0, NULL, "run folder for checkpoints and logs (\"\" = runs/<config name>)"},
    {"train", "steps", CT_I64, OFF(train.steps), "0", 0, 0, BIG, 0, NULL, "optimizer steps (0 = sum of the stage lengths)"},
    {"train", "batch_size", CT_INT, OFF(train.batch_size), "8", 0, 1, 1 << 20, 0, NULL, "sequences per rank per micro-batch"},
    {"train", "seq_len", CT_INT, OFF(train.seq_len), "256", 0, 1, 1 << 22, 0, NULL, "tokens per sequence T"},
    {"train", "grad_accum", CT_INT, OFF(train.grad_accum), "1", 0, 1, 65536, 0, NULL, "micro-batches per optimizer step"},
    {"train", "seed", CT_I64, OFF(train.seed), "1337", 0, 0, 4e18, 0, NULL, "seed of initialisation and data order"},
    {"train", "init", CT_PATH, OFF(train.init), "", 0, 0, 0, 0, NULL, "checkpoint to take the weights from (\"\" = fresh init)"},
    {"train", "resume", CT_PATH, OFF(train.resume), "none", 0, 0, 0, 0, "auto|none",
     "auto (newest valid checkpoint in out_dir), none, or a checkpoint path"},
    {"train", "checkpoint_every", CT_INT, OFF(train.checkpoint_every), "0", 0, 0, INT_MAX, 0, NULL, "steps between checkpoints (0 = only at the end)"},
    {"train", "keep_checkpoints", CT_INT, OFF(train.keep_checkpoints), "3", 0, 1, 1000000, 0, NULL, "checkpoints kept in out_dir"},
    {"train", "eval_every", CT_INT, OFF(train.eval_every), "0", 0, 0, INT_MAX, 0, NULL, "steps between validation runs (0 = only at the end)"},
    {"train", "eval_batches", CT_INT, OFF(train.eval_batches), "8", 0, 1, 1 << 20, 0, NULL, "batches per validation run"},
    {"train", "log_every", CT_INT, OFF(train.log_every), "1", 0, 1, INT_MAX, 0, NULL, "steps between log lines"},
    {"train", "threads", CT_INT, OFF(train.threads), "0", 0, 0, 4096, 0, NULL, "OpenMP threads per rank (0 = OpenMP default)"},
    {"train", "freeze", CT_STRING, OFF(train.freeze), "", 0, 0, 0, 0, NULL, "tensors not to train: globs over tensor names, e.g. embedder.*, blocks.*.mlp_block.*"},
    {"train", "trainable", CT_STRING, OFF(train.trainable), "", 0, 0, 0, 0, NULL, "train only these tensors (globs; \"\" = all); train.freeze then removes from them"},
    {"train", "data_cache_mb", CT_INT, OFF(train.data_cache_mb), "32", 0, 1, 1 << 20, 0, NULL, "MiB of token chunks each corpus caches per rank (corpora are streamed, never loaded whole)"},
    {"train", "recompute", CT_BOOL, OFF(train.recompute), "false", 0, 0, 0, 0, NULL, "keep only each block's input and recompute its activations in backward (less memory, one more forward)"},
    {"train", "full_checkpoints", CT_BOOL, OFF(train.full_checkpoints), "false", 0, 0, 0, 0, NULL, "store every tensor in each checkpoint; false: a run whose frozen tensors came from a checkpoint file (train.init, rlhf.policy) stores the others and names that file"},
    {"train", "precision", CT_ENUM, OFF(train.precision), "fp32", 0, 0, 0, 0, "fp32|bf16|bf16-emulated", "GEMM precision: bf16 products, fp32 sums (AVX-512 BF16; else fp32); weights stay fp32"},
    /* [optim] */
    {"optim", "lr", CT_FLOAT, OFF(optim.lr), "1e-3", 0, 0, 10, R_MIN_OPEN, NULL, "peak learning rate"},
    {"optim", "min_lr", CT_FLOAT, OFF(optim.min_lr), "0", 0, 0, 10, 0, NULL, "final learning rate of cosine / wsd"},
    {"optim", "schedule", CT_ENUM, OFF(optim.schedule), "cosine", 0, 0, 0, 0, "constant|cosine|wsd", "learning-rate schedule after the warmup"},
    {"optim", "warmup_steps", CT_I64, OFF(optim.warmup_steps), "0", 0, 0, BIG, 0, NULL, "linear warmup steps"},
    {"optim", "weight_decay", CT_FLOAT, OFF(optim.weight_decay), "0.1", 0, 0, 10, 0, NULL, "decoupled weight decay of the weight matrices"},
    {"optim", "beta1", CT_FLOAT, OFF(optim.beta1), "0.9", 0, 0, 1, R_MAX_OPEN, NULL, "Adam first-moment decay"},
    {"optim", "beta2", CT_FLOAT, OFF(optim.beta2), "0.95", 0, 0, 1, R_MAX_OPEN, NULL, "Adam second-moment decay"},
    {"optim", "eps", CT_FLOAT, OFF(optim.eps), "1e-8", 0, 0, 1, R_MIN_OPEN, NULL, "Adam epsilon"},
    {"optim", "grad_clip", CT_FLOAT, OFF(optim.grad_clip), "1", 0, 0, 1e6, 0, NULL, "global gradient-norm clip (0 = off)"},
    {"optim", "decay_embeddings", CT_BOOL, OFF(optim.decay_embeddings), "false", 0, 0, 0, 0, NULL, "apply weight decay to the embedding too"},
    {"optim", "decay_fraction", CT_FLOAT, OFF(optim.decay_fraction), "0.2", 0, 0, 1, R_MIN_OPEN, NULL, "wsd: final share of the steps spent decaying"},
    {"optim", "decay_shape", CT_ENUM, OFF(optim.decay_shape), "linear", 0, 0, 0, 0, "linear|cosine", "wsd: shape of the final decay"},
    /* [rlhf] */
    {"rlhf", "policy", CT_PATH, OFF(rlhf.policy), "", 0, 0, 0, 0, NULL, "SFT checkpoint: initial policy (\"\" = train.init)"},
    {"rlhf", "reward_model", CT_PATH, OFF(rlhf.reward_model), "", 0, 0, 0, 0, NULL, "reward-model checkpoint (griffin reward)"},
    {"rlhf", "reference", CT_PATH, OFF(rlhf.reference), "", 0, 0, 0, 0, NULL, "frozen reference checkpoint (\"\" = the policy's init)"},
    {"rlhf", "prompts", CT_PATH, OFF(rlhf.prompts), "", 0, 0, 0, 0, NULL, "prompt (or preference) corpus the rollouts start from"},
    {"rlhf", "valid_prompts", CT_PATH, OFF(rlhf.valid_prompts), "", 0, 0, 0, 0, NULL, "held-out prompt corpus for val_rm_score (\"\" = none)"},
    {"rlhf", "valid_samples", CT_INT, OFF(rlhf.valid_samples), "64", 0, 1, 1 << 20, 0, NULL, "held-out prompts answered per evaluation"},
    {"rlhf", "beta", CT_FLOAT, OFF(rlhf.beta), "0.05", 0, 0, 100, 0, NULL, "KL penalty coefficient: reward = RM score - beta * KL"},
    {"rlhf", "kl_estimator", CT_ENUM, OFF(rlhf.kl_estimator), "k1", 0, 0, 0, 0, "k1|k3",
     "per-token KL estimate: k1 = log p - log q, k3 = q/p - 1 - log(q/p)"},
    {"rlhf", "samples_per_prompt", CT_INT, OFF(rlhf.samples_per_prompt), "4", 0, 2, 256, 0, NULL, "completions per prompt (leave-one-out baseline)"},
    {"rlhf", "advantage", CT_ENUM, OFF(rlhf.advantage), "rloo", 0, 0, 0, 0, "rloo|grpo",
     "rloo: R - mean of the group's others; grpo: (R - group mean) / (group std + 1e-4)"},
    {"rlhf", "clip", CT_FLOAT, OFF(rlhf.clip), "0.2", 0, 0, 10, R_MIN_OPEN, NULL, "policy-ratio clip epsilon"},
    {"rlhf", "epochs", CT_INT, OFF(rlhf.epochs), "1", 0, 1, 1000, 0, NULL, "passes over each rollout batch"},
    {"rlhf", "minibatches", CT_INT, OFF(rlhf.minibatches), "1", 0, 1, 4096, 0, NULL, "policy updates per pass: the batch split in this many minibatches (PPO)"},
    {"rlhf", "whiten", CT_BOOL, OFF(rlhf.whiten), "false", 0, 0, 0, 0, NULL, "whiten the advantages over the rollout batch"},
    {"rlhf", "max_new_tokens", CT_INT, OFF(rlhf.max_new_tokens), "128", 0, 1, 1 << 20, 0, NULL, "tokens sampled per completion"},
    {"rlhf", "temperature", CT_FLOAT, OFF(rlhf.temperature), "1", 0, 0, 100, R_MIN_OPEN, NULL, "rollout sampling temperature"},
    {"rlhf", "sampler_weights", CT_ENUM, OFF(rlhf.sampler_weights), "fp32", 0, 0, 0, 0, "fp32|bf16",
     "weights the rollouts sample with: fp32 (the policy) or a bf16 copy refreshed every iteration"},
    {"rlhf", "top_p", CT_FLOAT, OFF(rlhf.top_p), "1", 0, 0, 1, R_MIN_OPEN, NULL, "rollout nucleus mass"},
    {"rlhf", "eos_penalty", CT_FLOAT, OFF(rlhf.eos_penalty), "1", 0, 0, 1e6, 0, NULL, "reward penalty of a response not closed by <end_of_turn>"},
    {"rlhf", "margin", CT_FLOAT, OFF(rlhf.margin), "0", 0, 0, 100, 0, NULL, "reward model: Bradley-Terry margin m in -log sigmoid(r_c - r_r - m)"},
    /* [dpo] */
    {"dpo", "loss", CT_ENUM, OFF(dpo.loss), "sigmoid", 0, 0, 0, 0, DPO_KIND_NAMES,
     "sigmoid (DPO), robust, ipo, hinge, simpo (reference-free, length-averaged)"},
    {"dpo", "beta", CT_FLOAT, OFF(dpo.beta), "0.1", 0, 0, 100, R_MIN_OPEN, NULL, "scale of the log-ratios (implicit reward = beta * log-ratio)"},
    {"dpo", "label_smoothing", CT_FLOAT, OFF(dpo.label_smoothing), "0", 0, 0, 0.5, R_MAX_OPEN, NULL,
     "share of flipped labels eps (sigmoid, robust, simpo)"},
    {"dpo", "gamma", CT_FLOAT, OFF(dpo.gamma), "0.5", 0, 0, 100, 0, NULL, "simpo: target margin in -log sigmoid(beta * mean-logp gap - gamma)"},
    {"dpo", "sft_weight", CT_FLOAT, OFF(dpo.sft_weight), "0", 0, 0, 100, 0, NULL, "weight of the chosen reply's per-token NLL (RPO)"},
    {"dpo", "reference", CT_PATH, OFF(dpo.reference), "", 0, 0, 0, 0, NULL, "frozen reference checkpoint (\"\" = train.init)"},
    {"dpo", "precompute_ref", CT_BOOL, OFF(dpo.precompute_ref), "true", 0, 0, 0, 0, NULL,
     "score every pair under the reference once (cached in out_dir), then free it; false: keep it, score each batch"},
    /* [lora] */
    {"lora", "rank", CT_INT, OFF(lora.rank), "0", 0, 0, 65536, 0, NULL,
     "LoRA adapter rank r on the targeted linears (0 = no adapters); with r > 0 only the adapters train unless train.trainable says otherwise"},
    {"lora", "alpha", CT_FLOAT, OFF(lora.alpha), "16", 0, 0, 1e6, R_MIN_OPEN, NULL, "adapter scale: the update is (alpha / rank) * B * A"},
    {"lora", "dropout", CT_FLOAT, OFF(lora.dropout), "0", 0, 0, 1, R_MAX_OPEN, NULL,
     "dropout probability of the adapters' input in training steps (PEFT's lora_dropout; not in rlhf)"},
    {"lora", "targets", CT_STRING, OFF(lora.targets), "all", 0, 0, 0, 0, NULL,
     "all, or layers by official name (proj_q proj_k proj_v proj_final linear_x linear_y linear_out ffw_up ffw_down) or HF name (q_proj ... o_proj gate_proj up_proj down_proj)"},
    /* [sample] */
    {"sample", "checkpoint", CT_PATH, OFF(sample.checkpoint), "", 0, 0, 0, 0, NULL, "checkpoint to sample from"},
    {"sample", "prompt", CT_STRING, OFF(sample.prompt), "", 0, 0, 0, 0, NULL, "prompt text"},
    {"sample", "max_tokens", CT_INT, OFF(sample.max_tokens), "128", 0, 1, 1 << 24, 0, NULL, "tokens to generate (griffin sample --max-new-tokens)"},
    {"sample", "temperature", CT_FLOAT, OFF(sample.temperature), "0.8", 0, 0, 100, 0, NULL, "sampling temperature (0 = greedy)"},
    {"sample", "top_k", CT_INT, OFF(sample.top_k), "0", 0, 0, 1 << 24, 0, NULL, "keep the k most likely tokens (0 = all)"},
    {"sample", "top_p", CT_FLOAT, OFF(sample.top_p), "1", 0, 0, 1, R_MIN_OPEN, NULL, "nucleus sampling mass"},
    {"sample", "seed", CT_I64, OFF(sample.seed), "0", 0, 0, 4e18, 0, NULL, "sampling seed"},
    {"sample", "chat", CT_BOOL, OFF(sample.chat), "false", 0, 0, 0, 0, NULL, "wrap the prompt in the chat template"},
};
/* enum keys store the index of their name: train.precision is a GemmPrecision, rlhf.kl_estimator an RlhfKl */
_Static_assert(GEMM_FP32 == 0 && GEMM_BF16 == 1 && GEMM_BF16_EMULATED == 2, "train.precision names: fp32|bf16|bf16-emulated");
_Static_assert(RLHF_KL_K1 == 0 && RLHF_KL_K3 == 1, "rlhf.kl_estimator names: k1|k3");
const int cfg_nkeys = (int)(sizeof cfg_keys / sizeof cfg_keys[0]);
_Static_assert(sizeof cfg_keys / sizeof cfg_keys[0] <= CFG_MAX_KEYS, "raise CFG_MAX_KEYS in config.h");

const char *const cfg_sections[CFG_NSECTIONS] = {"model", "train", "optim", "rlhf", "dpo", "lora", "sample", "data"};

int cfg_section_index(const char *s) {
    for (int i = 0; i < CFG_NSECTIONS; i++)
        if (!strcmp(s, cfg_sections[i])) return i;
    return -1;
}

int cfg_key_index(const char *section, const char *key) {
    for (int i = 0; i < cfg_nkeys; i++)
        if (!strcmp(cfg_keys[i].section, section) && !strcmp(cfg_keys[i].key, key)) return i;
    return -1;
}

/* index of v in "a|b|c", or -1 */
int cfg_choice_index(const char *choices, const char *v) {
    int idx = 0;
    size_t n = strlen(v);
    for (const char *p = choices; p && *p; idx++) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, v, n)) return idx;
        p = bar ? bar + 1 : NULL;
    }
    return -1;
}

/* the idx-th word of "a|b|c" into buf */
const char *cfg_choice_name(const char *choices, int idx, char *buf, size_t n) {
    const char *p = choices;
    for (int i = 0; p && i < idx; i++) {
        p = strchr(p, '|');
        if (p) p++;
    }
    if (!p) return "?";
    const char *bar = strchr(p, '|');
    size_t len = bar ? (size_t)(bar - p) : strlen(p);
    if (len >= n) len = n - 1;
    memcpy(buf, p, len);
    buf[len] = 0;
    return buf;
}

void cfg_range_text(const CfgKey *k, char *buf, size_t n) {
    snprintf(buf, n, "%s%.10g, %.10g%s", (k->open & R_MIN_OPEN) ? "(" : "[", k->min, k->max,
             (k->open & R_MAX_OPEN) ? ")" : "]");
}
