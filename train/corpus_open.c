/* Opening a config's corpora (train/corpus_open.h). */
#include "train/corpus_open.h"

#include "common/check.h"
#include "data/tokenizer.h"

/* data.NAME.tokenizer: the tokenizer the corpus was made with. The model reads one vocabulary,
 * so it must be model.tokenizer's (same bytes) when that is set; it bounds the corpus's ids. */
static void check_corpus_tokenizer(const TrainConfig *cfg, const DataEntry *e, Corpus *c) {
    Tokenizer *t = tokenizer_load(e->tokenizer);
    if (cfg->model.tokenizer[0]) {
        Tokenizer *m = tokenizer_load(cfg->model.tokenizer);
        CHECK(tokenizer_checksum(t) == tokenizer_checksum(m),
              "%s: data.%s.tokenizer %s (crc32 %08x) is not model.tokenizer %s (crc32 %08x): the model reads one "
              "vocabulary; re-tokenize the corpus or train with that tokenizer", cfg->source, e->name, e->tokenizer,
              tokenizer_checksum(t), cfg->model.tokenizer, tokenizer_checksum(m));
        tokenizer_free(m);
    }
    corpus_check_tokenizer(c, t, e->tokenizer);
    tokenizer_free(t);
}

Corpus *train_open_corpus(const TrainConfig *cfg, const DataEntry *e, CorpusKind want) {
    CorpusOptions o = {0};
    o.vocab_size = cfg->griffin.vocab_size;
    o.eot = e->has_eot ? e->eot : cfg->has_eot ? cfg->eot : -1;
    o.cache_bytes = (size_t)cfg->train.data_cache_mb << 20;
    Corpus *c = corpus_open_ex(e->path, want, &o);
    if (e->tokenizer[0]) check_corpus_tokenizer(cfg, e, c);
    return c;
}
