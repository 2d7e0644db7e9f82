/* Corpora read in place and streamed (data/corpus.h, data/corpus_external.c):
 *  1. streamed = loaded: a corpus read through a cache of 2 chunks of 7 tokens gives the
 *     mixture bitwise the same rows, cursors and resumed rows as one whose cache holds it all;
 *  2. the external formats, written here by small writers that follow the format documents
 *     byte for byte (Megatron .idx/.bin uint16 and int32, llm.c shards v1 uint16 over two
 *     shards and v7 uint32, nanoGPT uint16), hold the same documents as our HDF5 corpus, and
 *     the mixture packs bitwise the same rows from each (so training sees the same batches);
 *  3. damaged files are refused at open with one line naming the file and the field: a
 *     truncated .bin, .idx pointers past the end of the .bin, a shard with the wrong magic, a
 *     truncated shard, an odd-sized nanoGPT file, an .idx with decreasing document indices;
 *  4. an id >= vocab inside a chunk read mid-stream stops the process with one line naming the
 *     file and the document; corpus_verify finds it without stopping. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/check.h"
#include "common/rng.h"
#include "data/mixture.h"

#define VOCAB 3000
#define NDOCS 120
#define EOT_FIRST 1 /* every document starts with it (llm.c's convention) */
#define EOT_LAST 2  /* and ends with it (nanoGPT's) */
static int fails = 0;
#define EXPECT(cond, ...)                          \
    do {                                           \
        if (!(cond)) {                             \
            fprintf(stderr, "FAIL: " __VA_ARGS__); \
            fprintf(stderr, "\n");                 \
            fails++;                               \
        }                                          \
    } while (0)

static const char *dir;
static uint32_t *doc_tok[NDOCS];
static size_t doc_len[NDOCS];

static const char *path_in(const char *name) {
    static char buf[8][1024];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, 1024, "%s/%s", dir, name);
    return p;
}

static void make_docs(void) {
    Rng r;
    rng_seed(&r, 42, 0);
    for (int d = 0; d < NDOCS; d++) {
        doc_len[d] = 3 + rng_below(&r, 90);
        doc_tok[d] = malloc(doc_len[d] * sizeof(uint32_t));
        doc_tok[d][0] = EOT_FIRST;
        for (size_t i = 1; i + 1 < doc_len[d]; i++) doc_tok[d][i] = 3 + (uint32_t)rng_below(&r, VOCAB - 3);
        doc_tok[d][doc_len[d] - 1] = EOT_LAST;
    }
}

/* ---- writers, after the format documents ------------------------------------------------ */
static void put(FILE *f, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; i++) fputc((int)(v >> (8 * i)) & 0xff, f);
}

static void write_tokens(FILE *f, int from, int to, int item) {
    for (int d = from; d < to; d++)
        for (size_t i = 0; i < doc_len[d]; i++) put(f, doc_tok[d][i], item);
}

/* megatron/core/datasets/indexed_dataset.py: _IndexWriter.write + the .bin of add_item */
static void write_megatron(const char *prefix, int code) {
    int item = code == 8 ? 2 : 4;
    char p[1100];
    snprintf(p, sizeof p, "%s.bin", prefix);
    FILE *f = fopen(p, "wb");
    write_tokens(f, 0, NDOCS, item);
    fclose(f);
    snprintf(p, sizeof p, "%s.idx", prefix);
    f = fopen(p, "wb");
    fwrite("MMIDIDX\0\0", 1, 9, f);
    put(f, 1, 8);                 /* version */
    put(f, (uint64_t)code, 1);    /* dtype code */
    put(f, NDOCS, 8);             /* sequence count: one sequence per document */
    put(f, NDOCS + 1, 8);         /* document count (+1) */
    for (int d = 0; d < NDOCS; d++) put(f, doc_len[d], 4);
    uint64_t at = 0;
    for (int d = 0; d < NDOCS; d++) {
        put(f, at, 8);
        at += doc_len[d] * (uint64_t)item;
    }
    for (int d = 0; d <= NDOCS; d++) put(f, (uint64_t)d, 8);
    fclose(f);
}

/* llm.c dev/data/data_common.py write_datafile: 256 int32 header, then the tokens */
static void write_shard(const char *path, int from, int to, int v7) {
    FILE *f = fopen(path, "wb");
    uint64_t n = 0;
    for (int d = from; d < to; d++) n += doc_len[d];
    put(f, v7 ? 20240801u : 20240520u, 4);
    put(f, v7 ? 7 : 1, 4);
    put(f, n, 4);
    for (int i = 3; i < 256; i++) put(f, 0, 4);
    write_tokens(f, from, to, v7 ? 4 : 2);
    fclose(f);
}

