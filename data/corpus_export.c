/* Writing a text corpus as Megatron or llm.c files (data/corpus_export.h). */
#include "data/corpus_export.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"

#define PIECE ((size_t)1 << 16)
#define LLMC_HEADER_INTS 256

/* one output file, written under a temporary name */
typedef struct {
    char *path, *tmp;
    FILE *f;
} Out;

static int out_open(Out *o, const char *path, char *err, size_t errlen) {
    size_t n = strlen(path) + 5;
    o->path = mallocCheck(n);
    o->tmp = mallocCheck(n);
    snprintf(o->path, n, "%s", path);
    snprintf(o->tmp, n, "%s.tmp", path);
    o->f = fopen(o->tmp, "wb");
    if (!o->f) snprintf(err, errlen, "cannot create %s: %s", o->tmp, strerror(errno));
    return o->f ? 0 : -1;
}

/* closes; 0 if every write reached the file */
static int out_close(Out *o, char *err, size_t errlen) {
    if (!o->f) return 0;
    int bad = ferror(o->f);
    bad |= fclose(o->f) != 0;
    o->f = NULL;
    if (bad) snprintf(err, errlen, "cannot write %s: %s (disk full?)", o->tmp, strerror(errno));
    return bad ? -1 : 0;
}

static void out_drop(Out *o) {
    if (o->f) fclose(o->f);
    o->f = NULL;
    if (o->tmp) remove(o->tmp);
    free(o->tmp);
    free(o->path);
    o->tmp = o->path = NULL;
}

static int out_rename(Out *o, char *err, size_t errlen) {
    int rc = rename(o->tmp, o->path);
    if (rc) snprintf(err, errlen, "cannot rename %s to %s: %s", o->tmp, o->path, strerror(errno));
    free(o->tmp);
    free(o->path);
    o->tmp = o->path = NULL;
    return rc ? -1 : 0;
}

static void put(FILE *f, uint64_t v, int bytes) {
    uint8_t b[8];
    for (int i = 0; i < bytes; i++) b[i] = (uint8_t)(v >> (8 * i));
    fwrite(b, 1, (size_t)bytes, f);
}

static int check_text(Corpus *c, CorpusExportStats *st, char *err, size_t errlen) {
    memset(st, 0, sizeof *st);
    if (corpus_kind(c) != CORPUS_TEXT) {
        snprintf(err, errlen, "a %s corpus: only text corpora have these formats", corpus_kind_name(corpus_kind(c)));
        return -1;
    }
    st->item = corpus_vocab_size(c) <= 65536 ? 2 : 4;
    st->first_id = -2;
    return 0;
}

/* the id documents start with: the first one seen, or -1 once another appears */
static void note_first(CorpusExportStats *st, uint32_t id) {
    if (st->first_id == -2) st->first_id = (int64_t)id;
    else if (st->first_id != (int64_t)id) st->first_id = -1;
}

/* document d's tokens appended to f (read a piece at a time through the corpus cache) */
static void write_doc(Corpus *c, size_t d, FILE *f, int item, uint32_t *buf, CorpusExportStats *st) {
    size_t n = corpus_doc_len(c, 0, d);
    for (size_t at = 0; at < n; at += PIECE) {
        size_t k = n - at < PIECE ? n - at : PIECE;
        corpus_read(c, 0, d, at, k, buf, NULL);
        if (at == 0) note_first(st, buf[0]);
        for (size_t i = 0; i < k; i++) put(f, buf[i], item);
    }
    st->tokens += n;
}

