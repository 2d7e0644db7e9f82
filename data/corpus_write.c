/* Corpus writer: appends documents to chunked, extendible HDF5 datasets in a temporary file
 * and renames it into place at the end (format in data/corpus.h). */
#include <hdf5.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "data/corpus.h"
#include "data/h5guard.h"

#define FLUSH_TOKENS (1u << 20)
/* tokens per HDF5 chunk: the unit a reader decompresses to reach one document (8 K tokens =
 * 32 KB, so a randomly ordered document costs ~0.1 ms, while deflate still has room to work) */
#define CHUNK_TOKENS (1u << 13)
#define CHUNK_DOCS (1u << 14)

typedef struct {
    hid_t tokens, offsets, bytes, mask; /* datasets (mask < 0 unless chat) */
    uint32_t *tok_buf;
    uint8_t *mask_buf;
    size_t tok_n, tok_cap;
    uint64_t *off_buf, *bytes_buf;
    size_t doc_n, doc_cap;
    uint64_t tokens_written, docs_written; /* already in the file */
} Field;

struct CorpusWriter {
    char *path, *tmp;
    hid_t file;
    CorpusKind kind;
    int n_fields;
    Field fields[CORPUS_MAX_FIELDS];
};

/* Temporary files to remove if the process exits before they are closed. */
#define MAX_PENDING 8
static char *pending[MAX_PENDING];
static bool cleanup_registered = false;

static void remove_pending(void) {
    for (int i = 0; i < MAX_PENDING; i++)
        if (pending[i]) {
            remove(pending[i]);
            pending[i] = NULL;
        }
}

static void pending_add(char *tmp) {
    if (!cleanup_registered) {
        atexit(remove_pending);
        cleanup_registered = true;
    }
    for (int i = 0; i < MAX_PENDING; i++)
        if (!pending[i]) {
            pending[i] = tmp;
            return;
        }
    DIE("corpus writer: more than %d files open at once", MAX_PENDING);
}

static void pending_drop(const char *tmp) {
    for (int i = 0; i < MAX_PENDING; i++)
        if (pending[i] == tmp) pending[i] = NULL;
}

static hid_t make_dataset(hid_t loc, const char *name, hid_t type, hsize_t chunk) {
    hsize_t dims = 0, maxdims = H5S_UNLIMITED;
    hid_t space = H5Screate_simple(1, &dims, &maxdims);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, &chunk);
    H5Pset_shuffle(dcpl);
    H5Pset_deflate(dcpl, 4);
    H5Pset_fletcher32(dcpl);
    H5Pset_obj_track_times(dcpl, 0); /* same input, same bytes */
    hid_t d = H5Dcreate2(loc, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    CHECK(d >= 0, "corpus writer: cannot create dataset %s", name);
    H5Pclose(dcpl);
    H5Sclose(space);
    return d;
}

static void append(hid_t d, hid_t memtype, const void *data, uint64_t at, size_t n) {
    if (n == 0) return;
    hsize_t size = at + n, start = at, count = n;
    CHECK(H5Dset_extent(d, &size) >= 0, "corpus writer: cannot extend dataset");
    hid_t fspace = H5Dget_space(d);
    H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &start, NULL, &count, NULL);
    hid_t mspace = H5Screate_simple(1, &count, NULL);
    CHECK(H5Dwrite(d, memtype, mspace, fspace, H5P_DEFAULT, data) >= 0,
          "corpus writer: write failed (disk full?)");
    H5Sclose(mspace);
    H5Sclose(fspace);
}

static void write_attr_int(hid_t loc, const char *name, hid_t type, const void *v) {
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(a >= 0 && H5Awrite(a, type, v) >= 0, "corpus writer: cannot write attribute %s", name);
    H5Aclose(a);
    H5Sclose(space);
}

static void write_attr_string(hid_t loc, const char *name, const char *value) {
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
    hid_t space = H5Screate(H5S_SCALAR);
    if (H5Aexists(loc, name) > 0) H5Adelete(loc, name);
    hid_t a = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(a >= 0 && H5Awrite(a, type, &value) >= 0, "corpus writer: cannot write attribute %s", name);
    H5Aclose(a);
    H5Sclose(space);
    H5Tclose(type);
}

