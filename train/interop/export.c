/* griffin export: a griffin checkpoint -> safetensors + config.json + tokenizer.model in the
 * official torch layout or the HuggingFace RecurrentGemmaForCausalLM layout (docs/architecture.md
 * §15). Every file is written under a temporary name; the names are switched only once all
 * of them are complete. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/check.h"
#include "common/sys.h"
#include "data/safetensors.h"
#include "data/tokenizer.h"
#include "model/lora.h"
#include "model/params.h"
#include "train/ckpt/checkpoint.h"
#include "train/commands.h"
#include "train/config/config.h"
#include "train/interop/interop.h"

#define MAX_OUT_FILES 4096

static void export_usage(FILE *f) {
    fprintf(f,
            "usage: griffin export --checkpoint CKPT.h5 --format official|hf|peft --dtype fp32|bf16 --out DIR\n"
            "                      [--max-shard-size BYTES] [--force] [--merge] [--base BASE.h5]\n"
            "  --base BASE.h5     an adapter checkpoint's base from BASE.h5, not the path it records\n"
            "  --format official  official torch state_dict names (embedder.input_embedding, blocks.N....)\n"
            "                     and a config.json with the GriffinConfig fields\n"
            "  --format hf        HuggingFace RecurrentGemmaForCausalLM names and config.json\n"
            "                     (ffw_up split into gate_proj/up_proj, conv_1d as [L,1,4])\n"
            "  --format peft      a checkpoint with LoRA adapters: the adapters only, as HF PEFT saves them\n"
            "                     (adapter_model.safetensors with HF module names, adapter_config.json);\n"
            "                     PEFT loads them onto the base exported with --format hf\n"
            "  --dtype bf16       round to nearest even (fp32 is exact)\n"
            "  --max-shard-size   split into model-0000k-of-0000n.safetensors + model.safetensors.index.json\n"
            "                     above this many bytes (default 5e9; suffixes K, M, G = 1e3, 1e6, 1e9)\n"
            "  --force            replace the safetensors/config files of an earlier export in DIR\n"
            "  --merge            a checkpoint with LoRA adapters: write the merged weights W + (alpha/r)*B*A\n"
            "                     (required for such a checkpoint; the result is a plain model)\n"
            "HF caveat: the HF port's parallel pass has no sliding window (it attends to all earlier\n"
            "tokens), so its outputs match this model's only for sequences up to the window.\n");
}

static int write_bytes(const char *path, const void *p, size_t n, char *err, size_t errlen) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        set_error(err, errlen, "%s: cannot create: %s", path, strerror(errno));
        return -1;
    }
    int e = write_all(fd, p, n, NULL);
    if (e) {
        set_error(err, errlen, "%s: write failed: %s", path, strerror(e));
        close(fd);
        unlink(path);
        return -1;
    }
    if (fsync(fd) || close(fd)) {
        set_error(err, errlen, "%s: fsync/close failed: %s", path, strerror(errno));
        unlink(path);
        return -1;
    }
    return 0;
}

/* "5e9", "500M", "2G" -> bytes; 0 on error */
static uint64_t parse_size(const char *s) {
    char *end = NULL;
    double v = strtod(s, &end);
    if (end == s || !(v > 0)) return 0;
    if (*end == 'K' || *end == 'k') v *= 1e3, end++;
    else if (*end == 'M' || *end == 'm') v *= 1e6, end++;
    else if (*end == 'G' || *end == 'g') v *= 1e9, end++;
    if (*end == 'B' || *end == 'b') end++;
    if (*end || v < 1 || v > 1e18) return 0;
    return (uint64_t)v;
}

/* files an earlier export may have left: *.safetensors, *.safetensors.index.json, config.json,
 * tokenizer_config.json */
static int is_export_file(const char *n) {
    size_t k = strlen(n);
    return (k > 12 && !strcmp(n + k - 12, ".safetensors")) || (k > 23 && !strcmp(n + k - 23, ".safetensors.index.json")) ||
           !strcmp(n, "config.json") || !strcmp(n, "tokenizer_config.json") || !strcmp(n, "adapter_config.json");
}