int corpus_export_megatron(Corpus *c, const char *prefix, CorpusExportStats *st, char *err, size_t errlen) {
    if (check_text(c, st, err, errlen)) return -1;
    size_t nd = corpus_num_docs(c), n = strlen(prefix) + 5;
    for (size_t d = 0; d < nd; d++)
        if (corpus_doc_len(c, 0, d) > (size_t)INT32_MAX) {
            snprintf(err, errlen, "document %zu has %zu tokens, more than a Megatron length (int32) holds", d,
                     corpus_doc_len(c, 0, d));
            return -1;
        }
    char *p = mallocCheck(n);
    Out bin = {0}, idx = {0};
    snprintf(p, n, "%s.bin", prefix);
    int rc = out_open(&bin, p, err, errlen);
    snprintf(p, n, "%s.idx", prefix);
    if (!rc) rc = out_open(&idx, p, err, errlen);
    free(p);
    uint32_t *buf = mallocCheck(PIECE * sizeof *buf);
    for (size_t d = 0; d < nd && !rc; d++) write_doc(c, d, bin.f, st->item, buf, st);
    free(buf);
    if (!rc) {
        fwrite("MMIDIDX\0\0", 1, 9, idx.f);
        put(idx.f, 1, 8);                               /* version */
        put(idx.f, st->item == 2 ? 8 : 4, 1);           /* dtype code: uint16 or int32 */
        put(idx.f, nd, 8);                              /* sequences: one per document */
        put(idx.f, nd + 1, 8);                          /* document indices */
        for (size_t d = 0; d < nd; d++) put(idx.f, corpus_doc_len(c, 0, d), 4);
        uint64_t at = 0;
        for (size_t d = 0; d < nd; d++) {
            put(idx.f, at, 8);
            at += corpus_doc_len(c, 0, d) * (uint64_t)st->item;
        }
        for (size_t d = 0; d <= nd; d++) put(idx.f, d, 8);
        st->bytes = at + 34 + 12 * (uint64_t)nd + 8 * ((uint64_t)nd + 1);
    }
    if (!rc) rc = out_close(&bin, err, errlen);
    if (!rc) rc = out_close(&idx, err, errlen);
    if (!rc) rc = out_rename(&bin, err, errlen);
    if (!rc) rc = out_rename(&idx, err, errlen);
    out_drop(&bin);
    out_drop(&idx);
    st->files = rc ? 0 : 2;
    return rc;
}

/* the header of a shard of n tokens */
static void shard_header(FILE *f, int item, uint64_t n) {
    put(f, item == 2 ? 20240520u : 20240801u, 4);
    put(f, item == 2 ? 1 : 7, 4);
    put(f, n, 4);
    for (int i = 3; i < LLMC_HEADER_INTS; i++) put(f, 0, 4);
}

int corpus_export_llmc(Corpus *c, const char *prefix, uint64_t shard_tokens, CorpusExportStats *st, char *err,
                       size_t errlen) {
    if (check_text(c, st, err, errlen)) return -1;
    if (shard_tokens == 0 || shard_tokens > (uint64_t)INT32_MAX) {
        snprintf(err, errlen, "shards of %llu tokens (1 .. 2^31-1: llm.c's header counts in int32)",
                 (unsigned long long)shard_tokens);
        return -1;
    }
    uint64_t total = corpus_num_tokens(c, 0), nshards = (total + shard_tokens - 1) / shard_tokens;
    if (nshards > 1000000) {
        snprintf(err, errlen, "%llu shards: choose larger shards", (unsigned long long)nshards);
        return -1;
    }
    Out *outs = callocCheck((size_t)nshards, sizeof *outs);
    uint32_t *buf = mallocCheck(PIECE * sizeof *buf);
    size_t n = strlen(prefix) + 16, d = 0, off = 0;
    char *p = mallocCheck(n);
    int rc = 0;
    for (uint64_t s = 0; s < nshards && !rc; s++) { /* fill shard s from the documents' stream */
        snprintf(p, n, "%s_%06llu.bin", prefix, (unsigned long long)s);
        if ((rc = out_open(&outs[s], p, err, errlen))) break;
        uint64_t want = total - s * shard_tokens < shard_tokens ? total - s * shard_tokens : shard_tokens;
        shard_header(outs[s].f, st->item, want);
        for (uint64_t got = 0; got < want;) {
            size_t len = corpus_doc_len(c, 0, d), k = len - off;
            if (k > PIECE) k = PIECE;
            if (k > want - got) k = (size_t)(want - got);
            corpus_read(c, 0, d, off, k, buf, NULL);
            if (off == 0) note_first(st, buf[0]);
            for (size_t i = 0; i < k; i++) put(outs[s].f, buf[i], st->item);
            got += k;
            off += k;
            if (off == len) d++, off = 0;
        }
        st->tokens += want;
        st->bytes += 4 * LLMC_HEADER_INTS + want * (uint64_t)st->item;
        rc = out_close(&outs[s], err, errlen);
    }
    for (uint64_t s = 0; s < nshards && !rc; s++) rc = out_rename(&outs[s], err, errlen);
    for (uint64_t s = 0; s < nshards; s++) out_drop(&outs[s]);
    free(p);
    free(buf);
    free(outs);
    st->files = rc ? 0 : nshards;
    return rc;
}
