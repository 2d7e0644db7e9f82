/* griffin import: a RecurrentGemma checkpoint in safetensors (official torch names or the
 * HuggingFace RecurrentGemmaForCausalLM names, one file or a sharded index) with its
 * config.json and tokenizer.model -> a weights-only griffin checkpoint (docs/architecture.md §15). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/check.h"
#include "data/safetensors.h"
#include "data/tokenizer.h"
#include "model/params.h"
#include "train/ckpt/checkpoint.h"
#include "train/commands.h"
#include "train/interop/interop.h"

static void import_usage(FILE *f) {
    fprintf(f,
            "usage: griffin import --from DIR_OR_FILE --out CKPT.h5 [--config config.json]\n"
            "                      [--tokenizer tokenizer.model] [--window N] [--soft-cap C]\n"
            "  --from       a directory (model.safetensors.index.json, model.safetensors or a single\n"
            "               *.safetensors), a .safetensors file or a sharded index .json; official torch\n"
            "               names (embedder.input_embedding, blocks.N....) or HF RecurrentGemmaForCausalLM\n"
            "               names (model.embed_tokens.weight, model.layers.N....); F32, BF16 or F16\n"
            "  --config     default: config.json beside the weights (HF or official style). Official\n"
            "               weights without one: sizes from the tensors, window 2048, soft cap 30 and\n"
            "               the embedding scale as in the RecurrentGemma presets\n"
            "  --tokenizer  default: tokenizer.model beside the weights (embedded in the checkpoint)\n"
            "  --window, --soft-cap  override the config's attention window / logit soft cap\n"
            "The result is a weights-only checkpoint (step 0, no optimizer state) for train.init,\n"
            "griffin sample and griffin eval; it is written under a temporary name, then renamed.\n");
}

static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && !strcmp(s + n - m, suf);
}

/* the weights file (or index) inside dir; returns 0 or -1 with a message */
static int find_weights(const char *dir, char *out, size_t n, char *err, size_t errlen) {
    snprintf(out, n, "%s/model.safetensors.index.json", dir);
    if (is_file(out)) return 0;
    snprintf(out, n, "%s/model.safetensors", dir);
    if (is_file(out)) return 0;
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "%s: cannot open directory: %s", dir, strerror(errno));
        return -1;
    }
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (ends_with(e->d_name, ".safetensors") || ends_with(e->d_name, ".safetensors.index.json")) {
            if (found++ == 0) snprintf(out, n, "%s/%s", dir, e->d_name);
        }
    closedir(d);
    if (found == 1) return 0;
    if (found)
        snprintf(err, errlen, "%s: %d safetensors files and no model.safetensors.index.json: pass the file or index with --from",
                 dir, found);
    else
        snprintf(err, errlen, "%s: no .safetensors file or model.safetensors.index.json", dir);
    return -1;
}

