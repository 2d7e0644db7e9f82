/* The parameter table: one list of tensors drives sizes, offsets, names (the official torch
 * state_dict names of docs/architecture.md §15.1), initialisation and optimizer groups.
 * Parameters, gradients and optimizer moments are each one flat float buffer laid out by
 * this table, layer-major. */
#ifndef GRIFFIN_PARAMS_H
#define GRIFFIN_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Per-layer tensor slots; a layer has a subset depending on its block type. */
typedef enum {
    P_TEMPORAL_NORM = 0,
    /* recurrent block */
    P_LIN_Y_W, P_LIN_Y_B, P_LIN_X_W, P_LIN_X_B, P_LIN_OUT_W, P_LIN_OUT_B,
    P_CONV_W, P_CONV_B, P_A_PARAM, P_IGATE_W, P_IGATE_B, P_AGATE_W, P_AGATE_B,
    /* attention block */
    P_Q_W, P_K_W, P_V_W, P_FINAL_W, P_FINAL_B,
    /* MLP */
    P_CHANNEL_NORM, P_UP_W, P_UP_B, P_DOWN_W, P_DOWN_B,
    P_NUM_SLOTS
} ParamSlot;

/* Optimizer groups: weight decay applies to GROUP_WEIGHT by default. */
typedef enum { GROUP_WEIGHT = 0, GROUP_BIAS, GROUP_NORM, GROUP_A_PARAM, GROUP_EMBED } ParamGroup;

typedef enum {
    INIT_NORMAL = 0, /* normal(0, std) */
    INIT_ZERO,
    INIT_A_PARAM,    /* RG-LRU ring init, radius in [0.9, 0.999] */
    INIT_UNIFORM     /* uniform(-std, std): LoRA's A, as PEFT's kaiming_uniform(a=sqrt(5)) */
} InitKind;

typedef struct {
    char name[96];
    int ndim;
    int shape[4];
    size_t numel;
    size_t offset;   /* in floats, into the flat buffer */
    int layer;       /* -1 for embedding and final norm */
    int slot;        /* ParamSlot, or -1 for the globals */
    ParamGroup group;
    InitKind init;
    float init_std;
    int lora_of;     /* a LoRA adapter: the index of the weight it adapts, else -1 */
    char lora_part;  /* 'A' or 'B' for an adapter, else 0 */
} TensorInfo;

typedef struct {
    int count;
    size_t total;       /* floats */
    TensorInfo *t;      /* count entries */
    int embed;          /* index of embedder.input_embedding */
    int final_norm;     /* index of final_norm.scale */
    int reward_w, reward_b; /* reward_head.weight [D] and .bias [1] (after final_norm), or -1 */
    int *slot_index;    /* [depth][P_NUM_SLOTS] -> tensor index or -1 */
    /* LoRA adapters (cfg lora_rank > 0) come after every other tensor, so a model without them
     * is a prefix of one with them (same names, same offsets): a base checkpoint loads into it.
     * For a target W [NO,NI]: A [r,NI], B [NO,r]; ffw_up (2 branches, stored [2,D,F]):
     * A [2,r,D], B [2,F,r]. */
    int lora_first;     /* index of the first adapter tensor (= count without adapters) */
    int *lora_index;    /* [depth][LORA_NUM][2] -> tensor index of A, B, or -1 */
} ParamTable;

void param_table_build(ParamTable *pt, const GriffinConfig *c);
void param_table_free(ParamTable *pt);
/* index of a tensor by name, or -1 */
int param_table_find(const ParamTable *pt, const char *name);

/* the base weight slot a LoRA target adapts (P_Q_W, ...) */
ParamSlot lora_target_slot(LoraTarget t);
/* tensor index of layer l's adapter part (0 = A, 1 = B) on target t, or -1 */
int lora_tensor(const ParamTable *pt, int layer, LoraTarget t, int part);
/* the same for the adapter of layer l's weight slot s (P_Q_W, ...), or -1 */
int lora_tensor_of_slot(const ParamTable *pt, int layer, ParamSlot s, int part);

/* Pointers of one layer's tensors inside a flat buffer (params or grads); absent slots NULL. */
typedef struct {
    float *p[P_NUM_SLOTS];
} LayerPtrs;
void layer_ptrs(const ParamTable *pt, float *buf, int layer, LayerPtrs *out);

/* Official torch initialisation (docs/architecture.md §13), deterministic in seed; each tensor
 * draws from its own stream (seed, tensor index). */
void params_init(const ParamTable *pt, float *params, uint64_t seed);

#endif
