/* Tokenizer wrapper, chat template and corpus writer/reader, in process.
 * Environment: GRIFFIN_TEST_TOKENIZER (a tokenizer.model), GRIFFIN_TEST_DIR (scratch folder).
 * The tokenizer is trained at test time from tests/data/tiny.txt by the data_tokenizer fixture
 * (scripts/data/train_tokenizer.sh, the same flags as the project tokenizer). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data/chat.h"
#include "data/corpus.h"
#include "data/tokenizer.h"
#include "tests/expect.h"

static void test_specials(const Tokenizer *t) {
    TokenizerSpecials s = tokenizer_specials(t);
    EXPECT(s.pad == 0 && s.eos == 1 && s.bos == 2 && s.unk == 3, "pad/eos/bos/unk = %d %d %d %d", s.pad,
           s.eos, s.bos, s.unk);
    EXPECT(s.start_of_turn == 4 && s.end_of_turn == 5, "start/end_of_turn = %d %d", s.start_of_turn,
           s.end_of_turn);
    EXPECT(tokenizer_piece_id(t, "\n") == 6 && tokenizer_piece_id(t, "\t") == 7, "newline/tab pieces");
    EXPECT(tokenizer_piece_id(t, "no-such-piece") == -1, "missing piece gives -1");
    EXPECT(tokenizer_is_control(t, 4) && !tokenizer_is_control(t, 6), "control flags");
    EXPECT(!strcmp(tokenizer_id_to_piece(t, 2), "<bos>"), "id_to_piece(2)");
    /* control pieces are never produced from text */
    uint32_t *ids;
    size_t n = tokenizer_encode(t, "<start_of_turn>", 15, &ids);
    for (size_t i = 0; i < n; i++) EXPECT(ids[i] != 4, "'<start_of_turn>' as text encoded to the control id");
    free(ids);
}

static void test_checksum(const Tokenizer *t, const char *path) {
    FILE *f = fopen(path, "rb");
    unsigned char buf[1 << 16];
    uLong crc = crc32(0L, Z_NULL, 0);
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) crc = crc32(crc, buf, (uInt)n);
    fclose(f);
    EXPECT(tokenizer_checksum(t) == (uint32_t)crc, "checksum %08x vs file crc32 %08lx", tokenizer_checksum(t), crc);
    size_t len;
    const void *bytes = tokenizer_model_bytes(t, &len);
    Tokenizer *t2 = tokenizer_load_from_memory(bytes, len, "memory");
    EXPECT(tokenizer_checksum(t2) == tokenizer_checksum(t) && tokenizer_vocab_size(t2) == tokenizer_vocab_size(t),
           "load from memory");
    tokenizer_free(t2);
}

static void test_round_trip(const Tokenizer *t) {
    const char *texts[] = {
        "The quick brown fox jumps over the lazy dog.",
        "  two leading spaces, two trailing  ",
        "tabs\tand\nnewlines\n\nand a blank line",
        "digits 0123456789 and 3.14159",
        "rare bytes: \xc3\xa9\xc3\xa8 \xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x98\x80 \xce\xa9", /* é è 東京 😀 Ω */
        "<bos> as plain text",
        "x",
    };
    for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++) {
        uint32_t *ids;
        size_t n = tokenizer_encode(t, texts[k], strlen(texts[k]), &ids);
        EXPECT(n != (size_t)-1 && n > 0, "encode '%s'", texts[k]);
        for (size_t i = 0; i < n; i++) EXPECT(ids[i] != 3, "unk in '%s' (byte fallback should cover it)", texts[k]);
        size_t len;
        char *back = tokenizer_decode(t, ids, n, &len);
        EXPECT(len == strlen(texts[k]) && !strcmp(back, texts[k]), "round trip '%s' -> '%s'", texts[k], back);
        free(back);
        free(ids);
    }
}

static void append_enc(const Tokenizer *t, const char *s, uint8_t m, uint32_t *ids, uint8_t *mask, size_t *n) {
    uint32_t *e;
    size_t k = tokenizer_encode(t, s, strlen(s), &e);
    for (size_t i = 0; i < k; i++) {
        ids[*n] = e[i];
        mask[(*n)++] = m;
    }
    free(e);
}

static void put(uint32_t id, uint8_t m, uint32_t *ids, uint8_t *mask, size_t *n) {
    ids[*n] = id;
    mask[(*n)++] = m;
}