typedef struct {
    char final[4200], tmp[4300];
} OutFile;

/* one export: options, the checkpoint's model and weights, the output files */
typedef struct {
    const char *ckpt, *out;
    Layout lay;
    StDtype dt;
    uint64_t max_shard;
    int force, merge;  /* --force, --merge */
    char base[CFG_STR]; /* the checkpoint's train.init (PEFT's base_model_name_or_path) */
    CkptLoaded ld;
    GriffinConfig cfg;
    ParamTable pt;
    float *params;
    int pad, eos, bos, have_specials;
    LayoutEntry *es;      /* [n] tensors in the layout's order */
    int n, *shard_of, n_shards;
    uint64_t total_bytes;
    OutFile *files;       /* temporary and final names, switched once all are complete */
    int n_out;
    char err[4096];
} Export;

/* the options; returns 0, or the exit code (2 for a usage error, 0 after --help) + 1 */
static int parse_args(Export *x, int argc, char **argv) {
    const char *format = NULL, *dtype_s = "fp32";
    x->max_shard = 5000000000ull;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            export_usage(stdout);
            return 1;
        }
        if (!strcmp(a, "--force")) {
            x->force = 1;
            continue;
        }
        if (!strcmp(a, "--merge")) {
            x->merge = 1;
            continue;
        }
        if (i + 1 >= argc) return fprintf(stderr, "griffin export: %s needs a value (see --help)\n", a), 3;
        const char *v = argv[++i];
        if (!strcmp(a, "--checkpoint")) x->ckpt = v;
        else if (!strcmp(a, "--base")) ckpt_set_base(v);
        else if (!strcmp(a, "--format")) format = v;
        else if (!strcmp(a, "--dtype")) dtype_s = v;
        else if (!strcmp(a, "--out")) x->out = v;
        else if (!strcmp(a, "--max-shard-size")) {
            if (!(x->max_shard = parse_size(v)))
                return fprintf(stderr, "griffin export: --max-shard-size: '%s' is not a size\n", v), 3;
        } else return fprintf(stderr, "griffin export: unknown option %s (see --help)\n", a), 3;
    }
    if (!x->ckpt || !format || !x->out) return export_usage(stderr), 3;
    if (!strcmp(format, "official")) x->lay = LAYOUT_OFFICIAL;
    else if (!strcmp(format, "hf")) x->lay = LAYOUT_HF;
    else if (!strcmp(format, "peft")) x->lay = LAYOUT_PEFT;
    else return fprintf(stderr, "griffin export: --format must be official, hf or peft (got '%s')\n", format), 3;
    if (!strcmp(dtype_s, "fp32")) x->dt = ST_F32;
    else if (!strcmp(dtype_s, "bf16")) x->dt = ST_BF16;
    else return fprintf(stderr, "griffin export: --dtype must be fp32 or bf16 (got '%s')\n", dtype_s), 3;
    return 0;
}

