#include "data/tokenize.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "common/check.h"
#include "common/sys.h"
#include "data/chat.h"
#include "data/lines.h"
#include "data/tokenizer.h"

#define BATCH_LINES 4096
#define BATCH_BYTES (32u << 20)

typedef struct {
    char *text;
    size_t len, lineno;
    TokenBuf out[CORPUS_MAX_FIELDS];
    uint64_t bytes[CORPUS_MAX_FIELDS];
    int skip;
    char err[256];
} Line;


/* The string value of key, or NULL (with err set) if missing, not a string, or empty. */
static const char *get_string(json_t *obj, const char *key, size_t *len, Line *ln) {
    json_t *v = json_object_get(obj, key);
    if (!v) {
        snprintf(ln->err, sizeof ln->err, "missing \"%s\"", key);
        return NULL;
    }
    if (!json_is_string(v)) {
        snprintf(ln->err, sizeof ln->err, "\"%s\" is not a string", key);
        return NULL;
    }
    *len = json_string_length(v);
    if (*len == 0) {
        snprintf(ln->err, sizeof ln->err, "empty \"%s\" (empty document)", key);
        return NULL;
    }
    return json_string_value(v);
}

static void set_err(Line *ln, const char *e) {
    if (e != ln->err) snprintf(ln->err, sizeof ln->err, "%s", e);
}

static void process_chat(const Tokenizer *t, json_t *root, Line *ln) {
    json_t *msgs = json_object_get(root, "messages");
    if (!json_is_array(msgs) || json_array_size(msgs) == 0) {
        set_err(ln, "\"messages\" missing or not a non-empty list");
        return;
    }
    size_t n = json_array_size(msgs);
    ChatMessage *m = mallocCheck(n * sizeof *m);
    for (size_t i = 0; i < n; i++) {
        json_t *msg = json_array_get(msgs, i);
        json_t *role = json_object_get(msg, "role"), *content = json_object_get(msg, "content");
        if (!json_is_string(role) || !json_is_string(content)) {
            snprintf(ln->err, sizeof ln->err, "message %zu: needs string \"role\" and \"content\"", i);
            free(m);
            return;
        }
        int r = chat_role_parse(json_string_value(role));
        if (r < 0) {
            snprintf(ln->err, sizeof ln->err, "message %zu: unknown role \"%.40s\" (user, model, system)",
                     i, json_string_value(role));
            free(m);
            return;
        }
        m[i].role = (ChatRole)r;
        m[i].text = json_string_value(content);
        m[i].len = json_string_length(content);
        if (m[i].role == CHAT_MODEL) ln->bytes[0] += m[i].len;
    }
    const char *e = chat_render(t, m, n, &ln->out[0], ln->err, sizeof ln->err);
    if (e) set_err(ln, e);
    free(m);
}

/* {"input_ids": [...]}: the ids as they are, and the bytes they decode to */
static void process_ids(const Tokenizer *t, json_t *root, Line *ln) {
    json_t *a = json_object_get(root, "input_ids");
    if (!json_is_array(a) || json_array_size(a) == 0) {
        set_err(ln, "\"input_ids\" missing or not a non-empty list");
        return;
    }
    int vocab = tokenizer_vocab_size(t);
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *v = json_array_get(a, i);
        json_int_t id = json_is_integer(v) ? json_integer_value(v) : -1;
        if (!json_is_integer(v) || id < 0 || id >= vocab) {
            snprintf(ln->err, sizeof ln->err, "input_ids[%zu] is %s%lld, not an id below the vocabulary (%d)", i,
                     json_is_integer(v) ? "" : "not an integer: ", json_is_integer(v) ? (long long)id : 0ll, vocab);
            return;
        }
        tokbuf_push(&ln->out[0], (uint32_t)id, 0);
    }
    size_t len = 0;
    char *s = tokenizer_decode(t, ln->out[0].ids, ln->out[0].n, &len);
    free(s);
    if (len == 0) set_err(ln, "the input_ids decode to no text (empty document)");
    ln->bytes[0] = len;
}

