/* Run configuration: INI files parsed with inih, every key described by ONE table
 * (train/config/config.c: section, key, type, default, required, range, help) that drives parsing,
 * command-line overrides, validation, the start-up table, the INI serialisation stored in
 * checkpoints and the usage text.
 *
 *   [model] [train] [optim] [rlhf] [dpo] [lora] [sample]   fixed keys (see train_config_usage)
 *   [data]     <name> = PATH.h5               one line per training corpus
 *              valid = PATH.h5                validation corpus; more as valid.<group> = PATH
 *   [stage.N]  steps = N                      N = 1, 2, ... contiguous
 *              mix = name:weight, name:weight names from [data], weights > 0 (token shares)
 *                                             (a long mix may continue on indented lines)
 * Overrides: --section.key=value, e.g. --optim.lr=3e-4 --stage.1.steps=5 --data.extra=x.h5.
 * Errors (unknown section or key, bad or out-of-range value, duplicate key, missing required
 * key, unknown corpus in a mix) name the place — "configs/tiny.ini:12: optim.lr: ..." or
 * "override '--optim.lr=x': optim.lr: ..." — and the key.
 *
 * Relative paths (data files, model.tokenizer, train.out_dir, train.init, train.resume)
 * resolve from the project root, whatever the current directory:
 *   - a config inside a folder named `configs/` has root = that folder's parent
 *     (configs/tiny.ini -> the repository);
 *   - any other config file has root = its own directory;
 *   - text parsed with train_config_parse_string uses the root given by the caller.
 * Paths are stored resolved (absolute when the root is), so the serialised text of a config
 * parses back to the same config from anywhere. Files need not exist at parse time.
 * Defaults resolved at finalisation: train.out_dir "" -> <root>/runs/<config file stem>;
 * train.steps 0 -> the sum of the stage lengths. Stages shorter than train.steps: the last
 * stage continues; longer: the run stops inside a stage. */
#ifndef GRIFFIN_TRAIN_CONFIG_H
#define GRIFFIN_TRAIN_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "model/config.h"
#include "optim/adamw.h"
#include "optim/schedule.h"

#define CFG_STR 1024      /* longest string / path value */
#define CFG_NAME 64       /* longest corpus name */
#define CFG_MAX_DATA 32   /* corpora in [data] */
#define CFG_MAX_VALID 16  /* validation corpora */
#define CFG_MAX_STAGES 16
#define CFG_MAX_MIX 32    /* entries of one stage's mix */
#define CFG_MAX_KEYS 96   /* rows of the key table */


typedef struct {
    int family;        /* Family */
    int width, depth, heads, lru_width, mlp_width, window, vocab_size;
    float soft_cap;
    int embed_scale;   /* bool */
    int reward_head;   /* bool: scalar reward head after the final norm */
    char tokenizer[CFG_STR];
} ModelSection;

typedef struct {
    char out_dir[CFG_STR];
    int64_t steps;
    int batch_size;    /* sequences per rank per micro-batch */
    int seq_len;
    int grad_accum;
    int64_t seed;
    char init[CFG_STR];    /* "" or a checkpoint: weights only */
    char resume[CFG_STR];  /* "auto", "none" or a checkpoint path */
    int checkpoint_every, keep_checkpoints, eval_every, eval_batches, log_every, threads;
    int precision;     /* GemmPrecision (model/griffin.h), in the order of the key's names */
    int recompute;     /* bool: activation checkpointing (GRIFFIN_RECOMPUTE) */
    int full_checkpoints; /* bool: every tensor in every checkpoint, even with a frozen base */
    char freeze[CFG_STR], trainable[CFG_STR]; /* the trainable set (optim/trainable.h) */
    int data_cache_mb; /* token-chunk cache per corpus (data/corpus.h) */
} TrainSection;

typedef struct {
    float lr, min_lr;
    int schedule;      /* LrKind */
    int64_t warmup_steps;
    float weight_decay, beta1, beta2, eps, grad_clip;
    int decay_embeddings; /* bool */
    float decay_fraction; /* wsd */
    int decay_shape;      /* DecayShape */
} OptimSection;

typedef enum { ADV_RLOO = 0, ADV_GRPO = 1 } AdvantageKind;

typedef struct {
    char policy[CFG_STR];       /* SFT checkpoint to start from ("" = train.init) */
    char reward_model[CFG_STR]; /* reward-model checkpoint */
    char reference[CFG_STR];    /* frozen reference ("" = the policy's init checkpoint) */
    char prompts[CFG_STR];      /* prompt (or preference) corpus of the rollouts */
    char valid_prompts[CFG_STR];/* held-out prompts for val_rm_score ("" = none) */
    float beta;                 /* KL penalty coefficient */
    int kl_estimator;           /* RlhfKl (rlhf/rlhf.h), in the order of the key's names k1|k3 */
    int samples_per_prompt;     /* group size of the advantages */
    int advantage;              /* AdvantageKind */
    float clip;                 /* policy-ratio clip epsilon */
    int epochs;                 /* passes over each rollout batch */
    int minibatches;            /* updates per pass: the batch split in this many minibatches */
    int whiten;                 /* bool: whiten the advantages over the batch */
    int max_new_tokens;
    float temperature, top_p;
    float eos_penalty;          /* subtracted from the reward of a response not closed by <end_of_turn> */
    float margin;               /* reward model: Bradley-Terry margin */
    int valid_samples;          /* held-out prompts scored per evaluation */
    int sampler_weights;        /* WeightFormat of the rollouts' sampler: fp32 (the policy) or bf16 */
} RlhfSection;

