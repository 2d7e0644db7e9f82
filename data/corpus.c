/* Corpus reader, the part every format shares: the document index, the bounded cache of token
 * chunks (ids checked as each chunk arrives), documents and token ranges for callers, verify
 * (data/corpus.h; the backends are data/corpus_h5.c and data/corpus_external.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/check.h"
#include "data/corpus.h"
#include "data/corpus_impl.h"

static const char *kind_names[] = {"text", "chat", "preference", "prompt"};

const char *corpus_kind_name(CorpusKind kind) {
    return kind >= CORPUS_TEXT && kind <= CORPUS_PROMPT ? kind_names[kind] : "any";
}

CorpusKind corpus_kind_parse(const char *name) {
    for (int k = CORPUS_TEXT; k <= CORPUS_PROMPT; k++)
        if (!strcmp(name, kind_names[k])) return (CorpusKind)k;
    return CORPUS_ANY;
}

int corpus_kind_num_fields(CorpusKind kind) {
    return kind == CORPUS_PREFERENCE ? 3 : 1;
}

const char *corpus_field_name(CorpusKind kind, int field) {
    static const char *pref[] = {"prompt", "chosen", "rejected"};
    if (kind == CORPUS_PREFERENCE && field >= 0 && field < 3) return pref[field];
    if (kind == CORPUS_PROMPT) return "prompt";
    return "";
}

/* ---- opening ------------------------------------------------------------------------ */
static const char *after_prefix(const char *spec, const char *prefix) {
    size_t n = strlen(prefix);
    return strncmp(spec, prefix, n) ? NULL : spec + n;
}

int corpus_spec_is_external(const char *spec) {
    return after_prefix(spec, "megatron:") || after_prefix(spec, "llmc:") || after_prefix(spec, "nanogpt:");
}

Corpus *corpus_open(const char *spec, CorpusKind want) { return corpus_open_ex(spec, want, NULL); }

Corpus *corpus_open_ex(const char *spec, CorpusKind want, const CorpusOptions *o) {
    CorpusOptions none = {0, -1, 0, 0};
    if (!o) o = &none;
    const char *rest;
    Corpus *c = NULL;
    if ((rest = after_prefix(spec, "megatron:"))) c = corpus_open_megatron(spec, rest, o);
    else if ((rest = after_prefix(spec, "llmc:"))) c = corpus_open_llmc(spec, rest, o);
    else if ((rest = after_prefix(spec, "nanogpt:"))) c = corpus_open_nanogpt(spec, rest, o);
    else return corpus_open_h5(spec, want, o);
    CHECK(want == CORPUS_ANY || want == CORPUS_TEXT, "corpus %s: a %s corpus is needed; external corpora are "
          "text: make one with `griffin tokenize --kind %s`", spec, corpus_kind_name(want), corpus_kind_name(want));
    return c;
}

Corpus *corpus_alloc(const char *path, const CorpusOptions *o) {
    Corpus *c = callocCheck(1, sizeof *c);
    c->path = mallocCheck(strlen(path) + 1);
    strcpy(c->path, path);
    c->cache_bytes = o && o->cache_bytes ? o->cache_bytes : CORPUS_DEFAULT_CACHE_BYTES;
    c->chunk_tokens = o ? o->chunk_tokens : 0;
    c->max_id = -1;
    return c;
}

static void cache_init(ChunkCache *k, size_t chunk_tokens, size_t cache_bytes, int masked) {
    size_t slot_bytes = chunk_tokens * (sizeof(uint32_t) + (masked ? 1 : 0));
    k->chunk_tokens = chunk_tokens;
    k->n_slots = cache_bytes / slot_bytes;
    if (k->n_slots < 2) k->n_slots = 2; /* a range may straddle two chunks */
    k->slots = callocCheck(k->n_slots, sizeof *k->slots);
    for (size_t i = 0; i < k->n_slots; i++) k->slots[i].chunk = UINT64_MAX;
}

void corpus_finish_open(Corpus *c, const size_t *chunk_tokens) {
    for (int f = 0; f < c->n_fields; f++) {
        CorpusField *cf = &c->fields[f];
        cf->total_bytes = 0;
        if (cf->bytes)
            for (size_t i = 0; i < c->n_docs; i++) cf->total_bytes += cf->bytes[i];
        size_t ct = c->chunk_tokens ? c->chunk_tokens : chunk_tokens[f];
        CHECK(ct > 0 && ct <= ((size_t)1 << 26), "corpus %s: chunks of %zu tokens",
              c->path, ct);
        cache_init(&cf->cache, ct, c->cache_bytes, cf->has_mask);
    }
}