static void write_nanogpt(const char *path) {
    FILE *f = fopen(path, "wb");
    write_tokens(f, 0, NDOCS, 2);
    fclose(f);
}

static Corpus *open_ext(const char *spec, int64_t eot, size_t chunk, size_t cache) {
    CorpusOptions o = {VOCAB, eot, cache, chunk};
    return corpus_open_ex(spec, CORPUS_TEXT, &o);
}

/* ---- comparisons ---------------------------------------------------------------------- */
static void expect_same_docs(Corpus *c, const char *what) {
    EXPECT(corpus_num_docs(c) == NDOCS, "%s: %zu documents, not %d", what, corpus_num_docs(c), NDOCS);
    if (corpus_num_docs(c) != NDOCS) return;
    for (int d = 0; d < NDOCS; d++) {
        CorpusDoc x = corpus_doc(c, 0, (size_t)d);
        EXPECT(x.n == doc_len[d] && !memcmp(x.tokens, doc_tok[d], x.n * 4), "%s: document %d differs", what, d);
    }
}

static int same_batch(const Batch *a, const Batch *b) {
    size_t n = (size_t)a->B * a->T;
    return !memcmp(a->tokens, b->tokens, n * sizeof(int)) && !memcmp(a->targets, b->targets, n * sizeof(int)) &&
           !memcmp(a->pos, b->pos, n * sizeof(int)) && !memcmp(a->mask, b->mask, n) && a->ntargets == b->ntargets;
}

/* the two corpora give the same rows, cursors and (after a restore) resumed rows */
static void expect_same_stream(Corpus *ref, Corpus *c, PackMode mode, int rank, int world, const char *what) {
    enum { B = 3, T = 24, STEPS = 40 };
    Mixture a, b;
    mixture_init(&a, &ref, 1, 5, 1, mode, B, T, rank, world);
    mixture_init(&b, &c, 1, 5, 1, mode, B, T, rank, world);
    Batch x, y;
    batch_alloc(&x, B, T);
    batch_alloc(&y, B, T);
    uint64_t sa[16], sb[16];
    int same = 1;
    for (int k = 0; k < STEPS; k++) {
        mixture_next_batch(&a, &x);
        mixture_next_batch(&b, &y);
        same &= same_batch(&x, &y);
        mixture_get_state(&a, sa);
        mixture_get_state(&b, sb);
        same &= !memcmp(sa, sb, mixture_state_len(1) * sizeof(uint64_t));
    }
    EXPECT(same, "%s: rows or cursors differ from the reference", what);
    Mixture r; /* resume the streamed one from its cursor */
    mixture_init(&r, &c, 1, 5, 1, mode, B, T, rank, world);
    mixture_set_state(&r, sb, mixture_state_len(1));
    for (int k = 0; k < 5; k++) {
        mixture_next_batch(&a, &x);
        mixture_next_batch(&r, &y);
        EXPECT(same_batch(&x, &y), "%s: resumed batch %d differs", what, k);
    }
    mixture_free(&a);
    mixture_free(&b);
    mixture_free(&r);
    batch_free(&x);
    batch_free(&y);
}

/* ---- refusals: run in a child, one line on stderr naming the file ---------------------- */
static char child_err[4096];

/* a refusal ends the child at once: what the refused open had allocated is not a leak */
static void quit_now(int code) {
    fflush(stderr);
    _exit(code ? code : 1);
}

static int refused(void (*call)(const char *), const char *arg) {
    int fd[2];
    if (pipe(fd)) return 0;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        dup2(fd[1], 2);
        griffin_abort_hook = quit_now;
        call(arg);
        _exit(0);
    }
    close(fd[1]);
    ssize_t n = read(fd[0], child_err, sizeof child_err - 1), m;
    while (n >= 0 && (size_t)n < sizeof child_err - 1 && (m = read(fd[0], child_err + n, sizeof child_err - 1 - (size_t)n)) > 0)
        n += m;
    child_err[n > 0 ? n : 0] = 0;
    close(fd[0]);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) != 0;
}

static void open_only(const char *spec) {
    Corpus *c = open_ext(spec, strncmp(spec, "llmc:", 5) ? EOT_LAST : EOT_FIRST, 0, 0);
    corpus_close(c);
}

static void expect_refused(const char *spec, const char *file, const char *words) {
    int r = refused(open_only, spec);
    int lines = 0;
    for (const char *s = child_err; *s; s++) lines += *s == '\n';
    EXPECT(r && lines == 1 && strstr(child_err, file) && strstr(child_err, words), "%s not refused in one line "
           "naming %s and '%s': %s", spec, file, words, child_err);
    printf("refused: %s", child_err);
}

