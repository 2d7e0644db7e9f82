/* libFuzzer harness: Megatron indexed datasets (data/corpus_external.c, megatron:PREFIX). The
 * input is a 4-byte little-endian length n, then n bytes of PREFIX.idx, then PREFIX.bin. Every
 * pair either opens (and then every document can be read and verify returns) or is refused
 * with a one-line message through CHECK (fuzz_util.h). A refused open leaks what it had
 * allocated: this harness runs with -detect_leaks=0. */
#include <stdint.h>

#include "data/corpus.h"
#include "tests/fuzz/fuzz_external.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    size_t n = (size_t)data[0] | (size_t)data[1] << 8 | (size_t)data[2] << 16 | (size_t)data[3] << 24;
    if (n > size - 4) n = size - 4;
    const char *idx = fuzz_path("m.idx"), *bin = fuzz_path("m.bin");
    fuzz_write_file(idx, data + 4, n);
    fuzz_write_file(bin, data + 4 + n, size - 4 - n);
    char spec[600];
    snprintf(spec, sizeof spec, "megatron:%.*s", (int)(strlen(idx) - 4), idx);
    fuzz_external_open_and_walk(spec, -1);
    unlink(idx);
    unlink(bin);
    return 0;
}
