/* griffin export: a griffin checkpoint -> safetensors + config.json + tokenizer.model in the
 * official torch layout or the HuggingFace RecurrentGemmaForCausalLM layout (ARCHITECTURE.md
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
#include "data/safetensors.h"
#include "data/tokenizer.h"
#include "model/params.h"
#include "train/ckpt/checkpoint.h"
#include "train/commands.h"
#include "train/config/config.h"
#include "train/interop/interop.h"

#define MAX_OUT_FILES 4096

static void export_usage(FILE *f) {
    fprintf(f,
            "usage: griffin export --checkpoint CKPT.h5 --format official|hf --dtype fp32|bf16 --out DIR\n"
            "                      [--max-shard-size BYTES] [--force]\n"
            "  --format official  official torch state_dict names (embedder.input_embedding, blocks.N....)\n"
            "                     and a config.json with the GriffinConfig fields\n"
            "  --format hf        HuggingFace RecurrentGemmaForCausalLM names and config.json\n"
            "                     (ffw_up split into gate_proj/up_proj, conv_1d as [L,1,4])\n"
            "  --dtype bf16       round to nearest even (fp32 is exact)\n"
            "  --max-shard-size   split into model-0000k-of-0000n.safetensors + model.safetensors.index.json\n"
            "                     above this many bytes (default 5e9; suffixes K, M, G = 1e3, 1e6, 1e9)\n"
            "  --force            replace the safetensors/config files of an earlier export in DIR\n"
            "HF caveat: the HF port's parallel pass has no sliding window (it attends to all earlier\n"
            "tokens), so its outputs match this model's only for sequences up to the window.\n");
}

static int write_bytes(const char *path, const void *p, size_t n, char *err, size_t errlen) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
        return -1;
    }
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            snprintf(err, errlen, "%s: write failed: %s", path, strerror(errno));
            close(fd);
            unlink(path);
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    if (fsync(fd) || close(fd)) {
        snprintf(err, errlen, "%s: fsync/close failed: %s", path, strerror(errno));
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
           !strcmp(n, "config.json") || !strcmp(n, "tokenizer_config.json");
}

typedef struct {
    char final[4200], tmp[4300];
} OutFile;

int cmd_export(int argc, char **argv) {
    const char *ckpt = NULL, *format = NULL, *dtype_s = NULL, *out = NULL;
    uint64_t max_shard = 5000000000ull;
    int force = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            export_usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--force")) {
            force = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "griffin export: %s needs a value (see --help)\n", a);
            return 2;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--checkpoint")) ckpt = v;
        else if (!strcmp(a, "--format")) format = v;
        else if (!strcmp(a, "--dtype")) dtype_s = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--max-shard-size")) {
            max_shard = parse_size(v);
            if (!max_shard) {
                fprintf(stderr, "griffin export: --max-shard-size: '%s' is not a size\n", v);
                return 2;
            }
        } else {
            fprintf(stderr, "griffin export: unknown option %s (see --help)\n", a);
            return 2;
        }
    }
    if (!dtype_s) dtype_s = "fp32";
    if (!ckpt || !format || !out) {
        export_usage(stderr);
        return 2;
    }
    Layout lay;
    if (!strcmp(format, "official")) lay = LAYOUT_OFFICIAL;
    else if (!strcmp(format, "hf")) lay = LAYOUT_HF;
    else {
        fprintf(stderr, "griffin export: --format must be official or hf (got '%s')\n", format);
        return 2;
    }
    StDtype dt;
    if (!strcmp(dtype_s, "fp32")) dt = ST_F32;
    else if (!strcmp(dtype_s, "bf16")) dt = ST_BF16;
    else {
        fprintf(stderr, "griffin export: --dtype must be fp32 or bf16 (got '%s')\n", dtype_s);
        return 2;
    }

    /* the checkpoint: config, tokenizer, weights */
    char err[4096];
    CkptLoaded ld;
    if (ckpt_load(ckpt, NULL, NULL, NULL, NULL, &ld, err, sizeof err) != CKPT_OK) {
        fprintf(stderr, "griffin export: %s: %s\n", ckpt, err);
        return 1;
    }
    if (!ld.config || !ld.config[0]) {
        fprintf(stderr, "griffin export: %s stores no config; it was not written by griffin\n", ckpt);
        return 1;
    }
    TrainConfig *tc = callocCheck(1, sizeof *tc);
    if (train_config_parse_string(tc, ld.config, ckpt, NULL, 0, NULL, err, sizeof err)) {
        fprintf(stderr, "griffin export: %s: its stored config does not parse: %s\n", ckpt, err);
        return 1;
    }
    GriffinConfig cfg = tc->griffin;
    free(tc);
    if (lay == LAYOUT_HF && (!cfg.embed_scale || !(cfg.soft_cap > 0))) {
        fprintf(stderr, "griffin export: the HF RecurrentGemma port always scales input embeddings by sqrt(width) and "
                        "always soft-caps the logits; this model has embed_scale = %s and soft_cap = %g: use --format official\n",
                cfg.embed_scale ? "true" : "false", (double)cfg.soft_cap);
        return 1;
    }
    ParamTable pt;
    param_table_build(&pt, &cfg);
    float *params = alignedCallocCheck(pt.total * sizeof(float));
    if (ckpt_load_weights(ckpt, &pt, params, err, sizeof err) != CKPT_OK) {
        fprintf(stderr, "griffin export: %s: %s\n", ckpt, err);
        return 1;
    }
    int pad = 0, eos = 1, bos = 2, have_specials = 0;
    if (ld.tokenizer_len) {
        Tokenizer *t = tokenizer_load_from_memory(ld.tokenizer, ld.tokenizer_len, ckpt);
        TokenizerSpecials sp = tokenizer_specials(t);
        if (sp.pad >= 0) pad = sp.pad;
        if (sp.eos >= 0) eos = sp.eos;
        if (sp.bos >= 0) bos = sp.bos;
        have_specials = sp.pad >= 0 && sp.eos >= 0 && sp.bos >= 0 && sp.unk >= 0;
        tokenizer_free(t);
    }

    /* the output folder */
    struct stat stt;
    if (stat(out, &stt) == 0) {
        if (!S_ISDIR(stt.st_mode)) {
            fprintf(stderr, "griffin export: %s exists and is not a directory\n", out);
            return 1;
        }
        DIR *d = opendir(out);
        struct dirent *e;
        int clash = 0;
        while (d && (e = readdir(d)))
            if (is_export_file(e->d_name)) clash = 1;
        if (d) closedir(d);
        if (clash && !force) {
            fprintf(stderr, "griffin export: %s already holds an export (safetensors / config.json): pass --force to replace it\n", out);
            return 1;
        }
    } else if (mkdir(out, 0777)) {
        fprintf(stderr, "griffin export: cannot create %s: %s\n", out, strerror(errno));
        return 1;
    }

    /* shards: consecutive tensors up to max_shard bytes each */
    LayoutEntry *es;
    int n = interop_layout(&pt, lay, &es);
    int *shard_of = mallocCheck(sizeof(int) * (size_t)n);
    int n_shards = 0;
    uint64_t cur = 0, total_bytes = 0;
    for (int k = 0; k < n; k++) {
        uint64_t b = (uint64_t)layout_entry_numel(&es[k]) * st_dtype_size(dt);
        if (n_shards == 0 || (cur > 0 && cur + b > max_shard)) {
            n_shards++;
            cur = 0;
        }
        shard_of[k] = n_shards - 1;
        cur += b;
        total_bytes += b;
    }
    if (n_shards > MAX_OUT_FILES - 8) {
        fprintf(stderr, "griffin export: %d shards: raise --max-shard-size\n", n_shards);
        return 1;
    }
    OutFile *files = callocCheck(MAX_OUT_FILES, sizeof(OutFile));
    int n_out = 0;
