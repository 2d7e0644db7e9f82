/* Interoperability with the reference RecurrentGemma checkpoint layouts (docs/architecture.md §15):
 * the official torch state_dict names (§15.1, our own names: a plain copy) and the
 * HuggingFace RecurrentGemmaForCausalLM names (§15.3), with their config.json files.
 *
 * HF transforms (export direction; import is the inverse):
 *   blocks.i.recurrent_block.conv_1d.w [K,L]  ->  ...temporal_block.conv_1d.weight [L,1,K],
 *                                                 hf[l,0,j] = w[j,l]
 *   blocks.i.mlp_block.ffw_up.w [2,D,F]       ->  mlp_block.gate_proj.weight = w[0]^T [F,D],
 *                                                 mlp_block.up_proj.weight   = w[1]^T [F,D]
 *   blocks.i.mlp_block.ffw_up.b [2,1,1,F]     ->  gate_proj.bias = b[0,0,0], up_proj.bias = b[1,0,0]
 *   everything else is renamed only; lm_head.weight is tied to model.embed_tokens.weight and
 *   not written (on import it is accepted if equal to the embedding).
 * An embedding table with more rows than vocab_size is accepted on import and sliced.
 *
 * The PEFT layout (HF PEFT's adapter_model.safetensors for RecurrentGemmaForCausalLM) holds
 * the LoRA adapters only, under the HF module names:
 *   blocks.i.<block>.<linear>.lora_A.weight [r,NI]  ->  base_model.model.model.layers.i.
 *                                                       <temporal_block|mlp_block>.<hf linear>.lora_A.weight
 *   blocks.i.mlp_block.ffw_up.lora_A.weight [2,r,D] ->  ...mlp_block.gate_proj.lora_A.weight = [0],
 *                                                       ...mlp_block.up_proj.lora_A.weight   = [1]
 * and the same for lora_B ([NO,r]; ffw_up [2,F,r]). PEFT's scale is lora_alpha / r, as ours. */
#ifndef GRIFFIN_INTEROP_H
#define GRIFFIN_INTEROP_H

#include <stddef.h>
#include <stdint.h>

#include "data/safetensors.h"
#include "model/config.h"
#include "model/params.h"

typedef enum { LAYOUT_OFFICIAL = 0, LAYOUT_HF = 1, LAYOUT_PEFT = 2 } Layout;
typedef enum { XF_COPY = 0, XF_CONV, XF_UP_W, XF_UP_B, XF_HALF } Transform;

/* One tensor of an external layout and where it lives in the parameter table. */
typedef struct {
    char name[128];
    int ndim;
    int64_t shape[4];
    int param;        /* index into the ParamTable */
    Transform xf;
    int part;         /* ffw_up branch (0 = gate, 1 = up) for XF_UP_* and XF_HALF */
} LayoutEntry;

const char *layout_name(Layout l);

/* The tensors of layout l for the table, in table order (malloc'd into *out); returns the count. */
int interop_layout(const ParamTable *pt, Layout l, LayoutEntry **out);
size_t layout_entry_numel(const LayoutEntry *e);

/* params (table layout) -> dst (external layout of e), and back. */
void interop_export_tensor(const ParamTable *pt, const float *params, const LayoutEntry *e, float *dst);
void interop_import_tensor(const ParamTable *pt, float *params, const LayoutEntry *e, const float *src);

/* Which layout a tensor set uses (by its embedding's name); -1 with a message if neither. */
int interop_detect_layout(const StSet *s, Layout *l, char *err, size_t errlen);

/* Reads every tensor of layout l from s into params, converting to float32. Refuses, naming
 * the tensor and its file: a missing tensor, a tensor not in the layout (unknown), a shape
 * mismatch (the embedding may have more rows than vocab_size: sliced), an untied lm_head. */
int interop_read_params(const StSet *s, const ParamTable *pt, Layout l, float *params, char *err, size_t errlen);

/* config.json text (malloc'd) in the style of layout l: HF RecurrentGemmaConfig keys, or the
 * official GriffinConfig fields. dtype: "float32" or "bfloat16"; pad/eos/bos ids for HF. */
char *interop_config_json(const GriffinConfig *c, Layout l, const char *dtype, int pad_id, int eos_id, int bos_id);

/* adapter_config.json text (malloc'd) of HF PEFT for c's adapters (r, lora_alpha, the target
 * modules by HF name); base: the base model's name or path */
char *interop_peft_config_json(const GriffinConfig *c, const char *base);
/* Parses an adapter_config.json (text of len bytes, named `path` in messages) into c's
 * lora_rank, lora_alpha and lora_targets; refuses what this model cannot represent (not LORA,
 * rslora, DoRA, fan_in_fan_out, bias, modules_to_save, an unknown target). Returns 0 or -1. */
int interop_parse_peft_config(const char *text, size_t len, const char *path, GriffinConfig *c, char *err,
                              size_t errlen);

/* Parses a config.json of either style (detected from its keys; *style set) into c
 * (finalised). Returns 0 or -1 with a message naming the file and key. */
int interop_parse_config(const char *path, GriffinConfig *c, Layout *style, char *err, size_t errlen);

/* Without config.json: V, D, F, H, lru_width and the block types from official tensor names
 * and shapes (as the official GriffinConfig.from_torch_params); window, soft cap and embedding
 * scale from the RecurrentGemma presets (2048, 30, true). Returns 0 or -1. */
int interop_infer_official(const StSet *s, GriffinConfig *c, char *err, size_t errlen);

/* The family whose block pattern equals types[0..n); -1 with a message if none does. */
int interop_family_from_types(const BlockType *types, int n, Family *f, char *err, size_t errlen);

/* A resolved griffin config text (INI, malloc'd) with [model] set from c, parseable by
 * train_config_parse_string; NULL with a message on failure. */
char *interop_config_ini(const GriffinConfig *c, char *err, size_t errlen);

#endif
