/* What the harnesses of the external corpus readers share: open a spec (vocabulary 16, as the
 * seeds of make_seeds.c), read every document through a small chunk cache, verify, close. */
#ifndef GRIFFIN_FUZZ_EXTERNAL_H
#define GRIFFIN_FUZZ_EXTERNAL_H

#include "data/corpus.h"
#include "tests/fuzz/fuzz_util.h"

static const char *fuzz_ext_spec;
static int64_t fuzz_ext_eot;

static void fuzz_ext_walk(void *arg) {
    (void)arg;
    CorpusOptions o = {16, fuzz_ext_eot, 1, 5};
    Corpus *c = corpus_open_ex(fuzz_ext_spec, CORPUS_TEXT, &o);
    uint64_t sum = 0;
    char err[512];
    if (corpus_verify(c, err, sizeof err) == 0)
        for (size_t i = 0; i < corpus_num_docs(c); i++) {
            CorpusDoc d = corpus_doc(c, 0, i);
            for (size_t k = 0; k < d.n; k++) sum += d.tokens[k];
        }
    if (sum == 1) fprintf(stderr, "(checksum)\n"); /* keep the reads */
    corpus_close(c);
}

static inline void fuzz_external_open_and_walk(const char *spec, int64_t eot) {
    fuzz_ext_spec = spec;
    fuzz_ext_eot = eot;
    fuzz_guarded(fuzz_ext_walk, NULL);
}

#endif