#define ADD_OUT(name)                                                                         \
    do {                                                                                      \
        snprintf(files[n_out].final, sizeof files[n_out].final, "%s/%s", out, name);          \
        snprintf(files[n_out].tmp, sizeof files[n_out].tmp, "%s/.%s.tmp%d", out, name, (int)getpid()); \
        n_out++;                                                                              \
    } while (0)
    char name[256];
    for (int s = 0; s < n_shards; s++) {
        if (n_shards == 1) snprintf(name, sizeof name, "model.safetensors");
        else snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", s + 1, n_shards);
        ADD_OUT(name);
    }

    int rc = 0;
    const char *mk[1] = {"format"}, *mv[1] = {"pt"};
    float *buf = NULL;
    size_t buf_cap = 0;
    for (int s = 0; s < n_shards && !rc; s++) {
        int first = -1, count = 0;
        for (int k = 0; k < n; k++)
            if (shard_of[k] == s) {
                if (first < 0) first = k;
                count++;
            }
        StSpec *specs = callocCheck((size_t)count, sizeof(StSpec));
        for (int j = 0; j < count; j++) {
            const LayoutEntry *e = &es[first + j];
            specs[j].name = e->name;
            specs[j].dtype = dt;
            specs[j].ndim = e->ndim;
            for (int d = 0; d < e->ndim; d++) specs[j].shape[d] = e->shape[d];
        }
        StWriter *w = st_writer_open(files[s].tmp, specs, count, mk, mv, 1, err, sizeof err);
        if (!w) rc = -1;
        for (int j = 0; j < count && !rc; j++) {
            const LayoutEntry *e = &es[first + j];
            const float *src;
            if (e->xf == XF_COPY) {
                src = params + pt.t[e->param].offset;
            } else {
                size_t m = layout_entry_numel(e);
                if (m > buf_cap) {
                    free(buf);
                    buf = mallocCheck(sizeof(float) * m);
                    buf_cap = m;
                }
                interop_export_tensor(&pt, params, e, buf);
                src = buf;
            }
            rc = st_writer_put(w, src, err, sizeof err);
        }
        if (w) {
            if (rc) st_writer_abort(w);
            else rc = st_writer_close(w, err, sizeof err);
        }
        free(specs);
    }
    free(buf);

    /* the index, config.json, tokenizer */
    if (!rc && n_shards > 1) {
        json_t *root = json_object(), *meta = json_object(), *map = json_object();
        json_object_set_new(meta, "total_size", json_integer((json_int_t)total_bytes));
        json_object_set_new(root, "metadata", meta);
        for (int k = 0; k < n; k++) json_object_set_new(map, es[k].name, json_string(strrchr(files[shard_of[k]].final, '/') + 1));
        json_object_set_new(root, "weight_map", map);
        char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_decref(root);
        ADD_OUT("model.safetensors.index.json");
        rc = write_bytes(files[n_out - 1].tmp, text, strlen(text), err, sizeof err);
        free(text);
    }
    if (!rc) {
        char *cj = interop_config_json(&cfg, lay, dt == ST_F32 ? "float32" : "bfloat16", pad, eos, bos);
        ADD_OUT("config.json");
        rc = write_bytes(files[n_out - 1].tmp, cj, strlen(cj), err, sizeof err);
        free(cj);
    }
    if (!rc && ld.tokenizer_len) {
        ADD_OUT("tokenizer.model");
        rc = write_bytes(files[n_out - 1].tmp, ld.tokenizer, ld.tokenizer_len, err, sizeof err);
        if (!rc && lay == LAYOUT_HF && have_specials) {
            const char *tcj = "{\n  \"tokenizer_class\": \"GemmaTokenizer\",\n  \"bos_token\": \"<bos>\",\n"
                              "  \"eos_token\": \"<eos>\",\n  \"pad_token\": \"<pad>\",\n  \"unk_token\": \"<unk>\",\n"
                              "  \"add_bos_token\": true,\n  \"add_eos_token\": false\n}\n";
            ADD_OUT("tokenizer_config.json");
            rc = write_bytes(files[n_out - 1].tmp, tcj, strlen(tcj), err, sizeof err);
        }
    }
