/* config.json of the official and HF layouts, both ways, and the griffin config text of an
 * imported checkpoint; see interop.h. */
#include "train/interop/interop.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "common/sys.h"
#include "train/config/config.h"

/* ---- config.json ---- */

static json_t *types_json(const GriffinConfig *c, int hf) {
    json_t *a = json_array();
    for (int i = 0; i < c->depth; i++) {
        int att = c->block_types[i] == BLOCK_ATTENTION;
        json_array_append_new(a, json_string(hf ? (att ? "attention" : "recurrent") : (att ? "ATTENTION" : "RECURRENT")));
    }
    return a;
}

char *interop_config_json(const GriffinConfig *c, Layout l, const char *dtype, int pad_id, int eos_id, int bos_id) {
    json_t *o = json_object();
#define SET(k, v) json_object_set_new(o, k, v)
    if (l == LAYOUT_HF) {
        json_t *arch = json_array();
        json_array_append_new(arch, json_string("RecurrentGemmaForCausalLM"));
        SET("architectures", arch);
        SET("model_type", json_string("recurrent_gemma"));
        SET("vocab_size", json_integer(c->vocab_size));
        SET("hidden_size", json_integer(c->width));
        SET("intermediate_size", json_integer(2 * (json_int_t)c->mlp_width)); /* HF halves it per branch */
        SET("num_hidden_layers", json_integer(c->depth));
        SET("num_attention_heads", json_integer(c->num_heads));
        SET("num_key_value_heads", json_integer(1));
        SET("head_dim", json_integer(c->width / c->num_heads));
        SET("lru_width", json_integer(c->lru_width));
        SET("attention_window_size", json_integer(c->window));
        SET("conv1d_width", json_integer(GRIFFIN_CONV_WIDTH));
        SET("logits_soft_cap", json_real((double)c->soft_cap));
        SET("rms_norm_eps", json_real(1e-6));
        SET("hidden_activation", json_string("gelu_pytorch_tanh"));
        SET("partial_rotary_factor", json_real(0.5));
        SET("rope_theta", json_real(10000.0));
        SET("attention_bias", json_false());
        SET("attention_dropout", json_real(0.0));
        SET("block_types", types_json(c, 1));
        SET("embeddings_scale_by_sqrt_dim", json_true());
        SET("tie_word_embeddings", json_true());
        SET("use_cache", json_true());
        SET("w_init_variance_scale", json_real(0.01));
        SET("final_w_init_variance_scale", json_real(2.0 / c->depth));
        SET("pad_token_id", json_integer(pad_id));
        SET("eos_token_id", json_integer(eos_id));
        SET("bos_token_id", json_integer(bos_id));
        SET("torch_dtype", json_string(dtype));
        SET("griffin_family", json_string(family_name(c->family)));
    } else {
        SET("architecture", json_string("griffin"));
        SET("vocab_size", json_integer(c->vocab_size));
        SET("width", json_integer(c->width));
        SET("mlp_expanded_width", json_integer(c->mlp_width));
        SET("num_heads", json_integer(c->num_heads));
        SET("lru_width", json_integer(c->lru_width));
        SET("block_types", types_json(c, 0));
        SET("embeddings_scale_by_sqrt_dim", json_boolean(c->embed_scale));
        SET("attention_window_size", json_integer(c->window));
        SET("logits_soft_cap", json_real((double)c->soft_cap));
        SET("conv1d_temporal_width", json_integer(GRIFFIN_CONV_WIDTH));
        SET("dtype", json_string(dtype));
        SET("griffin_family", json_string(family_name(c->family)));
    }
#undef SET
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
    json_decref(o);
    CHECK(text, "out of memory");
    size_t n = strlen(text);
    char *r = mallocCheck(n + 2);
    memcpy(r, text, n);
    r[n] = '\n';
    r[n + 1] = 0;
    free(text);
    return r;
}

