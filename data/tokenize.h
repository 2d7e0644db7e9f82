/* The tokenize pipeline behind `griffin tokenize`: JSONL(.gz) files -> one corpus file.
 *   text        {"text": "..."}                       (other keys ignored)
 *   chat        {"messages": [{"role": "user"|"model"|"system", "content": "..."}, ...]}
 *   preference  {"prompt": "...", "chosen": "...", "rejected": "..."}
 *   prompt      {"prompt": "..."}
 *   ids         {"input_ids": [id, ...]}   (already tokenized, e.g. by HF datasets' to_json):
 *               a text corpus of exactly these ids (no <bos>/<eos> added); every id must be
 *               an integer below the tokenizer's vocabulary, and doc_bytes are the UTF-8 bytes
 *               the ids decode to (so bits per byte stays available)
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
    CorpusKind kind;             /* CORPUS_TEXT with ids = 1 for --kind ids */
    int ids;                     /* lines are {"input_ids": [...]} */
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
