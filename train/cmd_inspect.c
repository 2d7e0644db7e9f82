/* griffin inspect: describe a corpus file (--show N decodes its first N documents) or a
 * checkpoint (train/checkpoint.h: ckpt_describe). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "data/corpus.h"
#include "data/tokenizer.h"
#include "train/checkpoint.h"
#include "train/commands.h"

static void inspect_usage(FILE *f) {
    fprintf(f, "usage: griffin inspect FILE.h5 [--show N] [--tokenizer M.model]\n"
               "  describes a corpus or a checkpoint\n"
               "  --show N     decode the first N documents (control tokens shown as <...>;\n"
               "               in chat corpora the loss-masked part is wrapped in [[ ]])\n"
               "  --tokenizer  the model to decode with (default: the one recorded in the file)\n");
}

/* Prints ids as text; control pieces by name; mask changes as [[ and ]]. */
static void print_doc(const Tokenizer *t, CorpusDoc d) {
    size_t start = 0;
    int in_mask = 0;
    for (size_t i = 0; i <= d.n; i++) {
        int boundary = i == d.n || tokenizer_is_control(t, (int)d.tokens[i]) ||
                       (d.mask && (d.mask[i] != 0) != in_mask);
        if (!boundary) continue;
        if (i > start) {
            char *s = tokenizer_decode(t, d.tokens + start, i - start, NULL);
            fputs(s, stdout);
            free(s);
        }
        if (i == d.n) break;
        if (d.mask && (d.mask[i] != 0) != in_mask) {
            fputs(in_mask ? "]]" : "[[", stdout);
            in_mask = !in_mask;
        }
        if (tokenizer_is_control(t, (int)d.tokens[i])) {
            fputs(tokenizer_id_to_piece(t, (int)d.tokens[i]), stdout);
            start = i + 1;
        } else {
            start = i;
        }
    }
    if (in_mask) fputs("]]", stdout);
    fputc('\n', stdout);
}

int cmd_inspect(int argc, char **argv) {
    const char *path = NULL, *tok_path = NULL;
    long show = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            inspect_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--show") && i + 1 < argc) {
            char *end;
            show = strtol(argv[++i], &end, 10);
            CHECK(*end == '\0' && show >= 0, "inspect: --show needs a count, got '%s'", argv[i]);
        } else if (!strcmp(argv[i], "--tokenizer") && i + 1 < argc) {
            tok_path = argv[++i];
        } else if (argv[i][0] != '-' && !path) {
            path = argv[i];
        } else {
            inspect_usage(stderr);
            DIE("inspect: unexpected argument '%s'", argv[i]);
        }
    }
    if (!path) {
        inspect_usage(stderr);
        return 2;
    }
    char format[64];
    h5_file_format(path, format, sizeof format);
    if (!strcmp(format, CKPT_FORMAT)) {
        char err[512];
        CHECK(ckpt_describe(path, stdout, err, sizeof err) == 0, "inspect %s: %s", path, err);
        return 0;
    }
    Corpus *c = corpus_open(path, CORPUS_ANY);
    CorpusKind kind = corpus_kind(c);
    int n_fields = corpus_kind_num_fields(kind);
    printf("file: %s\nformat: %s v%d\nkind: %s\ndocuments: %zu\n", path, CORPUS_FORMAT, CORPUS_VERSION,
           corpus_kind_name(kind), corpus_num_docs(c));
    uint64_t total = 0;
    for (int f = 0; f < n_fields; f++) total += corpus_num_tokens(c, f);
    printf("tokens: %llu\n", (unsigned long long)total);
    if (n_fields > 1 || kind == CORPUS_PROMPT)
        for (int f = 0; f < n_fields; f++)
            printf("tokens.%s: %llu\n", corpus_field_name(kind, f), (unsigned long long)corpus_num_tokens(c, f));
    printf("bytes: %llu\n", (unsigned long long)corpus_num_bytes(c, 0));
    if (kind == CORPUS_CHAT) {
        uint64_t masked = 0;
        for (size_t i = 0; i < corpus_num_docs(c); i++) {
            CorpusDoc d = corpus_doc(c, 0, i);
            for (size_t j = 0; j < d.n; j++) masked += d.mask[j];
        }
        printf("loss_tokens: %llu\n", (unsigned long long)masked);
    }
    printf("vocab_size: %d\ntokenizer: %s (crc32 %08x)\n", corpus_vocab_size(c), corpus_attr(c, "tokenizer"),
           corpus_tokenizer_checksum(c));
    printf("sources:\n");
    const char *s = corpus_attr(c, "sources");
    while (*s) {
        const char *nl = strchr(s, '\n');
        int n = nl ? (int)(nl - s) : (int)strlen(s);
        printf("  %.*s\n", n, s);
        s += n + (nl ? 1 : 0);
    }
    const char *notes = corpus_attr(c, "notes");
    if (notes[0]) printf("notes:\n%s%s", notes, notes[strlen(notes) - 1] == '\n' ? "" : "\n");
    if (show > 0) {
        if (!tok_path) tok_path = corpus_attr(c, "tokenizer");
        Tokenizer *t = tokenizer_load(tok_path);
        corpus_check_tokenizer(c, t, tok_path);
        for (size_t i = 0; i < corpus_num_docs(c) && i < (size_t)show; i++)
            for (int f = 0; f < n_fields; f++) {
                CorpusDoc d = corpus_doc(c, f, i);
                printf("--- document %zu%s%s (%zu tokens, %llu bytes)\n", i, n_fields > 1 ? " " : "",
                       n_fields > 1 ? corpus_field_name(kind, f) : "", d.n, (unsigned long long)d.bytes);
                print_doc(t, d);
            }
        tokenizer_free(t);
    }
    corpus_close(c);
    return 0;
}
