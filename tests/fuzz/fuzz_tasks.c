/* libFuzzer harness: task files of `griffin eval --tasks` (data/tasks.c) and their encoding into
 * requests (data/task_prompt.c). The first byte picks the prompt options (few-shot count 0-3,
 * chat or plain), the rest is the file. Every input is either read and every example encoded, or
 * refused with one line "name:line: reason" (or "name: reason"); a refusal leaves nothing
 * allocated. Accepted examples must give non-empty contexts starting with <bos> and non-empty
 * continuations. Needs GRIFFIN_FUZZ_TOKENIZER = a tokenizer.model with the Gemma control tokens
 * (tests/data.cmake trains one). */
#include "data/task_prompt.h"
#include "data/tasks.h"

#include <jansson.h>

#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static Tokenizer *tok;

static void check_message(const char *err) {
    if (!strncmp(err, "input.jsonl:", 12) || !strncmp(err, "input.jsonl: ", 13) || !strncmp(err, "the tokenizer", 13))
        if (!strchr(err, '\n')) return;
    fprintf(stderr, "refusal not one line naming the file: '%s'\n", err);
    abort();
}

static void check_tokens(const TaskFile *t, const TaskTokens *x) {
    int bos = tokenizer_specials(tok).bos;
    for (int c = 0; c < x->n_ctx; c++)
        if (x->ctx_len[c] == 0 || x->ctx[c][0] != (uint32_t)bos) {
            fprintf(stderr, "context %d without <bos>\n", c);
            abort();
        }
    for (int j = 0; t->kind == TASK_CHOICE && j < x->n_req; j++)
        if (x->cont_len[j] == 0 || x->ctx_of[j] < 0 || x->ctx_of[j] >= x->n_ctx) {
            fprintf(stderr, "request %d: empty continuation or bad context index\n", j);
            abort();
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
        json_object_seed(1);
    }
    if (size < 1) return 0;
    TaskPromptOptions o = {data[0] & 3, NULL, 1234, (data[0] >> 2) & 1};
    TaskFile t;
    char err[1024];
    if (task_file_parse("input.jsonl", (const char *)data + 1, size - 1, &t, err, sizeof err)) {
        check_message(err);
        return 0;
    }
    for (size_t i = 0; i < t.n && i < 64; i++) {
        TaskTokens x;
        if (task_encode(tok, &t, i, &o, &x, err, sizeof err)) {
            check_message(err);
            continue;
        }
        check_tokens(&t, &x);
        task_tokens_free(&x);
    }
    task_file_free(&t);
    return 0;
}