/* the checkpoint: config, weights, the tokenizer's special ids; 0 or -1 (message printed) */
static int load_source(Export *x) {
    if (ckpt_load(x->ckpt, NULL, NULL, NULL, NULL, &x->ld, x->err, sizeof x->err) != CKPT_OK)
        return fprintf(stderr, "griffin export: %s: %s\n", x->ckpt, ckpt_why(x->err, x->ckpt)), -1;
    if (!x->ld.config || !x->ld.config[0])
        return fprintf(stderr, "griffin export: %s stores no config; it was not written by griffin\n", x->ckpt), -1;
    TrainConfig *tc = callocCheck(1, sizeof *tc);
    int bad = train_config_parse_string(tc, x->ld.config, x->ckpt, NULL, 0, NULL, x->err, sizeof x->err);
    x->cfg = tc->griffin;
    snprintf(x->base, sizeof x->base, "%s", tc->train.init);
    free(tc);
    if (bad) return fprintf(stderr, "griffin export: %s: its stored config does not parse: %s\n", x->ckpt, x->err), -1;
    if (x->lay == LAYOUT_HF && (!x->cfg.embed_scale || !(x->cfg.soft_cap > 0)))
        return fprintf(stderr, "griffin export: the HF RecurrentGemma port always scales input embeddings by sqrt(width) "
                       "and always soft-caps the logits; this model has embed_scale = %s and soft_cap = %g: use --format "
                       "official\n", x->cfg.embed_scale ? "true" : "false", (double)x->cfg.soft_cap), -1;
    if (x->lay == LAYOUT_PEFT && (x->cfg.lora_rank == 0 || x->merge))
        return fprintf(stderr, "griffin export: --format peft writes LoRA adapters: %s\n",
                       x->merge ? "--merge does not apply" : "this checkpoint has none (lora.rank = 0)"), -1;
    if (x->cfg.lora_rank > 0 && x->lay != LAYOUT_PEFT && !x->merge)
        return fprintf(stderr, "griffin export: %s holds LoRA adapters (rank %d): pass --merge to write the merged "
                       "weights, or --format peft for the adapters alone\n", x->ckpt, x->cfg.lora_rank), -1;
    param_table_build(&x->pt, &x->cfg);
    x->params = alignedCallocCheck(x->pt.total * sizeof(float));
    if (ckpt_load_weights(x->ckpt, &x->pt, x->params, x->err, sizeof x->err) != CKPT_OK)
        return fprintf(stderr, "griffin export: %s: %s\n", x->ckpt, ckpt_why(x->err, x->ckpt)), -1;
    if (x->cfg.lora_rank > 0 && x->merge) { /* merged: the base tensors, a prefix of the table, are the plain model */
        lora_merge_all(&x->pt, &x->cfg, x->params);
        param_table_free(&x->pt);
        x->cfg.lora_rank = 0;
        param_table_build(&x->pt, &x->cfg);
    }
    x->pad = 0, x->eos = 1, x->bos = 2;
    if (x->ld.tokenizer_len) {
        Tokenizer *t = tokenizer_load_from_memory(x->ld.tokenizer, x->ld.tokenizer_len, x->ckpt);
        TokenizerSpecials sp = tokenizer_specials(t);
        if (sp.pad >= 0) x->pad = sp.pad;
        if (sp.eos >= 0) x->eos = sp.eos;
        if (sp.bos >= 0) x->bos = sp.bos;
        x->have_specials = sp.pad >= 0 && sp.eos >= 0 && sp.bos >= 0 && sp.unk >= 0;
        tokenizer_free(t);
    }
    return 0;
}

/* the output folder exists (created) and holds no earlier export unless --force */
static int prepare_dir(const Export *x) {
    struct stat stt;
    if (stat(x->out, &stt) != 0) {
        if (mkdir(x->out, 0777)) return fprintf(stderr, "griffin export: cannot create %s: %s\n", x->out, strerror(errno)), -1;
        return 0;
    }
    if (!S_ISDIR(stt.st_mode)) return fprintf(stderr, "griffin export: %s exists and is not a directory\n", x->out), -1;
    DIR *d = opendir(x->out);
    struct dirent *e;
    int clash = 0;
    while (d && (e = readdir(d)))
        if (is_export_file(e->d_name)) clash = 1;
    if (d) closedir(d);
    if (clash && !x->force)
        return fprintf(stderr, "griffin export: %s already holds an export (safetensors / config.json): pass --force to "
                       "replace it\n", x->out), -1;
    return 0;
}

static void add_out(Export *x, const char *name) {
    OutFile *f = &x->files[x->n_out++];
    snprintf(f->final, sizeof f->final, "%s/%s", x->out, name);
    snprintf(f->tmp, sizeof f->tmp, "%s/.%s.tmp%d", x->out, name, (int)getpid());
}