static void process_line(CorpusKind kind, int ids, const Tokenizer *t, Line *ln) {
    size_t i = 0;
    while (i < ln->len && (ln->text[i] == ' ' || ln->text[i] == '\t')) i++;
    if (i == ln->len) {
        ln->skip = 1;
        return;
    }
    json_error_t jerr;
    json_t *root = json_loadb(ln->text, ln->len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(ln->err, sizeof ln->err, "malformed JSON at column %d: %s", jerr.column, jerr.text);
        return;
    }
    if (!json_is_object(root)) {
        set_err(ln, "not a JSON object");
        json_decref(root);
        return;
    }
    const char *s, *e = NULL;
    size_t len;
    TokenizerSpecials sp = tokenizer_specials(t);
    switch (ids ? CORPUS_ANY : kind) {
    case CORPUS_ANY:
        process_ids(t, root, ln);
        break;
    case CORPUS_TEXT:
        if (!(s = get_string(root, "text", &len, ln))) break;
        if (sp.bos >= 0) tokbuf_push(&ln->out[0], (uint32_t)sp.bos, 0);
        e = chat_encode_append(t, s, len, 0, &ln->out[0]);
        if (!e && sp.eos >= 0) tokbuf_push(&ln->out[0], (uint32_t)sp.eos, 0);
        ln->bytes[0] = len;
        break;
    case CORPUS_CHAT:
        process_chat(t, root, ln);
        break;
    case CORPUS_PROMPT:
    case CORPUS_PREFERENCE:
        if (!(s = get_string(root, "prompt", &len, ln))) break;
        e = chat_render_prompt(t, s, len, &ln->out[0]);
        ln->bytes[0] = len;
        for (int f = 1; !e && kind == CORPUS_PREFERENCE && f < 3; f++) {
            if (!(s = get_string(root, f == 1 ? "chosen" : "rejected", &len, ln))) break;
            e = chat_render_reply(t, s, len, &ln->out[f]);
            ln->bytes[f] = len;
        }
        break;
    default:
        e = "bad kind";
    }
    if (e) set_err(ln, e);
    json_decref(root);
}

/* Reads a whole plain or gzip file; dies naming the file on a read error or truncation. */
static char *read_whole(const char *path, size_t *len) {
    gzFile gz = gzopen(path, "rb");
    CHECK(gz, "%s: cannot open", path);
    size_t cap = 1 << 16, n = 0;
    char *buf = mallocCheck(cap);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            CHECK(buf, "out of memory reading %s", path);
        }
        int k = gzread(gz, buf + n, (unsigned)(cap - n > (1u << 30) ? (1u << 30) : cap - n));
        int err;
        const char *msg = gzerror(gz, &err);
        CHECK(k >= 0 && (err == Z_OK || err == Z_STREAM_END), "%s: read error (%s%s)", path, msg,
              err == Z_BUF_ERROR ? ": truncated gzip file" : "");
        if (k == 0) break;
        n += (size_t)k;
    }
    gzclose(gz);
    *len = n;
    return buf;
}

/* Offset of the first invalid UTF-8 sequence, or len if the text is valid. */
static size_t utf8_invalid_at(const unsigned char *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : 9;
        if (n == 9 || (n == 1 && c < 0xc2) || i + n >= len + (n == 0)) return i;
        uint32_t cp = n == 0 ? c : n == 1 ? c & 0x1f : n == 2 ? c & 0x0f : c & 0x07;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return i;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return i;
        if (cp == 0) return i; /* NUL: not text */
        i += n + 1;
    }
    return len;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* A plain-text file (.txt, .txt.gz) is one document of a text corpus. */
static void add_text_file(const char *path, const Tokenizer *tok, CorpusWriter *w, TokenizeStats *st) {
    size_t len;
    char *text = read_whole(path, &len);
    CHECK(len > 0, "%s: empty document", path);
    size_t bad = utf8_invalid_at((const unsigned char *)text, len);
    CHECK(bad == len, "%s: invalid UTF-8 (or NUL) at byte %zu", path, bad);
    TokenizerSpecials sp = tokenizer_specials(tok);
    TokenBuf b = {0};
    if (sp.bos >= 0) tokbuf_push(&b, (uint32_t)sp.bos, 0);
    CHECK(!chat_encode_append(tok, text, len, 0, &b), "%s: could not be encoded", path);
    if (sp.eos >= 0) tokbuf_push(&b, (uint32_t)sp.eos, 0);
    corpus_writer_add(w, 0, b.ids, NULL, b.n, len);
    st->tokens[0] += b.n;
    st->docs++;
    tokbuf_free(&b);
    free(text);
}

