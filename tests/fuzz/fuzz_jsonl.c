/* libFuzzer harness: JSONL(.gz) input of `griffin tokenize` (data/lines.c, data/tokenize.c).
 * The first byte picks the corpus kind (text, chat, preference, prompt, or 4: --kind ids), the rest is the file
 * (plain or gzip: zlib reads both). Every line is either encoded or refused with a message
 * (the caller reports it as file:line); a damaged gzip stream is refused through CHECK,
 * which the harness turns into a return (fuzz_util.h).
 *
 * The per-line parser is static in data/tokenize.c: this file compiles that source into the
 * harness to reach it (nothing else of the harness refers to tokenize_files, so the library's
 * copy is never linked). Needs GRIFFIN_FUZZ_TOKENIZER = a tokenizer.model with the Gemma
 * control tokens (tests/data.cmake trains one). */
#include "data/tokenize.c"

#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static Tokenizer *tok;
static LineReader *reader;
static CorpusKind fuzz_kind;
static int fuzz_ids;
static const char *fuzz_input;

static void read_lines(void *arg) {
    (void)arg;
    reader = line_reader_open(fuzz_input);
    size_t len;
    const char *l;
    while ((l = line_reader_next(reader, &len))) {
        Line ln;
        memset(&ln, 0, sizeof ln);
        ln.text = malloc(len + 1);
        memcpy(ln.text, l, len + 1);
        ln.len = len;
        ln.lineno = line_reader_lineno(reader);
        process_line(fuzz_kind, fuzz_ids, tok, &ln);
        if (!ln.skip && !ln.err[0])
            for (int f = 0; f < corpus_kind_num_fields(fuzz_kind); f++)
                if (ln.out[f].n == 0) {
                    fprintf(stderr, "line %zu accepted with no tokens in field %d\n", ln.lineno, f);
                    abort();
                }
        for (int f = 0; f < CORPUS_MAX_FIELDS; f++) tokbuf_free(&ln.out[f]);
        free(ln.text);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!tok) {
        const char *tp = getenv("GRIFFIN_FUZZ_TOKENIZER");
        if (!tp) {
            fprintf(stderr, "set GRIFFIN_FUZZ_TOKENIZER to a tokenizer.model\n");
            abort();
        }
        tok = tokenizer_load(tp);
        chat_require_specials(tok, tp);
        json_object_seed(1);
    }
    if (size < 1) return 0;
    fuzz_ids = data[0] % 5 == 4;
    fuzz_kind = fuzz_ids ? CORPUS_TEXT : (CorpusKind)(data[0] % 5);
    fuzz_input = fuzz_path("input.jsonl");
    fuzz_write_file(fuzz_input, data + 1, size - 1);
    reader = NULL;
    fuzz_guarded(read_lines, NULL);
    line_reader_close(reader);
    unlink(fuzz_input);
    return 0;
}
