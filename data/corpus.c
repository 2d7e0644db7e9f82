/* Corpus reader: opens, validates and loads a corpus file (format in data/corpus.h). */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "data/corpus.h"
#include "data/h5guard.h"

#define REGEN "regenerate it with `griffin tokenize` or scripts/prepare_data.sh"

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

typedef struct {
    uint32_t *tokens;
    uint8_t *mask;
    uint64_t *offsets, *bytes;
    uint64_t n_tokens, total_bytes;
} LoadedField;

#define N_STRING_ATTRS 3
static const char *string_attrs[N_STRING_ATTRS] = {"tokenizer", "sources", "notes"};

struct Corpus {
    char *path;
    CorpusKind kind;
    int vocab_size;
    int guarded; /* carries the whole-file checksum (data/h5guard.h) */
    uint32_t tok_crc;
    size_t n_docs;
    int n_fields;
    LoadedField fields[CORPUS_MAX_FIELDS];
    char *attrs[N_STRING_ATTRS];
};

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

Corpus *corpus_open(const char *path, CorpusKind want) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    /* the whole-file checksum first: HDF5 1.10 may crash on damaged metadata */
    char gerr[512];
    int guard = h5guard_check(path, gerr, sizeof gerr);
    CHECK(guard != H5GUARD_MISSING, "corpus %s: %s; " REGEN, path, gerr);
    CHECK(guard != H5GUARD_BAD, "corpus %s: %s; " REGEN, path, gerr);
    CHECK(H5Fis_hdf5(path) > 0, "corpus %s: missing or not an HDF5 file; " REGEN, path);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(file >= 0, "corpus %s: cannot open; " REGEN, path);
    Corpus *c = callocCheck(1, sizeof *c);
    c->path = mallocCheck(strlen(path) + 1);
    strcpy(c->path, path);
    c->guarded = guard == H5GUARD_OK;

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
    for (int i = 0; i < N_STRING_ATTRS; i++) c->attrs[i] = read_string_attr(file, string_attrs[i]);

    c->n_fields = corpus_kind_num_fields(c->kind);
    for (int f = 0; f < c->n_fields; f++) {
        LoadedField *lf = &c->fields[f];
        const char *g = corpus_field_name(c->kind, f);
        uint64_t n_off, n_bytes, n_mask;
        lf->tokens = read_dataset(path, file, g, "tokens", H5T_NATIVE_UINT32, 4, &lf->n_tokens);
        lf->offsets = read_dataset(path, file, g, "doc_offsets", H5T_NATIVE_UINT64, 8, &n_off);
        lf->bytes = read_dataset(path, file, g, "doc_bytes", H5T_NATIVE_UINT64, 8, &n_bytes);
        CHECK(n_off >= 1 && n_bytes == n_off - 1, "corpus %s: %s doc_offsets has %llu entries and "
              "doc_bytes %llu (need docs+1 and docs); " REGEN, path, g[0] ? g : "root",
              (unsigned long long)n_off, (unsigned long long)n_bytes);
        if (f == 0) c->n_docs = (size_t)n_bytes;
        CHECK(n_bytes > 0, "corpus %s: no documents; " REGEN, path);
        CHECK(n_bytes == c->n_docs, "corpus %s: field %s has %llu documents, %s %zu; " REGEN, path, g,
              (unsigned long long)n_bytes, corpus_field_name(c->kind, 0), c->n_docs);
        CHECK(lf->offsets[0] == 0 && lf->offsets[n_off - 1] == lf->n_tokens,
              "corpus %s: doc_offsets do not span the %llu tokens; " REGEN, path,
              (unsigned long long)lf->n_tokens);
        for (uint64_t i = 0; i + 1 < n_off; i++) {
            CHECK(lf->offsets[i] <= lf->offsets[i + 1], "corpus %s: doc_offsets decrease at document "
                  "%llu; " REGEN, path, (unsigned long long)i);
            CHECK(lf->offsets[i] < lf->offsets[i + 1], "corpus %s: document %llu%s%s is empty; " REGEN, path,
                  (unsigned long long)i, g[0] ? " of " : "", g);
            lf->total_bytes += lf->bytes[i];
        }
        for (uint64_t i = 0; i < lf->n_tokens; i++)
            CHECK(lf->tokens[i] < (uint32_t)c->vocab_size, "corpus %s: token %llu is id %u, outside "
                  "the vocabulary (vocab_size %d); " REGEN, path, (unsigned long long)i, lf->tokens[i],
                  c->vocab_size);
        if (c->kind == CORPUS_CHAT) {
            lf->mask = read_dataset(path, file, g, "loss_mask", H5T_NATIVE_UINT8, 1, &n_mask);
            CHECK(n_mask == lf->n_tokens, "corpus %s: loss_mask has %llu entries for %llu tokens; " REGEN,
                  path, (unsigned long long)n_mask, (unsigned long long)lf->n_tokens);
        }
    }
    uint64_t docs_attr = 0;
    CHECK(read_int_attr(file, "documents", H5T_NATIVE_UINT64, &docs_attr) != 0 || docs_attr == c->n_docs,
          "corpus %s: the documents attribute says %llu, the datasets hold %zu; " REGEN, path,
          (unsigned long long)docs_attr, c->n_docs);
    H5Fclose(file);
    return c;
}

