/* Corpus reader, HDF5 backend: our own corpus files (format in data/corpus.h). Opening reads
 * the attributes and the index (doc_offsets, doc_bytes); tokens and loss masks stay on disk and
 * are read a dataset chunk at a time (one hyperslab each) into the cache of data/corpus.c. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/check.h"
#include "data/corpus.h"
#include "data/corpus_impl.h"
#include "data/h5guard.h"

#define REGEN CORPUS_REGEN

typedef struct {
    hid_t file;
    hid_t tokens[CORPUS_MAX_FIELDS], mask[CORPUS_MAX_FIELDS]; /* mask < 0 unless chat */
} H5State;

/* Reads a string attribute into a malloc'd copy; NULL if absent or not a string. */
static char *read_string_attr(hid_t loc, const char *name) {
    if (H5Aexists(loc, name) <= 0) return NULL;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t ftype = H5Aget_type(a);
    char *out = NULL;
    if (H5Tget_class(ftype) == H5T_STRING) {
        if (H5Tis_variable_str(ftype) > 0) {
            hid_t mtype = H5Tcopy(H5T_C_S1);
            H5Tset_size(mtype, H5T_VARIABLE);
            H5Tset_cset(mtype, H5Tget_cset(ftype));
            char *s = NULL;
            if (H5Aread(a, mtype, &s) >= 0 && s) {
                out = mallocCheck(strlen(s) + 1);
                strcpy(out, s);
                H5free_memory(s);
            }
            H5Tclose(mtype);
        } else {
            size_t n = H5Tget_size(ftype);
            hid_t mtype = H5Tcopy(H5T_C_S1);
            H5Tset_size(mtype, n + 1);
            H5Tset_cset(mtype, H5Tget_cset(ftype));
            out = callocCheck(n + 2, 1);
            if (H5Aread(a, mtype, out) < 0) out[0] = '\0';
            H5Tclose(mtype);
        }
    }
    H5Tclose(ftype);
    H5Aclose(a);
    return out;
}

static int read_int_attr(hid_t loc, const char *name, hid_t memtype, void *v) {
    if (H5Aexists(loc, name) <= 0) return -1;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    int ok = H5Aread(a, memtype, v) >= 0 ? 0 : -1;
    H5Aclose(a);
    return ok;
}

/* Reads a whole 1-D dataset; *n gets its length. */
static void *read_dataset(const char *path, hid_t loc, const char *group, const char *name,
                          hid_t memtype, size_t elem, uint64_t *n) {
    char full[256];
    snprintf(full, sizeof full, "%s%s%s", group, group[0] ? "/" : "", name);
    CHECK(H5Lexists(loc, full, H5P_DEFAULT) > 0, "corpus %s: dataset %s missing; " REGEN, path, full);
    hid_t d = H5Dopen2(loc, full, H5P_DEFAULT);
    CHECK(d >= 0, "corpus %s: cannot open dataset %s; " REGEN, path, full);
    hid_t space = H5Dget_space(d);
    CHECK(H5Sget_simple_extent_ndims(space) == 1, "corpus %s: dataset %s is not 1-D; " REGEN, path, full);
    hsize_t dims;
    H5Sget_simple_extent_dims(space, &dims, NULL);
    /* a damaged dataspace may claim more entries than a size_t of bytes can count, or than
     * the bytes stored can hold (deflate: 1032:1 at most) */
    CHECK(dims <= ((hsize_t)1 << 40) / elem && dims <= 1100 * ((hsize_t)H5Dget_storage_size(d) + 64),
          "corpus %s: dataset %s claims %llu entries, more than the file holds (damaged file); " REGEN, path,
          full, (unsigned long long)dims);
    void *buf = mallocCheck((size_t)dims * elem);
    CHECK(dims == 0 || H5Dread(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0,
          "corpus %s: cannot read dataset %s (damaged file: checksum or decompression error); " REGEN,
          path, full);
    H5Sclose(space);
    H5Dclose(d);
    *n = dims;
    return buf;
}

int h5_file_format(const char *path, char *out, size_t len) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (len) out[0] = '\0';
    char err[256];
    if (h5guard_check(path, err, sizeof err) < 0) return -1; /* never hand HDF5 a damaged file */
    if (H5Fis_hdf5(path) <= 0) return -1;
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) return -1;
    char *f = read_string_attr(file, "format");
    H5Fclose(file);
    if (f && len) snprintf(out, len, "%s", f);
    free(f);
    return 0;
}

/* A dataset of a field, opened for chunk reads without HDF5's own chunk cache (ours holds
 * the decoded chunks); *n gets its length, *chunk its chunk size (0 if not chunked). */