int interop_family_from_types(const BlockType *types, int n, Family *f, char *err, size_t errlen) {
    /* all recurrent is hawk and all attention transformer even where griffin's cycle agrees
     * (depth <= 2): the same model either way */
    const Family order[3] = {FAMILY_HAWK, FAMILY_TRANSFORMER, FAMILY_GRIFFIN};
    for (int k = 0; k < 3; k++) {
        int ok = 1;
        for (int i = 0; i < n && ok; i++) {
            BlockType want = order[k] == FAMILY_HAWK ? BLOCK_RECURRENT
                           : order[k] == FAMILY_TRANSFORMER ? BLOCK_ATTENTION
                           : (i % 3 == 2 ? BLOCK_ATTENTION : BLOCK_RECURRENT);
            ok = types[i] == want;
        }
        if (ok) {
            *f = order[k];
            return 0;
        }
    }
    char pat[256];
    size_t k = 0;
    for (int i = 0; i < n && k + 8 < sizeof pat; i++)
        k += (size_t)snprintf(pat + k, sizeof pat - k, "%s%c", i ? "," : "", types[i] == BLOCK_ATTENTION ? 'A' : 'R');
    return set_error(err, errlen, "block types %s%s match no family: griffin = (recurrent, recurrent, attention) repeated, "
                   "hawk = all recurrent, transformer = all attention (the model derives its block types from the family)",
                   pat, k + 8 >= sizeof pat ? "..." : "");
}

/* integer key: required, or default when absent */
static int get_int(json_t *o, const char *path, const char *key, int required, long long def, long long lo, long long hi,
                   int *out, char *err, size_t errlen) {
    json_t *v = json_object_get(o, key);
    long long x = def;
    if (!v || json_is_null(v)) {
        if (required) return set_error(err, errlen, "%s: required key %s is missing", path, key);
    } else if (json_is_integer(v)) {
        x = json_integer_value(v);
    } else if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v))) {
        x = (long long)json_real_value(v);
    } else {
        return set_error(err, errlen, "%s: %s must be an integer", path, key);
    }
    if (x < lo || x > hi) return set_error(err, errlen, "%s: %s = %lld is out of range [%lld, %lld]", path, key, x, lo, hi);
    *out = (int)x;
    return 0;
}

static int get_num(json_t *o, const char *path, const char *key, double def, double *out, char *err, size_t errlen) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_number(v)) return set_error(err, errlen, "%s: %s must be a number", path, key);
    *out = json_number_value(v);
    return 0;
}

/* block_types: a list of strings; HF cycles it to the depth, official lists every layer */
static int get_types(json_t *o, const char *path, int depth, int cycle, GriffinConfig *c, char *err, size_t errlen) {
    json_t *a = json_object_get(o, "block_types");
    const char *defs[3] = {"recurrent", "recurrent", "attention"};
    size_t n = a ? json_array_size(a) : 0;
    if (a && (!json_is_array(a) || n == 0)) return set_error(err, errlen, "%s: block_types must be a non-empty list", path);
    if (!a && !cycle) return set_error(err, errlen, "%s: required key block_types is missing", path);
    if (!cycle && (int)n != depth) return set_error(err, errlen, "%s: block_types has %zu entries for %d layers", path, n, depth);
    for (int i = 0; i < depth; i++) {
        const char *s = a ? json_string_value(json_array_get(a, (size_t)i % n)) : defs[i % 3];
        if (!s) return set_error(err, errlen, "%s: block_types[%zu] is not a string", path, (size_t)i % (n ? n : 3));
        char low[32];
        size_t k = 0;
        for (; s[k] && k + 1 < sizeof low; k++) low[k] = (char)(s[k] >= 'A' && s[k] <= 'Z' ? s[k] + 32 : s[k]);
        low[k] = 0;
        if (!strcmp(low, "recurrent")) c->block_types[i] = BLOCK_RECURRENT;
        else if (!strcmp(low, "attention")) c->block_types[i] = BLOCK_ATTENTION;
        else return set_error(err, errlen, "%s: block_types entry '%s' is neither recurrent nor attention", path, s);
    }
    return 0;
}

/* family from the block types; hint (our own "griffin_family" key, may be NULL) decides
 * where two families give the same pattern */
