/* Corpus reader, external backends: corpora tokenized by other tools, read in place through
 * memory maps (never copied, never loaded whole). All little-endian.
 *
 * megatron:PREFIX — Megatron-LM's indexed dataset (megatron/core/datasets/indexed_dataset.py):
 *   PREFIX.idx   0  magic "MMIDIDX\0\0" (9 bytes)
 *                9  uint64 version = 1
 *               17  uint8  dtype code (4 = int32, 8 = uint16; the only token types read here)
 *               18  uint64 sequence count S
 *               26  uint64 document count D + 1
 *               34  int32  sequence lengths [S] (tokens)
 *                   int64  sequence pointers [S] (byte offsets into PREFIX.bin)
 *                   int64  document indices [D + 1] (first sequence of each document, then S)
 *   PREFIX.bin   the tokens, sequence after sequence.
 *   Checked at open: magic, version, dtype, the sizes of both files against the counts,
 *   pointers contiguous (each = the previous + its length × the token size, the last ending at
 *   the end of PREFIX.bin), document indices from 0 to S and non-decreasing. Document d is
 *   sequences [index[d], index[d+1]) concatenated.
 * llmc:GLOB — llm.c token shards (dev/data/data_common.py), every file the pattern matches in
 *   name order, one stream of tokens across shards:
 *                0  int32 header[256]: [0] magic, [1] version, [2] token count N
 *             1024  tokens [N]: magic 20240520 version 1 → uint16; 20240801 version 7 → uint32
 *   llm.c writes the EOT id before each document: a document starts at each EOT
 *   (data.NAME.eot), so it is EOT + its text; tokens before the first EOT form document 0.
 * nanogpt:FILE — nanoGPT's train.bin / val.bin (data/openwebtext/prepare.py): headerless
 *   uint16 tokens. nanoGPT appends the EOT id after each document: a document ends after each
 *   EOT; tokens after the last EOT form the last document.
 * Finding the documents of llmc and nanogpt corpora reads every token once at open (these
 * formats have no index); the pages are released as the scan passes, so memory stays the
 * index. Ids are checked against the vocabulary when a chunk is read (data/corpus.c). */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/check.h"
#include "data/corpus.h"
#include "data/corpus_impl.h"

#define LLMC_HEADER_BYTES 1024
#define SCAN_WINDOW ((uint64_t)64 << 20)

typedef struct {
    char *path;
    uint8_t *map;       /* NULL for an empty file; mapped read-only */
    size_t size;
    size_t data_off;    /* first token's byte */
    int item;           /* bytes per token: 2 or 4 */
    uint64_t n_tokens;
} Segment;

typedef struct {
    int n;
    Segment *seg;
    uint64_t *start; /* first token of each segment in the stream; start[n] = total */
} ExtState;

/* ---- files -------------------------------------------------------------------------- */
static void map_file(Segment *s, const char *path, const char *spec) {
    s->path = mallocCheck(strlen(path) + 1);
    strcpy(s->path, path);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0, "corpus %s: cannot open %s: %s", spec, path, strerror(errno));
    struct stat st;
    CHECK(fstat(fd, &st) == 0 && S_ISREG(st.st_mode), "corpus %s: %s is not a regular file", spec, path);
    s->size = (size_t)st.st_size;
    if (s->size) {
        void *p = mmap(NULL, s->size, PROT_READ, MAP_PRIVATE, fd, 0);
        CHECK(p != MAP_FAILED, "corpus %s: cannot map %s: %s", spec, path, strerror(errno));
        s->map = (uint8_t *)p;
    }
    close(fd);
}

static void unmap_file(Segment *s) {
    if (s->map) munmap(s->map, s->size);
    free(s->path);
}

/* Lets the kernel take back the pages of [from, to) of a mapping: they were read already (a
 * private read-only file mapping re-reads them from the page cache if touched again). The
 * range is widened to RELEASE_ALIGN: a page fault maps the pages around it too (Linux's
 * fault-around, 64 KiB), and those would otherwise stay counted in the resident set. */
