/* Writes the binary seed inputs of the fuzz harnesses with the project's own writers:
 *   make_seeds OUT_DIR   ->  corpora in OUT_DIR/corpus, checkpoints in OUT_DIR/checkpoint,
 *                            safetensors files in OUT_DIR/safetensors, the text corpus as
 *                            Megatron (OUT_DIR/megatron: 4-byte .idx length, .idx, .bin),
 *                            llm.c (OUT_DIR/llmc: v1 and v7 shards) and nanoGPT files
 * Run by hand when a format changes (the output is kept in tests/fuzz/<name>/); the JSONL
 * seeds and the F16 safetensors seed (the writer makes F32 and BF16 only) are kept there
 * directly. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/corpus.h"
#include "data/corpus_export.h"
#include "data/safetensors.h"
#include "tests/fuzz/fuzz_micro.h"
#include "train/ckpt/checkpoint.h"

static char out_dir[4096];

static const char *out(const char *sub, const char *name) {
    static char p[8192];
    snprintf(p, sizeof p, "%s/%s", out_dir, sub);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/%s/%s", out_dir, sub, name);
    return p;
}

static void corpus(const char *name, CorpusKind kind, int ndocs) {
    CorpusWriter *w = corpus_writer_open(out("corpus", name), kind, 16, 0x1234abcdu);
    uint32_t tok[8];
    uint8_t mask[8];
    for (int d = 0; d < ndocs; d++)
        for (int f = 0; f < corpus_kind_num_fields(kind); f++) {
            size_t n = (size_t)(1 + (d * 3 + f) % 7);
            for (size_t i = 0; i < n; i++) {
                tok[i] = (uint32_t)((d * 5 + f + (int)i) % 16);
                mask[i] = (uint8_t)(i % 2);
            }
            corpus_writer_add(w, f, tok, kind == CORPUS_CHAT ? mask : NULL, n, n * 3);
        }
    corpus_writer_set_string(w, "tokenizer", "tok.model");
    corpus_writer_set_string(w, "sources", "seed.jsonl\tcrc32=00000000\tbytes=1\tlines=1\tdocs=1\n");
    corpus_writer_set_string(w, "notes", "fuzz seed");
    corpus_writer_close(w);
}

/* with_moments; adapter: params/ holds the second half of the tensors, the rest left to a base
 * that is not there (the reader's base path, its identity check, the partial params/) */
static void checkpoint(const char *name, int64_t step, int with_moments, int adapter) {
    ParamTable pt;
    fuzz_micro_table(&pt);
    float *p = calloc(pt.total, 4), *m = calloc(pt.total, 4), *v = calloc(pt.total, 4);
    for (size_t i = 0; i < pt.total; i++) {
        p[i] = (float)i / 100.0f;
        m[i] = 0.5f;
        v[i] = 0.25f;
    }
    uint64_t rng[4] = {1, 2, 3, 4}, cursors[2] = {5, 6};
    const char tokz[] = "not a real tokenizer";
    CkptState s = {.step = step, .stage = 1, .tokens = step * 64, .pt = &pt, .params = p,
                   .adam_m = with_moments ? m : NULL, .adam_v = with_moments ? v : NULL, .rng = rng,
                   .n_rng = 4, .cursors = cursors, .ranks = 1, .cursor_len = 2,
                   .config = "[model]\nwidth = 8\n", .tokenizer = tokz, .tokenizer_len = sizeof tokz};
    uint8_t *omit = calloc((size_t)pt.count, 1);
    for (int i = 0; i < pt.count / 2; i++) omit[i] = 1;
    if (adapter) s.base = "/nonexistent/fuzz-base.h5", s.omit = omit, s.base_crc = 0x12345678u, s.base_size = 4096;
    char dir[8192], path[8192], err[1024];
    snprintf(dir, sizeof dir, "%s/ckpt_tmp", out_dir);
    if (ckpt_save(dir, &s, 1, path, sizeof path, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    if (rename(path, out("checkpoint", name))) {
        perror(name);
        exit(1);
    }
    rmdir(dir);
    free(omit);
    free(p);
    free(m);
    free(v);
    param_table_free(&pt);
}

static void safetensors(const char *name, StDtype dtype, int with_meta) {
    StSpec specs[3] = {{"a.weight", dtype, 2, {2, 3}}, {"b.bias", dtype, 1, {4}}, {"c", dtype, 0, {0}}};
    const char *mk[1] = {"format"}, *mv[1] = {"pt"};
    char err[1024];
    StWriter *w = st_writer_open(out("safetensors", name), specs, 3, mk, mv, with_meta, err, sizeof err);
    if (!w) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    float a[6] = {1, -2, 3.5f, 0, 1e-3f, -7}, b[4] = {0.5f, 0.25f, 2, 4}, c[1] = {42};
    if (st_writer_put(w, a, err, sizeof err) || st_writer_put(w, b, err, sizeof err) ||
        st_writer_put(w, c, err, sizeof err) || st_writer_close(w, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
}

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*n + 1);
    if (fread(b, 1, *n, f) != *n) exit(1);
    fclose(f);
    remove(path);
    return b;
}

static void spit(const char *path, const void *a, size_t na, const void *b, size_t nb) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(a, 1, na, f) != na || (nb && fwrite(b, 1, nb, f) != nb) || fclose(f)) {
        perror(path);
        exit(1);
    }
}

