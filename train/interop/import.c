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
#include "train/config/config.h"
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
            "       griffin import --from PEFT_DIR --base BASE.h5 --out CKPT.h5\n"
            "  a LoRA adapter as HF PEFT saves it (adapter_model.safetensors, adapter_config.json) onto\n"
            "  the griffin checkpoint of its base: CKPT.h5 is BASE.h5's model with [lora] set and the\n"
            "  adapters' weights (train.init, griffin sample / eval take it; export --merge merges it)\n"
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

/* one import: options, where the files are, the model, its weights and tokenizer */
typedef struct {
    const char *from, *out, *config, *tokenizer, *base;
    int window;
    float soft_cap;
    char err[4096], weights[4096], dir[4096], cpath[4200], tpath[4200];
    Layout lay;
    GriffinConfig cfg;
    ParamTable pt;
    float *params;
    int counts[3], n_tensors, n_files;
    uint8_t *tok;
    size_t tok_len;
} Import;

/* the options: 0, or the exit code + 1 (0 after --help, 2 for a usage error) */
static int import_args(Import *x, int argc, char **argv) {
    x->soft_cap = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return import_usage(stdout), 1;
        if (i + 1 >= argc) return fprintf(stderr, "griffin import: %s needs a value (see --help)\n", a), 3;
        const char *v = argv[++i];
        char *end = NULL;
        if (!strcmp(a, "--from")) x->from = v;
        else if (!strcmp(a, "--out")) x->out = v;
        else if (!strcmp(a, "--config")) x->config = v;
        else if (!strcmp(a, "--tokenizer")) x->tokenizer = v;
        else if (!strcmp(a, "--base")) x->base = v;
        else if (!strcmp(a, "--window")) x->window = (int)strtol(v, &end, 10);
        else if (!strcmp(a, "--soft-cap")) x->soft_cap = strtof(v, &end);
        else return fprintf(stderr, "griffin import: unknown option %s (see --help)\n", a), 3;
        if (end && (*end || end == v)) return fprintf(stderr, "griffin import: %s: '%s' is not a number\n", a, v), 3;
    }
    if (!x->from || !x->out) return import_usage(stderr), 3;
    if ((x->window != 0 && x->window < 1) || (x->soft_cap != -1 && !(x->soft_cap >= 0)))
        return fprintf(stderr, "griffin import: --window must be >= 1 and --soft-cap >= 0\n"), 3;
    return 0;
}

/* the weights file(s) and the folder beside them */
static int locate(Import *x) {
    if (is_dir(x->from)) {
        snprintf(x->dir, sizeof x->dir, "%s", x->from);
        if (find_weights(x->from, x->weights, sizeof x->weights, x->err, sizeof x->err))
            return fprintf(stderr, "griffin import: %s\n", x->err), -1;
        return 0;
    }
    if (!is_file(x->from)) return fprintf(stderr, "griffin import: %s: no such file or directory\n", x->from), -1;
    snprintf(x->weights, sizeof x->weights, "%s", x->from);
    snprintf(x->dir, sizeof x->dir, "%s", x->from);
    char *slash = strrchr(x->dir, '/');
    if (slash) *slash = 0;
    else snprintf(x->dir, sizeof x->dir, ".");
    return 0;
}

/* the model config: config.json (or --config), else inferred from official-layout tensors */
static int read_model_config(Import *x, const StSet *st) {
    Layout style = x->lay;
    snprintf(x->cpath, sizeof x->cpath, "%s/config.json", x->dir);
    if (x->config || is_file(x->cpath)) {
        if (x->config) snprintf(x->cpath, sizeof x->cpath, "%s", x->config);
        if (interop_parse_config(x->cpath, &x->cfg, &style, x->err, sizeof x->err))
            return fprintf(stderr, "griffin import: %s\n", x->err), -1;
    } else if (x->lay == LAYOUT_OFFICIAL) {
        if (interop_infer_official(st, &x->cfg, x->err, sizeof x->err))
            return fprintf(stderr, "griffin import: %s (no config.json beside %s)\n", x->err, x->weights), -1;
        fprintf(stderr, "griffin import: no config.json beside %s: sizes and block types from the tensors; "
                        "window %d, soft cap %g and the embedding scale from the RecurrentGemma presets "
                        "(override with --window / --soft-cap)\n", x->weights, x->cfg.window, (double)x->cfg.soft_cap);
        x->cpath[0] = 0;
    } else {
        return fprintf(stderr, "griffin import: %s: HF-layout weights need their config.json (not found; use --config)\n",
                       x->weights), -1;
    }
    if (x->window) x->cfg.window = x->window;
    if (x->soft_cap >= 0) x->cfg.soft_cap = x->soft_cap;
    const char *msg = config_finalize(&x->cfg);
    if (msg) return fprintf(stderr, "griffin import: invalid model: %s\n", msg), -1;
    return 0;
}