#define RELEASE_ALIGN ((size_t)1 << 16)
static void release_pages(const Segment *s, size_t from, size_t to) {
    from = from / RELEASE_ALIGN * RELEASE_ALIGN;
    to = (to + RELEASE_ALIGN - 1) / RELEASE_ALIGN * RELEASE_ALIGN;
    if (to > s->size) to = s->size;
    if (s->map && to > from) madvise(s->map + from, to - from, MADV_DONTNEED);
}

static uint32_t token_at(const Segment *s, uint64_t i) {
    const uint8_t *p = s->map + s->data_off + i * (uint64_t)s->item;
    if (s->item == 2) return (uint32_t)p[0] | (uint32_t)p[1] << 8;
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return v; /* int32 tokens: a negative id becomes >= 2^31, outside any vocabulary */
}

static uint64_t get_le(const uint8_t *p, int bytes) {
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* ---- the backend -------------------------------------------------------------------- */
static int ext_read(Corpus *c, int field, uint64_t start, size_t n, uint32_t *tok, uint8_t *mask, char *err,
                    size_t errlen) {
    (void)field, (void)mask, (void)err, (void)errlen;
    ExtState *x = c->state;
    int lo = 0, hi = x->n; /* the segment holding start */
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (x->start[mid] <= start) lo = mid;
        else hi = mid;
    }
    for (int k = lo; n > 0; k++) {
        const Segment *s = &x->seg[k];
        uint64_t i = start - x->start[k], avail = s->n_tokens - i;
        size_t take = avail < n ? (size_t)avail : n;
        for (size_t j = 0; j < take; j++) tok[j] = token_at(s, i + j);
        release_pages(s, s->data_off + i * (uint64_t)s->item, s->data_off + (i + take) * (uint64_t)s->item);
        tok += take;
        start += take;
        n -= take;
    }
    return 0;
}

static void ext_close(Corpus *c) {
    ExtState *x = c->state;
    for (int k = 0; k < x->n; k++) unmap_file(&x->seg[k]);
    free(x->seg);
    free(x->start);
    free(x);
}

static const CorpusBackend megatron_backend = {"megatron", ext_read, ext_close};
static const CorpusBackend llmc_backend = {"llmc", ext_read, ext_close};
static const CorpusBackend nanogpt_backend = {"nanogpt", ext_read, ext_close};

static ExtState *ext_state(int n) {
    ExtState *x = callocCheck(1, sizeof *x);
    x->n = n;
    x->seg = callocCheck((size_t)n, sizeof *x->seg);
    x->start = callocCheck((size_t)n + 1, sizeof *x->start);
    return x;
}

static void ext_finish(Corpus *c, ExtState *x, const CorpusBackend *be, const CorpusOptions *o) {
    for (int k = 0; k < x->n; k++) x->start[k + 1] = x->start[k] + x->seg[k].n_tokens;
    c->be = be;
    c->state = x;
    c->kind = CORPUS_TEXT;
    c->n_fields = 1;
    c->external = 1;
    c->vocab_size = o->vocab_size;
    c->fields[0].n_tokens = x->start[x->n];
    CHECK(o->vocab_size > 0, "corpus %s: an external corpus needs the vocabulary size (model.vocab_size)", c->path);
    CHECK(c->fields[0].n_tokens > 0, "corpus %s: no tokens", c->path);
    size_t chunk = CORPUS_MMAP_CHUNK_TOKENS;
    corpus_finish_open(c, &chunk);
}

/* ---- documents of an index-less stream (llmc, nanogpt) ------------------------------ */
typedef struct {
    uint64_t *v;
    size_t n, cap;
} U64List;