static void test_chat(const Tokenizer *t) {
    ChatMessage msgs[] = {
        {CHAT_USER, "What is a fox?", 14},
        {CHAT_MODEL, "A small wild dog.", 17},
        {CHAT_USER, "Does it run?", 12},
        {CHAT_MODEL, "Yes, fast.", 10},
    };
    TokenBuf out = {0};
    char err[128];
    const char *e = chat_render(t, msgs, 4, &out, err, sizeof err);
    EXPECT(e == NULL, "chat_render: %s", e);
    /* hand-written expectation: ids 2 <bos>, 4 <start_of_turn>, 5 <end_of_turn>, 6 "\n" */
    uint32_t want[512];
    uint8_t mask[512];
    size_t n = 0;
    put(2, 0, want, mask, &n);
    put(4, 0, want, mask, &n);
    append_enc(t, "user", 0, want, mask, &n);
    put(6, 0, want, mask, &n);
    append_enc(t, "What is a fox?", 0, want, mask, &n);
    put(5, 0, want, mask, &n);
    put(6, 0, want, mask, &n);
    put(4, 0, want, mask, &n);
    append_enc(t, "model", 0, want, mask, &n);
    put(6, 0, want, mask, &n);
    append_enc(t, "A small wild dog.", 1, want, mask, &n);
    put(5, 1, want, mask, &n);
    put(6, 0, want, mask, &n);
    put(4, 0, want, mask, &n);
    append_enc(t, "user", 0, want, mask, &n);
    put(6, 0, want, mask, &n);
    append_enc(t, "Does it run?", 0, want, mask, &n);
    put(5, 0, want, mask, &n);
    put(6, 0, want, mask, &n);
    put(4, 0, want, mask, &n);
    append_enc(t, "model", 0, want, mask, &n);
    put(6, 0, want, mask, &n);
    append_enc(t, "Yes, fast.", 1, want, mask, &n);
    put(5, 1, want, mask, &n);
    put(6, 0, want, mask, &n);
    EXPECT(out.n == n, "chat length %zu, expected %zu", out.n, n);
    for (size_t i = 0; i < n && i < out.n; i++)
        EXPECT(out.ids[i] == want[i] && out.mask[i] == mask[i], "chat token %zu: id %u mask %u, expected %u %u", i,
               out.ids[i], out.mask[i], want[i], mask[i]);
    /* the text the ids stand for */
    char *text = tokenizer_decode(t, out.ids, out.n, NULL);
    EXPECT(!strcmp(text, "user\nWhat is a fox?\nmodel\nA small wild dog.\nuser\nDoes it run?\nmodel\nYes, fast.\n"),
           "decoded chat '%s'", text);
    free(text);
    /* the masked part decodes to the replies alone */
    uint32_t masked[512];
    size_t m = 0;
    for (size_t i = 0; i < out.n; i++)
        if (out.mask[i]) masked[m++] = out.ids[i];
    text = tokenizer_decode(t, masked, m, NULL);
    EXPECT(!strcmp(text, "A small wild dog.Yes, fast."), "masked text '%s'", text);
    free(text);

    /* a prompt renders to the first user turn plus the model header */
    TokenBuf p = {0};
    EXPECT(chat_render_prompt(t, "What is a fox?", 14, &p) == NULL, "render prompt");
    n = 0;
    put(2, 0, want, mask, &n);
    put(4, 0, want, mask, &n);
    append_enc(t, "user", 0, want, mask, &n);
    put(6, 0, want, mask, &n);
    append_enc(t, "What is a fox?", 0, want, mask, &n);
    put(5, 0, want, mask, &n);
    put(6, 0, want, mask, &n);
    put(4, 0, want, mask, &n);
    append_enc(t, "model", 0, want, mask, &n);
    put(6, 0, want, mask, &n);
    EXPECT(p.n == n && !memcmp(p.ids, want, n * sizeof(uint32_t)), "prompt rendering (%zu vs %zu ids)", p.n, n);
    tokbuf_free(&p);

    /* system folded into the first user turn */
    ChatMessage sys[] = {{CHAT_SYSTEM, "Be brief.", 9}, {CHAT_USER, "Hi", 2}, {CHAT_MODEL, "Hello.", 6}};
    TokenBuf s = {0};
    EXPECT(chat_render(t, sys, 3, &s, err, sizeof err) == NULL, "system chat");
    text = tokenizer_decode(t, s.ids, s.n, NULL);
    EXPECT(!strcmp(text, "user\nBe brief.\n\nHi\nmodel\nHello.\n"), "system folded: '%s'", text);
    free(text);
    tokbuf_free(&s);

    /* refused conversations */
    ChatMessage bad1[] = {{CHAT_MODEL, "Hello.", 6}};
    ChatMessage bad2[] = {{CHAT_USER, "Hi", 2}, {CHAT_USER, "Hi", 2}};
    ChatMessage bad3[] = {{CHAT_USER, "Hi", 2}};
    ChatMessage bad4[] = {{CHAT_USER, "Hi", 2}, {CHAT_MODEL, "", 0}};
    TokenBuf b = {0};
    EXPECT(chat_render(t, bad1, 1, &b, err, sizeof err) != NULL, "model first accepted");
    EXPECT(chat_render(t, bad2, 2, &b, err, sizeof err) != NULL, "two user turns accepted");
    EXPECT(chat_render(t, bad3, 1, &b, err, sizeof err) != NULL, "no model turn accepted");
    EXPECT(chat_render(t, bad4, 2, &b, err, sizeof err) != NULL, "empty turn accepted");
    EXPECT(chat_role_parse("narrator") == -1 && chat_role_parse("assistant") == CHAT_MODEL, "role names");
    tokbuf_free(&b);
    tokbuf_free(&out);
}

