/* libFuzzer harness: nanoGPT token files (data/corpus_external.c, nanogpt:FILE). The input is
 * the file; documents end at id 1. It either opens (and then every document can be read and
 * verify returns) or is refused with a one-line message through CHECK (fuzz_util.h). A
 * refused open leaks what it had allocated: this harness runs with -detect_leaks=0. */
#include <stdint.h>

#include "data/corpus.h"
#include "tests/fuzz/fuzz_external.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_path("train.bin");
    fuzz_write_file(path, data, size);
    char spec[600];
    snprintf(spec, sizeof spec, "nanogpt:%s", path);
    fuzz_external_open_and_walk(spec, 1);
    unlink(path);
    return 0;
}