static void push(U64List *l, uint64_t v) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 1024;
        uint64_t *p = realloc(l->v, l->cap * sizeof *p);
        CHECK(p, "out of memory for a corpus index of %zu documents", l->cap);
        l->v = p;
    }
    l->v[l->n++] = v;
}

/* Document offsets of the stream: a document starts at each EOT (before = 1) or ends after
 * each one (before = 0). Reads each token once, releasing pages behind it. */
static void split_at_eot(Corpus *c, const ExtState *x, uint32_t eot, int before) {
    U64List l = {0};
    push(&l, 0);
    uint64_t total = x->start[x->n];
    for (int k = 0; k < x->n; k++) {
        const Segment *s = &x->seg[k];
        uint64_t window = SCAN_WINDOW / (uint64_t)s->item;
        for (uint64_t w0 = 0; w0 < s->n_tokens; w0 += window) { /* a window at a time, released after */
            uint64_t w1 = s->n_tokens - w0 < window ? s->n_tokens : w0 + window;
            for (uint64_t i = w0; i < w1; i++)
                if (token_at(s, i) == eot) {
                    uint64_t at = x->start[k] + i + (before ? 0 : 1);
                    if (at > 0 && at < total) push(&l, at);
                }
            release_pages(s, s->data_off + w0 * (uint64_t)s->item, s->data_off + w1 * (uint64_t)s->item);
        }
        release_pages(s, 0, s->size);
    }
    push(&l, total);
    c->n_docs = l.n - 1;
    c->fields[0].offsets = l.v;
}

static uint32_t eot_of(const char *spec, const CorpusOptions *o) {
    CHECK(o->eot >= 0 && o->eot <= (int64_t)UINT32_MAX, "corpus %s: the id that separates documents is not set: "
          "give it as data.NAME.eot (e.g. 50256 for GPT-2's <|endoftext|>)", spec);
    return (uint32_t)o->eot;
}

Corpus *corpus_open_nanogpt(const char *spec, const char *file, const CorpusOptions *o) {
    uint32_t eot = eot_of(spec, o);
    Corpus *c = corpus_alloc(spec, o);
    ExtState *x = ext_state(1);
    Segment *s = &x->seg[0];
    map_file(s, file, spec);
    CHECK(s->size % 2 == 0, "corpus %s: %s has %zu bytes, not a whole number of uint16 tokens (truncated?)", spec,
          file, s->size);
    s->item = 2;
    s->n_tokens = s->size / 2;
    ext_finish(c, x, &nanogpt_backend, o);
    split_at_eot(c, x, eot, 0);
    return c;
}

/* one llm.c shard: header and size */
static void open_shard(Segment *s, const char *path, const char *spec) {
    map_file(s, path, spec);
    CHECK(s->size >= LLMC_HEADER_BYTES, "corpus %s: %s has %zu bytes, shorter than the %d-byte llm.c header "
          "(truncated?)", spec, path, s->size, LLMC_HEADER_BYTES);
    uint32_t magic = (uint32_t)get_le(s->map, 4), version = (uint32_t)get_le(s->map + 4, 4);
    uint64_t n = (uint32_t)get_le(s->map + 8, 4);
    if (magic == 20240520u) {
        CHECK(version == 1, "corpus %s: %s: header version %u with magic 20240520 (expected 1)", spec, path, version);
        s->item = 2;
    } else if (magic == 20240801u) {
        CHECK(version == 7, "corpus %s: %s: header version %u with magic 20240801 (expected 7)", spec, path, version);
        s->item = 4;
    } else {
        DIE("corpus %s: %s: header magic %u, not an llm.c token shard (20240520 or 20240801)", spec, path, magic);
    }
    s->data_off = LLMC_HEADER_BYTES;
    s->n_tokens = n;
    uint64_t want = LLMC_HEADER_BYTES + n * (uint64_t)s->item;
    CHECK(s->size == want, "corpus %s: %s: the header's token count %llu needs %llu bytes, the file has %zu (%s)",
          spec, path, (unsigned long long)n, (unsigned long long)want, s->size,
          s->size < want ? "truncated" : "extra bytes");
}