static uint8_t *read_bytes(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0, r;
    do {
        if (n == cap) {
            cap = cap ? 2 * cap : 1 << 20;
            uint8_t *p = realloc(buf, cap);
            CHECK(p, "out of memory");
            buf = p;
        }
        r = fread(buf + n, 1, cap - n, f);
        n += r;
    } while (r > 0);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* Saves a weights-only checkpoint as exactly `out`: ckpt_save into a fresh temporary folder
 * beside it, then rename. Returns 0 or -1 with the message in err. */
static int save_as(const char *out, const CkptState *s, char *err, size_t errlen) {
    char tmpl[4096];
    if (snprintf(tmpl, sizeof tmpl, "%s.import-XXXXXX", out) >= (int)sizeof tmpl) {
        snprintf(err, errlen, "%s: path too long", out);
        return -1;
    }
    if (!mkdtemp(tmpl)) {
        snprintf(err, errlen, "%s: cannot create a temporary folder beside it: %s", out, strerror(errno));
        return -1;
    }
    char path[4200];
    int rc = ckpt_save(tmpl, s, 1, path, sizeof path, err, errlen);
    if (rc == CKPT_OK && rename(path, out)) {
        snprintf(err, errlen, "%.1024s: rename from %.2048s failed: %s", out, path, strerror(errno));
        unlink(path);
        rc = -1;
    }
    rmdir(tmpl);
    return rc == CKPT_OK ? 0 : -1;
}

int cmd_import(int argc, char **argv) {
    const char *from = NULL, *out = NULL, *config = NULL, *tokenizer = NULL;
    int window = 0;
    float soft_cap = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            import_usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "griffin import: %s needs a value (see --help)\n", a);
            return 2;
        }
        const char *v = argv[++i];
        char *end = NULL;
        if (!strcmp(a, "--from")) from = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--config")) config = v;
        else if (!strcmp(a, "--tokenizer")) tokenizer = v;
        else if (!strcmp(a, "--window")) window = (int)strtol(v, &end, 10);
        else if (!strcmp(a, "--soft-cap")) soft_cap = strtof(v, &end);
        else {
            fprintf(stderr, "griffin import: unknown option %s (see --help)\n", a);
            return 2;
        }
        if (end && (*end || end == v)) {
            fprintf(stderr, "griffin import: %s: '%s' is not a number\n", a, v);
            return 2;
        }
    }
    if (!from || !out) {
        import_usage(stderr);
        return 2;
    }
    if ((window != 0 && window < 1) || (soft_cap != -1 && !(soft_cap >= 0))) {
        fprintf(stderr, "griffin import: --window must be >= 1 and --soft-cap >= 0\n");
        return 2;
    }
    char err[4096], weights[4096], dir[4096], path[4200];
    /* where things are */
    if (is_dir(from)) {
        snprintf(dir, sizeof dir, "%s", from);
        if (find_weights(from, weights, sizeof weights, err, sizeof err)) {
            fprintf(stderr, "griffin import: %s\n", err);
            return 1;
        }
    } else if (is_file(from)) {
        snprintf(weights, sizeof weights, "%s", from);
        snprintf(dir, sizeof dir, "%s", from);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = 0;
        else snprintf(dir, sizeof dir, ".");
    } else {
        fprintf(stderr, "griffin import: %s: no such file or directory\n", from);
        return 1;
    }

    StSet st;
    if (st_open(&st, weights, err, sizeof err)) {
        fprintf(stderr, "griffin import: %s\n", err);
        return 1;
    }
    Layout lay;
    if (interop_detect_layout(&st, &lay, err, sizeof err)) {
        fprintf(stderr, "griffin import: %s\n", err);
        st_close(&st);
        return 1;
    }

    /* the config */
    GriffinConfig cfg;
    Layout style = lay;
    char cpath[4200];
    snprintf(cpath, sizeof cpath, "%s/config.json", dir);
    if (config || is_file(cpath)) {
        if (config) snprintf(cpath, sizeof cpath, "%s", config);
        if (interop_parse_config(cpath, &cfg, &style, err, sizeof err)) {
            fprintf(stderr, "griffin import: %s\n", err);
            st_close(&st);
            return 1;
        }
    } else if (lay == LAYOUT_OFFICIAL) {
        if (interop_infer_official(&st, &cfg, err, sizeof err)) {
            fprintf(stderr, "griffin import: %s (no config.json beside %s)\n", err, weights);
            st_close(&st);
            return 1;
        }
        fprintf(stderr, "griffin import: no config.json beside %s: sizes and block types from the tensors; "
                        "window %d, soft cap %g and the embedding scale from the RecurrentGemma presets "
                        "(override with --window / --soft-cap)\n", weights, cfg.window, (double)cfg.soft_cap);
        cpath[0] = 0;
    } else {
        fprintf(stderr, "griffin import: %s: HF-layout weights need their config.json (not found; use --config)\n", weights);
        st_close(&st);
        return 1;
    }
    if (window) cfg.window = window;
    if (soft_cap >= 0) cfg.soft_cap = soft_cap;
    const char *msg = config_finalize(&cfg);
    if (msg) {
        fprintf(stderr, "griffin import: invalid model: %s\n", msg);
        st_close(&st);
        return 1;
    }

    /* the tensors */
    ParamTable pt;
    param_table_build(&pt, &cfg);
    float *params = alignedCallocCheck(pt.total * sizeof(float));
    if (interop_read_params(&st, &pt, lay, params, err, sizeof err)) {
        fprintf(stderr, "griffin import: %s\n", err);
        st_close(&st);
        return 1;
    }
    int counts[3] = {0, 0, 0};
    for (int i = 0; i < st.count; i++) counts[st.t[i].dtype]++;
    int n_tensors = st.count, n_files = st.n_files;
    st_close(&st);

    /* the tokenizer */
    uint8_t *tok = NULL;
    size_t tok_len = 0;
    snprintf(path, sizeof path, "%s/tokenizer.model", dir);
    if (tokenizer || is_file(path)) {
        if (tokenizer) snprintf(path, sizeof path, "%s", tokenizer);
        tok = read_bytes(path, &tok_len);
        if (!tok) {
            fprintf(stderr, "griffin import: %s: cannot read: %s\n", path, strerror(errno));
            return 1;
        }
        Tokenizer *t = tokenizer_load_from_memory(tok, tok_len, path);
        int tv = tokenizer_vocab_size(t);
        tokenizer_free(t);
        if (tv > cfg.vocab_size) {
            fprintf(stderr, "griffin import: %s has %d pieces, more than the model's vocab_size %d\n", path, tv, cfg.vocab_size);
            return 1;
        }
    } else {
        fprintf(stderr, "griffin import: warning: no tokenizer.model beside %s: the checkpoint carries no tokenizer "
                        "(pass --tokenizer, or set model.tokenizer when training)\n", weights);
        path[0] = 0;
    }

    /* the checkpoint */
    char *ini = interop_config_ini(&cfg, err, sizeof err);
    if (!ini) {
        fprintf(stderr, "griffin import: cannot build the config text: %s\n", err);
        return 1;
    }
    CkptState s = {.pt = &pt, .params = params, .config = ini, .tokenizer = tok, .tokenizer_len = tok_len};
    if (save_as(out, &s, err, sizeof err)) {
        fprintf(stderr, "griffin import: %s\n", err);
        return 1;
    }
    printf("imported %s (%s layout, %d tensors in %d file%s:%s%s%s%s%s%s) -> %s\n", weights, layout_name(lay), n_tensors,
           n_files, n_files == 1 ? "" : "s", counts[0] ? " F32" : "", counts[1] ? " BF16" : "", counts[2] ? " F16" : "",
           cpath[0] ? ", config " : "", cpath[0] ? cpath : "", tok ? ", tokenizer embedded" : "", out);
    printf("%zu parameters. For training configs (train.init = %s):\n"
           "[model]\nfamily = %s\nwidth = %d\ndepth = %d\nheads = %d\nlru_width = %d\nmlp_width = %d\n"
           "window = %d\nvocab_size = %d\nsoft_cap = %g\nembed_scale = %s\n",
           pt.total, out, family_name(cfg.family), cfg.width, cfg.depth, cfg.num_heads, cfg.lru_width, cfg.mlp_width,
           cfg.window, cfg.vocab_size, (double)cfg.soft_cap, cfg.embed_scale ? "true" : "false");
    if (tok) printf("tokenizer = %s\n", path);
    (void)style;
    free(ini);
    free(tok);
    free(params);
    param_table_free(&pt);
    return 0;
}
