/* Interop (train/interop/interop.c, data/safetensors.c, griffin import / export):
 *   roundtrip WORK   export -> import is bitwise (fp32) for the official and HF layouts, one
 *                    file and sharded, per family; bf16 gives the bf16-rounded weights; the HF
 *                    transforms put the right element in the right place; official weights
 *                    without config.json import with the inferred sizes; a larger embedding
 *                    is sliced; F16/BF16 inputs convert; missing / unknown / misshapen tensors,
 *                    an untied lm_head and an unsupported block pattern are refused, naming the
 *                    tensor, and leave no output file.
 *   malformed WORK   bad header length, overlapping offsets, dtype/size mismatch, truncated
 *                    data, holes, bad JSON, unsupported dtypes are refused with a message.
 *   hf_dump WORK     a tiny griffin checkpoint exported in the HF layout plus our logits, for
 *                    tests/ref/hf_check.py; the export imported back gives the same logits.
 *   sft_flow WORK    the documented workflow: an HF-layout bf16 model imported, fine-tuned with
 *                    griffin sft (train.init), sampled, exported again.
 * Needs GRIFFIN_BIN (the griffin executable); GRIFFIN_TEST_TOKENIZER (a tokenizer.model) is
 * embedded in the test checkpoints when set; sft_flow also needs GRIFFIN_TEST_FIXTURES
 * (tests/data). */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/check.h"
#include "common/rng.h"
#include "data/safetensors.h"
#include "data/tokenizer.h"
#include "model/griffin.h"
#include "train/ckpt/checkpoint.h"
#include "train/config/config.h"
#include "train/interop/interop.h"
#include "train/tools/model_io.h"
#include "tests/expect.h"

static const char *bin;
static const char *work;