Corpus *corpus_open_llmc(const char *spec, const char *pattern, const CorpusOptions *o) {
    uint32_t eot = eot_of(spec, o);
    glob_t g;
    int rc = glob(pattern, GLOB_ERR, NULL, &g);
    CHECK(rc == 0 && g.gl_pathc > 0, "corpus %s: no file matches %s", spec, pattern);
    CHECK(g.gl_pathc < (1u << 20), "corpus %s: %zu shards", spec, (size_t)g.gl_pathc);
    Corpus *c = corpus_alloc(spec, o);
    ExtState *x = ext_state((int)g.gl_pathc);
    for (size_t k = 0; k < g.gl_pathc; k++) open_shard(&x->seg[k], g.gl_pathv[k], spec);
    globfree(&g);
    ext_finish(c, x, &llmc_backend, o);
    split_at_eot(c, x, eot, 1);
    return c;
}

/* ---- Megatron ----------------------------------------------------------------------- */
static const uint8_t MMIDIDX[9] = {'M', 'M', 'I', 'D', 'I', 'D', 'X', 0, 0};
#define IDX_HEAD 34

/* header fields and the .idx size against the counts; returns the token size */
static int megatron_header(const Segment *idx, const char *spec, uint64_t *S, uint64_t *D) {
    const char *p = idx->path;
    CHECK(idx->size >= IDX_HEAD, "corpus %s: %s has %zu bytes, shorter than its %d-byte header (truncated?)", spec, p,
          idx->size, IDX_HEAD);
    CHECK(!memcmp(idx->map, MMIDIDX, 9), "corpus %s: %s: magic is not MMIDIDX\\0\\0: not a Megatron index", spec, p);
    uint64_t version = get_le(idx->map + 9, 8);
    CHECK(version == 1, "corpus %s: %s: version %llu (griffin reads version 1)", spec, p, (unsigned long long)version);
    int code = idx->map[17], item = code == 8 ? 2 : code == 4 ? 4 : 0;
    CHECK(item, "corpus %s: %s: dtype code %d; griffin reads token ids of dtype 8 (uint16) and 4 (int32)", spec, p,
          code);
    *S = get_le(idx->map + 18, 8);
    *D = get_le(idx->map + 26, 8);
    uint64_t room = idx->size - IDX_HEAD;
    CHECK(*S <= room / 12 && *D <= (room - *S * 12) / 8, "corpus %s: %s: sequence count %llu and document count "
          "%llu do not fit in its %zu bytes (truncated or damaged)", spec, p, (unsigned long long)*S,
          (unsigned long long)*D, idx->size);
    uint64_t need = IDX_HEAD + *S * 12 + *D * 8;
    CHECK(need == idx->size, "corpus %s: %s: %llu sequences and %llu document indices need %llu bytes, the file has "
          "%zu (%s)", spec, p, (unsigned long long)*S, (unsigned long long)*D, (unsigned long long)need, idx->size,
          need > idx->size ? "truncated" : "extra bytes at the end");
    CHECK(*D >= 2, "corpus %s: %s: no documents (document count %llu)", spec, p, (unsigned long long)*D);
    return item;
}

