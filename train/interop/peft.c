/* HF PEFT LoRA adapters: adapter_config.json both ways (the tensors' names are the PEFT layout
 * of interop.c); see interop.h. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sys.h"
#include "train/interop/interop.h"

/* HF module names of each target (ffw_up is HF's gate_proj and up_proj) */
static const char *const hf_modules[LORA_NUM][2] = {
    {"q_proj", NULL}, {"k_proj", NULL}, {"v_proj", NULL}, {"o_proj", NULL}, {"linear_x", NULL},
    {"linear_y", NULL}, {"linear_out", NULL}, {"gate_proj", "up_proj"}, {"down_proj", NULL}};

char *interop_peft_config_json(const GriffinConfig *c, const char *base) {
    json_t *o = json_object(), *targets = json_array();
    for (int t = 0; t < LORA_NUM; t++)
        for (int k = 0; k < 2 && (c->lora_targets & (1u << t)); k++)
            if (hf_modules[t][k]) json_array_append_new(targets, json_string(hf_modules[t][k]));
#define SET(k, v) json_object_set_new(o, k, v)
    SET("peft_type", json_string("LORA"));
    SET("task_type", json_string("CAUSAL_LM"));
    SET("base_model_name_or_path", json_string(base ? base : ""));
    SET("r", json_integer(c->lora_rank));
    SET("lora_alpha", json_real((double)c->lora_alpha));
    SET("lora_dropout", json_real(0.0));
    SET("target_modules", targets);
    SET("bias", json_string("none"));
    SET("fan_in_fan_out", json_false());
    SET("use_rslora", json_false());
    SET("use_dora", json_false());
    SET("init_lora_weights", json_true());
    SET("inference_mode", json_true());
    SET("modules_to_save", json_null());
    SET("layers_to_transform", json_null());
    SET("rank_pattern", json_object());
    SET("alpha_pattern", json_object());
#undef SET
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    size_t n = strlen(text);
    char *out = malloc(n + 2);
    memcpy(out, text, n);
    memcpy(out + n, "\n", 2);
    free(text);
    return out;
}

/* a key that must be absent, null, false or empty for adapters this model can hold */
static int must_be_off(json_t *o, const char *key, const char *path, const char *why, char *err, size_t errlen) {
    json_t *v = json_object_get(o, key);
    int off = !v || json_is_null(v) || json_is_false(v) || (json_is_object(v) && !json_object_size(v)) ||
              (json_is_array(v) && !json_array_size(v));
    return off ? 0 : set_error(err, errlen, "%s: %s is set: %s", path, key, why);
}

/* one target_modules entry (a module name, or a dotted path ending in one) into the mask */
static int add_target(const char *name, const char *path, unsigned *mask, int *gate_up, char *err, size_t errlen) {
    const char *last = strrchr(name, '.');
    last = last ? last + 1 : name;
    if (!strcmp(last, "gate_proj")) *gate_up |= 1;
    if (!strcmp(last, "up_proj")) *gate_up |= 2;
    int t = lora_target_parse(last);
    if (t < 0)
        return set_error(err, errlen, "%s: target_modules: '%s' is not a linear layer of RecurrentGemma (q_proj k_proj "
                         "v_proj o_proj linear_x linear_y linear_out gate_proj up_proj down_proj)", path, name);
    *mask |= 1u << t;
    return 0;
}

int interop_parse_peft_config(const char *text, size_t len, const char *path, GriffinConfig *c, char *err,
                              size_t errlen) {
    json_error_t je;
    json_t *o = json_loadb(text, len, 0, &je);
    if (!o) return set_error(err, errlen, "%s:%d: not JSON: %s", path, je.line, je.text);
    int rc = 0, gate_up = 0;
    unsigned mask = 0;
    json_t *type = json_object_get(o, "peft_type"), *r = json_object_get(o, "r"), *alpha = json_object_get(o, "lora_alpha");
    json_t *tm = json_object_get(o, "target_modules"), *bias = json_object_get(o, "bias");
    if (!json_is_object(o)) rc = set_error(err, errlen, "%s: not a JSON object", path);
    else if (type && !(json_is_string(type) && !strcmp(json_string_value(type), "LORA")))
        rc = set_error(err, errlen, "%s: peft_type must be \"LORA\"", path);
    else if (!json_is_integer(r) || json_integer_value(r) < 1 || json_integer_value(r) > 65536)
        rc = set_error(err, errlen, "%s: r must be an integer in [1, 65536]", path);
    else if (!json_is_number(alpha) || !(json_number_value(alpha) > 0) || json_number_value(alpha) > 1e6)
        rc = set_error(err, errlen, "%s: lora_alpha must be a number in (0, 1e6]", path);
    else if (bias && !json_is_null(bias) && !(json_is_string(bias) && !strcmp(json_string_value(bias), "none")))
        rc = set_error(err, errlen, "%s: bias must be \"none\" (adapters with trained biases are not supported)", path);
    else
        rc = must_be_off(o, "use_rslora", path, "rank-stabilised scaling is not supported", err, errlen) ||
             must_be_off(o, "use_dora", path, "DoRA is not supported", err, errlen) ||
             must_be_off(o, "fan_in_fan_out", path, "the weights must be stored (out, in)", err, errlen) ||
             must_be_off(o, "modules_to_save", path, "fully trained extra modules are not supported", err, errlen) ||
             must_be_off(o, "layers_to_transform", path, "adapters on a subset of the layers are not supported", err, errlen) ||
             must_be_off(o, "rank_pattern", path, "per-layer ranks are not supported", err, errlen) ||
             must_be_off(o, "alpha_pattern", path, "per-layer alphas are not supported", err, errlen);
    if (!rc) {
        if (json_is_string(tm) && !strcmp(json_string_value(tm), "all-linear")) mask = LORA_ALL, gate_up = 3;
        else if (json_is_string(tm)) rc = add_target(json_string_value(tm), path, &mask, &gate_up, err, errlen);
        else if (json_is_array(tm) && json_array_size(tm)) {
            size_t i;
            json_t *v;
            json_array_foreach(tm, i, v) {
                if (!json_is_string(v)) {
                    rc = set_error(err, errlen, "%s: target_modules must hold strings", path);
                    break;
                }
                if ((rc = add_target(json_string_value(v), path, &mask, &gate_up, err, errlen))) break;
            }
        } else {
            rc = set_error(err, errlen, "%s: target_modules must be a list of module names or \"all-linear\"", path);
        }
    }
    if (!rc && (mask & (1u << LORA_UP)) && gate_up != 3)
        rc = set_error(err, errlen, "%s: target_modules has %s without %s: the MLP's up projection (ffw_up) takes "
                       "both or neither", path, gate_up == 1 ? "gate_proj" : "up_proj", gate_up == 1 ? "up_proj" : "gate_proj");
    if (!rc) {
        c->lora_rank = (int)json_integer_value(r);
        c->lora_alpha = (float)json_number_value(alpha);
        c->lora_targets = mask;
    }
    json_decref(o);
    return rc ? -1 : 0;
}
