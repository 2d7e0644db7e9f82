/* The tokenize pipeline behind `griffin tokenize`: JSONL(.gz) files -> one corpus file.
 *   text        {"text": "..."}                       (other keys ignored)
 *   chat        {"messages": [{"role": "user"|"model"|"system", "content": "..."}, ...]}
 *   preference  {"prompt": "...", "chosen": "...", "rejected": "..."}
 *   prompt      {"prompt": "..."}
 * A text corpus may also take plain UTF-8 files (*.txt, *.txt.gz): each file is one document.
 * Blank lines are skipped. A malformed line (bad JSON, a missing or empty field, an unknown
 * role) dies naming file:line, and no output is left behind. Lines are parsed and encoded in
 * parallel (OpenMP) in batches; the output does not depend on the thread count. */
#ifndef GRIFFIN_TOKENIZE_H
#define GRIFFIN_TOKENIZE_H

#include <stddef.h>
#include <stdint.h>

#include "data/corpus.h"

typedef struct {
    CorpusKind kind;
    const char *tokenizer;       /* tokenizer.model path */
    const char *const *inputs;   /* JSONL files, plain or gzip */
    int n_inputs;
    const char *output;          /* corpus .h5 */
    const char *notes;           /* free text stored in the "notes" attribute, or NULL */
    int quiet;                   /* no progress or summary lines */
} TokenizeOptions;

typedef struct {
    size_t docs, lines;
    uint64_t tokens[CORPUS_MAX_FIELDS];
    uint64_t bytes_in;
    double seconds;
} TokenizeStats;

TokenizeStats tokenize_files(const TokenizeOptions *o);

#endif