static int exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = mallocCheck((size_t)n + 1);
    CHECK(fread(b, 1, (size_t)n, f) == (size_t)n, "short read of %s", path);
    b[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void spit(const char *path, const void *p, size_t n) {
    FILE *f = fopenCheck(path, "wb");
    CHECK(fwrite(p, 1, n, f) == n, "short write of %s", path);
    fclose(f);
}

/* runs a shell command with output to log; returns the exit status */
GRIFFIN_PRINTF(2, 3)
static int run(const char *log, const char *fmt, ...) {
    char cmd[8192], full[8192 + 4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(full, sizeof full, "%s > %s 2>&1", cmd, log);
    int st = system(full);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static int log_has(const char *log, const char *needle) {
    size_t n;
    uint8_t *b = slurp(log, &n);
    if (!b) return 0;
    int r = strstr((char *)b, needle) != NULL;
    if (!r) fprintf(stderr, "  (%s does not contain '%s'; it holds: %s)\n", log, needle, (char *)b);
    free(b);
    return r;
}

/* ---- test checkpoints ---- */

typedef struct {
    GriffinConfig cfg;
    ParamTable pt;
    float *params;
    char path[1024];
    uint8_t *tok;
    size_t tok_len;
} Ckpt;

static GriffinConfig make_cfg(Family f, int V, int D, int E, int F, int H, int depth, int W, float cap, int scale) {
    GriffinConfig c = {0};
    c.family = f;
    c.vocab_size = V;
    c.width = D;
    c.lru_width = E;
    c.mlp_width = F;
    c.num_heads = H;
    c.depth = depth;
    c.window = W;
    c.soft_cap = cap;
    c.embed_scale = scale;
    CHECK(!config_finalize(&c), "bad test config");
    return c;
}

static void make_ckpt(Ckpt *k, const char *name, GriffinConfig cfg, uint64_t seed, int with_tok) {
    memset(k, 0, sizeof *k);
    k->cfg = cfg;
    param_table_build(&k->pt, &k->cfg);
    k->params = mallocCheck(k->pt.total * sizeof(float));
    params_init(&k->pt, k->params, seed);
    Rng r;
    rng_seed(&r, seed, 5);
    for (int i = 0; i < k->pt.count; i++) { /* every tensor distinct and nonzero */
        const TensorInfo *t = &k->pt.t[i];
        if (t->init == INIT_A_PARAM) continue;
        float std = t->init == INIT_ZERO ? 0.2f : t->init_std * 0.5f;
        for (size_t j = 0; j < t->numel; j++) k->params[t->offset + j] += (float)((double)std * rng_normal(&r));
    }
    const char *tp = getenv("GRIFFIN_TEST_TOKENIZER");
    if (with_tok && tp && exists(tp)) k->tok = slurp(tp, &k->tok_len);
    char err[1024], dir[1024];
    char *ini = interop_config_ini(&k->cfg, err, sizeof err);
    CHECK(ini, "config text: %s", err);
    snprintf(dir, sizeof dir, "%s/%s_src", work, name);
    CkptState s = {.pt = &k->pt, .params = k->params, .config = ini, .tokenizer = k->tok, .tokenizer_len = k->tok_len};
    CHECK(ckpt_save(dir, &s, 1, k->path, sizeof k->path, err, sizeof err) == CKPT_OK, "ckpt_save: %s", err);
    free(ini);
}

static void free_ckpt(Ckpt *k) {
    free(k->params);
    free(k->tok);
    param_table_free(&k->pt);
}

/* loads an imported checkpoint and compares it with k; bf16: against the bf16-rounded weights */
static void expect_same(const Ckpt *k, const char *path, int bf16, const char *what) {
    char err[2048];
    CkptLoaded ld;
    int rc = ckpt_load(path, NULL, NULL, NULL, NULL, &ld, err, sizeof err);
    EXPECT(rc == CKPT_OK, "%s: %s", what, err);
    if (rc != CKPT_OK) return;
    EXPECT(!ld.has_moments && ld.step == 0, "%s: not a weights-only step-0 checkpoint", what);
    TrainConfig *tc = callocCheck(1, sizeof *tc);
    rc = train_config_parse_string(tc, ld.config, path, NULL, 0, NULL, err, sizeof err);
    EXPECT(rc == 0, "%s: stored config does not parse: %s", what, err);
    const GriffinConfig *a = &tc->griffin, *b = &k->cfg;
    EXPECT(a->family == b->family && a->vocab_size == b->vocab_size && a->width == b->width &&
               a->lru_width == b->lru_width && a->mlp_width == b->mlp_width && a->num_heads == b->num_heads &&
               a->depth == b->depth && a->window == b->window && a->soft_cap == b->soft_cap &&
               a->embed_scale == b->embed_scale,
           "%s: config differs (family %d/%d V %d/%d D %d/%d E %d/%d F %d/%d H %d/%d L %d/%d W %d/%d cap %g/%g scale %d/%d)",
           what, a->family, b->family, a->vocab_size, b->vocab_size, a->width, b->width, a->lru_width, b->lru_width,
           a->mlp_width, b->mlp_width, a->num_heads, b->num_heads, a->depth, b->depth, a->window, b->window,
           (double)a->soft_cap, (double)b->soft_cap, a->embed_scale, b->embed_scale);
    EXPECT(ld.tokenizer_len == k->tok_len && (!k->tok_len || !memcmp(ld.tokenizer, k->tok, k->tok_len)),
           "%s: tokenizer bytes differ (%zu vs %zu)", what, ld.tokenizer_len, k->tok_len);
    free(tc);
    ckpt_loaded_free(&ld);
    float *p = mallocCheck(k->pt.total * sizeof(float));
    rc = ckpt_load_weights(path, &k->pt, p, err, sizeof err);
    EXPECT(rc == CKPT_OK, "%s: %s", what, err);
    if (rc == CKPT_OK) {
        for (int i = 0; i < k->pt.count; i++) {
            const TensorInfo *t = &k->pt.t[i];
            size_t bad = 0;
            for (size_t j = 0; j < t->numel; j++) {
                float want = k->params[t->offset + j];
                if (bf16) want = st_bf16_to_f32(st_f32_to_bf16(want));
                if (memcmp(&want, &p[t->offset + j], 4)) bad++;
            }
            EXPECT(bad == 0, "%s: %s: %zu of %zu values differ", what, t->name, bad, t->numel);
        }
    }
    free(p);
}

/* the HF transforms, element by element, read back from the exported file */
static void check_hf_elements(const Ckpt *k, const char *dir) {
    char p[1200], err[2048];
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    StSet s;
    int rc = st_open(&s, p, err, sizeof err);
    EXPECT(rc == 0, "open %s: %s", p, err);
    if (rc) return;
    for (int l = 0; l < k->cfg.depth; l++) {
        LayerPtrs lp;
        layer_ptrs(&k->pt, k->params, l, &lp);
        const int D = k->cfg.width, F = k->cfg.mlp_width, E = k->cfg.lru_width;
        char n[160];
        for (int c = 0; c < 2; c++) {
            snprintf(n, sizeof n, "model.layers.%d.mlp_block.%s.weight", l, c ? "up_proj" : "gate_proj");
            int i = st_find(&s, n);
            EXPECT(i >= 0 && s.t[i].ndim == 2 && s.t[i].shape[0] == F && s.t[i].shape[1] == D, "%s: missing or misshapen", n);
            if (i < 0) continue;
            float *w = mallocCheck(sizeof(float) * (size_t)F * D);
            CHECK(!st_read_f32(&s, i, 0, (uint64_t)F * D, w, err, sizeof err), "%s", err);
            int bad = 0;
            for (int f = 0; f < F; f++)
                for (int d = 0; d < D; d++) bad += w[f * D + d] != lp.p[P_UP_W][(size_t)c * D * F + (size_t)d * F + f];
            EXPECT(!bad, "%s != ffw_up.w[%d]^T (%d values)", n, c, bad);
            free(w);
            snprintf(n, sizeof n, "model.layers.%d.mlp_block.%s.bias", l, c ? "up_proj" : "gate_proj");
            i = st_find(&s, n);
            EXPECT(i >= 0 && s.t[i].ndim == 1 && s.t[i].shape[0] == F, "%s: missing or misshapen", n);
            if (i < 0) continue;
            float *b = mallocCheck(sizeof(float) * (size_t)F);
            CHECK(!st_read_f32(&s, i, 0, (uint64_t)F, b, err, sizeof err), "%s", err);
            EXPECT(!memcmp(b, lp.p[P_UP_B] + (size_t)c * F, sizeof(float) * (size_t)F), "%s != ffw_up.b[%d,0,0]", n, c);
            free(b);
        }
        if (k->cfg.block_types[l] != BLOCK_RECURRENT) continue;
        snprintf(n, sizeof n, "model.layers.%d.temporal_block.conv_1d.weight", l);
        int i = st_find(&s, n);
        EXPECT(i >= 0 && s.t[i].ndim == 3 && s.t[i].shape[0] == E && s.t[i].shape[1] == 1 && s.t[i].shape[2] == 4,
               "%s: missing or not [L,1,4]", n);
        if (i < 0) continue;
        float *w = mallocCheck(sizeof(float) * (size_t)E * 4);
        CHECK(!st_read_f32(&s, i, 0, (uint64_t)E * 4, w, err, sizeof err), "%s", err);
        int bad = 0;
        for (int e = 0; e < E; e++)
            for (int j = 0; j < 4; j++) bad += w[e * 4 + j] != lp.p[P_CONV_W][(size_t)j * E + e];
        EXPECT(!bad, "%s: hf[l,0,j] != w[j,l] (%d values)", n, bad);
        free(w);
    }
    EXPECT(st_find(&s, "lm_head.weight") < 0, "lm_head.weight written (it is tied)");
    EXPECT(st_meta(&s, "format") && !strcmp(st_meta(&s, "format"), "pt"), "__metadata__.format is not pt");
    st_close(&s);
}

/* Copies an export dir's safetensors through a filter: drop / rename / reshape / add. */
typedef enum { ED_DROP, ED_RENAME, ED_SHRINK, ED_ADD, ED_GROW_EMBED, ED_TO_BF16, ED_HEAD_COPY, ED_HEAD_DIFF, ED_INVFREQ, ED_INVFREQ_BAD } EditKind;

static void edit_copy(const char *src_dir, const char *dst_dir, EditKind kind, const char *target) {
    char p[1400], q[1400], err[2048];
    mkdir(dst_dir, 0777);
    snprintf(p, sizeof p, "%s/config.json", src_dir);
    snprintf(q, sizeof q, "%s/config.json", dst_dir);
    size_t n;
    uint8_t *b = slurp(p, &n);
    CHECK(b, "no %s", p);
    spit(q, b, n);
    free(b);
    snprintf(p, sizeof p, "%s/model.safetensors", src_dir);
    StSet s;
    CHECK(!st_open(&s, p, err, sizeof err), "%s", err);
    StSpec *specs = callocCheck((size_t)s.count + 2, sizeof(StSpec));
    float **data = callocCheck((size_t)s.count + 2, sizeof(float *));
    int m = 0;
    char newname[256];
    for (int i = 0; i < s.count; i++) {
        const StTensor *t = &s.t[i];
        int hit = !strcmp(t->name, target);
        if (hit && kind == ED_DROP) continue;
        StSpec *sp = &specs[m];
        sp->name = t->name;
        sp->dtype = kind == ED_TO_BF16 ? ST_BF16 : t->dtype;
        sp->ndim = t->ndim;
        memcpy(sp->shape, t->shape, sizeof sp->shape);
        size_t numel = t->numel;
        data[m] = callocCheck(numel + (size_t)(t->ndim == 2 ? t->shape[1] * 3 : 1), sizeof(float));
        CHECK(!st_read_f32(&s, i, 0, t->numel, data[m], err, sizeof err), "%s", err);
        if (hit && kind == ED_RENAME) {
            snprintf(newname, sizeof newname, "%s_renamed", t->name);
            sp->name = newname;
        }
        if (hit && kind == ED_SHRINK) sp->shape[sp->ndim - 1]--;
        if (hit && kind == ED_GROW_EMBED) {
            sp->shape[0] += 3;
            for (size_t j = numel; j < numel + (size_t)t->shape[1] * 3; j++) data[m][j] = 7.0f;
        }
        m++;
        if (hit && (kind == ED_ADD || kind == ED_HEAD_COPY || kind == ED_HEAD_DIFF)) {
            specs[m] = specs[m - 1];
            specs[m].name = kind == ED_ADD ? "blocks.0.extra_tensor" : "lm_head.weight";
            data[m] = mallocCheck(numel * sizeof(float));
            memcpy(data[m], data[m - 1], numel * sizeof(float));
            if (kind == ED_HEAD_DIFF) data[m][numel / 2] += 1.0f;
            m++;
        }
        if (hit && (kind == ED_INVFREQ || kind == ED_INVFREQ_BAD)) { /* layer 2 (attention), head dim 8: R = 4 */
            specs[m].name = "model.layers.2.temporal_block.rotary_emb.inv_freq";
            specs[m].dtype = ST_F32;
            specs[m].ndim = 1;
            specs[m].shape[0] = 2;
            data[m] = mallocCheck(2 * sizeof(float));
            data[m][0] = 1.0f;
            data[m][1] = kind == ED_INVFREQ ? 0.01f : 0.02f;
            m++;
        }
    }
    snprintf(q, sizeof q, "%s/model.safetensors", dst_dir);
    StWriter *w = st_writer_open(q, specs, m, NULL, NULL, 0, err, sizeof err);
    CHECK(w, "%s", err);
    for (int i = 0; i < m; i++) CHECK(!st_writer_put(w, data[i], err, sizeof err), "%s", err);
    CHECK(!st_writer_close(w, err, sizeof err), "%s", err);
    for (int i = 0; i < m; i++) free(data[i]);
    free(data);
    free(specs);
    st_close(&s);
}

static void roundtrip_case(const char *name, GriffinConfig cfg, int with_tok, int hf_ok) {
    Ckpt k;
    make_ckpt(&k, name, cfg, 1234 + (uint64_t)cfg.depth, with_tok);
    char dir[1024], out[1100], log[1024];
    snprintf(log, sizeof log, "%s/%s.log", work, name);
    const char *formats[2] = {"official", "hf"};
    for (int fm = 0; fm < 2; fm++) {
        for (int bf = 0; bf < 2; bf++)
            for (int shard = 0; shard < 2; shard++) {
                if (bf && shard) continue;
                snprintf(dir, sizeof dir, "%s/%s_%s_%s%s", work, name, formats[fm], bf ? "bf16" : "fp32", shard ? "_sharded" : "");
                snprintf(out, sizeof out, "%s.h5", dir);
                int rc = run(log, "%s export --checkpoint %s --format %s --dtype %s --out %s %s --force", bin, k.path,
                             formats[fm], bf ? "bf16" : "fp32", dir, shard ? "--max-shard-size 12000" : "");
                if (fm == 1 && !hf_ok) {
                    EXPECT(rc != 0 && log_has(log, "use --format official"), "%s: HF export of a model HF cannot express not refused", name);
                    continue;
                }
                EXPECT(rc == 0, "%s: export %s failed (see %s)", name, dir, log);
                if (rc) continue;
                char p[1200];
                snprintf(p, sizeof p, "%s/%s", dir, shard ? "model.safetensors.index.json" : "model.safetensors");
                EXPECT(exists(p), "%s missing", p);
                snprintf(p, sizeof p, "%s/config.json", dir);
                EXPECT(exists(p), "%s missing", p);
                snprintf(p, sizeof p, "%s/tokenizer.model", dir);
                EXPECT(exists(p) == (k.tok_len > 0), "%s: tokenizer.model presence wrong", dir);
                if (shard) {
                    snprintf(p, sizeof p, "%s/model-00002-of-", dir);
                    int r2 = run(log, "ls %s* > /dev/null", p);
                    EXPECT(r2 == 0, "%s: no second shard", dir);
                }
                if (fm == 1 && !bf && !shard) check_hf_elements(&k, dir);
                unlink(out);
                rc = run(log, "%s import --from %s --out %s", bin, dir, out);
                EXPECT(rc == 0, "%s: import %s failed (see %s)", name, dir, log);
                if (!rc) {
                    char what[1200];
                    snprintf(what, sizeof what, "%s %s %s%s", name, formats[fm], bf ? "bf16" : "fp32", shard ? " sharded" : "");
                    expect_same(&k, out, bf, what);
                }
            }
    }
    /* official weights without config.json: sizes inferred, window/cap given on the command line */
    snprintf(dir, sizeof dir, "%s/%s_official_fp32", work, name);
    char noconf[1200];
    snprintf(noconf, sizeof noconf, "%s/%s_noconfig", work, name);
    mkdir(noconf, 0777);
    run(log, "cp %s/model.safetensors %s/", dir, noconf);
    snprintf(out, sizeof out, "%s/%s_noconfig.h5", work, name);
    unlink(out);
    int rc = run(log, "%s import --from %s/model.safetensors --out %s --window %d --soft-cap %g", bin, noconf, out,
                 k.cfg.window, (double)k.cfg.soft_cap);
    if (k.cfg.embed_scale) {
        EXPECT(rc == 0 && log_has(log, "no config.json"), "%s: import without config.json failed (see %s)", name, log);
        if (!rc) {
            Ckpt k2 = k;
            k2.tok = NULL;
            k2.tok_len = 0;
            expect_same(&k2, out, 0, "import without config.json");
        }
    }
    free_ckpt(&k);
}

/* refusals on edited copies of a griffin export; nothing may be written */
static void refusal_cases(void) {
    Ckpt k;
    GriffinConfig cfg = make_cfg(FAMILY_GRIFFIN, 40, 16, 24, 20, 2, 4, 8, 30.0f, 1); /* R R A R */
    make_ckpt(&k, "edit", cfg, 99, 0);
    char off[1024], hf[1024], d[1200], out[1200], log[1200];
    snprintf(off, sizeof off, "%s/edit_off", work);
    snprintf(hf, sizeof hf, "%s/edit_hf", work);
    snprintf(log, sizeof log, "%s/edit.log", work);
    CHECK(run(log, "%s export --checkpoint %s --format official --dtype fp32 --out %s --force", bin, k.path, off) == 0, "export");
    CHECK(run(log, "%s export --checkpoint %s --format hf --dtype fp32 --out %s --force", bin, k.path, hf) == 0, "export");
    struct {
        const char *src;
        EditKind kind;
        const char *target, *needle;
        int ok;
    } cases[] = {
        {off, ED_DROP, "blocks.1.recurrent_block.rg_lru.a_param", "missing tensor blocks.1.recurrent_block.rg_lru.a_param", 0},
        {off, ED_RENAME, "blocks.2.attention_block.proj_q.weight", "blocks.2.attention_block.proj_q.weight", 0},
        {off, ED_ADD, "final_norm.scale", "unknown tensor blocks.0.extra_tensor", 0},
        {off, ED_SHRINK, "blocks.0.mlp_block.ffw_down.weight", "tensor blocks.0.mlp_block.ffw_down.weight has shape [16, 19], expected [16, 20]", 0},
        {hf, ED_SHRINK, "model.layers.1.temporal_block.conv_1d.weight", "model.layers.1.temporal_block.conv_1d.weight has shape [24, 1, 3], expected [24, 1, 4]", 0},
        {hf, ED_DROP, "model.layers.0.mlp_block.up_proj.bias", "missing tensor model.layers.0.mlp_block.up_proj.bias", 0},
        {hf, ED_HEAD_DIFF, "model.embed_tokens.weight", "lm_head.weight differs", 0},
        {hf, ED_HEAD_COPY, "model.embed_tokens.weight", NULL, 1},
        {hf, ED_GROW_EMBED, "model.embed_tokens.weight", NULL, 1},
        {off, ED_GROW_EMBED, "embedder.input_embedding", NULL, 1},
        {hf, ED_TO_BF16, "", NULL, 2},
        {hf, ED_INVFREQ, "model.final_norm.weight", NULL, 1},
        {hf, ED_INVFREQ_BAD, "model.final_norm.weight", "expected the RoPE frequency", 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        snprintf(d, sizeof d, "%s/edit_%zu", work, c);
        edit_copy(cases[c].src, d, cases[c].kind, cases[c].target);
        snprintf(out, sizeof out, "%s/edit_%zu.h5", work, c);
        unlink(out);
        int rc = run(log, "%s import --from %s --out %s", bin, d, out);
        if (cases[c].ok) {
            EXPECT(rc == 0, "edit case %zu (%s): import failed (see %s)", c, cases[c].target, log);
            if (!rc) expect_same(&k, out, cases[c].ok == 2, cases[c].target);
        } else {
            EXPECT(rc != 0 && log_has(log, cases[c].needle), "edit case %zu: not refused with '%s'", c, cases[c].needle);
            EXPECT(!exists(out), "edit case %zu: %s written despite the error", c, out);
        }
    }
    /* HF configs as on the hub: block_types is the 3-cycle, repeated to num_hidden_layers, and
     * no griffin_family hint; then a block pattern that no family has */
    const char *patterns[2] = {"[\"recurrent\", \"recurrent\", \"attention\"]", "[\"recurrent\", \"attention\"]"};
    for (int pi = 0; pi < 2; pi++) {
        snprintf(d, sizeof d, "%s/edit_pattern%d", work, pi);
        edit_copy(hf, d, ED_HEAD_COPY, "none");
        char cj[1300];
        snprintf(cj, sizeof cj, "%s/config.json", d);
        size_t n;
        char *text = (char *)slurp(cj, &n);
        char *p = strstr(text, "\"block_types\"");
        CHECK(p, "no block_types in %s", cj);
        char *end = strchr(p, ']');
        char fixed[16384];
        snprintf(fixed, sizeof fixed, "%.*s\"block_types\": %s%s", (int)(p - text), text, patterns[pi], end + 1);
        char *hint = strstr(fixed, "\"griffin_family\"");
        CHECK(hint, "no griffin_family in %s", cj);
        memcpy(hint, "\"other_key_abcd\"", 16); /* same length: unknown keys are ignored */
        spit(cj, fixed, strlen(fixed));
        free(text);
        snprintf(out, sizeof out, "%s/edit_pattern%d.h5", work, pi);
        unlink(out);
        int rc = run(log, "%s import --from %s --out %s", bin, d, out);
        if (pi == 0) {
            EXPECT(rc == 0, "hub-style HF config (3-cycle block_types) not imported (see %s)", log);
            if (!rc) expect_same(&k, out, 0, "hub-style HF config");
        } else {
            EXPECT(rc != 0 && log_has(log, "match no family"), "unsupported block pattern not refused");
            EXPECT(!exists(out), "%s written despite the error", out);
        }
    }
    int rc;
    /* export refuses to mix into an earlier export without --force */
    rc = run(log, "%s export --checkpoint %s --format official --dtype fp32 --out %s", bin, k.path, off);
    EXPECT(rc != 0 && log_has(log, "--force"), "export over an earlier export without --force not refused");
    free_ckpt(&k);
}

static void cmd_roundtrip(void) {
    /* griffin with lru_width != width, 4 layers (R R A R), tokenizer embedded */
    roundtrip_case("griffin", make_cfg(FAMILY_GRIFFIN, 420, 32, 24, 40, 2, 4, 8, 30.0f, 1), 1, 1);
    roundtrip_case("hawk", make_cfg(FAMILY_HAWK, 37, 16, 32, 24, 4, 2, 16, 30.0f, 1), 0, 1);
    /* no embedding scale, no soft cap: HF cannot express it */
    roundtrip_case("transformer", make_cfg(FAMILY_TRANSFORMER, 29, 32, 0, 48, 2, 2, 4, 0.0f, 0), 0, 0);
    refusal_cases();
}

/* ---- malformed files ---- */

/* header JSON + data bytes -> file; hdr_len_override != 0 replaces the length field */
static void write_raw(const char *path, const char *json, const void *data, size_t n, uint64_t len_override) {
    size_t h = strlen(json);
    uint64_t L = len_override ? len_override : h;
    FILE *f = fopenCheck(path, "wb");
    uint8_t l8[8];
    for (int i = 0; i < 8; i++) l8[i] = (uint8_t)(L >> (8 * i));
    CHECK(fwrite(l8, 1, 8, f) == 8 && fwrite(json, 1, h, f) == h && (!n || fwrite(data, 1, n, f) == n), "write %s", path);
    fclose(f);
}

static void expect_refused(const char *label, const char *json, const void *data, size_t n, uint64_t len_override,
                           const char *needle) {
    char p[1200], err[2048];
    snprintf(p, sizeof p, "%s/bad_%s.safetensors", work, label);
    write_raw(p, json, data, n, len_override);
    StSet s;
    int rc = st_open(&s, p, err, sizeof err);
    EXPECT(rc != 0, "%s: accepted", label);
    if (!rc) {
        st_close(&s);
        return;
    }
    EXPECT(strstr(err, needle) != NULL, "%s: message '%s' lacks '%s'", label, err, needle);
    EXPECT(strstr(err, p) != NULL, "%s: message '%s' does not name the file", label, err);
    printf("  refused %-14s %s\n", label, err);
}

static void cmd_malformed(void) {
    float data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    /* a good file first, read back */
    {
        char p[1200], err[2048];
        snprintf(p, sizeof p, "%s/good.safetensors", work);
        write_raw(p, "{\"__metadata__\":{\"format\":\"pt\"},\"b\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[16,32]},"
                     "\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}  ",
                  data, sizeof data, 0);
        StSet s;
        int rc = st_open(&s, p, err, sizeof err);
        EXPECT(rc == 0, "good file refused: %s", err);
        if (!rc) {
            float b[4];
            int i = st_find(&s, "b");
            EXPECT(i >= 0 && s.t[i].ndim == 2 && !st_read_f32(&s, i, 0, 4, b, err, sizeof err) && b[0] == 5 && b[3] == 8,
                   "good file: tensor b reads wrong");
            st_close(&s);
        }
    }
    /* F16 and BF16 conversion */
    {
        uint16_t h[8] = {0x3C00, 0xC000, 0x3800, 0x7BFF, 0x0001, 0x7C00, 0x3F80, 0xC1A0};
        float want16[6] = {1.0f, -2.0f, 0.5f, 65504.0f, 5.9604644775390625e-8f, 1.0f / 0.0f};
        char p[1200], err[2048];
        snprintf(p, sizeof p, "%s/halves.safetensors", work);
        write_raw(p, "{\"h\":{\"dtype\":\"F16\",\"shape\":[6],\"data_offsets\":[0,12]},"
                     "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[12,16]}}",
                  h, sizeof h, 0);
        StSet s;
        int rc = st_open(&s, p, err, sizeof err);
        EXPECT(rc == 0, "half file refused: %s", err);
        if (!rc) {
            float f[6], g[2];
            CHECK(!st_read_f32(&s, st_find(&s, "h"), 0, 6, f, err, sizeof err), "%s", err);
            CHECK(!st_read_f32(&s, st_find(&s, "b"), 0, 2, g, err, sizeof err), "%s", err);
            for (int i = 0; i < 6; i++) EXPECT(f[i] == want16[i], "F16 %#x -> %g, want %g", h[i], (double)f[i], (double)want16[i]);
            EXPECT(g[0] == 1.0f && g[1] == -20.0f, "BF16 -> %g %g, want 1 -20", (double)g[0], (double)g[1]);
            st_close(&s);
        }
        EXPECT(st_f32_to_bf16(1.00390625f) == 0x3F80 && st_f32_to_bf16(1.01171875f) == 0x3F82,
               "bf16 rounding is not nearest-even");
    }
    const char *ok2 = "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                      "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16,32]}}";
    expect_refused("hdr_too_long", ok2, data, sizeof data, 1000000, "bad header length");
    expect_refused("hdr_huge", ok2, data, sizeof data, (uint64_t)1 << 62, "bad header length");
    expect_refused("hdr_zero", ok2, data, sizeof data, 1, "bad header length");
    expect_refused("overlap",
                   "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                   "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}",
                   data, 24, 0, "overlaps");
    expect_refused("dtype_mismatch",
                   "{\"a\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[0,16]},"
                   "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16,32]}}",
                   data, sizeof data, 0, "dtype mismatch");
    expect_refused("truncated", ok2, data, 20, 0, "truncated");
    expect_refused("hole",
                   "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                   "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16,32]}}",
                   data, sizeof data, 0, "hole");
    expect_refused("trailing", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", data, sizeof data, 0,
                   "not indexed");
    expect_refused("not_json", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]", data, 16, 0, "not valid JSON");
    expect_refused("duplicate",
                   "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                   "\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16,32]}}",
                   data, sizeof data, 0, "duplicate");
    expect_refused("dtype_i64", "{\"a\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]}}", data, 16, 0,
                   "dtype I64 is not supported");
    expect_refused("bad_offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16,0]}}", data, 16, 0,
                   "data_offsets");
    {   /* tiny file: not even the length */
        char p[1200], err[2048];
        snprintf(p, sizeof p, "%s/bad_tiny.safetensors", work);
        spit(p, "abc", 3);
        StSet s;
        EXPECT(st_open(&s, p, err, sizeof err) != 0 && strstr(err, "truncated"), "3-byte file not refused: %s", err);
    }
    /* a sharded index naming a missing shard */
    {
        char p[1200], err[2048];
        snprintf(p, sizeof p, "%s/bad_index.json", work);
        const char *idx = "{\"metadata\":{},\"weight_map\":{\"a\":\"good.safetensors\",\"b\":\"good.safetensors\",\"c\":\"nowhere.safetensors\"}}";
        spit(p, idx, strlen(idx));
        StSet s;
        EXPECT(st_open(&s, p, err, sizeof err) != 0 && strstr(err, "nowhere.safetensors"), "index with a missing shard: %s", err);
        idx = "{\"metadata\":{},\"weight_map\":{\"a\":\"good.safetensors\"}}";
        spit(p, idx, strlen(idx));
        EXPECT(st_open(&s, p, err, sizeof err) != 0 && strstr(err, "tensor b is not listed"), "shard with unlisted tensor: %s", err);
    }
    /* the command: refused, named, nothing written */
    {
        char d[1200], out[1200], log[1200];
        snprintf(d, sizeof d, "%s/bad_dir", work);
        mkdir(d, 0777);
        snprintf(out, sizeof out, "%s/bad_dir/model.safetensors", work);
        write_raw(out, ok2, data, 20, 0);
        snprintf(out, sizeof out, "%s/bad_out.h5", work);
        snprintf(log, sizeof log, "%s/bad.log", work);
        unlink(out);
        int rc = run(log, "%s import --from %s --out %s", bin, d, out);
        EXPECT(rc != 0 && log_has(log, "truncated") && log_has(log, "bad_dir/model.safetensors"), "import of a truncated file not refused");
        EXPECT(!exists(out), "%s written despite the error", out);
    }
}

