/* Opening a config's corpora (train/corpus_open.h). */
#include "train/run/corpus_open.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "common/check.h"
#include "data/tokenizer.h"

/* data.NAME.tokenizer: the tokenizer the corpus was made with. The model reads one vocabulary,
 * so it must be model.tokenizer's (same bytes) when that is set; it bounds the corpus's ids. */
static void check_corpus_tokenizer(const TrainConfig *cfg, const DataEntry *e, Corpus *c) {
    Tokenizer *t = tokenizer_load(e->tokenizer);
    if (cfg->model.tokenizer[0]) {
        Tokenizer *m = tokenizer_load(cfg->model.tokenizer);
        CHECK(tokenizer_checksum(t) == tokenizer_checksum(m),
              "%s: data.%s.tokenizer %s (crc32 %08x) is not model.tokenizer %s (crc32 %08x): the model reads one "
              "vocabulary; re-tokenize the corpus or train with that tokenizer", cfg->source, e->name, e->tokenizer,
              tokenizer_checksum(t), cfg->model.tokenizer, tokenizer_checksum(m));
        tokenizer_free(m);
    }
    corpus_check_tokenizer(c, t, e->tokenizer);
    tokenizer_free(t);
}

Corpus *train_open_corpus(const TrainConfig *cfg, const DataEntry *e, CorpusKind want) {
    CorpusOptions o = {0};
    o.vocab_size = cfg->griffin.vocab_size;
    o.eot = e->has_eot ? e->eot : cfg->has_eot ? cfg->eot : -1;
    o.cache_bytes = (size_t)cfg->train.data_cache_mb << 20;
    Corpus *c = corpus_open_ex(e->path, want, &o);
    if (e->tokenizer[0]) check_corpus_tokenizer(cfg, e, c);
    return c;
}

/* ---- byte counts of external validation corpora, decoded once, cached beside the run ---- */
#define BYTES_MAGIC "griffin-doc-bytes 1\n"
#define BYTES_MAGIC_LEN 20

/* out_dir/doc_bytes-<CRC-32 of the spec>.bin */
static void bytes_path(const TrainConfig *cfg, const char *spec, char *out, size_t len) {
    uLong crc = crc32(0L, (const Bytef *)spec, (uInt)strlen(spec));
    snprintf(out, len, "%s/doc_bytes-%08lx.bin", cfg->train.out_dir, (unsigned long)crc);
}

/* the header: magic, index CRC-32, tokenizer CRC-32, documents */
static void bytes_header(uint8_t *h, const Corpus *c, const Tokenizer *t) {
    memcpy(h, BYTES_MAGIC, BYTES_MAGIC_LEN);
    uint32_t a = corpus_index_crc(c), b = tokenizer_checksum(t);
    uint64_t n = corpus_num_docs(c);
    memcpy(h + BYTES_MAGIC_LEN, &a, 4);
    memcpy(h + BYTES_MAGIC_LEN + 4, &b, 4);
    memcpy(h + BYTES_MAGIC_LEN + 8, &n, 8);
}
#define BYTES_HEAD (BYTES_MAGIC_LEN + 16)

/* 1 if path holds the counts of this corpus and tokenizer (read into bytes) */
static int read_cached(const char *path, const uint8_t *want, uint64_t *bytes, size_t n) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    uint8_t h[BYTES_HEAD];
    int ok = fread(h, 1, BYTES_HEAD, f) == BYTES_HEAD && !memcmp(h, want, BYTES_HEAD) &&
             fread(bytes, sizeof *bytes, n, f) == n && fgetc(f) == EOF;
    fclose(f);
    return ok;
}

/* written under a per-process temporary name and renamed: ranks may race, readers never see a part */
static void write_cached(const char *path, const uint8_t *head, const uint64_t *bytes, size_t n) {
    char tmp[CFG_STR + 128];
    snprintf(tmp, sizeof tmp, "%.*s.tmp.%d", CFG_STR + 64, path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) return; /* no cache: the counts are recomputed next time */
    int ok = fwrite(head, 1, BYTES_HEAD, f) == BYTES_HEAD && fwrite(bytes, sizeof *bytes, n, f) == n;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path)) remove(tmp);
}

static void external_bytes(const TrainConfig *cfg, const DataEntry *e, Corpus *c) {
    Tokenizer *t = tokenizer_load(e->tokenizer[0] ? e->tokenizer : cfg->model.tokenizer);
    size_t n = corpus_num_docs(c);
    uint64_t *bytes = mallocCheck((n ? n : 1) * sizeof *bytes);
    uint8_t head[BYTES_HEAD];
    corpus_check_tokenizer(c, t, cfg->model.tokenizer);
    bytes_header(head, c, t);
    char path[CFG_STR + 64];
    bytes_path(cfg, e->path, path, sizeof path);
    if (!read_cached(path, head, bytes, n)) {
        corpus_decode_bytes(c, t, bytes);
        write_cached(path, head, bytes, n);
    }
    corpus_set_doc_bytes(c, bytes);
    free(bytes);
    tokenizer_free(t);
}

Corpus *train_open_valid_corpus(const TrainConfig *cfg, const DataEntry *e, CorpusKind want) {
    Corpus *c = train_open_corpus(cfg, e, want);
    if (corpus_is_external(c) && (cfg->model.tokenizer[0] || e->tokenizer[0])) external_bytes(cfg, e, c);
    return c;
}