static hid_t open_tokens(const char *path, hid_t file, const char *group, const char *name, size_t elem,
                         uint64_t *n, size_t *chunk) {
    char full[256];
    snprintf(full, sizeof full, "%s%s%s", group, group[0] ? "/" : "", name);
    CHECK(H5Lexists(file, full, H5P_DEFAULT) > 0, "corpus %s: dataset %s missing; " REGEN, path, full);
    hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
    H5Pset_chunk_cache(dapl, 0, 0, 1.0);
    hid_t d = H5Dopen2(file, full, dapl);
    H5Pclose(dapl);
    CHECK(d >= 0, "corpus %s: cannot open dataset %s; " REGEN, path, full);
    hid_t space = H5Dget_space(d);
    CHECK(H5Sget_simple_extent_ndims(space) == 1, "corpus %s: dataset %s is not 1-D; " REGEN, path, full);
    hsize_t dims;
    H5Sget_simple_extent_dims(space, &dims, NULL);
    H5Sclose(space);
    CHECK(dims <= ((hsize_t)1 << 40) / elem && dims <= 1100 * ((hsize_t)H5Dget_storage_size(d) + 64),
          "corpus %s: dataset %s claims %llu entries, more than the file holds (damaged file); " REGEN, path,
          full, (unsigned long long)dims);
    hid_t dcpl = H5Dget_create_plist(d);
    hsize_t cd = 0;
    *chunk = H5Pget_layout(dcpl) == H5D_CHUNKED && H5Pget_chunk(dcpl, 1, &cd) == 1 ? (size_t)cd : 0;
    H5Pclose(dcpl);
    *n = dims;
    return d;
}

static int h5_read(Corpus *c, int field, uint64_t start, size_t n, uint32_t *tok, uint8_t *mask, char *err,
                   size_t errlen) {
    H5State *s = c->state;
    hid_t sets[2] = {s->tokens[field], mask ? s->mask[field] : -1};
    hid_t types[2] = {H5T_NATIVE_UINT32, H5T_NATIVE_UINT8};
    void *bufs[2] = {tok, mask};
    for (int k = 0; k < 2; k++) {
        if (sets[k] < 0 || n == 0) continue;
        hsize_t off = start, count = n;
        hid_t fspace = H5Dget_space(sets[k]), mspace = H5Screate_simple(1, &count, NULL);
        herr_t rc = H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &off, NULL, &count, NULL);
        if (rc >= 0) rc = H5Dread(sets[k], types[k], mspace, fspace, H5P_DEFAULT, bufs[k]);
        H5Sclose(mspace);
        H5Sclose(fspace);
        if (rc < 0) {
            const char *g = corpus_field_name(c->kind, field);
            snprintf(err, errlen, "cannot read %s%s%s at tokens %llu..%llu (damaged file: checksum or decompression "
                     "error); " REGEN, g, g[0] ? "/" : "", k ? "loss_mask" : "tokens", (unsigned long long)start,
                     (unsigned long long)(start + n));
            return -1;
        }
    }
    return 0;
}

static void h5_close(Corpus *c) {
    H5State *s = c->state;
    for (int f = 0; f < c->n_fields; f++) {
        H5Dclose(s->tokens[f]);
        if (s->mask[f] >= 0) H5Dclose(s->mask[f]);
    }
    H5Fclose(s->file);
    free(s);
}

static const CorpusBackend h5_backend = {CORPUS_FORMAT, h5_read, h5_close};

/* format, version, kind, vocabulary, tokenizer checksum and the string attributes */
static void read_root(Corpus *c, hid_t file, CorpusKind want) {
    const char *path = c->path;
    char *format = read_string_attr(file, "format");
    CHECK(format && !strcmp(format, CORPUS_FORMAT), "corpus %s: format is '%s', not '" CORPUS_FORMAT
          "'; " REGEN, path, format ? format : "(none)");
    free(format);
    int version = 0;
    CHECK(read_int_attr(file, "version", H5T_NATIVE_INT, &version) == 0 && version == CORPUS_VERSION,
          "corpus %s: version %d, this griffin reads version %d; " REGEN, path, version, CORPUS_VERSION);
    char *kind = read_string_attr(file, "kind");
    c->kind = kind ? corpus_kind_parse(kind) : CORPUS_ANY;
    CHECK(c->kind != CORPUS_ANY, "corpus %s: unknown kind '%s'; " REGEN, path, kind ? kind : "(none)");
    free(kind);
    CHECK(want == CORPUS_ANY || want == c->kind, "corpus %s: a %s corpus where a %s corpus is needed; "
          "make one with `griffin tokenize --kind %s`", path, corpus_kind_name(c->kind),
          corpus_kind_name(want), corpus_kind_name(want));
    CHECK(read_int_attr(file, "vocab_size", H5T_NATIVE_INT, &c->vocab_size) == 0 && c->vocab_size > 0,
          "corpus %s: vocab_size attribute missing; " REGEN, path);
    CHECK(read_int_attr(file, "tokenizer_crc32", H5T_NATIVE_UINT32, &c->tok_crc) == 0,
          "corpus %s: tokenizer_crc32 attribute missing; " REGEN, path);
    static const char *names[CORPUS_N_STRING_ATTRS] = {"tokenizer", "sources", "notes"};
    for (int i = 0; i < CORPUS_N_STRING_ATTRS; i++) c->attrs[i] = read_string_attr(file, names[i]);
}