/* shards: consecutive tensors up to max_shard bytes each, one output file per shard */
static int plan_shards(Export *x) {
    x->n = interop_layout(&x->pt, x->lay, &x->es);
    x->shard_of = mallocCheck(sizeof(int) * (size_t)x->n);
    uint64_t cur = 0;
    for (int k = 0; k < x->n; k++) {
        uint64_t b = (uint64_t)layout_entry_numel(&x->es[k]) * st_dtype_size(x->dt);
        if (x->n_shards == 0 || (cur > 0 && cur + b > x->max_shard && x->lay != LAYOUT_PEFT)) { /* PEFT: one file */
            x->n_shards++;
            cur = 0;
        }
        x->shard_of[k] = x->n_shards - 1;
        cur += b;
        x->total_bytes += b;
    }
    if (x->n_shards > MAX_OUT_FILES - 8)
        return fprintf(stderr, "griffin export: %d shards: raise --max-shard-size\n", x->n_shards), -1;
    x->files = callocCheck(MAX_OUT_FILES, sizeof(OutFile));
    char name[256];
    for (int s = 0; s < x->n_shards; s++) {
        if (x->lay == LAYOUT_PEFT) snprintf(name, sizeof name, "adapter_model.safetensors");
        else if (x->n_shards == 1) snprintf(name, sizeof name, "model.safetensors");
        else snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", s + 1, x->n_shards);
        add_out(x, name);
    }
    return 0;
}

/* shard s's tensors (first .. first+count-1) into its temporary file */
static int write_shard(Export *x, int s, int first, int count, float **buf, size_t *cap) {
    const char *mk[1] = {"format"}, *mv[1] = {"pt"};
    StSpec *specs = callocCheck((size_t)count, sizeof(StSpec));
    for (int j = 0; j < count; j++) {
        const LayoutEntry *e = &x->es[first + j];
        specs[j].name = e->name;
        specs[j].dtype = x->dt;
        specs[j].ndim = e->ndim;
        for (int d = 0; d < e->ndim; d++) specs[j].shape[d] = e->shape[d];
    }
    StWriter *w = st_writer_open(x->files[s].tmp, specs, count, mk, mv, 1, x->err, sizeof x->err);
    int rc = w ? 0 : -1;
    for (int j = 0; j < count && !rc; j++) {
        const LayoutEntry *e = &x->es[first + j];
        const float *src = x->params + x->pt.t[e->param].offset;
        if (e->xf != XF_COPY) {
            size_t m = layout_entry_numel(e);
            if (m > *cap) {
                free(*buf);
                *buf = mallocCheck(sizeof(float) * m);
                *cap = m;
            }
            interop_export_tensor(&x->pt, x->params, e, *buf);
            src = *buf;
        }
        rc = st_writer_put(w, src, x->err, sizeof x->err);
    }
    if (w) {
        if (rc) st_writer_abort(w);
        else rc = st_writer_close(w, x->err, sizeof x->err);
    }
    free(specs);
    return rc;
}

static int write_shards(Export *x) {
    float *buf = NULL;
    size_t cap = 0;
    int rc = 0;
    for (int s = 0; s < x->n_shards && !rc; s++) {
        int first = -1, count = 0;
        for (int k = 0; k < x->n; k++)
            if (x->shard_of[k] == s) {
                if (first < 0) first = k;
                count++;
            }
        rc = write_shard(x, s, first, count, &buf, &cap);
    }
    free(buf);
    return rc;
}

/* a side file (index, config.json, tokenizer) under its temporary name */
static int write_side(Export *x, const char *name, const void *bytes, size_t n) {
    add_out(x, name);
    return write_bytes(x->files[x->n_out - 1].tmp, bytes, n, x->err, sizeof x->err);
}