static int finish(GriffinConfig *c, json_t *hint, const char *path, char *err, size_t errlen) {
    BlockType types[GRIFFIN_MAX_LAYERS];
    memcpy(types, c->block_types, sizeof types);
    if (interop_family_from_types(types, c->depth, &c->family, err, errlen)) {
        char m[512];
        snprintf(m, sizeof m, "%s", err);
        return set_error(err, errlen, "%s: %s", path, m);
    }
    Family hf;
    if (json_is_string(hint) && family_parse(json_string_value(hint), &hf) == 0) {
        GriffinConfig t = *c;
        t.family = hf;
        if (!config_finalize(&t) && !memcmp(t.block_types, types, sizeof(BlockType) * (size_t)c->depth)) c->family = hf;
    }
    const char *msg = config_finalize(c);
    if (msg) return set_error(err, errlen, "%s: the model it describes is not valid here: %s", path, msg);
    return 0;
}

static int parse_hf(json_t *o, const char *path, GriffinConfig *c, char *err, size_t errlen) {
    int inter = 0, kv = 1, conv = 4, has_att;
    double cap = 0, eps = 0, theta = 0, prf = 0;
    if (get_int(o, path, "hidden_size", 1, 0, 1, 1 << 20, &c->width, err, errlen) ||
        get_int(o, path, "num_hidden_layers", 1, 0, 1, GRIFFIN_MAX_LAYERS, &c->depth, err, errlen) ||
        get_int(o, path, "num_attention_heads", 1, 0, 1, 1 << 16, &c->num_heads, err, errlen) ||
        get_int(o, path, "intermediate_size", 1, 0, 2, 1 << 22, &inter, err, errlen) ||
        get_int(o, path, "vocab_size", 1, 0, 2, 1 << 24, &c->vocab_size, err, errlen) ||
        get_int(o, path, "lru_width", 0, c->width, 1, 1 << 20, &c->lru_width, err, errlen) ||
        get_int(o, path, "attention_window_size", 0, 2048, 1, 1 << 24, &c->window, err, errlen) ||
        get_int(o, path, "conv1d_width", 0, 4, 1, 64, &conv, err, errlen) ||
        get_num(o, path, "logits_soft_cap", 30.0, &cap, err, errlen) ||
        get_num(o, path, "rms_norm_eps", 1e-6, &eps, err, errlen) ||
        get_num(o, path, "rope_theta", 10000.0, &theta, err, errlen) ||
        get_num(o, path, "partial_rotary_factor", 0.5, &prf, err, errlen) ||
        get_types(o, path, c->depth, 1, c, err, errlen))
        return -1;
    json_t *rp = json_object_get(o, "rope_parameters");
    if (json_is_object(rp) &&
        (get_num(rp, path, "rope_theta", theta, &theta, err, errlen) ||
         get_num(rp, path, "partial_rotary_factor", prf, &prf, err, errlen)))
        return -1;
    if (inter % 2) return set_error(err, errlen, "%s: intermediate_size %d is odd (HF splits it into two equal branches)", path, inter);
    c->mlp_width = inter / 2;
    has_att = 0;
    for (int i = 0; i < c->depth; i++) has_att |= c->block_types[i] == BLOCK_ATTENTION;
    if (has_att && get_int(o, path, "num_key_value_heads", 0, c->num_heads, 1, 1 << 16, &kv, err, errlen)) return -1;
    if (has_att && kv != 1)
        return set_error(err, errlen, "%s: num_key_value_heads = %d: only multi-query attention (1 key/value head) is supported", path, kv);
    if (conv != GRIFFIN_CONV_WIDTH) return set_error(err, errlen, "%s: conv1d_width = %d: only %d is supported", path, conv, GRIFFIN_CONV_WIDTH);
    if (!(cap > 0) || cap > 1e4) return set_error(err, errlen, "%s: logits_soft_cap = %g: HF always soft-caps, expected a positive cap", path, cap);
    if (fabs(eps - 1e-6) > 1e-12) return set_error(err, errlen, "%s: rms_norm_eps = %g: only 1e-6 is supported", path, eps);
    if (theta != 10000.0) return set_error(err, errlen, "%s: rope_theta = %g: only 10000 is supported", path, theta);
    if (prf != 0.5) return set_error(err, errlen, "%s: partial_rotary_factor = %g: only 0.5 is supported", path, prf);
    json_t *act = json_object_get(o, "hidden_activation");
    if (act && (!json_is_string(act) || strcmp(json_string_value(act), "gelu_pytorch_tanh")))
        return set_error(err, errlen, "%s: hidden_activation must be gelu_pytorch_tanh", path);
    json_t *ab = json_object_get(o, "attention_bias");
    if (ab && !json_is_false(ab)) return set_error(err, errlen, "%s: attention_bias = true is not supported (q/k/v have no bias)", path);
    json_t *tie = json_object_get(o, "tie_word_embeddings");
    if (tie && json_is_false(tie)) return set_error(err, errlen, "%s: tie_word_embeddings = false is not supported (the model ties them)", path);
    json_t *hd = json_object_get(o, "head_dim");
    if (json_is_integer(hd) && json_integer_value(hd) * c->num_heads != c->width)
        return set_error(err, errlen, "%s: head_dim %lld is not hidden_size / num_attention_heads", path, (long long)json_integer_value(hd));
    c->soft_cap = (float)cap;
    c->embed_scale = 1; /* HF always scales by sqrt(hidden_size) in bfloat16 */
    return finish(c, json_object_get(o, "griffin_family"), path, err, errlen);
}

