/* libFuzzer harness: safetensors files (data/safetensors.c). Every file either opens, and
 * then every tensor reads as float32, or is refused with a message. */
#include <stdint.h>
#include <stdlib.h>

#include "data/safetensors.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_path("model.safetensors");
    fuzz_write_file(path, data, size);
    StSet s;
    char err[1024] = "";
    if (st_open(&s, path, err, sizeof err) == 0) {
        float buf[256];
        for (int i = 0; i < s.count; i++) {
            (void)st_find(&s, s.t[i].name);
            for (uint64_t first = 0; first < s.t[i].numel; first += 256) {
                uint64_t n = s.t[i].numel - first < 256 ? s.t[i].numel - first : 256;
                if (st_read_f32(&s, i, first, n, buf, err, sizeof err)) {
                    if (!err[0]) abort();
                    break;
                }
            }
        }
        (void)st_meta(&s, "format");
        st_close(&s);
    } else if (!err[0]) {
        fprintf(stderr, "refused without a message\n");
        abort();
    }
    unlink(path);
    return 0;
}
