/* griffin export-corpus: our text corpus -> Megatron or llm.c files (data/corpus_export.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "data/corpus_export.h"
#include "train/commands.h"

static void export_corpus_usage(FILE *f) {
    fprintf(f, "usage: griffin export-corpus --format megatron|llmc --input CORPUS.h5 --output PREFIX\n"
               "                             [--shard-tokens N]\n"
               "  megatron  PREFIX.idx + PREFIX.bin (Megatron-LM indexed dataset, one sequence per document);\n"
               "            read back as data.NAME = megatron:PREFIX\n"
               "  llmc      PREFIX_000000.bin ... (llm.c token shards of at most N tokens, default 100000000);\n"
               "            read back as data.NAME = llmc:PREFIX_*.bin with data.NAME.eot = the id documents\n"
               "            start with (printed)\n"
               "Token ids are uint16 when the vocabulary has at most 65536 entries, else 32-bit.\n");
}

int cmd_export_corpus(int argc, char **argv) {
    const char *format = NULL, *input = NULL, *output = NULL;
    unsigned long long shard = 100000000ull;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            export_corpus_usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            export_corpus_usage(stderr);
            DIE("export-corpus: %s needs a value", a);
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--format")) format = v;
        else if (!strcmp(a, "--input")) input = v;
        else if (!strcmp(a, "--output")) output = v;
        else if (!strcmp(a, "--shard-tokens")) {
            char *end;
            shard = strtoull(v, &end, 10);
            CHECK(*end == '\0' && shard > 0, "export-corpus: --shard-tokens needs a positive count, got '%s'", v);
        } else {
            export_corpus_usage(stderr);
            DIE("export-corpus: unknown argument '%s'", a);
        }
    }
    if (!format || !input || !output) {
        export_corpus_usage(stderr);
        DIE("export-corpus: --format, --input and --output are required");
    }
    CHECK(!strcmp(format, "megatron") || !strcmp(format, "llmc"), "export-corpus: --format %s (megatron or llmc)",
          format);
    Corpus *c = corpus_open(input, CORPUS_ANY);
    CorpusExportStats st;
    char err[1024];
    int rc = !strcmp(format, "megatron") ? corpus_export_megatron(c, output, &st, err, sizeof err)
                                         : corpus_export_llmc(c, output, shard, &st, err, sizeof err);
    CHECK(rc == 0, "export-corpus %s: %s", input, err);
    printf("%s -> %s (%s): %llu file%s, %zu documents, %llu tokens as %s, %.1f MB\n", input, output, format,
           (unsigned long long)st.files, st.files == 1 ? "" : "s", corpus_num_docs(c), (unsigned long long)st.tokens,
           st.item == 2 ? "uint16" : "32-bit", (double)st.bytes / 1e6);
    if (!strcmp(format, "llmc")) {
        if (st.first_id >= 0)
            printf("every document starts with id %lld: read it back with data.NAME = llmc:%s_*.bin and "
                   "data.NAME.eot = %lld\n", (long long)st.first_id, output, (long long)st.first_id);
        else
            printf("warning: documents do not all start with the same id, so llm.c cannot find them again\n");
    }
    corpus_close(c);
    return 0;
}