static int parse_official(json_t *o, const char *path, GriffinConfig *c, char *err, size_t errlen) {
    double cap = 0;
    json_t *bt = json_object_get(o, "block_types");
    c->depth = json_is_array(bt) ? (int)json_array_size(bt) : 0;
    if (c->depth < 1 || c->depth > GRIFFIN_MAX_LAYERS)
        return set_error(err, errlen, "%s: block_types must list 1..%d layers", path, GRIFFIN_MAX_LAYERS);
    if (get_int(o, path, "vocab_size", 1, 0, 2, 1 << 24, &c->vocab_size, err, errlen) ||
        get_int(o, path, "width", 1, 0, 1, 1 << 20, &c->width, err, errlen) ||
        get_int(o, path, "mlp_expanded_width", 1, 0, 1, 1 << 22, &c->mlp_width, err, errlen) ||
        get_int(o, path, "num_heads", 1, 0, 1, 1 << 16, &c->num_heads, err, errlen) ||
        get_int(o, path, "lru_width", 0, c->width, 1, 1 << 20, &c->lru_width, err, errlen) ||
        get_int(o, path, "attention_window_size", 1, 0, 1, 1 << 24, &c->window, err, errlen) ||
        get_num(o, path, "logits_soft_cap", 0, &cap, err, errlen) ||
        get_types(o, path, c->depth, 0, c, err, errlen))
        return -1;
    json_t *es = json_object_get(o, "embeddings_scale_by_sqrt_dim");
    if (!json_is_boolean(es)) return set_error(err, errlen, "%s: embeddings_scale_by_sqrt_dim must be true or false", path);
    if (!(cap >= 0) || cap > 1e4) return set_error(err, errlen, "%s: logits_soft_cap = %g is out of range [0, 1e4]", path, cap);
    int conv = GRIFFIN_CONV_WIDTH;
    if (get_int(o, path, "conv1d_temporal_width", 0, GRIFFIN_CONV_WIDTH, 1, 64, &conv, err, errlen)) return -1;
    if (conv != GRIFFIN_CONV_WIDTH) return set_error(err, errlen, "%s: conv1d_temporal_width = %d: only %d is supported", path, conv, GRIFFIN_CONV_WIDTH);
    c->embed_scale = json_is_true(es);
    c->soft_cap = (float)cap;
    return finish(c, json_object_get(o, "griffin_family"), path, err, errlen);
}

int interop_parse_config(const char *path, GriffinConfig *c, Layout *style, char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    json_error_t je;
    json_t *o = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!o) return set_error(err, errlen, "%s: not valid JSON: %s (line %d)", path, je.text, je.line);
    int rc;
    if (!json_is_object(o)) rc = set_error(err, errlen, "%s: not a JSON object", path);
    else if (json_object_get(o, "hidden_size")) {
        *style = LAYOUT_HF;
        rc = parse_hf(o, path, c, err, errlen);
    } else if (json_object_get(o, "width")) {
        *style = LAYOUT_OFFICIAL;
        rc = parse_official(o, path, c, err, errlen);
    } else {
        rc = set_error(err, errlen, "%s: neither an HF config (hidden_size, ...) nor an official one (width, ...)", path);
    }
    json_decref(o);
    return rc;
}