typedef struct {
    int loss;                   /* DpoKind (rlhf/dpo.h) */
    float beta;                 /* β > 0: scale of the log-ratios */
    float label_smoothing;      /* ε (sigmoid, robust, simpo) */
    float gamma;                /* simpo's target margin */
    float sft_weight;           /* λ: NLL of the chosen reply per token */
    char reference[CFG_STR];    /* frozen reference ("" = train.init) */
    int precompute_ref;         /* bool: score every pair under the reference once, then free it */
} DpoSection;

typedef struct {
    int rank;                   /* r (0: no adapters) */
    float alpha;                /* the adapters' scale is alpha / r */
    float dropout;              /* p of the adapters' input dropout in training */
    char targets[CFG_STR];      /* "all" or comma-separated layer names (model/config.h lora_target_parse) */
} LoraSection;

typedef struct {
    char checkpoint[CFG_STR];
    char prompt[CFG_STR];
    int max_tokens;
    float temperature;
    int top_k;
    float top_p;
    int64_t seed;
    int chat;          /* bool: wrap the prompt in the chat template */
} SampleSection;

typedef struct {
    char name[CFG_NAME];   /* corpus name; for validation corpora "" or the group */
    char path[CFG_STR];    /* PATH.h5, or megatron:PREFIX, llmc:GLOB, nanogpt:FILE (data/corpus.h) */
    int line;              /* where it was set (see train_config_where) */
    int has_eot;           /* data.NAME.eot given: the id separating documents of llmc/nanogpt corpora */
    int64_t eot;
    int eot_line;
    char tokenizer[CFG_STR]; /* data.NAME.tokenizer: what the corpus was tokenized with ("" = model.tokenizer) */
    int tokenizer_line;
} DataEntry;

typedef struct {
    char name[CFG_NAME];
    double weight;
} MixEntry;

typedef struct {
    int64_t steps;
    int n_mix;
    MixEntry mix[CFG_MAX_MIX];
    int line, steps_line, mix_line;
} StageConfig;

typedef struct {
    ModelSection model;
    TrainSection train;
    OptimSection optim;
    RlhfSection rlhf;
    DpoSection dpo;
    LoraSection lora;
    SampleSection sample;
    int n_data;
    DataEntry data[CFG_MAX_DATA];
    int has_eot;             /* data.eot: the default document separator of external corpora */
    int64_t eot;
    int n_valid;
    DataEntry valid[CFG_MAX_VALID];
    int n_stages;
    StageConfig stage[CFG_MAX_STAGES];
    GriffinConfig griffin;   /* filled from [model] by config_finalize */
    char source[CFG_STR];    /* config file path (or the name given to parse_string) */
    char root[CFG_STR];      /* project root for relative paths */
    /* where each table key was set: > 0 line of `source`, < 0 the override -(i+1), 0 default */
    int key_line[CFG_MAX_KEYS];
} TrainConfig;

/* Parses `path`, applies the overrides (each "--section.key=value") and finalises.
 * Returns 0, or -1 with a one-line message in err. */
int train_config_load(TrainConfig *c, const char *path, int n_overrides, char *const *overrides,
                      char *err, size_t errlen);
/* The same for INI text (e.g. the config stored in a checkpoint); `name` labels messages,
 * `root` (NULL: the current directory) resolves relative paths. */
int train_config_parse_string(TrainConfig *c, const char *text, const char *name,
                              const char *root, int n_overrides, char *const *overrides,
                              char *err, size_t errlen);

/* Aligned table of every key: value and where it came from (default / file:line / override). */
void train_config_print(const TrainConfig *c, FILE *f);
/* Serialised INI text (malloc'd, caller frees); parsing it gives the same config. */
char *train_config_to_ini(const TrainConfig *c);
/* Usage text generated from the key table. */
void train_config_usage(FILE *f);

/* 0-based stage of a 0-based step (the last stage continues past the end); -1 if no stages. */
int train_config_stage_at(const TrainConfig *c, int64_t step);
/* first step of stage s (0-based) */
int64_t train_config_stage_start(const TrainConfig *c, int s);
/* index into c->data of a corpus name, or -1 */
int train_config_find_data(const TrainConfig *c, const char *name);

/* Optimizer and schedule settings of [optim] (+ train.steps). */
AdamWConfig train_config_adamw(const TrainConfig *c);
LrSchedule train_config_schedule(const TrainConfig *c);

#endif
