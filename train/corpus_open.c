/* Opening a config's corpora (train/corpus_open.h). */
#include "train/corpus_open.h"

Corpus *train_open_corpus(const TrainConfig *cfg, const DataEntry *e, CorpusKind want) {
    CorpusOptions o = {0};
    o.vocab_size = cfg->griffin.vocab_size;
    o.eot = e->has_eot ? e->eot : cfg->has_eot ? cfg->eot : -1;
    o.cache_bytes = (size_t)cfg->train.data_cache_mb << 20;
    return corpus_open_ex(e->path, want, &o);
}