static void copy_file(const char *from, const char *to, long keep, long patch_at, const void *patch, size_t plen) {
    FILE *f = fopen(from, "rb");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) n = 0;
    fclose(f);
    if (patch) memcpy(buf + patch_at, patch, plen);
    f = fopen(to, "wb");
    fwrite(buf, 1, (size_t)(keep >= 0 ? keep : n), f);
    fclose(f);
    free(buf);
}

static void test_refusals(void) {
    char a[1024], b[1024];
    /* truncated .bin */
    copy_file(path_in("mega16.idx"), path_in("trunc.idx"), -1, 0, NULL, 0);
    copy_file(path_in("mega16.bin"), path_in("trunc.bin"), 1000, 0, NULL, 0);
    snprintf(a, sizeof a, "megatron:%s", path_in("trunc"));
    expect_refused(a, "trunc", "past the end");
    /* .idx whose last pointer runs past the end of the .bin */
    uint8_t far[8] = {0, 0, 0, 0, 1, 0, 0, 0};
    copy_file(path_in("mega16.bin"), path_in("farptr.bin"), -1, 0, NULL, 0);
    copy_file(path_in("mega16.idx"), path_in("farptr.idx"), -1, 34 + 4 * NDOCS + 8 * (NDOCS - 1), far, 8);
    snprintf(a, sizeof a, "megatron:%s", path_in("farptr"));
    expect_refused(a, "farptr.idx", "sequence pointers");
    /* document indices that decrease */
    uint8_t back[8] = {5, 0, 0, 0, 0, 0, 0, 0};
    copy_file(path_in("mega16.bin"), path_in("docback.bin"), -1, 0, NULL, 0);
    copy_file(path_in("mega16.idx"), path_in("docback.idx"), -1, 34 + 12 * NDOCS + 8 * 10, back, 8);
    snprintf(a, sizeof a, "megatron:%s", path_in("docback"));
    expect_refused(a, "docback.idx", "document indices");
    /* wrong magic in an .idx */
    copy_file(path_in("mega16.bin"), path_in("badidx.bin"), -1, 0, NULL, 0);
    copy_file(path_in("mega16.idx"), path_in("badidx.idx"), -1, 0, "NOTANIDX", 8);
    snprintf(a, sizeof a, "megatron:%s", path_in("badidx"));
    expect_refused(a, "badidx.idx", "magic");
    /* a shard with the wrong magic, a truncated shard */
    uint8_t magic[4] = {0x21, 0x43, 0x65, 0x07};
    copy_file(path_in("shards_000.bin"), path_in("badmagic_000.bin"), -1, 0, magic, 4);
    snprintf(b, sizeof b, "llmc:%s", path_in("badmagic_*.bin"));
    expect_refused(b, "badmagic_000.bin", "magic");
    copy_file(path_in("shards_000.bin"), path_in("cut_000.bin"), 2000, 0, NULL, 0);
    snprintf(b, sizeof b, "llmc:%s", path_in("cut_*.bin"));
    expect_refused(b, "cut_000.bin", "truncated");
    snprintf(b, sizeof b, "llmc:%s", path_in("nothing_*.bin"));
    expect_refused(b, "nothing_", "no file matches");
    /* an odd-sized nanoGPT file */
    copy_file(path_in("nano.bin"), path_in("odd.bin"), 1001, 0, NULL, 0);
    snprintf(b, sizeof b, "nanogpt:%s", path_in("odd.bin"));
    expect_refused(b, "odd.bin", "truncated");
}

/* ---- an id >= vocab in a chunk read mid-stream ----------------------------------------- */
static void stream_all(const char *path) {
    CorpusOptions o = {0, -1, 1, 16};
    Corpus *c = corpus_open_ex(path, CORPUS_TEXT, &o);
    Mixture m;
    mixture_init(&m, &c, 1, 5, 0, PACK_STREAM, 2, 16, 0, 1);
    Batch b;
    batch_alloc(&b, 2, 16);
    for (int k = 0; k < 200; k++) mixture_next_batch(&m, &b);
}

static void test_bad_id_midrun(void) {
    const char *p = path_in("bad_late.h5");
    CorpusWriter *w = corpus_writer_open(p, CORPUS_TEXT, VOCAB, 7);
    for (int d = 0; d < NDOCS; d++) {
        uint32_t save = doc_tok[d][1];
        if (d == 77) doc_tok[d][1] = VOCAB + 5;
        corpus_writer_add(w, 0, doc_tok[d], NULL, doc_len[d], doc_len[d]);
        doc_tok[d][1] = save;
    }
    corpus_writer_close(w);
    Corpus *c = corpus_open(p, CORPUS_TEXT); /* opens: ids are not read at open */
    char err[512];
    EXPECT(corpus_verify(c, err, sizeof err) < 0 && strstr(err, "document 77") && strstr(err, "vocab"),
           "verify missed the bad id: %s", err);
    corpus_close(c);
    EXPECT(refused(stream_all, p) && strstr(child_err, p) && strstr(child_err, "document 77") &&
               strstr(child_err, "outside the vocabulary"), "bad id mid-stream: %s", child_err);
    printf("mid-stream: %s", child_err);
}