/* the safetensors: layout, config, every parameter */
static int read_weights(Import *x) {
    StSet st;
    if (st_open(&st, x->weights, x->err, sizeof x->err)) return fprintf(stderr, "griffin import: %s\n", x->err), -1;
    int rc = interop_detect_layout(&st, &x->lay, x->err, sizeof x->err);
    if (rc) fprintf(stderr, "griffin import: %s\n", x->err);
    if (!rc) rc = read_model_config(x, &st);
    if (!rc) {
        param_table_build(&x->pt, &x->cfg);
        x->params = alignedCallocCheck(x->pt.total * sizeof(float));
        rc = interop_read_params(&st, &x->pt, x->lay, x->params, x->err, sizeof x->err);
        if (rc) fprintf(stderr, "griffin import: %s\n", x->err);
    }
    for (int i = 0; !rc && i < st.count; i++) x->counts[st.t[i].dtype]++;
    x->n_tensors = st.count, x->n_files = st.n_files;
    st_close(&st);
    return rc ? -1 : 0;
}

/* tokenizer.model beside the weights (or --tokenizer), checked against the vocabulary */
static int read_tokenizer(Import *x) {
    snprintf(x->tpath, sizeof x->tpath, "%s/tokenizer.model", x->dir);
    if (!x->tokenizer && !is_file(x->tpath)) {
        fprintf(stderr, "griffin import: warning: no tokenizer.model beside %s: the checkpoint carries no tokenizer "
                        "(pass --tokenizer, or set model.tokenizer when training)\n", x->weights);
        x->tpath[0] = 0;
        return 0;
    }
    if (x->tokenizer) snprintf(x->tpath, sizeof x->tpath, "%s", x->tokenizer);
    x->tok = read_bytes(x->tpath, &x->tok_len);
    if (!x->tok) return fprintf(stderr, "griffin import: %s: cannot read: %s\n", x->tpath, strerror(errno)), -1;
    Tokenizer *t = tokenizer_load_from_memory(x->tok, x->tok_len, x->tpath);
    int tv = tokenizer_vocab_size(t);
    tokenizer_free(t);
    if (tv > x->cfg.vocab_size)
        return fprintf(stderr, "griffin import: %s has %d pieces, more than the model's vocab_size %d\n", x->tpath, tv,
                       x->cfg.vocab_size), -1;
    return 0;
}

static int write_checkpoint(Import *x) {
    char *ini = interop_config_ini(&x->cfg, x->err, sizeof x->err);
    if (!ini) return fprintf(stderr, "griffin import: cannot build the config text: %s\n", x->err), -1;
    CkptState s = {.pt = &x->pt, .params = x->params, .config = ini, .tokenizer = x->tok, .tokenizer_len = x->tok_len};
    int rc = save_as(x->out, &s, x->err, sizeof x->err);
    free(ini);
    if (rc) return fprintf(stderr, "griffin import: %s\n", x->err), -1;
    return 0;
}

static void import_report(const Import *x) {
    const GriffinConfig *c = &x->cfg;
    printf("imported %s (%s layout, %d tensors in %d file%s:%s%s%s%s%s%s) -> %s\n", x->weights, layout_name(x->lay),
           x->n_tensors, x->n_files, x->n_files == 1 ? "" : "s", x->counts[0] ? " F32" : "", x->counts[1] ? " BF16" : "",
           x->counts[2] ? " F16" : "", x->cpath[0] ? ", config " : "", x->cpath[0] ? x->cpath : "",
           x->tok ? ", tokenizer embedded" : "", x->out);
    printf("%zu parameters. For training configs (train.init = %s):\n"
           "[model]\nfamily = %s\nwidth = %d\ndepth = %d\nheads = %d\nlru_width = %d\nmlp_width = %d\n"
           "window = %d\nvocab_size = %d\nsoft_cap = %g\nembed_scale = %s\n",
           x->pt.total, x->out, family_name(c->family), c->width, c->depth, c->num_heads, c->lru_width, c->mlp_width,
           c->window, c->vocab_size, (double)c->soft_cap, c->embed_scale ? "true" : "false");
    if (x->tok) printf("tokenizer = %s\n", x->tpath);
}

/* a PEFT adapter onto its base checkpoint: the base's config with [lora] from adapter_config.json,
 * the base's tensors, the adapters from the safetensors */