void corpus_close(Corpus *c) {
    if (!c) return;
    for (int f = 0; f < c->n_fields; f++) {
        free(c->fields[f].tokens);
        free(c->fields[f].mask);
        free(c->fields[f].offsets);
        free(c->fields[f].bytes);
    }
    for (int i = 0; i < N_STRING_ATTRS; i++) free(c->attrs[i]);
    free(c->path);
    free(c);
}

CorpusKind corpus_kind(const Corpus *c) { return c->kind; }
size_t corpus_num_docs(const Corpus *c) { return c->n_docs; }
uint64_t corpus_num_tokens(const Corpus *c, int field) { return c->fields[field].n_tokens; }
uint64_t corpus_num_bytes(const Corpus *c, int field) { return c->fields[field].total_bytes; }
int corpus_vocab_size(const Corpus *c) { return c->vocab_size; }
uint32_t corpus_tokenizer_checksum(const Corpus *c) { return c->tok_crc; }
int corpus_guarded(const Corpus *c) { return c->guarded; }

int corpus_verify(const Corpus *c, char *err, size_t errlen) {
    for (int f = 0; f < c->n_fields; f++) {
        const LoadedField *lf = &c->fields[f];
        const char *g = corpus_field_name(c->kind, f), *sep = g[0] ? "/" : "";
        uint64_t total = 0;
        for (size_t i = 0; i < c->n_docs; i++) {
            if (lf->bytes[i] > ((uint64_t)1 << 62) - total) {
                snprintf(err, errlen, "%s%sdoc_bytes: document %zu claims %llu bytes (the total overflows)", g, sep, i,
                         (unsigned long long)lf->bytes[i]);
                return -1;
            }
            total += lf->bytes[i];
            if (c->kind == CORPUS_TEXT && lf->bytes[i] == 0) {
                snprintf(err, errlen, "%s%sdoc_bytes: document %zu has tokens but stands for 0 bytes of text", g, sep, i);
                return -1;
            }
        }
        if (lf->mask)
            for (size_t i = 0; i < c->n_docs; i++)
                for (uint64_t j = lf->offsets[i]; j < lf->offsets[i + 1]; j++)
                    if (lf->mask[j] > 1) {
                        snprintf(err, errlen, "%s%sloss_mask: document %zu has mask value %u at token %llu (0 or 1 expected)",
                                 g, sep, i, lf->mask[j], (unsigned long long)(j - lf->offsets[i]));
                        return -1;
                    }
    }
    return 0;
}

const char *corpus_attr(const Corpus *c, const char *name) {
    for (int i = 0; i < N_STRING_ATTRS; i++)
        if (!strcmp(name, string_attrs[i])) return c->attrs[i] ? c->attrs[i] : "";
    return "";
}

CorpusDoc corpus_doc(const Corpus *c, int field, size_t i) {
    CHECK(field >= 0 && field < c->n_fields && i < c->n_docs, "corpus %s: no document %zu in field %d",
          c->path, i, field);
    const LoadedField *lf = &c->fields[field];
    CorpusDoc d;
    d.tokens = lf->tokens + lf->offsets[i];
    d.mask = lf->mask ? lf->mask + lf->offsets[i] : NULL;
    d.n = (size_t)(lf->offsets[i + 1] - lf->offsets[i]);
    d.bytes = lf->bytes[i];
    return d;
}

void corpus_check_tokenizer(const Corpus *c, const Tokenizer *t, const char *tokenizer_path) {
    CHECK(corpus_vocab_size(c) == tokenizer_vocab_size(t) && c->tok_crc == tokenizer_checksum(t),
          "corpus %s was made with another tokenizer (crc32 %08x, vocab %d) than %s (crc32 %08x, "
          "vocab %d); re-tokenize it with this tokenizer", c->path, c->tok_crc, c->vocab_size,
          tokenizer_path, tokenizer_checksum(t), tokenizer_vocab_size(t));
}