/* one field's index and token datasets; returns the chunk size to cache by */
static size_t open_field(Corpus *c, H5State *s, int f) {
    const char *path = c->path, *g = corpus_field_name(c->kind, f);
    CorpusField *cf = &c->fields[f];
    uint64_t n_off, n_bytes, n_mask;
    size_t chunk, mask_chunk;
    s->tokens[f] = open_tokens(path, s->file, g, "tokens", 4, &cf->n_tokens, &chunk);
    cf->offsets = read_dataset(path, s->file, g, "doc_offsets", H5T_NATIVE_UINT64, 8, &n_off);
    cf->bytes = read_dataset(path, s->file, g, "doc_bytes", H5T_NATIVE_UINT64, 8, &n_bytes);
    CHECK(n_off >= 1 && n_bytes == n_off - 1, "corpus %s: %s doc_offsets has %llu entries and "
          "doc_bytes %llu (need docs+1 and docs); " REGEN, path, g[0] ? g : "root",
          (unsigned long long)n_off, (unsigned long long)n_bytes);
    if (f == 0) c->n_docs = (size_t)n_bytes;
    CHECK(n_bytes > 0, "corpus %s: no documents; " REGEN, path);
    CHECK(n_bytes == c->n_docs, "corpus %s: field %s has %llu documents, %s %zu; " REGEN, path, g,
          (unsigned long long)n_bytes, corpus_field_name(c->kind, 0), c->n_docs);
    CHECK(cf->offsets[0] == 0 && cf->offsets[n_off - 1] == cf->n_tokens,
          "corpus %s: doc_offsets do not span the %llu tokens; " REGEN, path, (unsigned long long)cf->n_tokens);
    for (uint64_t i = 0; i + 1 < n_off; i++) {
        CHECK(cf->offsets[i] <= cf->offsets[i + 1], "corpus %s: doc_offsets decrease at document "
              "%llu; " REGEN, path, (unsigned long long)i);
        CHECK(cf->offsets[i] < cf->offsets[i + 1], "corpus %s: document %llu%s%s is empty; " REGEN, path,
              (unsigned long long)i, g[0] ? " of " : "", g);
    }
    s->mask[f] = -1;
    if (c->kind == CORPUS_CHAT) {
        s->mask[f] = open_tokens(path, s->file, g, "loss_mask", 1, &n_mask, &mask_chunk);
        CHECK(n_mask == cf->n_tokens, "corpus %s: loss_mask has %llu entries for %llu tokens; " REGEN,
              path, (unsigned long long)n_mask, (unsigned long long)cf->n_tokens);
        cf->has_mask = 1;
    }
    return chunk ? chunk : CORPUS_RAW_CHUNK_TOKENS;
}

Corpus *corpus_open_h5(const char *path, CorpusKind want, const CorpusOptions *o) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    /* the whole-file checksum first: HDF5 1.10 may crash on damaged metadata. A corpus larger
     * than CORPUS_FULL_CRC_BYTES would take seconds to read whole: its header and size are
     * checked here, its CRC-32 by `griffin inspect --verify`; every chunk read still passes
     * HDF5's Fletcher32 check. */
    char gerr[512];
    struct stat st;
    int whole = stat(path, &st) != 0 || (uint64_t)st.st_size <= CORPUS_FULL_CRC_BYTES;
    int guard = whole ? h5guard_check(path, gerr, sizeof gerr) : h5guard_check_header(path, gerr, sizeof gerr);
    CHECK(guard != H5GUARD_MISSING, "corpus %s: %s; " REGEN, path, gerr);
    CHECK(guard != H5GUARD_BAD, "corpus %s: %s; " REGEN, path, gerr);
    CHECK(H5Fis_hdf5(path) > 0, "corpus %s: missing or not an HDF5 file; " REGEN, path);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(file >= 0, "corpus %s: cannot open; " REGEN, path);
    Corpus *c = corpus_alloc(path, o);
    c->guarded = guard == H5GUARD_OK;
    H5State *s = callocCheck(1, sizeof *s);
    s->file = file;
    read_root(c, file, want);
    c->n_fields = corpus_kind_num_fields(c->kind);
    size_t chunk[CORPUS_MAX_FIELDS];
    for (int f = 0; f < c->n_fields; f++) chunk[f] = open_field(c, s, f);
    uint64_t docs_attr = 0;
    CHECK(read_int_attr(file, "documents", H5T_NATIVE_UINT64, &docs_attr) != 0 || docs_attr == c->n_docs,
          "corpus %s: the documents attribute says %llu, the datasets hold %zu; " REGEN, path,
          (unsigned long long)docs_attr, c->n_docs);
    c->be = &h5_backend;
    c->state = s;
    corpus_finish_open(c, chunk);
    return c;
}