static int import_peft(Import *x) {
    char apath[4200];
    snprintf(apath, sizeof apath, "%s/adapter_config.json", x->dir);
    size_t alen = 0;
    uint8_t *atext = read_bytes(apath, &alen);
    if (!atext) return fprintf(stderr, "griffin import: %s: cannot read: %s (--base imports a PEFT adapter)\n", apath,
                               strerror(errno)), -1;
    GriffinConfig lc = {0};
    int rc = interop_parse_peft_config((const char *)atext, alen, apath, &lc, x->err, sizeof x->err);
    free(atext);
    if (rc) return fprintf(stderr, "griffin import: %s\n", x->err), -1;
    CkptLoaded ld;
    if (ckpt_load(x->base, NULL, NULL, NULL, NULL, &ld, x->err, sizeof x->err) != CKPT_OK)
        return fprintf(stderr, "griffin import: --base %s: %s\n", x->base, x->err), -1;
    TrainConfig *tc = callocCheck(1, sizeof *tc), *ac = callocCheck(1, sizeof *ac);
    char *ini = NULL;
    rc = -1;
    if (!ld.config || train_config_parse_string(tc, ld.config, x->base, NULL, 0, NULL, x->err, sizeof x->err)) {
        fprintf(stderr, "griffin import: --base %s: its stored config does not parse: %s\n", x->base,
                ld.config ? x->err : "none stored");
        goto done;
    }
    if (tc->griffin.lora_rank > 0) {
        fprintf(stderr, "griffin import: --base %s has LoRA adapters of its own: merge them first (griffin export "
                        "--merge, then import)\n", x->base);
        goto done;
    }
    tc->lora.rank = lc.lora_rank, tc->lora.alpha = lc.lora_alpha;
    tc->lora.targets[0] = 0;
    for (int t = 0; t < LORA_NUM; t++)
        if (lc.lora_targets & (1u << t))
            snprintf(tc->lora.targets + strlen(tc->lora.targets), CFG_STR - strlen(tc->lora.targets), "%s%s",
                     tc->lora.targets[0] ? "," : "", lora_target_name((LoraTarget)t));
    tc->train.trainable[0] = tc->train.freeze[0] = 0;
    snprintf(tc->train.init, sizeof tc->train.init, "%s", x->base); /* the adapter's base */
    ini = train_config_to_ini(tc);
    if (train_config_parse_string(ac, ini, apath, NULL, 0, NULL, x->err, sizeof x->err)) {
        fprintf(stderr, "griffin import: %s does not fit the base %s: %s\n", apath, x->base, x->err);
        goto done;
    }
    x->cfg = ac->griffin;
    param_table_build(&x->pt, &x->cfg);
    x->params = alignedCallocCheck(x->pt.total * sizeof(float));
    GriffinConfig plain = x->cfg;
    plain.lora_rank = 0;
    ParamTable bt;
    param_table_build(&bt, &plain); /* the base's tensors: a prefix */
    int brc = ckpt_load_weights(x->base, &bt, x->params, x->err, sizeof x->err);
    param_table_free(&bt);
    if (brc != CKPT_OK) {
        fprintf(stderr, "griffin import: --base %s: %s\n", x->base, x->err);
        goto done;
    }
    StSet st;
    if (st_open(&st, x->weights, x->err, sizeof x->err)) {
        fprintf(stderr, "griffin import: %s\n", x->err);
        goto done;
    }
    x->lay = LAYOUT_PEFT;
    int prc = interop_read_params(&st, &x->pt, LAYOUT_PEFT, x->params, x->err, sizeof x->err);
    for (int i = 0; !prc && i < st.count; i++) x->counts[st.t[i].dtype]++;
    x->n_tensors = st.count, x->n_files = st.n_files;
    st_close(&st);
    if (prc) {
        fprintf(stderr, "griffin import: %s (adapters for the base %s)\n", x->err, x->base);
        goto done;
    }
    CkptState s = {.pt = &x->pt, .params = x->params, .config = ini, .tokenizer = ld.tokenizer,
                   .tokenizer_len = ld.tokenizer_len};
    rc = save_as(x->out, &s, x->err, sizeof x->err);
    if (rc) fprintf(stderr, "griffin import: %s\n", x->err);
    else printf("imported the PEFT adapter %s (rank %d, alpha %g, %d tensors) onto %s -> %s\n", x->weights,
                x->cfg.lora_rank, (double)x->cfg.lora_alpha, x->n_tensors, x->base, x->out);
done:
    free(ini);
    free(tc);
    free(ac);
    ckpt_loaded_free(&ld);
    return rc ? -1 : 0;
}

int cmd_import(int argc, char **argv) {
    Import *x = callocCheck(1, sizeof *x);
    int rc = import_args(x, argc, argv);
    if (rc) {
        free(x);
        return rc - 1;
    }
    if (x->base) {
        rc = locate(x) || import_peft(x) ? 1 : 0;
    } else {
        rc = locate(x) || read_weights(x) || read_tokenizer(x) || write_checkpoint(x) ? 1 : 0;
        if (!rc) import_report(x);
    }
    free(x->tok);
    free(x->params);
    param_table_free(&x->pt);
    free(x);
    return rc;
}