/* the index (several shards), config.json, the tokenizer (and HF's tokenizer_config.json) */
static int write_side_files(Export *x) {
    int rc = 0;
    if (x->lay == LAYOUT_PEFT) {
        char *cj = interop_peft_config_json(&x->cfg, x->base);
        rc = write_side(x, "adapter_config.json", cj, strlen(cj));
        free(cj);
        return rc;
    }
    if (x->n_shards > 1) {
        json_t *root = json_object(), *meta = json_object(), *map = json_object();
        json_object_set_new(meta, "total_size", json_integer((json_int_t)x->total_bytes));
        json_object_set_new(root, "metadata", meta);
        for (int k = 0; k < x->n; k++)
            json_object_set_new(map, x->es[k].name, json_string(strrchr(x->files[x->shard_of[k]].final, '/') + 1));
        json_object_set_new(root, "weight_map", map);
        char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_decref(root);
        rc = write_side(x, "model.safetensors.index.json", text, strlen(text));
        free(text);
    }
    if (!rc) {
        char *cj = interop_config_json(&x->cfg, x->lay, x->dt == ST_F32 ? "float32" : "bfloat16", x->pad, x->eos, x->bos);
        rc = write_side(x, "config.json", cj, strlen(cj));
        free(cj);
    }
    if (!rc && x->ld.tokenizer_len) {
        rc = write_side(x, "tokenizer.model", x->ld.tokenizer, x->ld.tokenizer_len);
        if (!rc && x->lay == LAYOUT_HF && x->have_specials) {
            const char *tcj = "{\n  \"tokenizer_class\": \"GemmaTokenizer\",\n  \"bos_token\": \"<bos>\",\n"
                              "  \"eos_token\": \"<eos>\",\n  \"pad_token\": \"<pad>\",\n  \"unk_token\": \"<unk>\",\n"
                              "  \"add_bos_token\": true,\n  \"add_eos_token\": false\n}\n";
            rc = write_side(x, "tokenizer_config.json", tcj, strlen(tcj));
        }
    }
    return rc;
}

/* switch names: first remove what an earlier export left that this one does not replace */
static int switch_names(Export *x) {
    DIR *d = opendir(x->out);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!is_export_file(e->d_name)) continue;
        int mine = 0;
        for (int i = 0; i < x->n_out && !mine; i++) mine = !strcmp(strrchr(x->files[i].final, '/') + 1, e->d_name);
        if (!mine) {
            char p[4400];
            snprintf(p, sizeof p, "%s/%s", x->out, e->d_name);
            unlink(p);
        }
    }
    if (d) closedir(d);
    for (int i = 0; i < x->n_out; i++)
        if (rename(x->files[i].tmp, x->files[i].final)) {
            fprintf(stderr, "griffin export: rename %s -> %s failed: %s\n", x->files[i].tmp, x->files[i].final,
                    strerror(errno));
            for (int j = i; j < x->n_out; j++) unlink(x->files[j].tmp);
            return -1;
        }
    int dfd = open(x->out, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

static void export_free(Export *x) {
    free(x->files);
    free(x->shard_of);
    free(x->es);
    free(x->params);
    param_table_free(&x->pt);
    ckpt_loaded_free(&x->ld);
}

int cmd_export(int argc, char **argv) {
    Export *x = callocCheck(1, sizeof *x);
    int rc = parse_args(x, argc, argv);
    if (rc) {
        free(x);
        return rc - 1;
    }
    rc = load_source(x) || prepare_dir(x) || plan_shards(x) ? 1 : 0;
    if (!rc && (write_shards(x) || write_side_files(x))) {
        for (int i = 0; i < x->n_out; i++) unlink(x->files[i].tmp);
        fprintf(stderr, "griffin export: %s (nothing written to %s)\n", x->err, x->out);
        rc = 1;
    }
    if (!rc && switch_names(x)) rc = 1;
    if (!rc) {
        printf("exported %s -> %s: %s layout, %s, %d tensors in %d file%s (%.1f MB)%s\n", x->ckpt, x->out,
               layout_name(x->lay), x->dt == ST_F32 ? "F32" : "BF16", x->n, x->n_shards, x->n_shards == 1 ? "" : "s",
               (double)x->total_bytes / 1e6, x->lay == LAYOUT_PEFT ? ", adapter_config.json" : x->ld.tokenizer_len ? ", tokenizer.model" : ", no tokenizer (the checkpoint carries none)");
        if (x->lay == LAYOUT_HF)
            printf("note: the HF port's parallel pass has no sliding window; its outputs match this model's only for "
                   "sequences of at most %d tokens (the window)\n", x->cfg.window);
    }
    export_free(x);
    free(x);
    return rc;
}