void corpus_close(Corpus *c) {
    if (!c) return;
    if (c->be && c->be->close) c->be->close(c);
    for (int f = 0; f < c->n_fields; f++) {
        CorpusField *cf = &c->fields[f];
        for (size_t i = 0; i < cf->cache.n_slots; i++) {
            free(cf->cache.slots[i].tokens);
            free(cf->cache.slots[i].mask);
        }
        free(cf->cache.slots);
        free(cf->offsets);
        free(cf->bytes);
        free(cf->doc_tokens);
        free(cf->doc_mask);
    }
    for (int i = 0; i < CORPUS_N_STRING_ATTRS; i++) free(c->attrs[i]);
    free(c->path);
    free(c);
}

/* ---- the chunk cache ---------------------------------------------------------------- */
size_t corpus_doc_at(const CorpusField *f, size_t n_docs, uint64_t pos) {
    size_t lo = 0, hi = n_docs; /* offsets[lo] <= pos < offsets[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (f->offsets[mid] <= pos) lo = mid;
        else hi = mid;
    }
    return lo;
}

/* Ids of a freshly read chunk below the vocabulary, mask values 0/1: 0, or -1 with err. */
static int check_chunk(Corpus *c, int field, uint64_t start, size_t n, const uint32_t *tok,
                       const uint8_t *mask, char *err, size_t errlen) {
    const CorpusField *cf = &c->fields[field];
    const char *g = corpus_field_name(c->kind, field), *sep = g[0] ? " of " : "";
    uint32_t top = 0;
    for (size_t k = 0; k < n; k++) top = tok[k] > top ? tok[k] : top;
    if (n && (int64_t)top > c->max_id) c->max_id = top;
    for (size_t k = 0; k < n; k++) {
        int bad_id = tok[k] >= (uint32_t)c->vocab_size, bad_mask = mask && mask[k] > 1;
        if (!bad_id && !bad_mask) continue;
        size_t d = corpus_doc_at(cf, c->n_docs, start + k);
        uint64_t at = start + k - cf->offsets[d];
        if (bad_id)
            snprintf(err, errlen, "document %zu%s%s has id %u at token %llu, outside the vocabulary (vocab_size %d)",
                     d, sep, g, tok[k], (unsigned long long)at, c->vocab_size);
        else
            snprintf(err, errlen, "loss_mask: document %zu has mask value %u at token %llu (0 or 1 expected)", d,
                     mask[k], (unsigned long long)at);
        return -1;
    }
    return 0;
}

/* The slot holding chunk k of a field, reading it if needed: NULL with err on failure. */
static CacheSlot *cache_get(Corpus *c, int field, uint64_t k, char *err, size_t errlen) {
    ChunkCache *kc = &c->fields[field].cache;
    CacheSlot *victim = &kc->slots[0];
    kc->tick++;
    for (size_t i = 0; i < kc->n_slots; i++) {
        CacheSlot *s = &kc->slots[i];
        if (s->chunk == k) {
            s->used = kc->tick;
            kc->hits++;
            return s;
        }
        if (s->used < victim->used) victim = s;
    }
    CorpusField *cf = &c->fields[field];
    uint64_t start = k * kc->chunk_tokens;
    size_t n = (size_t)(cf->n_tokens - start < kc->chunk_tokens ? cf->n_tokens - start : kc->chunk_tokens);
    if (!victim->tokens) {
        victim->tokens = mallocCheck(kc->chunk_tokens * sizeof(uint32_t));
        if (cf->has_mask) victim->mask = mallocCheck(kc->chunk_tokens);
    }
    victim->chunk = UINT64_MAX;
    if (c->be->read(c, field, start, n, victim->tokens, victim->mask, err, errlen) < 0) return NULL;
    if (check_chunk(c, field, start, n, victim->tokens, victim->mask, err, errlen) < 0) return NULL;
    victim->chunk = k;
    victim->used = kc->tick;
    kc->loads++;
    return victim;
}

/* Tokens [start, start + n) of a field through the cache: 0, or -1 with err. */
static int read_range(Corpus *c, int field, uint64_t start, size_t n, uint32_t *tok, uint8_t *mask, char *err,
                      size_t errlen) {
    size_t ct = c->fields[field].cache.chunk_tokens;
    while (n > 0) {
        uint64_t k = start / ct;
        size_t in = (size_t)(start - k * ct), take = ct - in < n ? ct - in : n;
        CacheSlot *s = cache_get(c, field, k, err, errlen);
        if (!s) return -1;
        memcpy(tok, s->tokens + in, take * sizeof(uint32_t));
        if (mask && s->mask) memcpy(mask, s->mask + in, take);
        tok += take;
        if (mask) mask += take;
        start += take;
        n -= take;
    }
    return 0;
}

/* ---- documents ---------------------------------------------------------------------- */
static void check_doc(const Corpus *c, int field, size_t i) {
    CHECK(field >= 0 && field < c->n_fields && i < c->n_docs, "corpus %s: no document %zu in field %d", c->path, i,
          field);
}

size_t corpus_doc_len(const Corpus *c, int field, size_t i) {
    check_doc(c, field, i);
    const CorpusField *cf = &c->fields[field];
    return (size_t)(cf->offsets[i + 1] - cf->offsets[i]);
}

void corpus_read(Corpus *c, int field, size_t i, size_t offset, size_t n, uint32_t *tok, uint8_t *mask) {
    size_t len = corpus_doc_len(c, field, i);
    CHECK(offset <= len && n <= len - offset, "corpus %s: tokens %zu..%zu past the end of document %zu (%zu)", c->path,
          offset, offset + n, i, len);
    char err[512];
    if (read_range(c, field, c->fields[field].offsets[i] + offset, n, tok, c->fields[field].has_mask ? mask : NULL,
                   err, sizeof err) < 0)
        DIE("corpus %s: %s; stopped before anything used it (a training step is refused before its update); "
            "check the whole file with `griffin inspect --verify`", c->path, err);
}

CorpusDoc corpus_doc(Corpus *c, int field, size_t i) {
    size_t n = corpus_doc_len(c, field, i);
    CorpusField *cf = &c->fields[field];
    if (n > cf->doc_cap) {
        free(cf->doc_tokens);
        free(cf->doc_mask);
        cf->doc_cap = n;
        cf->doc_tokens = mallocCheck(n * sizeof(uint32_t));
        cf->doc_mask = cf->has_mask ? mallocCheck(n) : NULL;
    }
    corpus_read(c, field, i, 0, n, cf->doc_tokens, cf->doc_mask);
    CorpusDoc d;
    d.tokens = cf->doc_tokens;
    d.mask = cf->has_mask ? cf->doc_mask : NULL;
    d.n = n;
    d.bytes = cf->bytes ? cf->bytes[i] : 0;
    return d;
}

/* ---- accessors ---------------------------------------------------------------------- */
const char *corpus_format(const Corpus *c) { return c->be->name; }
CorpusKind corpus_kind(const Corpus *c) { return c->kind; }
size_t corpus_num_docs(const Corpus *c) { return c->n_docs; }
uint64_t corpus_num_tokens(const Corpus *c, int field) { return c->fields[field].n_tokens; }
uint64_t corpus_num_bytes(const Corpus *c, int field) { return c->fields[field].total_bytes; }
int corpus_vocab_size(const Corpus *c) { return c->vocab_size; }
uint32_t corpus_tokenizer_checksum(const Corpus *c) { return c->tok_crc; }
int corpus_guarded(const Corpus *c) { return c->guarded; }
int corpus_is_external(const Corpus *c) { return c->external; }
int64_t corpus_max_id(const Corpus *c) { return c->max_id; }

static const char *string_attrs[CORPUS_N_STRING_ATTRS] = {"tokenizer", "sources", "notes"};

const char *corpus_attr(const Corpus *c, const char *name) {
    for (int i = 0; i < CORPUS_N_STRING_ATTRS; i++)
        if (!strcmp(name, string_attrs[i])) return c->attrs[i] ? c->attrs[i] : "";
    return "";
}

size_t corpus_resident_bytes(const Corpus *c) {
    size_t total = sizeof *c;
    for (int f = 0; f < c->n_fields; f++) {
        const CorpusField *cf = &c->fields[f];
        total += (c->n_docs + 1) * sizeof(uint64_t) + (cf->bytes ? c->n_docs * sizeof(uint64_t) : 0);
        total += cf->doc_cap * (sizeof(uint32_t) + (cf->has_mask ? 1 : 0));
        for (size_t i = 0; i < cf->cache.n_slots; i++)
            if (cf->cache.slots[i].tokens) total += cf->cache.chunk_tokens * (sizeof(uint32_t) + (cf->has_mask ? 1 : 0));
    }
    return total;
}

void corpus_cache_stats(const Corpus *c, uint64_t *loads, uint64_t *hits) {
    *loads = *hits = 0;
    for (int f = 0; f < c->n_fields; f++) {
        *loads += c->fields[f].cache.loads;
        *hits += c->fields[f].cache.hits;
    }
}

/* ---- checks ------------------------------------------------------------------------- */
static int verify_bytes(const Corpus *c, int f, char *err, size_t errlen) {
    const CorpusField *cf = &c->fields[f];
    const char *g = corpus_field_name(c->kind, f), *sep = g[0] ? "/" : "";
    if (!cf->bytes) return 0;
    uint64_t total = 0;
    for (size_t i = 0; i < c->n_docs; i++) {
        if (cf->bytes[i] > ((uint64_t)1 << 62) - total) {
            snprintf(err, errlen, "%s%sdoc_bytes: document %zu claims %llu bytes (the total overflows)", g, sep, i,
                     (unsigned long long)cf->bytes[i]);
            return -1;
        }
        total += cf->bytes[i];
        if (c->kind == CORPUS_TEXT && cf->bytes[i] == 0) {
            snprintf(err, errlen, "%s%sdoc_bytes: document %zu has tokens but stands for 0 bytes of text", g, sep, i);
            return -1;
        }
    }
    return 0;
}

int corpus_verify(Corpus *c, char *err, size_t errlen) {
    for (int f = 0; f < c->n_fields; f++) {
        if (verify_bytes(c, f, err, errlen) < 0) return -1;
        CorpusField *cf = &c->fields[f];
        size_t ct = cf->cache.chunk_tokens;
        for (uint64_t k = 0; k * ct < cf->n_tokens; k++) /* every chunk once: ids and masks */
            if (!cache_get(c, f, k, err, errlen)) return -1;
    }
    return 0;
}

void corpus_decode_bytes(Corpus *c, const Tokenizer *t, uint64_t *bytes) {
    corpus_check_tokenizer(c, t, "the tokenizer");
    for (size_t i = 0; i < c->n_docs; i++) {
        CorpusDoc d = corpus_doc(c, 0, i);
        size_t len = 0;
        free(tokenizer_decode(t, d.tokens, d.n, &len));
        bytes[i] = len;
    }
}

void corpus_set_doc_bytes(Corpus *c, const uint64_t *bytes) {
    CorpusField *cf = &c->fields[0];
    if (!cf->bytes) cf->bytes = mallocCheck((c->n_docs ? c->n_docs : 1) * sizeof(uint64_t));
    memcpy(cf->bytes, bytes, c->n_docs * sizeof(uint64_t));
    cf->total_bytes = 0;
    for (size_t i = 0; i < c->n_docs; i++) cf->total_bytes += bytes[i];
}

uint32_t corpus_index_crc(const Corpus *c) {
    const CorpusField *cf = &c->fields[0];
    uLong crc = crc32(0L, Z_NULL, 0);
    const unsigned char *p = (const unsigned char *)cf->offsets;
    size_t n = (c->n_docs + 1) * sizeof(uint64_t);
    for (size_t at = 0; at < n; at += 1u << 30) crc = crc32(crc, p + at, (uInt)(n - at < (1u << 30) ? n - at : 1u << 30));
    return (uint32_t)crc;
}

void corpus_check_tokenizer(Corpus *c, const Tokenizer *t, const char *tokenizer_path) {
    if (c->external) {
        if (tokenizer_vocab_size(t) < c->vocab_size) c->vocab_size = tokenizer_vocab_size(t);
        return;
    }
    CHECK(corpus_vocab_size(c) == tokenizer_vocab_size(t) && c->tok_crc == tokenizer_checksum(t),
          "corpus %s was made with another tokenizer (crc32 %08x, vocab %d) than %s (crc32 %08x, "
          "vocab %d); re-tokenize it with this tokenizer", c->path, c->tok_crc, c->vocab_size,
          tokenizer_path, tokenizer_checksum(t), tokenizer_vocab_size(t));
}
