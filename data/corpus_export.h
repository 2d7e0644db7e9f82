/* Writing a text corpus in the formats of other tools (read back by data/corpus_external.c,
 * layouts described there), so data prepared here serves them too.
 *
 * megatron  PREFIX.idx + PREFIX.bin, one sequence per document, dtype uint16 (code 8) when
 *           every id fits (vocab_size <= 65536), else int32 (code 4).
 * llmc      PREFIX_000000.bin, PREFIX_000001.bin, ... shards of at most shard_tokens tokens
 *           (documents run on across shards, as llm.c's own writers do); magic 20240520
 *           version 1 (uint16) when vocab_size <= 65536, else 20240801 version 7 (uint32).
 *           llm.c finds documents at the id each starts with: our text documents start with
 *           <bos>, so the corpus reads back whole with data.NAME.eot = that id.
 * Every file is written to a temporary name and renamed into place when complete. */
#ifndef GRIFFIN_CORPUS_EXPORT_H
#define GRIFFIN_CORPUS_EXPORT_H

#include <stdint.h>

#include "data/corpus.h"

typedef struct {
    uint64_t files, tokens, bytes; /* written */
    int item;                      /* bytes per token */
    int64_t first_id;              /* the id every document starts with, or -1 if they differ */
} CorpusExportStats;

/* 0, or -1 with one line in err (nothing left at the output names). */
int corpus_export_megatron(Corpus *c, const char *prefix, CorpusExportStats *st, char *err, size_t errlen);
int corpus_export_llmc(Corpus *c, const char *prefix, uint64_t shard_tokens, CorpusExportStats *st, char *err,
                       size_t errlen);

#endif