static void test_corpus(const char *dir) {
    char path[1024];
    snprintf(path, sizeof path, "%s/api_chat.h5", dir);
    remove(path);
    CorpusWriter *w = corpus_writer_open(path, CORPUS_CHAT, 100, 0xdeadbeefu);
    FILE *f = fopen(path, "rb");
    EXPECT(f == NULL, "output visible before close");
    if (f) fclose(f);
    /* many documents, crossing the writer's flush sizes */
    uint32_t ids[3000];
    uint8_t mask[3000];
    const size_t n_docs = 5000;
    for (size_t d = 0; d < n_docs; d++) {
        size_t n = d % 7 == 0 ? 2999 : 1 + d % 13;
        for (size_t i = 0; i < n; i++) {
            ids[i] = (uint32_t)((d * 31 + i) % 100);
            mask[i] = (uint8_t)((d + i) % 2);
        }
        corpus_writer_add(w, 0, ids, mask, n, d);
    }
    corpus_writer_set_string(w, "notes", "api test");
    corpus_writer_close(w);
    Corpus *c = corpus_open(path, CORPUS_CHAT);
    EXPECT(corpus_num_docs(c) == n_docs, "docs %zu", corpus_num_docs(c));
    EXPECT(corpus_vocab_size(c) == 100 && corpus_tokenizer_checksum(c) == 0xdeadbeefu, "attributes");
    EXPECT(!strcmp(corpus_attr(c, "notes"), "api test"), "notes '%s'", corpus_attr(c, "notes"));
    int bad = 0;
    for (size_t d = 0; d < n_docs; d++) {
        CorpusDoc doc = corpus_doc(c, 0, d);
        size_t n = d % 7 == 0 ? 2999 : 1 + d % 13;
        bad += doc.n != n || doc.bytes != d;
        for (size_t i = 0; i < doc.n && i < n; i++)
            bad += doc.tokens[i] != (uint32_t)((d * 31 + i) % 100) || doc.mask[i] != (uint8_t)((d + i) % 2);
    }
    EXPECT(bad == 0, "%d mismatches reading back", bad);
    corpus_close(c);

    snprintf(path, sizeof path, "%s/api_pref.h5", dir);
    w = corpus_writer_open(path, CORPUS_PREFERENCE, 100, 1);
    for (int f2 = 0; f2 < 3; f2++) corpus_writer_add(w, f2, ids, NULL, (size_t)(3 + f2), 7);
    corpus_writer_close(w);
    c = corpus_open(path, CORPUS_ANY);
    EXPECT(corpus_kind(c) == CORPUS_PREFERENCE && corpus_num_docs(c) == 1, "preference corpus");
    EXPECT(corpus_doc(c, CORPUS_FIELD_REJECTED, 0).n == 5 && corpus_num_tokens(c, CORPUS_FIELD_CHOSEN) == 4,
           "preference fields");
    corpus_close(c);

    snprintf(path, sizeof path, "%s/api_abort.h5", dir);
    w = corpus_writer_open(path, CORPUS_TEXT, 100, 1);
    corpus_writer_add(w, 0, ids, NULL, 3, 3);
    corpus_writer_abort(w);
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    EXPECT(!fopen(path, "rb") && !fopen(tmp, "rb"), "abort left a file behind");
}

int main(void) {
    const char *tok = getenv("GRIFFIN_TEST_TOKENIZER"), *dir = getenv("GRIFFIN_TEST_DIR");
    if (!tok || !dir) {
        fprintf(stderr, "test_data_tokenizer: set GRIFFIN_TEST_TOKENIZER and GRIFFIN_TEST_DIR (ctest does)\n");
        return 2;
    }
    Tokenizer *t = tokenizer_load(tok);
    test_specials(t);
    test_checksum(t, tok);
    test_round_trip(t);
    test_chat(t);
    test_corpus(dir);
    tokenizer_free(t);
    if (failures) {
        fprintf(stderr, "test_data_tokenizer: %d failures\n", failures);
        return 1;
    }
    printf("test_data_tokenizer: ok\n");
    return 0;
}
