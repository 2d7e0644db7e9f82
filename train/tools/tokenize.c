/* griffin tokenize: JSONL(.gz) -> corpus.h5 (the pipeline is data/tokenize.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "data/tokenize.h"
#include "train/commands.h"

static void tokenize_usage(FILE *f) {
    fprintf(f,
            "usage: griffin tokenize --kind text|chat|preference|prompt|ids --tokenizer M.model\n"
            "                        --input F.jsonl[.gz] [--input F2 ...] --output OUT.h5\n"
            "                        [--note TEXT ...] [--quiet]\n"
            "  text        {\"text\": ...}\n"
            "  chat        {\"messages\": [{\"role\": \"user\"|\"model\"|\"system\", \"content\": ...}, ...]}\n"
            "  preference  {\"prompt\": ..., \"chosen\": ..., \"rejected\": ...}\n"
            "  prompt      {\"prompt\": ...}\n"
            "  ids         {\"input_ids\": [...]}: ids tokenized elsewhere with this tokenizer, kept as they\n"
            "              are (a text corpus; no <bos>/<eos> added; ids must be below its vocabulary)\n"
            "Inputs may be gzip-compressed. For --kind text, *.txt and *.txt.gz files are read as\n"
            "one document each.\n"
            "The corpus format is described in data/corpus.h; --note text is stored with it.\n");
}

/* Matches "--name value" or "--name=value"; advances *i past what it used. */
static const char *opt_value(int argc, char **argv, int *i, const char *name) {
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n)) return NULL;
    if (argv[*i][n] == '=') return argv[*i] + n + 1;
    if (argv[*i][n] != '\0') return NULL;
    CHECK(*i + 1 < argc, "tokenize: %s needs a value", name);
    return argv[++*i];
}

int cmd_tokenize(int argc, char **argv) {
    TokenizeOptions o;
    memset(&o, 0, sizeof o);
    o.kind = CORPUS_ANY;
    const char **inputs = callocCheck((size_t)argc, sizeof *inputs);
    char *notes = callocCheck(1, 1);
    size_t notes_len = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            tokenize_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--quiet")) {
            o.quiet = 1;
        } else if ((v = opt_value(argc, argv, &i, "--kind"))) {
            o.ids = !strcmp(v, "ids");
            o.kind = o.ids ? CORPUS_TEXT : corpus_kind_parse(v);
            CHECK(o.kind != CORPUS_ANY, "tokenize: unknown --kind '%s' (text, chat, preference, prompt, ids)", v);
        } else if ((v = opt_value(argc, argv, &i, "--tokenizer"))) {
            o.tokenizer = v;
        } else if ((v = opt_value(argc, argv, &i, "--input"))) {
            inputs[o.n_inputs++] = v;
        } else if ((v = opt_value(argc, argv, &i, "--output"))) {
            o.output = v;
        } else if ((v = opt_value(argc, argv, &i, "--note"))) {
            size_t n = strlen(v);
            notes = realloc(notes, notes_len + n + 2);
            CHECK(notes, "out of memory");
            memcpy(notes + notes_len, v, n);
            notes_len += n;
            notes[notes_len++] = '\n';
            notes[notes_len] = '\0';
        } else {
            tokenize_usage(stderr);
            DIE("tokenize: unknown argument '%s'", argv[i]);
        }
    }
    if (o.kind == CORPUS_ANY || !o.tokenizer || !o.n_inputs || !o.output) {
        tokenize_usage(stderr);
        DIE("tokenize: --kind, --tokenizer, --input and --output are required");
    }
    o.inputs = inputs;
    o.notes = notes;
    TokenizeStats st = tokenize_files(&o);
    if (!o.quiet) {
        printf("%s: %s corpus, %zu documents, %llu tokens", o.output, corpus_kind_name(o.kind), st.docs,
               (unsigned long long)st.tokens[0]);
        if (o.kind == CORPUS_PREFERENCE)
            printf(" (prompt) + %llu (chosen) + %llu (rejected)", (unsigned long long)st.tokens[1],
                   (unsigned long long)st.tokens[2]);
        printf(", from %zu lines, %.1f MB in %.1f s\n", st.lines, (double)st.bytes_in / 1e6, st.seconds);
    }
    free(inputs);
    free(notes);
    return 0;
}