/* the text corpus in the external formats */
static void external(void) {
    Corpus *c = corpus_open(out("corpus", "text.h5"), CORPUS_TEXT);
    CorpusExportStats st;
    char err[1024], prefix[8192], p[8300];
    snprintf(prefix, sizeof prefix, "%s/ext_tmp", out_dir);
    if (corpus_export_megatron(c, prefix, &st, err, sizeof err) || corpus_export_llmc(c, prefix, 1000, &st, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    size_t ni, nb, ns;
    snprintf(p, sizeof p, "%s.idx", prefix);
    uint8_t *idx = slurp(p, &ni);
    snprintf(p, sizeof p, "%s.bin", prefix);
    uint8_t *bin = slurp(p, &nb);
    snprintf(p, sizeof p, "%s_000000.bin", prefix);
    uint8_t *shard = slurp(p, &ns);
    uint8_t *m = malloc(4 + ni);
    for (int i = 0; i < 4; i++) m[i] = (uint8_t)(ni >> (8 * i));
    memcpy(m + 4, idx, ni);
    spit(out("megatron", "text"), m, 4 + ni, bin, nb);
    spit(out("nanogpt", "text"), bin, nb, NULL, 0);
    spit(out("llmc", "v1"), shard, ns, NULL, 0);
    uint8_t v7[1024 + 4 * 6] = {0}; /* magic 20240801, version 7, 6 uint32 tokens */
    uint32_t head[3] = {20240801u, 7, 6}, toks[6] = {1, 3, 4, 1, 15, 2};
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 4; i++) v7[4 * k + i] = (uint8_t)(head[k] >> (8 * i));
    for (int k = 0; k < 6; k++)
        for (int i = 0; i < 4; i++) v7[1024 + 4 * k + i] = (uint8_t)(toks[k] >> (8 * i));
    spit(out("llmc", "v7"), v7, sizeof v7, NULL, 0);
    free(idx);
    free(bin);
    free(shard);
    free(m);
    corpus_close(c);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds OUT_DIR\n");
        return 2;
    }
    snprintf(out_dir, sizeof out_dir, "%s", argv[1]);
    mkdir(out_dir, 0755);
    corpus("text.h5", CORPUS_TEXT, 3);
    corpus("chat.h5", CORPUS_CHAT, 2);
    corpus("preference.h5", CORPUS_PREFERENCE, 2);
    corpus("prompt.h5", CORPUS_PROMPT, 1);
    checkpoint("full.h5", 5, 1, 0);
    checkpoint("weights.h5", 2, 0, 0);
    checkpoint("adapter.h5", 7, 1, 1);
    safetensors("f32.safetensors", ST_F32, 1);
    safetensors("bf16.safetensors", ST_BF16, 0);
    external();
    return 0;
}