/* lengths and pointers against each other and the .bin size */
static void megatron_sequences(const Segment *idx, const Segment *bin, const char *spec, uint64_t S, int item) {
    const uint8_t *len = idx->map + IDX_HEAD, *ptr = len + 4 * S;
    uint64_t at = 0;
    for (uint64_t i = 0; i < S; i++) {
        int64_t l = (int32_t)(uint32_t)get_le(len + 4 * i, 4), q = (int64_t)get_le(ptr + 8 * i, 8);
        CHECK(l >= 0, "corpus %s: %s: sequence lengths: sequence %llu has length %lld", spec, idx->path,
              (unsigned long long)i, (long long)l);
        CHECK(q >= 0 && (uint64_t)q <= bin->size && (uint64_t)l * (uint64_t)item <= bin->size - (uint64_t)q,
              "corpus %s: %s: sequence pointers: sequence %llu (%lld tokens at byte %lld) runs past the end of %s "
              "(%zu bytes)", spec, idx->path, (unsigned long long)i, (long long)l, (long long)q, bin->path, bin->size);
        CHECK((uint64_t)q == at, "corpus %s: %s: sequence pointers: sequence %llu starts at byte %lld, not %llu where "
              "the one before ends (griffin reads contiguous sequences)", spec, idx->path, (unsigned long long)i,
              (long long)q, (unsigned long long)at);
        at += (uint64_t)l * (uint64_t)item;
        if ((i + 1) % (1u << 20) == 0) { /* the index read so far leaves the resident set */
            release_pages(idx, IDX_HEAD, IDX_HEAD + 4 * (i + 1));
            release_pages(idx, IDX_HEAD + 4 * S, IDX_HEAD + 4 * S + 8 * (i + 1));
        }
    }
    release_pages(idx, 0, idx->size);
    CHECK(at == bin->size, "corpus %s: %s holds %zu bytes, its index describes %llu (%s)", spec, bin->path, bin->size,
          (unsigned long long)at, bin->size < at ? "truncated" : "extra bytes at the end");
}

/* document indices → document offsets in tokens */
static void megatron_documents(Corpus *c, const Segment *idx, uint64_t S, uint64_t D, int item) {
    const uint8_t *ptr = idx->map + IDX_HEAD + 4 * S, *doc = ptr + 8 * S;
    uint64_t *off = mallocCheck(D * sizeof *off), prev = 0, total = c->fields[0].n_tokens;
    for (uint64_t d = 0; d < D; d++) {
        uint64_t s = get_le(doc + 8 * d, 8);
        CHECK((d > 0 || s == 0) && s >= prev && s <= S && (d + 1 < D || s == S),
              "corpus %s: %s: document indices: entry %llu is %llu (they must rise from 0 to the %llu sequences)",
              c->path, idx->path, (unsigned long long)d, (unsigned long long)s, (unsigned long long)S);
        off[d] = s < S ? get_le(ptr + 8 * s, 8) / (uint64_t)item : total;
        prev = s;
        if ((d + 1) % (1u << 20) == 0) {
            release_pages(idx, (size_t)(doc - idx->map), (size_t)(doc - idx->map) + 8 * (d + 1));
            release_pages(idx, (size_t)(ptr - idx->map), (size_t)(ptr - idx->map) + 8 * s);
        }
    }
    c->n_docs = (size_t)(D - 1);
    c->fields[0].offsets = off;
}

Corpus *corpus_open_megatron(const char *spec, const char *prefix, const CorpusOptions *o) {
    size_t n = strlen(prefix) + 5;
    char *idx_path = mallocCheck(n), *bin_path = mallocCheck(n);
    snprintf(idx_path, n, "%s.idx", prefix);
    snprintf(bin_path, n, "%s.bin", prefix);
    Corpus *c = corpus_alloc(spec, o);
    ExtState *x = ext_state(1);
    Segment idx = {0};
    map_file(&idx, idx_path, spec);
    map_file(&x->seg[0], bin_path, spec);
    free(idx_path);
    free(bin_path);
    uint64_t S, D;
    int item = megatron_header(&idx, spec, &S, &D);
    megatron_sequences(&idx, &x->seg[0], spec, S, item);
    x->seg[0].item = item;
    x->seg[0].n_tokens = x->seg[0].size / (size_t)item;
    ext_finish(c, x, &megatron_backend, o);
    megatron_documents(c, &idx, S, D, item);
    unmap_file(&idx);
    return c;
}
