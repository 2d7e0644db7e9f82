/* libFuzzer harness: corpus files (data/corpus.c, corpus_open). Every file either opens (and
 * then every document of every field can be read) or is refused with a one-line message
 * through CHECK; the harness turns that refusal into a return (fuzz_util.h). A refused open
 * leaks what it had loaded so far: this harness runs with -detect_leaks=0 (the opened path
 * is leak-checked by the data tests under the sanitizers). */
#include <hdf5.h>
#include <stdint.h>

#include "data/corpus.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *path;

static void open_and_walk(void *arg) {
    (void)arg;
    Corpus *c = corpus_open(path, CORPUS_ANY);
    uint64_t sum = 0;
    int nf = corpus_kind_num_fields(corpus_kind(c));
    for (int f = 0; f < nf; f++)
        for (size_t i = 0; i < corpus_num_docs(c); i++) {
            CorpusDoc d = corpus_doc(c, f, i);
            for (size_t k = 0; k < d.n; k++) sum += d.tokens[k] + (d.mask ? d.mask[k] : 0);
        }
    if (sum == 1) fprintf(stderr, "(checksum)\n"); /* keep the reads */
    corpus_close(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    path = fuzz_path("corpus.h5");
    fuzz_write_file(path, data, size);
    fuzz_guarded(open_and_walk, NULL);
    char fmt[64];
    h5_file_format(path, fmt, sizeof fmt);
    fuzz_close_hdf5();
    unlink(path);
    return 0;
}