/* ---- logits for the HF check ---- */

static void cmd_hf_dump(void) {
    /* lru_width != width, 4 layers (R R A R), window 12 > T = 10 (HF has no sliding window) */
    Ckpt k;
    make_ckpt(&k, "hfcheck", make_cfg(FAMILY_GRIFFIN, 53, 32, 24, 40, 2, 4, 12, 30.0f, 1), 4242, 0);
    char dir[1200], log[1200];
    snprintf(dir, sizeof dir, "%s/hf_export", work);
    snprintf(log, sizeof log, "%s/hf_export.log", work);
    CHECK(run(log, "%s export --checkpoint %s --format hf --dtype fp32 --out %s --force", bin, k.path, dir) == 0,
          "export failed (see %s)", log);
    LoadedModel lm;
    const int B = 2, T = 10;
    load_model(k.path, B, T, &lm);
    int tokens[2 * 10], pos[2 * 10];
    Rng r;
    rng_seed(&r, 77, 0);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            tokens[b * T + t] = (int)rng_below(&r, (uint64_t)k.cfg.vocab_size);
            pos[b * T + t] = t;
        }
    griffin_forward(lm.m, tokens, NULL, pos, NULL, B, T);
    /* the export imported back is a normal checkpoint with the same logits, bit for bit */
    char back[1300];
    snprintf(back, sizeof back, "%s/hf_back.h5", work);
    unlink(back);
    CHECK(run(log, "%s import --from %s --out %s", bin, dir, back) == 0, "import failed (see %s)", log);
    LoadedModel lb;
    load_model(back, B, T, &lb);
    griffin_forward(lb.m, tokens, NULL, pos, NULL, B, T);
    EXPECT(!memcmp(lb.m->logits, lm.m->logits, sizeof(float) * (size_t)B * T * k.cfg.vocab_size),
           "logits of the re-imported HF export differ");
    loaded_model_free(&lb);
    char p[1300];
    snprintf(p, sizeof p, "%s/logits.f32", dir);
    spit(p, lm.m->logits, sizeof(float) * (size_t)B * T * k.cfg.vocab_size);
    snprintf(p, sizeof p, "%s/logits.json", dir);
    FILE *f = fopenCheck(p, "w");
    fprintf(f, "{\"B\": %d, \"T\": %d, \"V\": %d, \"logits\": \"logits.f32\", \"tokens\": [", B, T, k.cfg.vocab_size);
    for (int i = 0; i < B * T; i++) fprintf(f, "%s%d", i ? ", " : "", tokens[i]);
    fprintf(f, "]}\n");
    fclose(f);
    loaded_model_free(&lm);
    free_ckpt(&k);
    printf("wrote %s (HF export + our logits)\n", dir);
}