int main(void) {
    dir = getenv("GRIFFIN_TEST_DIR") ? getenv("GRIFFIN_TEST_DIR") : ".";
    make_docs();
    const char *h5 = path_in("formats.h5");
    CorpusWriter *w = corpus_writer_open(h5, CORPUS_TEXT, VOCAB, 7);
    for (int d = 0; d < NDOCS; d++) corpus_writer_add(w, 0, doc_tok[d], NULL, doc_len[d], doc_len[d]);
    corpus_writer_close(w);
    char p[1024];
    snprintf(p, sizeof p, "%s/mega16", dir);
    write_megatron(p, 8);
    snprintf(p, sizeof p, "%s/mega32", dir);
    write_megatron(p, 4);
    write_shard(path_in("shards_000.bin"), 0, 50, 0);
    write_shard(path_in("shards_001.bin"), 50, NDOCS, 0);
    write_shard(path_in("v7_000.bin"), 0, NDOCS, 1);
    write_nanogpt(path_in("nano.bin"));

    /* 1. streamed (2 chunks of 7 tokens) = loaded (all in the cache) */
    CorpusOptions all = {0, -1, (size_t)1 << 24, 0}, tiny = {0, -1, 1, 7};
    Corpus *loaded = corpus_open_ex(h5, CORPUS_TEXT, &all), *streamed = corpus_open_ex(h5, CORPUS_TEXT, &tiny);
    expect_same_docs(streamed, "streamed");
    expect_same_stream(loaded, streamed, PACK_STREAM, 0, 1, "streamed, 1 rank");
    expect_same_stream(loaded, streamed, PACK_STREAM, 1, 2, "streamed, rank 1 of 2");
    expect_same_stream(loaded, streamed, PACK_WHOLE, 0, 1, "streamed, whole documents");
    uint64_t loads, hits;
    corpus_cache_stats(streamed, &loads, &hits);
    printf("streamed: %llu chunk reads, %llu hits; resident %zu bytes (loaded: %zu)\n", (unsigned long long)loads,
           (unsigned long long)hits, corpus_resident_bytes(streamed), corpus_resident_bytes(loaded));
    EXPECT(loads > 100, "the small cache was not exercised (%llu chunk reads)", (unsigned long long)loads);

    /* 2. the external formats: same documents, same rows */
    struct { const char *name, *spec; int64_t eot; } ext[] = {
        {"megatron uint16", "megatron:%s/mega16", -1}, {"megatron int32", "megatron:%s/mega32", -1},
        {"llm.c v1, 2 shards", "llmc:%s/shards_*.bin", EOT_FIRST}, {"llm.c v7", "llmc:%s/v7_*.bin", EOT_FIRST},
        {"nanoGPT", "nanogpt:%s/nano.bin", EOT_LAST}};
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        char spec[1100];
        snprintf(spec, sizeof spec, ext[i].spec, dir);
        Corpus *c = open_ext(spec, ext[i].eot, 11, 1);
        EXPECT(!strcmp(corpus_format(c), spec[0] == 'm' ? "megatron" : spec[0] == 'l' ? "llmc" : "nanogpt"),
               "%s: format %s", ext[i].name, corpus_format(c));
        EXPECT(corpus_num_bytes(c, 0) == 0, "%s: byte counts invented", ext[i].name);
        expect_same_docs(c, ext[i].name);
        expect_same_stream(loaded, c, PACK_STREAM, 0, 1, ext[i].name);
        char err[256];
        EXPECT(corpus_verify(c, err, sizeof err) == 0, "%s: verify: %s", ext[i].name, err);
        printf("%s: %zu documents, %llu tokens, same rows as the HDF5 corpus\n", ext[i].name, corpus_num_docs(c),
               (unsigned long long)corpus_num_tokens(c, 0));
        corpus_close(c);
    }
    corpus_close(loaded);
    corpus_close(streamed);

    test_refusals();
    test_bad_id_midrun();
    for (int d = 0; d < NDOCS; d++) free(doc_tok[d]);
    printf("corpus formats: %s\n", fails ? "FAILED" : "ok");
    return fails ? 1 : 0;
}
