/* Opening a config's corpora: the options an external corpus needs (data/corpus.h) come from
 * the config (model.vocab_size, data.NAME.eot or data.eot, train.data_cache_mb); a corpus with
 * data.NAME.tokenizer is checked against it (and it against model.tokenizer). */
#ifndef GRIFFIN_CORPUS_OPEN_H
#define GRIFFIN_CORPUS_OPEN_H

#include "data/corpus.h"
#include "train/config/config.h"

/* e is one of cfg->data or cfg->valid. Dies with one line on a bad corpus. */
Corpus *train_open_corpus(const TrainConfig *cfg, const DataEntry *e, CorpusKind want);
/* The same for a validation corpus: an external one (no byte counts of its own) gets them by
 * decoding its documents once with model.tokenizer, cached in train.out_dir as
 * doc_bytes-<CRC-32 of the spec>.bin (keyed by the document index and the tokenizer), so its
 * bits per byte is reported. Without a tokenizer it stays unavailable. */
Corpus *train_open_valid_corpus(const TrainConfig *cfg, const DataEntry *e, CorpusKind want);

#endif
