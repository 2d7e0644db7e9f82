/* Opening a config's corpora: the options an external corpus needs (data/corpus.h) come from
 * the config (model.vocab_size, data.NAME.eot or data.eot, train.data_cache_mb); a corpus with
 * data.NAME.tokenizer is checked against it (and it against model.tokenizer). */
#ifndef GRIFFIN_CORPUS_OPEN_H
#define GRIFFIN_CORPUS_OPEN_H

#include "data/corpus.h"
#include "train/config.h"

/* e is one of cfg->data or cfg->valid. Dies with one line on a bad corpus. */
Corpus *train_open_corpus(const TrainConfig *cfg, const DataEntry *e, CorpusKind want);

#endif