/* ---- the documented workflow: import -> griffin sft (train.init) -> sample -> export ---- */

static void cmd_sft_flow(void) {
    const char *tp = getenv("GRIFFIN_TEST_TOKENIZER");
    CHECK(tp && exists(tp), "set GRIFFIN_TEST_TOKENIZER to a tokenizer.model");
    size_t n;
    uint8_t *tb = slurp(tp, &n);
    Tokenizer *tok = tokenizer_load_from_memory(tb, n, tp);
    int V = tokenizer_vocab_size(tok);
    tokenizer_free(tok);
    free(tb);
    /* an "external" model in the HF layout, as downloaded */
    Ckpt k;
    make_ckpt(&k, "flow", make_cfg(FAMILY_GRIFFIN, V, 32, 32, 48, 2, 3, 16, 30.0f, 1), 7, 1);
    char hub[1200], log[1200], imported[1300], ini[1300], run_dir[1300], corpus[1300], ck[1400], out[1400];
    snprintf(hub, sizeof hub, "%s/flow_hub", work);
    snprintf(log, sizeof log, "%s/flow.log", work);
    CHECK(run(log, "%s export --checkpoint %s --format hf --dtype bf16 --out %s --force", bin, k.path, hub) == 0,
          "export failed (see %s)", log);
    snprintf(imported, sizeof imported, "%s/flow_imported.h5", work);
    int rc = run(log, "%s import --from %s --out %s", bin, hub, imported);
    EXPECT(rc == 0 && log_has(log, "[model]"), "import failed (see %s)", log);
    snprintf(corpus, sizeof corpus, "%s/flow_chat.h5", work);
    const char *fx = getenv("GRIFFIN_TEST_FIXTURES");
    CHECK(fx, "set GRIFFIN_TEST_FIXTURES to tests/data");
    rc = run(log, "%s tokenize --kind chat --tokenizer %s/tokenizer.model --input %s/tiny_chat.jsonl --output %s --quiet",
             bin, hub, fx, corpus);
    EXPECT(rc == 0, "tokenize failed (see %s)", log);
    snprintf(run_dir, sizeof run_dir, "%s/flow_run", work);
    run(log, "rm -rf %s", run_dir);
    snprintf(ini, sizeof ini, "%s/flow_sft.ini", work);
    FILE *f = fopenCheck(ini, "w");
    fprintf(f, "[model]\nfamily = griffin\nwidth = 32\ndepth = 3\nheads = 2\nlru_width = 32\nmlp_width = 48\n"
               "window = 16\nvocab_size = %d\nsoft_cap = 30\ntokenizer = %s/tokenizer.model\n"
               "[train]\ninit = %s\nout_dir = %s\nbatch_size = 2\nseq_len = 48\nsteps = 3\nlog_every = 1\n"
               "[optim]\nlr = 1e-3\nwarmup_steps = 0\n[data]\nchat = %s\n[stage.1]\nsteps = 3\nmix = chat:1\n",
            V, hub, imported, run_dir, corpus);
    fclose(f);
    rc = run(log, "%s sft %s", bin, ini);
    EXPECT(rc == 0 && log_has(log, "initialised weights from"), "sft from the imported checkpoint failed (see %s)", log);
    snprintf(ck, sizeof ck, "%s/ckpt-3.h5", run_dir);
    EXPECT(exists(ck), "%s missing after sft", ck);
    rc = run(log, "%s sample --checkpoint %s --prompt 'What does' --max-new-tokens 5 --temperature 0", bin, ck);
    EXPECT(rc == 0, "sample from the fine-tuned checkpoint failed (see %s)", log);
    snprintf(out, sizeof out, "%s/flow_served", work);
    rc = run(log, "%s export --checkpoint %s --format hf --dtype bf16 --out %s --force", bin, ck, out);
    EXPECT(rc == 0, "export of the fine-tuned checkpoint failed (see %s)", log);
    free_ckpt(&k);
}

int main(int argc, char **argv) {
    CHECK(argc == 3, "usage: %s roundtrip|malformed|hf_dump|sft_flow WORKDIR", argv[0]);
    work = argv[2];
    mkdir(work, 0777);
    bin = getenv("GRIFFIN_BIN");
    if (!strcmp(argv[1], "roundtrip")) {
        CHECK(bin, "set GRIFFIN_BIN to the griffin executable");
        cmd_roundtrip();
    } else if (!strcmp(argv[1], "malformed")) {
        CHECK(bin, "set GRIFFIN_BIN to the griffin executable");
        cmd_malformed();
    } else if (!strcmp(argv[1], "sft_flow")) {
        CHECK(bin, "set GRIFFIN_BIN to the griffin executable");
        cmd_sft_flow();
    } else if (!strcmp(argv[1], "hf_dump")) {
        CHECK(bin, "set GRIFFIN_BIN to the griffin executable");
        cmd_hf_dump();
    } else {
        DIE("unknown mode %s", argv[1]);
    }
    if (failures) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    printf("test_interop %s: all passed\n", argv[1]);
    return 0;
}
