/* Internal to train/config*.c: the one table of config keys and helpers over it.
 * train/config/config_table.c holds the table; config.c parses and validates with it,
 * config_out.c prints, serialises and documents from it. */
#ifndef GRIFFIN_CONFIG_TABLE_H
#define GRIFFIN_CONFIG_TABLE_H

#include <stddef.h>

#include "config.h"

typedef enum { CT_INT, CT_I64, CT_FLOAT, CT_BOOL, CT_ENUM, CT_STRING, CT_PATH } CfgType;

enum { R_MIN_OPEN = 1, R_MAX_OPEN = 2 };

typedef struct {
    const char *section, *key;
    CfgType type;
    size_t offset;        /* into TrainConfig */
    const char *def;      /* default, parsed by the same code as a file value */
    int required;
    double min, max;      /* numeric range */
    int open;             /* R_MIN_OPEN | R_MAX_OPEN */
    const char *choices;  /* CT_ENUM: "a|b|c" (index = stored value); CT_PATH: words kept as is */
    const char *help;
} CfgKey;

extern const CfgKey cfg_keys[];
extern const int cfg_nkeys;
/* the fixed sections (stages are "stage.N") */
#define CFG_NSECTIONS 8
extern const char *const cfg_sections[CFG_NSECTIONS];

int cfg_section_index(const char *s);
/* index of (section, key) in cfg_keys, or -1 */
int cfg_key_index(const char *section, const char *key);
/* index of v in "a|b|c", or -1 */
int cfg_choice_index(const char *choices, const char *v);
/* the idx-th word of "a|b|c" (into buf) */
const char *cfg_choice_name(const char *choices, int idx, char *buf, size_t n);
/* "[min, max)" style text of a key's range */
void cfg_range_text(const CfgKey *k, char *buf, size_t n);

#endif
