/* Inside the corpus reader (data/corpus.h): what every backend shares, and what a backend
 * supplies. Not for use outside data/corpus*.c.
 *
 * A corpus is an index in memory (per field: doc_offsets and doc_bytes, O(documents)) and a
 * token store on disk that a backend reads by token ranges. Tokens reach callers through a
 * bounded cache of fixed-size chunks (ChunkCache): a chunk is read whole (one HDF5 hyperslab
 * of a dataset chunk, or a stretch of a memory-mapped file converted to uint32), its ids are
 * checked against the vocabulary as it arrives, and the least recently used chunk makes room.
 *
 * Memory per field: 16 bytes per document (offsets, byte counts) + the cache
 * (slots × chunk_tokens × (4 + 1 if masked) bytes) + one document buffer for corpus_doc
 * (the longest document requested so far). */
#ifndef GRIFFIN_CORPUS_IMPL_H
#define GRIFFIN_CORPUS_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "data/corpus.h"

#define CORPUS_REGEN "regenerate it with `griffin tokenize` or scripts/prepare_data.sh"
#define CORPUS_DEFAULT_CACHE_BYTES ((size_t)32 << 20)
/* our corpora up to this size get their whole-file CRC-32 checked at open (data/corpus_h5.c) */
#define CORPUS_FULL_CRC_BYTES ((uint64_t)256 << 20)
#define CORPUS_RAW_CHUNK_TOKENS ((size_t)1 << 16)  /* HDF5 datasets without chunks */
/* memory-mapped files: a chunk is converted where it lies, so small chunks cost nothing and
 * keep a randomly ordered document from pulling in 64 K tokens around it */
#define CORPUS_MMAP_CHUNK_TOKENS ((size_t)1 << 12)

typedef struct {
    uint64_t chunk;  /* which chunk the slot holds; UINT64_MAX: empty */
    uint64_t used;   /* tick of the last use (LRU) */
    uint32_t *tokens;
    uint8_t *mask;
} CacheSlot;

typedef struct {
    size_t chunk_tokens, n_slots;
    CacheSlot *slots;
    uint64_t tick;
    uint64_t loads, hits; /* for `griffin bench data` */
} ChunkCache;

typedef struct {
    uint64_t *offsets;    /* n_docs + 1 */
    uint64_t *bytes;      /* n_docs; NULL when unknown (external corpora) */
    uint64_t n_tokens, total_bytes;
    int has_mask;
    ChunkCache cache;
    uint32_t *doc_tokens; /* corpus_doc's buffer */
    uint8_t *doc_mask;
    size_t doc_cap;
} CorpusField;

#define CORPUS_N_STRING_ATTRS 3

struct Corpus;
typedef struct {
    const char *name; /* "griffin-corpus", "megatron", "llmc", "nanogpt" */
    /* Reads tokens [start, start + n) of a field into tok (and mask if the field has one):
     * 0, or -1 with one line in err (an I/O or checksum error). Ids are not checked here. */
    int (*read)(struct Corpus *c, int field, uint64_t start, size_t n, uint32_t *tok, uint8_t *mask, char *err,
                size_t errlen);
    void (*close)(struct Corpus *c);
} CorpusBackend;

struct Corpus {
    char *path;                /* as given (with its format prefix, if any) */
    const CorpusBackend *be;
    void *state;               /* the backend's */
    CorpusKind kind;
    int vocab_size;
    int guarded;               /* carries the whole-file checksum (data/h5guard.h) */
    int external;              /* no tokenizer identity of its own */
    uint32_t tok_crc;
    int64_t max_id;            /* the largest id in the chunks read so far (-1: none read) */
    size_t n_docs;
    int n_fields;
    size_t cache_bytes, chunk_tokens; /* CorpusOptions */
    CorpusField fields[CORPUS_MAX_FIELDS];
    char *attrs[CORPUS_N_STRING_ATTRS];
};

/* A zeroed corpus with its path copied. */
struct Corpus *corpus_alloc(const char *path, const CorpusOptions *o);
/* After a backend filled the index (offsets, n_tokens, has_mask; bytes optional): sums the
 * bytes and sets up each field's cache with chunks of chunk_tokens[f] tokens. */
void corpus_finish_open(struct Corpus *c, const size_t *chunk_tokens);

/* Backends: each dies with one line naming the file and the field on a damaged file. */
struct Corpus *corpus_open_h5(const char *path, CorpusKind want, const CorpusOptions *o);
struct Corpus *corpus_open_megatron(const char *spec, const char *prefix, const CorpusOptions *o);
struct Corpus *corpus_open_llmc(const char *spec, const char *pattern, const CorpusOptions *o);
struct Corpus *corpus_open_nanogpt(const char *spec, const char *file, const CorpusOptions *o);

/* Document d's index holding token position pos of a field (binary search on offsets). */
size_t corpus_doc_at(const CorpusField *f, size_t n_docs, uint64_t pos);

#endif