TokenizeStats tokenize_files(const TokenizeOptions *o) {
    TokenizeStats st;
    memset(&st, 0, sizeof st);
    double t0 = now_seconds(), last_report = t0;
    CHECK(o->n_inputs > 0, "tokenize: no --input files");
    Tokenizer *tok = tokenizer_load(o->tokenizer);
    if (o->kind != CORPUS_TEXT) chat_require_specials(tok, o->tokenizer);
    json_object_seed(1);
    uint64_t total_in = 0;
    for (int i = 0; i < o->n_inputs; i++) {
        uint64_t sz;
        file_crc32(o->inputs[i], &sz);
        total_in += sz;
    }
    CorpusWriter *w = corpus_writer_open(o->output, o->kind, tokenizer_vocab_size(tok), tokenizer_checksum(tok));
    const int n_fields = corpus_kind_num_fields(o->kind);
    Line *batch = callocCheck(BATCH_LINES, sizeof *batch);
    size_t src_cap = 4096, src_len = 0;
    char *sources = callocCheck(src_cap, 1);
    uint64_t done_in = 0;

    for (int fi = 0; fi < o->n_inputs; fi++) {
        const char *path = o->inputs[fi];
        uint64_t fsize;
        uint32_t crc = file_crc32(path, &fsize);
        size_t docs_before = st.docs, file_lines = 0;
        const int plain = ends_with(path, ".txt") || ends_with(path, ".txt.gz");
        CHECK(!plain || (o->kind == CORPUS_TEXT && !o->ids), "%s: plain-text input makes text corpora only (use JSONL for %s)",
              path, corpus_kind_name(o->kind));
        if (plain) add_text_file(path, tok, w, &st);
        LineReader *r = plain ? NULL : line_reader_open(path);
        for (; r;) {
            size_t nb = 0, bytes = 0, len;
            const char *l;
            while (nb < BATCH_LINES && bytes < BATCH_BYTES && (l = line_reader_next(r, &len))) {
                Line *ln = &batch[nb++];
                ln->text = mallocCheck(len + 1);
                memcpy(ln->text, l, len + 1);
                ln->len = len;
                ln->lineno = line_reader_lineno(r);
                bytes += len;
            }
            if (nb == 0) break;
#pragma omp parallel for schedule(dynamic, 16)
            for (size_t i = 0; i < nb; i++) process_line(o->kind, o->ids, tok, &batch[i]);
            for (size_t i = 0; i < nb; i++) {
                Line *ln = &batch[i];
                if (ln->err[0]) DIE("%s:%zu: %s", path, ln->lineno, ln->err);
                if (!ln->skip) {
                    for (int f = 0; f < n_fields; f++)
                        corpus_writer_add(w, f, ln->out[f].ids, o->kind == CORPUS_CHAT ? ln->out[f].mask : NULL,
                                          ln->out[f].n, ln->bytes[f]);
                    for (int f = 0; f < n_fields; f++) st.tokens[f] += ln->out[f].n;
                    st.docs++;
                }
                file_lines++;
                free(ln->text);
                for (int f = 0; f < n_fields; f++) tokbuf_free(&ln->out[f]);
                memset(ln, 0, sizeof *ln);
            }
            double t = now_seconds();
            if (!o->quiet && t - last_report > 5.0) {
                uint64_t in = done_in + line_reader_offset(r);
                fprintf(stderr, "tokenize: %s  %.1f/%.1f MB  %zu docs  %llu tokens  %.1f MB/s\n", path,
                        (double)in / 1e6, (double)total_in / 1e6, st.docs, (unsigned long long)st.tokens[0],
                        (double)in / 1e6 / (t - t0));
                last_report = t;
            }
        }
        line_reader_close(r);
        done_in += fsize;
        char line[1400];
        int k = snprintf(line, sizeof line, "%.1024s\tcrc32=%08x\tbytes=%llu\tlines=%zu\tdocs=%zu\n", path, crc,
                         (unsigned long long)fsize, file_lines, st.docs - docs_before);
        while (src_len + (size_t)k + 1 > src_cap) {
            src_cap *= 2;
            sources = realloc(sources, src_cap);
            CHECK(sources, "out of memory");
        }
        memcpy(sources + src_len, line, (size_t)k + 1);
        src_len += (size_t)k;
        st.lines += file_lines;
    }
    CHECK(st.docs > 0, "tokenize: no documents in the input (%s%s)", o->inputs[0], o->n_inputs > 1 ? ", ..." : "");
    corpus_writer_set_string(w, "sources", sources);
    corpus_writer_set_string(w, "tokenizer", o->tokenizer);
    corpus_writer_set_string(w, "notes", o->notes ? o->notes : "");
    corpus_writer_close(w);
    st.bytes_in = total_in;
    st.seconds = now_seconds() - t0;
    free(sources);
    free(batch);
    tokenizer_free(tok);
    return st;
}