#undef ADD_OUT
    if (rc) {
        for (int i = 0; i < n_out; i++) unlink(files[i].tmp);
        fprintf(stderr, "griffin export: %s (nothing written to %s)\n", err, out);
        return 1;
    }
    /* switch names: first remove what an earlier export left that this one does not replace */
    DIR *d = opendir(out);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!is_export_file(e->d_name)) continue;
        int mine = 0;
        for (int i = 0; i < n_out && !mine; i++) mine = !strcmp(strrchr(files[i].final, '/') + 1, e->d_name);
        if (!mine) {
            char p[4400];
            snprintf(p, sizeof p, "%s/%s", out, e->d_name);
            unlink(p);
        }
    }
    if (d) closedir(d);
    for (int i = 0; i < n_out; i++)
        if (rename(files[i].tmp, files[i].final)) {
            fprintf(stderr, "griffin export: rename %s -> %s failed: %s\n", files[i].tmp, files[i].final, strerror(errno));
            for (int j = i; j < n_out; j++) unlink(files[j].tmp);
            return 1;
        }
    int dfd = open(out, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    printf("exported %s -> %s: %s layout, %s, %d tensors in %d file%s (%.1f MB)%s\n", ckpt, out, layout_name(lay),
           dt == ST_F32 ? "F32" : "BF16", n, n_shards, n_shards == 1 ? "" : "s", (double)total_bytes / 1e6,
           ld.tokenizer_len ? ", tokenizer.model" : ", no tokenizer (the checkpoint carries none)");
    if (lay == LAYOUT_HF)
        printf("note: the HF port's parallel pass has no sliding window; its outputs match this model's only for "
               "sequences of at most %d tokens (the window)\n", cfg.window);
    free(files);
    free(shard_of);
    free(es);
    free(params);
    param_table_free(&pt);
    ckpt_loaded_free(&ld);
    return 0;
}
