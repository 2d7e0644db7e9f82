/* Model configuration: the fields of the official GriffinConfig (docs/architecture.md §1) plus
 * the family that picks the block pattern.
 *
 * Legend used in every kernel comment of model/ (after recurrentgemma's array_typing.py):
 *   B batch, T time, N = B*T rows, D width, E LRU width (lru_width), H heads,
 *   K head dim (D/H), W conv width (4), A attention window, F MLP width, V vocab, L layers. */
#ifndef GRIFFIN_CONFIG_H
#define GRIFFIN_CONFIG_H

#define GRIFFIN_MAX_LAYERS 256
#define GRIFFIN_CONV_WIDTH 4

typedef enum { BLOCK_RECURRENT = 0, BLOCK_ATTENTION = 1 } BlockType;
typedef enum { FAMILY_GRIFFIN = 0, FAMILY_HAWK = 1, FAMILY_TRANSFORMER = 2 } Family;

/* The linear layers a LoRA adapter can target (official names; model/lora.h). */
typedef enum {
    LORA_Q = 0, LORA_K, LORA_V, LORA_FINAL,   /* attention: proj_q proj_k proj_v proj_final */
    LORA_LIN_X, LORA_LIN_Y, LORA_LIN_OUT,     /* recurrent: linear_x linear_y linear_out */
    LORA_UP, LORA_DOWN,                       /* MLP: ffw_up (both branches) ffw_down */
    LORA_NUM
} LoraTarget;
#define LORA_ALL ((1u << LORA_NUM) - 1u)

typedef struct {
    Family family;
    int vocab_size;   /* V */
    int width;        /* D */
    int lru_width;    /* E (0 in a preset means = D) */
    int mlp_width;    /* F, per branch of ffw_up */
    int num_heads;    /* H: attention heads and RG-LRU gate blocks */
    int depth;        /* L: number of residual blocks */
    int window;       /* A: a query sees itself and the A previous tokens */
    float soft_cap;   /* 0 disables */
    int embed_scale;  /* multiply input embeddings by bf16(sqrt(D)) */
    int reward_head;  /* append reward_head.weight [D], reward_head.bias [1] (reward models) */
    int lora_rank;    /* r: LoRA adapters on the targeted linears (0: none) */
    float lora_alpha; /* adapter scale alpha / r */
    unsigned lora_targets; /* bit set of LoraTarget */
    float lora_dropout; /* p: adapter inputs dropped in training forwards (griffin_set_dropout_key) */
    BlockType block_types[GRIFFIN_MAX_LAYERS]; /* filled by config_finalize */
} GriffinConfig;

const char *family_name(Family f);
/* returns 0 and sets *f, or -1 for an unknown name */
int family_parse(const char *name, Family *f);

/* official name of a target ("proj_q", ...), and the target of an official or Hugging Face
 * module name (q_proj k_proj v_proj o_proj, linear_x linear_y linear_out, gate_proj and
 * up_proj (the two branches of ffw_up: either selects both), down_proj); -1 if unknown */
const char *lora_target_name(LoraTarget t);
int lora_target_parse(const char *name);

/* Fills block_types from family/depth, defaults lru_width; returns NULL when valid, else a
 * static message naming the bad field. */
const char *config_finalize(GriffinConfig *c);

/* Named presets: "tiny", "small", "2b" (RecurrentGemma-2B shape). Returns 0 if found. */
int config_preset(const char *name, GriffinConfig *c);

/* sqrt(D) rounded to bfloat16 (round to nearest even), as the reference normalizer. */
float embed_scale_value(int width);

#endif