CorpusWriter *corpus_writer_open(const char *path, CorpusKind kind, int vocab_size,
                                 uint32_t tokenizer_crc32) {
    CHECK(kind >= CORPUS_TEXT && kind <= CORPUS_PROMPT, "corpus writer: bad kind %d", (int)kind);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    CorpusWriter *w = callocCheck(1, sizeof *w);
    size_t len = strlen(path);
    w->path = mallocCheck(len + 1);
    memcpy(w->path, path, len + 1);
    w->tmp = mallocCheck(len + 5);
    snprintf(w->tmp, len + 5, "%s.tmp", path);
    w->kind = kind;
    w->n_fields = corpus_kind_num_fields(kind);
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    H5Pset_userblock(fcpl, H5GUARD_BYTES); /* room for the whole-file checksum (data/h5guard.h) */
    w->file = H5Fcreate(w->tmp, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
    H5Pclose(fcpl);
    CHECK(w->file >= 0, "corpus writer: cannot create %s", w->tmp);
    pending_add(w->tmp);

    write_attr_string(w->file, "format", CORPUS_FORMAT);
    int version = CORPUS_VERSION;
    write_attr_int(w->file, "version", H5T_NATIVE_INT, &version);
    write_attr_string(w->file, "kind", corpus_kind_name(kind));
    write_attr_int(w->file, "vocab_size", H5T_NATIVE_INT, &vocab_size);
    write_attr_int(w->file, "tokenizer_crc32", H5T_NATIVE_UINT32, &tokenizer_crc32);

    for (int f = 0; f < w->n_fields; f++) {
        Field *fd = &w->fields[f];
        const char *g = corpus_field_name(kind, f);
        hid_t loc = w->file;
        if (g[0]) {
            hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
            H5Pset_obj_track_times(gcpl, 0);
            loc = H5Gcreate2(w->file, g, H5P_DEFAULT, gcpl, H5P_DEFAULT);
            H5Pclose(gcpl);
        }
        fd->tokens = make_dataset(loc, "tokens", H5T_STD_U32LE, CHUNK_TOKENS);
        fd->offsets = make_dataset(loc, "doc_offsets", H5T_STD_U64LE, CHUNK_DOCS);
        fd->bytes = make_dataset(loc, "doc_bytes", H5T_STD_U64LE, CHUNK_DOCS);
        fd->mask = kind == CORPUS_CHAT ? make_dataset(loc, "loss_mask", H5T_STD_U8LE, CHUNK_TOKENS) : -1;
        if (g[0]) H5Gclose(loc);
        fd->tok_cap = FLUSH_TOKENS;
        fd->tok_buf = mallocCheck(fd->tok_cap * sizeof(uint32_t));
        fd->mask_buf = kind == CORPUS_CHAT ? mallocCheck(fd->tok_cap) : NULL;
        fd->doc_cap = 4096;
        fd->off_buf = mallocCheck(fd->doc_cap * sizeof(uint64_t));
        fd->bytes_buf = mallocCheck(fd->doc_cap * sizeof(uint64_t));
        uint64_t zero = 0;
        append(fd->offsets, H5T_NATIVE_UINT64, &zero, 0, 1);
    }
    return w;
}

static void flush_field(Field *fd) {
    append(fd->tokens, H5T_NATIVE_UINT32, fd->tok_buf, fd->tokens_written, fd->tok_n);
    if (fd->mask >= 0) append(fd->mask, H5T_NATIVE_UINT8, fd->mask_buf, fd->tokens_written, fd->tok_n);
    append(fd->offsets, H5T_NATIVE_UINT64, fd->off_buf, fd->docs_written + 1, fd->doc_n);
    append(fd->bytes, H5T_NATIVE_UINT64, fd->bytes_buf, fd->docs_written, fd->doc_n);
    fd->tokens_written += fd->tok_n;
    fd->docs_written += fd->doc_n;
    fd->tok_n = fd->doc_n = 0;
}

void corpus_writer_add(CorpusWriter *w, int field, const uint32_t *tokens, const uint8_t *mask,
                       size_t n, uint64_t bytes) {
    CHECK(field >= 0 && field < w->n_fields, "corpus writer: bad field %d", field);
    CHECK((mask != NULL) == (w->kind == CORPUS_CHAT), "corpus writer: a loss mask goes with chat corpora only");
    Field *fd = &w->fields[field];
    if (fd->tok_n + n > fd->tok_cap || fd->doc_n == fd->doc_cap) flush_field(fd);
    if (n > fd->tok_cap) { /* a huge document: write it straight through */
        append(fd->tokens, H5T_NATIVE_UINT32, tokens, fd->tokens_written, n);
        if (mask) append(fd->mask, H5T_NATIVE_UINT8, mask, fd->tokens_written, n);
        fd->tokens_written += n;
        uint64_t end = fd->tokens_written;
        append(fd->offsets, H5T_NATIVE_UINT64, &end, fd->docs_written + 1, 1);
        append(fd->bytes, H5T_NATIVE_UINT64, &bytes, fd->docs_written, 1);
        fd->docs_written++;
        return;
    }
    memcpy(fd->tok_buf + fd->tok_n, tokens, n * sizeof(uint32_t));
    if (mask) memcpy(fd->mask_buf + fd->tok_n, mask, n);
    fd->tok_n += n;
    fd->off_buf[fd->doc_n] = fd->tokens_written + fd->tok_n;
    fd->bytes_buf[fd->doc_n] = bytes;
    fd->doc_n++;
}

void corpus_writer_set_string(CorpusWriter *w, const char *name, const char *value) {
    write_attr_string(w->file, name, value);
}

size_t corpus_writer_num_docs(const CorpusWriter *w, int field) {
    return (size_t)(w->fields[field].docs_written + w->fields[field].doc_n);
}

uint64_t corpus_writer_num_tokens(const CorpusWriter *w, int field) {
    return w->fields[field].tokens_written + w->fields[field].tok_n;
}

static void release(CorpusWriter *w) {
    for (int f = 0; f < w->n_fields; f++) {
        Field *fd = &w->fields[f];
        H5Dclose(fd->tokens);
        H5Dclose(fd->offsets);
        H5Dclose(fd->bytes);
        if (fd->mask >= 0) H5Dclose(fd->mask);
        free(fd->tok_buf);
        free(fd->mask_buf);
        free(fd->off_buf);
        free(fd->bytes_buf);
    }
    H5Fclose(w->file);
}

void corpus_writer_close(CorpusWriter *w) {
    for (int f = 0; f < w->n_fields; f++) {
        flush_field(&w->fields[f]);
        CHECK(w->fields[f].docs_written == w->fields[0].docs_written,
              "corpus writer: field %s has %llu documents, field %s %llu",
              corpus_field_name(w->kind, f), (unsigned long long)w->fields[f].docs_written,
              corpus_field_name(w->kind, 0), (unsigned long long)w->fields[0].docs_written);
    }
    uint64_t docs = w->fields[0].docs_written;
    write_attr_int(w->file, "documents", H5T_NATIVE_UINT64, &docs);
    CHECK(H5Fflush(w->file, H5F_SCOPE_GLOBAL) >= 0, "corpus writer: cannot flush %s", w->tmp);
    release(w);
    char err[512];
    CHECK(h5guard_seal(w->tmp, err, sizeof err) == 0, "corpus writer: %s", err);
    CHECK(rename(w->tmp, w->path) == 0, "corpus writer: cannot rename %s to %s", w->tmp, w->path);
    pending_drop(w->tmp);
    free(w->tmp);
    free(w->path);
    free(w);
}

void corpus_writer_abort(CorpusWriter *w) {
    release(w);
    remove(w->tmp);
    pending_drop(w->tmp);
    free(w->tmp);
    free(w->path);
    free(w);
}
