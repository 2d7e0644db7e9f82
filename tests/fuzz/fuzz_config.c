/* libFuzzer harness: INI config text (train/config/config.c, train_config_parse_string).
 * Any text is either a config or refused with a message; a config serialises
 * (train_config_to_ini) to text that parses back to the same serialisation. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz_util.h"
#include "train/config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    TrainConfig *c = calloc(1, sizeof *c), *d = calloc(1, sizeof *d);
    char err[1024] = "";
    if (train_config_parse_string(c, text, "fuzz.ini", "/fuzz", 0, NULL, err, sizeof err) == 0) {
        char *ini = train_config_to_ini(c);
        if (train_config_parse_string(d, ini, "fuzz-again.ini", "/fuzz", 0, NULL, err, sizeof err) != 0) {
            fprintf(stderr, "serialised config does not parse back: %s\n--- serialised:\n%s\n", err, ini);
            abort();
        }
        char *again = train_config_to_ini(d);
        if (strcmp(ini, again)) {
            fprintf(stderr, "serialisation is not stable:\n--- first:\n%s\n--- second:\n%s\n", ini, again);
            abort();
        }
        free(again);
        free(ini);
    } else if (!err[0]) {
        fprintf(stderr, "refused without a message\n");
        abort();
    }
    free(c);
    free(d);
    free(text);
    return 0;
}
