/* libFuzzer harness: HF PEFT adapter_config.json (train/interop/peft.c,
 * interop_parse_peft_config). Any text is either an adapter this model can hold or refused
 * with a message; an accepted one has a rank, a positive alpha and known targets, and the
 * config written for it (interop_peft_config_json) parses back to the same adapter. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/interop/interop.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    GriffinConfig c = {0}, d = {0};
    char err[1024] = "";
    if (interop_parse_peft_config((const char *)data, size, "fuzz.json", &c, err, sizeof err) == 0) {
        if (c.lora_rank < 1 || !(c.lora_alpha > 0) || !c.lora_targets || (c.lora_targets & ~LORA_ALL)) {
            fprintf(stderr, "accepted an adapter without a rank, alpha or targets\n");
            abort();
        }
        char *text = interop_peft_config_json(&c, "base");
        if (interop_parse_peft_config(text, strlen(text), "again.json", &d, err, sizeof err) ||
            d.lora_rank != c.lora_rank || d.lora_alpha != c.lora_alpha || d.lora_targets != c.lora_targets) {
            fprintf(stderr, "the written adapter_config.json does not parse back: %s\n%s\n", err, text);
            abort();
        }
        free(text);
    } else if (!err[0] || !strstr(err, "fuzz.json")) {
        fprintf(stderr, "refused without a message naming the file: '%s'\n", err);
        abort();
    }
    return 0;
}