int interop_infer_official(const StSet *s, GriffinConfig *c, char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    int e = st_find(s, "embedder.input_embedding"), up = st_find(s, "blocks.0.mlp_block.ffw_up.w");
    if (e < 0 || s->t[e].ndim != 2) return set_error(err, errlen, "cannot infer the config: no 2-D embedder.input_embedding");
    if (up < 0 || s->t[up].ndim != 3) return set_error(err, errlen, "cannot infer the config: no 3-D blocks.0.mlp_block.ffw_up.w");
    c->vocab_size = (int)s->t[e].shape[0];
    c->width = (int)s->t[e].shape[1];
    c->mlp_width = (int)s->t[up].shape[2];
    char n[160];
    for (;;) {
        snprintf(n, sizeof n, "blocks.%d.channel_pre_norm.scale", c->depth);
        if (st_find(s, n) < 0) break;
        if (c->depth >= GRIFFIN_MAX_LAYERS) return set_error(err, errlen, "cannot infer the config: more than %d layers", GRIFFIN_MAX_LAYERS);
        int i = c->depth;
        snprintf(n, sizeof n, "blocks.%d.recurrent_block.rg_lru.a_gate.w", i);
        int g = st_find(s, n);
        snprintf(n, sizeof n, "blocks.%d.attention_block.proj_k.weight", i);
        int k = st_find(s, n);
        if (g >= 0 && s->t[g].ndim == 3) {
            c->block_types[i] = BLOCK_RECURRENT;
            c->num_heads = (int)s->t[g].shape[0];
            c->lru_width = (int)(s->t[g].shape[0] * s->t[g].shape[1]);
        } else if (k >= 0 && s->t[k].ndim == 2 && s->t[k].shape[0] > 0) {
            c->block_types[i] = BLOCK_ATTENTION;
            if (!c->num_heads) c->num_heads = (int)(c->width / s->t[k].shape[0]); /* proj_k [D/H, D] */
        } else {
            return set_error(err, errlen, "cannot infer the config: blocks.%d has neither rg_lru.a_gate.w nor attention_block.proj_k.weight", i);
        }
        c->depth++;
    }
    if (c->depth == 0) return set_error(err, errlen, "cannot infer the config: no blocks.0.channel_pre_norm.scale");
    c->window = 2048;
    c->soft_cap = 30.0f;
    c->embed_scale = 1;
    return finish(c, NULL, "inferred config", err, errlen);
}

char *interop_config_ini(const GriffinConfig *c, char *err, size_t errlen) {
    char text[2048];
    char cap[32];
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(cap, sizeof cap, "%.*g", prec, (double)c->soft_cap);
        if (strtof(cap, NULL) == c->soft_cap) break;
    }
    snprintf(text, sizeof text,
             "[model]\nfamily = %s\nwidth = %d\ndepth = %d\nheads = %d\nlru_width = %d\nmlp_width = %d\n"
             "window = %d\nvocab_size = %d\nsoft_cap = %s\nembed_scale = %s\n",
             family_name(c->family), c->width, c->depth, c->num_heads, c->lru_width, c->mlp_width, c->window,
             c->vocab_size, cap, c->embed_scale ? "true" : "false");
    TrainConfig *tc = callocCheck(1, sizeof *tc);
    char *ini = NULL;
    if (train_config_parse_string(tc, text, "import", NULL, 0, NULL, err, errlen) == 0) {
        GriffinConfig *g = &tc->griffin;
        if (g->family != c->family || g->width != c->width || g->depth != c->depth || g->num_heads != c->num_heads ||
            g->lru_width != c->lru_width || g->mlp_width != c->mlp_width || g->window != c->window ||
            g->vocab_size != c->vocab_size || g->soft_cap != c->soft_cap || g->embed_scale != c->embed_scale)
            set_error(err, errlen, "the config does not survive the INI round trip");
        else
            ini = train_config_to_ini(tc);
    }
    free(tc);
    return ini;
}
