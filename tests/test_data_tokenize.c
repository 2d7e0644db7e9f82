/* `griffin tokenize` and `griffin inspect` end to end: round trips through corpus files, gzip
 * input, thread-count independence, and bad inputs refused with file:line and no output left.
 * Environment (set by ctest): GRIFFIN_BIN, GRIFFIN_TEST_TOKENIZER, GRIFFIN_TEST_DIR,
 * GRIFFIN_TEST_FIXTURES (tests/data). */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "data/corpus.h"
#include "data/tokenizer.h"
#include "tests/expect.h"

static const char *bin, *tok_path, *dir, *fixtures;
static char err_text[8192];

static char *path_in(const char *folder, const char *name) {
    static char bufs[8][1024];
    static int k = 0;
    char *b = bufs[k++ % 8];
    snprintf(b, 1024, "%s/%s", folder, name);
    return b;
}

/* Runs a shell command with stderr captured into err_text; returns the exit status. */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...) {
    char cmd[4096], full[4400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    const char *errf = path_in(dir, "stderr.txt");
    snprintf(full, sizeof full, "%s >/dev/null 2>%s", cmd, errf);
    int st = system(full);
    FILE *f = fopen(errf, "rb");
    size_t n = f ? fread(err_text, 1, sizeof err_text - 1, f) : 0;
    err_text[n] = '\0';
    if (f) fclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static int exists(const char *p) { return access(p, F_OK) == 0; }

static void write_file(const char *p, const char *text) {
    FILE *f = fopen(p, "wb");
    fputs(text, f);
    fclose(f);
}

static void gzip_file(const char *src, const char *dst) {
    FILE *in = fopen(src, "rb");
    gzFile out = gzopen(dst, "wb");
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) gzwrite(out, buf, (unsigned)n);
    fclose(in);
    gzclose(out);
}

/* text corpus from tiny_text.jsonl decodes back to each line's "text" */
static void test_text_round_trip(const Tokenizer *t) {
    const char *in = path_in(fixtures, "tiny_text.jsonl"), *out = path_in(dir, "rt_text.h5");
    EXPECT(run("%s tokenize --kind text --tokenizer %s --input %s --output %s", bin, tok_path, in, out) == 0,
           "tokenize text: %s", err_text);
    Corpus *c = corpus_open(out, CORPUS_TEXT);
    corpus_check_tokenizer(c, t, tok_path);
    FILE *f = fopen(in, "rb");
    char line[4096];
    size_t d = 0;
    while (fgets(line, sizeof line, f)) {
        json_t *j = json_loads(line, 0, NULL);
        if (!j) continue; /* blank line */
        const char *want = json_string_value(json_object_get(j, "text"));
        EXPECT(d < corpus_num_docs(c), "too few documents");
        if (d < corpus_num_docs(c)) {
            CorpusDoc doc = corpus_doc(c, 0, d);
            TokenizerSpecials s = tokenizer_specials(t);
            EXPECT(doc.n >= 2 && doc.tokens[0] == (uint32_t)s.bos && doc.tokens[doc.n - 1] == (uint32_t)s.eos,
                   "document %zu not wrapped in <bos> ... <eos>", d);
            char *got = tokenizer_decode(t, doc.tokens, doc.n, NULL);
            EXPECT(!strcmp(got, want), "document %zu decodes to '%s', not '%s'", d, got, want);
            EXPECT(doc.bytes == strlen(want), "document %zu: %llu bytes recorded, %zu in text", d,
                   (unsigned long long)doc.bytes, strlen(want));
            free(got);
        }
        d++;
        json_decref(j);
    }
    fclose(f);
    EXPECT(d == corpus_num_docs(c), "%zu documents for %zu lines", corpus_num_docs(c), d);
    EXPECT(strstr(corpus_attr(c, "sources"), "tiny_text.jsonl") != NULL, "sources attribute");
    corpus_close(c);
    EXPECT(run("%s inspect %s --show 2", bin, out) == 0, "inspect: %s", err_text);
}

static int same_corpus(const char *a, const char *b) {
    Corpus *x = corpus_open(a, CORPUS_ANY), *y = corpus_open(b, CORPUS_ANY);
    int same = corpus_num_docs(x) == corpus_num_docs(y) && corpus_num_tokens(x, 0) == corpus_num_tokens(y, 0);
    for (size_t i = 0; same && i < corpus_num_docs(x); i++) {
        CorpusDoc p = corpus_doc(x, 0, i), q = corpus_doc(y, 0, i);
        same = p.n == q.n && !memcmp(p.tokens, q.tokens, p.n * 4) && p.bytes == q.bytes &&
               (!p.mask || !memcmp(p.mask, q.mask, p.n));
    }
    corpus_close(x);
    corpus_close(y);
    return same;
}

/* gzip input gives the same corpus; so do 1 and 2 threads on a few thousand lines */
static void test_gzip_and_threads(void) {
    const char *plain = path_in(dir, "many.jsonl"), *gz = path_in(dir, "many.jsonl.gz");
    FILE *f = fopen(plain, "wb");
    for (int i = 0; i < 6000; i++)
        fprintf(f, "{\"messages\": [{\"role\": \"user\", \"content\": \"Question %d: what is %d + %d?\"}, "
                   "{\"role\": \"model\", \"content\": \"It is %d.%s\"}]}\n",
                i, i, i % 17, i + i % 17, i % 3 ? "" : " Caf\\u00e9 \\u6771\\u4eac!");
    fclose(f);
    gzip_file(plain, gz);
    const char *a = path_in(dir, "many_1.h5"), *b = path_in(dir, "many_2.h5"), *g = path_in(dir, "many_gz.h5");
    EXPECT(run("OMP_NUM_THREADS=1 %s tokenize --kind chat --tokenizer %s --input %s --output %s", bin, tok_path,
               plain, a) == 0, "tokenize 1 thread: %s", err_text);
    EXPECT(run("OMP_NUM_THREADS=2 %s tokenize --kind chat --tokenizer %s --input %s --output %s", bin, tok_path,
               plain, b) == 0, "tokenize 2 threads: %s", err_text);
    EXPECT(run("%s tokenize --kind chat --tokenizer %s --input %s --output %s", bin, tok_path, gz, g) == 0,
           "tokenize gzip: %s", err_text);
    EXPECT(same_corpus(a, b), "1 and 2 threads differ");
    EXPECT(run("cmp -s %s %s", a, b) == 0, "1 and 2 threads: files not byte-identical");
    EXPECT(same_corpus(a, g), "gzip and plain input differ");
}

/* Each bad input must fail, name file:line (line 0 = just the file), and leave no output. */
static void expect_refused(const char *kind, const char *name, const char *content, int line, const char *words) {
    const char *in = path_in(dir, name);
    if (content) write_file(in, content);
    char out[1100], tmp[1200];
    snprintf(out, sizeof out, "%s.h5", in);
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    remove(out);
    int st = run("%s tokenize --kind %s --tokenizer %s --input %s --output %s", bin, kind, tok_path, in, out);
    EXPECT(st != 0, "%s: accepted", name);
    char where[1200];
    if (line > 0)
        snprintf(where, sizeof where, "%s:%d:", in, line);
    else
        snprintf(where, sizeof where, "%s", in);
    EXPECT(strstr(err_text, where) != NULL, "%s: error does not name '%s': %s", name, where, err_text);
    EXPECT(!words || strstr(err_text, words), "%s: error lacks '%s': %s", name, words, err_text);
    EXPECT(strchr(err_text, '\n') == err_text + strlen(err_text) - 1, "%s: error is not one line: %s", name, err_text);
    EXPECT(!exists(out) && !exists(tmp), "%s: output left behind", name);
}

static void test_bad_inputs(void) {
    expect_refused("text", "bad_json.jsonl", "{\"text\": \"fine\"}\n{\"text\": \"broken\"\n{\"text\": \"x\"}\n", 2,
                   "malformed JSON");
    expect_refused("text", "not_object.jsonl", "{\"text\": \"fine\"}\n[1, 2]\n", 2, "not a JSON object");
    expect_refused("text", "empty_doc.jsonl", "{\"text\": \"a\"}\n{\"text\": \"b\"}\n{\"text\": \"\"}\n", 3,
                   "empty");
    expect_refused("text", "no_text.jsonl", "{\"body\": \"a\"}\n", 1, "missing \"text\"");
    expect_refused("chat", "bad_role.jsonl",
                   "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"model\", \"content\": "
                   "\"Hello.\"}]}\n{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": "
                   "\"narrator\", \"content\": \"Hello.\"}]}\n",
                   2, "unknown role");
    expect_refused("chat", "no_model.jsonl", "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}\n", 1,
                   "no model turn");
    expect_refused("preference", "no_rejected.jsonl",
                   "{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\"}\n{\"prompt\": \"p\", \"chosen\": "
                   "\"c\"}\n",
                   2, "rejected");
    expect_refused("prompt", "dup_key.jsonl", "{\"prompt\": \"p\", \"prompt\": \"q\"}\n", 1, "duplicate");
    expect_refused("text", "only_blank.jsonl", "\n\n", 0, "no documents");
    expect_refused("text", "missing_file.jsonl", NULL, 0, "cannot open");

    /* a truncated gzip file: the first half of a compressed many-line file */
    const char *plain = path_in(dir, "trunc_src.jsonl"), *gz = path_in(dir, "trunc_full.jsonl.gz");
    FILE *f = fopen(plain, "wb");
    for (int i = 0; i < 20000; i++) fprintf(f, "{\"text\": \"line %d of a file that will be cut short %d\"}\n", i, i * 7919);
    fclose(f);
    gzip_file(plain, gz);
    f = fopen(gz, "rb");
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    f = fopen(path_in(dir, "truncated.jsonl.gz"), "wb");
    fwrite(buf, 1, n / 2, f);
    fclose(f);
    expect_refused("text", "truncated.jsonl.gz", NULL, -1, "truncated gzip");

    /* a failed run keeps an existing output intact */
    const char *keep = path_in(dir, "keep.h5");
    EXPECT(run("%s tokenize --kind text --tokenizer %s --input %s --output %s", bin, tok_path,
               path_in(fixtures, "tiny_text.jsonl"), keep) == 0, "tokenize: %s", err_text);
    EXPECT(run("%s tokenize --kind text --tokenizer %s --input %s --output %s", bin, tok_path,
               path_in(dir, "bad_json.jsonl"), keep) != 0, "bad input accepted");
    EXPECT(run("%s inspect %s", bin, keep) == 0, "earlier output damaged: %s", err_text);
}

/* corpora that must be refused when opened (or verified) */
static void test_bad_corpora(void) {
    const char *p = path_in(dir, "bad_ids.h5");
    CorpusWriter *w = corpus_writer_open(p, CORPUS_TEXT, 10, 0);
    uint32_t ids[] = {2, 5, 9, 10, 1};
    corpus_writer_add(w, 0, ids, NULL, 5, 5);
    corpus_writer_close(w);
    /* ids are checked by inspect --verify and by the first read of each chunk, not at open */
    EXPECT(run("%s inspect --verify %s", bin, p) != 0, "ids beyond the vocabulary accepted");
    EXPECT(strstr(err_text, p) && strstr(err_text, "outside the vocabulary") && strstr(err_text, "document 0"),
           "bad ids message: %s", err_text);

    const char *txt = path_in(dir, "not_a_corpus.h5");
    write_file(txt, "hello\n");
    EXPECT(run("%s inspect %s", bin, txt) != 0 && strstr(err_text, "not an HDF5 file"), "text file as corpus: %s",
           err_text);
    EXPECT(strstr(err_text, "regenerate"), "no hint how to regenerate: %s", err_text);

    EXPECT(run("%s tokenize --kind banana --tokenizer %s --input x --output y", bin, tok_path) != 0 &&
               strstr(err_text, "unknown --kind"), "bad kind: %s", err_text);
    EXPECT(run("%s tokenize --kind text --tokenizer %s --input %s --output %s", bin, path_in(dir, "stderr.txt"),
               path_in(fixtures, "tiny_text.jsonl"), path_in(dir, "x.h5")) != 0 && strstr(err_text, "SentencePiece"),
           "bad tokenizer: %s", err_text);
}

/* a foreign tokenizer (SentencePiece defaults: <s> </s>, no turn markers): text works with
 * <s> ... </s> around documents; chat is refused at start with a clear message */
static void test_foreign_tokenizer(void) {
    const char *plain = path_in(dir, "plain_tok.model"), *out = path_in(dir, "plain_text.h5");
    Tokenizer *t = tokenizer_load(plain);
    TokenizerSpecials s = tokenizer_specials(t);
    EXPECT(s.unk == 0 && s.bos == 1 && s.eos == 2 && s.pad == -1 && s.start_of_turn == -1, "plain specials %d %d %d %d %d",
           s.unk, s.bos, s.eos, s.pad, s.start_of_turn);
    EXPECT(run("%s tokenize --kind text --tokenizer %s --input %s --output %s", bin, plain,
               path_in(fixtures, "tiny_text.jsonl"), out) == 0, "text with a foreign tokenizer: %s", err_text);
    Corpus *c = corpus_open(out, CORPUS_TEXT);
    CorpusDoc d = corpus_doc(c, 0, 0);
    char *text = tokenizer_decode(t, d.tokens, d.n, NULL);
    EXPECT(d.tokens[0] == 1 && d.tokens[d.n - 1] == 2 && !strcmp(text, "The quick brown fox jumps over the lazy dog."),
           "foreign tokenizer document '%s'", text);
    free(text);
    corpus_close(c);
    tokenizer_free(t);
    out = path_in(dir, "plain_chat.h5");
    EXPECT(run("%s tokenize --kind chat --tokenizer %s --input %s --output %s", bin, plain,
               path_in(fixtures, "tiny_chat.jsonl"), out) != 0 && strstr(err_text, "<start_of_turn>") && !exists(out),
           "chat with a tokenizer lacking turn markers: %s", err_text);
}

/* plain-text files: one document each, byte-exact round trip; bad ones refused */
static void test_plain_text(const Tokenizer *t) {
    const char *txt = path_in(fixtures, "tiny.txt"), *gz = path_in(dir, "tiny_copy.txt.gz"), *out = path_in(dir, "plain.h5");
    gzip_file(txt, gz);
    EXPECT(run("%s tokenize --kind text --tokenizer %s --input %s --input %s --output %s", bin, tok_path, txt, gz,
               out) == 0, "plain text: %s", err_text);
    FILE *f = fopen(txt, "rb");
    static char want[1 << 16];
    size_t n = fread(want, 1, sizeof want - 1, f);
    want[n] = '\0';
    fclose(f);
    Corpus *c = corpus_open(out, CORPUS_TEXT);
    EXPECT(corpus_num_docs(c) == 2, "%zu documents from two files", corpus_num_docs(c));
    for (size_t i = 0; i < corpus_num_docs(c) && i < 2; i++) {
        CorpusDoc d = corpus_doc(c, 0, i);
        char *got = tokenizer_decode(t, d.tokens, d.n, NULL);
        EXPECT(!strcmp(got, want) && d.bytes == n, "plain text document %zu differs from the file", i);
        free(got);
    }
    corpus_close(c);
    write_file(path_in(dir, "latin1.txt"), "caf\xe9 au lait\n");
    expect_refused("text", "latin1.txt", NULL, 0, "invalid UTF-8");
    write_file(path_in(dir, "overlong.txt"), "a\xc0\xaf b\n");
    expect_refused("text", "overlong.txt", NULL, 0, "invalid UTF-8");
    expect_refused("text", "empty.txt", "", 0, "empty document");
    expect_refused("chat", "latin1.txt", NULL, 0, "text corpora only");
}

/* every kind through the CLI, checked with the reader */
static void test_kinds(const Tokenizer *t) {
    const char *kinds[] = {"chat", "preference", "prompt"};
    const char *files[] = {"tiny_chat.jsonl", "tiny_pref.jsonl", "tiny_prompt.jsonl"};
    size_t docs[] = {2, 2, 3};
    for (int k = 0; k < 3; k++) {
        const char *out = path_in(dir, files[k]);
        char o[1100];
        snprintf(o, sizeof o, "%s.h5", out);
        EXPECT(run("%s tokenize --kind %s --tokenizer %s --input %s --output %s --note 'test note'", bin, kinds[k],
                   tok_path, path_in(fixtures, files[k]), o) == 0, "tokenize %s: %s", kinds[k], err_text);
        Corpus *c = corpus_open(o, corpus_kind_parse(kinds[k]));
        EXPECT(corpus_num_docs(c) == docs[k], "%s: %zu docs", kinds[k], corpus_num_docs(c));
        EXPECT(!strcmp(corpus_attr(c, "notes"), "test note\n"), "notes '%s'", corpus_attr(c, "notes"));
        if (k == 1) { /* prompt ++ chosen == the chat rendering of the preferred conversation */
            CorpusDoc p = corpus_doc(c, CORPUS_FIELD_PROMPT, 0), ch = corpus_doc(c, CORPUS_FIELD_CHOSEN, 0);
            uint32_t all[512];
            memcpy(all, p.tokens, p.n * 4);
            memcpy(all + p.n, ch.tokens, ch.n * 4);
            char *s = tokenizer_decode(t, all, p.n + ch.n, NULL);
            EXPECT(!strcmp(s, "user\nWhat does the noun \"bank\" mean?\nmodel\nA financial institution that accepts "
                              "deposits."), "preference rendering '%s'", s);
            EXPECT(ch.tokens[ch.n - 1] == (uint32_t)tokenizer_specials(t).end_of_turn, "chosen ends with <end_of_turn>");
            free(s);
        }
        corpus_close(c);
        EXPECT(run("%s inspect %s --show 1", bin, o) == 0, "inspect %s: %s", kinds[k], err_text);
    }
}

/* --kind ids: {"input_ids": [...]} lines holding a text corpus's tokens give that corpus back
 * (same ids, same doc_bytes: the ids decode to the text); bad ids are refused with file:line */
static void test_ids(void) {
    const char *text = path_in(dir, "rt_text.h5"), *jl = path_in(dir, "ids.jsonl"), *out = path_in(dir, "ids.h5");
    Corpus *c = corpus_open(text, CORPUS_TEXT);
    FILE *f = fopen(jl, "wb");
    for (size_t d = 0; d < corpus_num_docs(c); d++) {
        CorpusDoc doc = corpus_doc(c, 0, d);
        fprintf(f, "{\"input_ids\": [");
        for (size_t i = 0; i < doc.n; i++) fprintf(f, "%s%u", i ? ", " : "", doc.tokens[i]);
        fprintf(f, "], \"attention_mask\": [1]}\n");
    }
    fclose(f);
    corpus_close(c);
    EXPECT(run("%s tokenize --kind ids --tokenizer %s --input %s --output %s", bin, tok_path, jl, out) == 0,
           "tokenize --kind ids: %s", err_text);
    EXPECT(same_corpus(text, out), "--kind ids does not give back the text corpus");
    expect_refused("ids", "ids_over.jsonl", "{\"input_ids\": [2, 150, 230]}\n{\"input_ids\": [2, 400]}\n", 2,
                   "not an id below the vocabulary");
    expect_refused("ids", "ids_neg.jsonl", "{\"input_ids\": [-1]}\n", 1, "input_ids[0]");
    expect_refused("ids", "ids_str.jsonl", "{\"input_ids\": [5, \"6\"]}\n", 1, "not an integer");
    expect_refused("ids", "ids_empty.jsonl", "{\"input_ids\": []}\n", 1, "non-empty list");
    expect_refused("ids", "ids_none.jsonl", "{\"text\": \"a\"}\n", 1, "input_ids");
}

int main(void) {
    bin = getenv("GRIFFIN_BIN");
    tok_path = getenv("GRIFFIN_TEST_TOKENIZER");
    dir = getenv("GRIFFIN_TEST_DIR");
    fixtures = getenv("GRIFFIN_TEST_FIXTURES");
    if (!bin || !tok_path || !dir || !fixtures) {
        fprintf(stderr, "test_data_tokenize: run it through ctest (needs GRIFFIN_BIN, GRIFFIN_TEST_*)\n");
        return 2;
    }
    Tokenizer *t = tokenizer_load(tok_path);
    test_text_round_trip(t);
    test_kinds(t);
    test_foreign_tokenizer();
    test_plain_text(t);
    test_gzip_and_threads();
    test_bad_inputs();
    test_bad_corpora();
    test_ids();
    tokenizer_free(t);
    if (failures) {
        fprintf(stderr, "test_data_tokenize: %d failures\n", failures);
        return 1;
    }
    printf("test_data_tokenize: ok\n");
    return 0;
}
