/* Output side of the config: the start-up table, INI serialisation (stored in checkpoints),
 * the usage text, and queries used by the training loop. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "config_table.h"

/* shortest text that reads back as the same float */
static void float_text(float f, char *buf, size_t n) {
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(buf, n, "%.*g", prec, (double)f);
        if (strtof(buf, NULL) == f) return;
    }
}

static void value_text(const TrainConfig *c, const CfgKey *k, char *buf, size_t n) {
    const char *p = (const char *)c + k->offset;
    char tmp[64];
    switch (k->type) {
    case CT_INT: snprintf(buf, n, "%d", *(const int *)p); break;
    case CT_I64: snprintf(buf, n, "%lld", (long long)*(const int64_t *)p); break;
    case CT_FLOAT: float_text(*(const float *)p, buf, n); break;
    case CT_BOOL: snprintf(buf, n, "%s", *(const int *)p ? "true" : "false"); break;
    case CT_ENUM: snprintf(buf, n, "%s", cfg_choice_name(k->choices, *(const int *)p, tmp, sizeof tmp)); break;
    case CT_STRING:
    case CT_PATH: snprintf(buf, n, "%s", p); break;
    }
}

static void source_text(const TrainConfig *c, int line, char *buf, size_t n) {
    if (line > 0) snprintf(buf, n, "%s:%d", c->source, line);
    else if (line < 0) snprintf(buf, n, "override");
    else snprintf(buf, n, "default");
}

void train_config_print(const TrainConfig *c, FILE *f) {
    char v[CFG_STR + 64], src[CFG_STR + 32], name[128];
    int w = 0;
    for (int i = 0; i < cfg_nkeys; i++) {
        int l = (int)(strlen(cfg_keys[i].section) + strlen(cfg_keys[i].key) + 1);
        if (l > w) w = l;
    }
    for (int i = 0; i < c->n_data; i++) {
        int l = (int)strlen(c->data[i].name) + 15;
        if (l > w) w = l;
    }
    fprintf(f, "config %s (paths from %s)\n", c->source, c->root);
    for (int i = 0; i < cfg_nkeys; i++) {
        snprintf(name, sizeof name, "%s.%s", cfg_keys[i].section, cfg_keys[i].key);
        value_text(c, &cfg_keys[i], v, sizeof v);
        source_text(c, c->key_line[i], src, sizeof src);
        fprintf(f, "  %-*s  %-24s  %s\n", w, name, v[0] ? v : "\"\"", src);
    }
    for (int i = 0; i < c->n_data; i++) {
        snprintf(name, sizeof name, "data.%s", c->data[i].name);
        source_text(c, c->data[i].line, src, sizeof src);
        fprintf(f, "  %-*s  %-24s  %s\n", w, name, c->data[i].path, src);
        if (c->data[i].has_eot) {
            snprintf(name, sizeof name, "data.%s.eot", c->data[i].name);
            source_text(c, c->data[i].eot_line, src, sizeof src);
            fprintf(f, "  %-*s  %-24lld  %s\n", w, name, (long long)c->data[i].eot, src);
        }
        if (c->data[i].tokenizer[0]) {
            snprintf(name, sizeof name, "data.%s.tokenizer", c->data[i].name);
            source_text(c, c->data[i].tokenizer_line, src, sizeof src);
            fprintf(f, "  %-*s  %-24s  %s\n", w, name, c->data[i].tokenizer, src);
        }
    }
    if (c->has_eot) fprintf(f, "  %-*s  %-24lld\n", w, "data.eot", (long long)c->eot);
    for (int i = 0; i < c->n_valid; i++) {
        snprintf(name, sizeof name, "data.valid%s%s", c->valid[i].name[0] ? "." : "", c->valid[i].name);
        source_text(c, c->valid[i].line, src, sizeof src);
        fprintf(f, "  %-*s  %-24s  %s\n", w, name, c->valid[i].path, src);
    }
    for (int s = 0; s < c->n_stages; s++) {
        const StageConfig *st = &c->stage[s];
        snprintf(name, sizeof name, "stage.%d.steps", s + 1);
        snprintf(v, sizeof v, "%lld (steps %lld..%lld)", (long long)st->steps,
                 (long long)train_config_stage_start(c, s), (long long)(train_config_stage_start(c, s) + st->steps - 1));
        source_text(c, st->steps_line, src, sizeof src);
        fprintf(f, "  %-*s  %-24s  %s\n", w, name, v, src);
        snprintf(name, sizeof name, "stage.%d.mix", s + 1);
        double sum = 0;
        for (int m = 0; m < st->n_mix; m++) sum += st->mix[m].weight;
        v[0] = 0;
        size_t used = 0;
        for (int m = 0; m < st->n_mix && used < sizeof v; m++)
            used += (size_t)snprintf(v + used, sizeof v - used, "%s%s %.1f%%", m ? ", " : "", st->mix[m].name,
                                     100.0 * st->mix[m].weight / sum);
        source_text(c, st->mix_line, src, sizeof src);
        fprintf(f, "  %-*s  %-24s  %s\n", w, name, v, src);
    }
}

/* growing string buffer */
typedef struct {
    char *s;
    size_t len, cap;
} Buf;

GRIFFIN_PRINTF(2, 3)
static void bprintf(Buf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        CHECK(n >= 0, "formatting failed");
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = 2 * b->cap + (size_t)n + 1;
        char *s = realloc(b->s, b->cap);
        CHECK(s, "out of memory");
        b->s = s;
    }
}

char *train_config_to_ini(const TrainConfig *c) {
    Buf b = {.s = mallocCheck(4096), .len = 0, .cap = 4096};
    b.s[0] = 0;
    char v[CFG_STR + 64];
    bprintf(&b, "# resolved griffin config\n");
    const char *cur = NULL;
    for (int i = 0; i < cfg_nkeys; i++) {
        if (!cur || strcmp(cur, cfg_keys[i].section)) {
            cur = cfg_keys[i].section;
            bprintf(&b, "%s[%s]\n", i ? "\n" : "", cur);
        }
        value_text(c, &cfg_keys[i], v, sizeof v);
        bprintf(&b, "%s = %s\n", cfg_keys[i].key, v);
    }
    bprintf(&b, "\n[data]\n");
    for (int i = 0; i < c->n_data; i++) bprintf(&b, "%s = %s\n", c->data[i].name, c->data[i].path);
    if (c->has_eot) bprintf(&b, "eot = %lld\n", (long long)c->eot);
    for (int i = 0; i < c->n_data; i++)
        if (c->data[i].has_eot) bprintf(&b, "%s.eot = %lld\n", c->data[i].name, (long long)c->data[i].eot);
    for (int i = 0; i < c->n_data; i++)
        if (c->data[i].tokenizer[0]) bprintf(&b, "%s.tokenizer = %s\n", c->data[i].name, c->data[i].tokenizer);
    for (int i = 0; i < c->n_valid; i++)
        bprintf(&b, "valid%s%s = %s\n", c->valid[i].name[0] ? "." : "", c->valid[i].name, c->valid[i].path);
    for (int s = 0; s < c->n_stages; s++) {
        const StageConfig *st = &c->stage[s];
        bprintf(&b, "\n[stage.%d]\nsteps = %lld\nmix =", s + 1, (long long)st->steps);
        /* long mixes continue on indented lines (inih appends them) to stay within a line */
        size_t col = 5;
        for (int m = 0; m < st->n_mix; m++) {
            char e[CFG_NAME + 40];
            snprintf(e, sizeof e, "%s:%.17g%s", st->mix[m].name, st->mix[m].weight, m + 1 < st->n_mix ? "," : "");
            if (m && col + strlen(e) > 150) {
                bprintf(&b, "\n   ");
                col = 3;
            }
            bprintf(&b, " %s", e);
            col += strlen(e) + 1;
        }
        bprintf(&b, "\n");
    }
    return b.s;
}

void train_config_usage(FILE *f) {
    fprintf(f, "Config keys (INI sections; override any as --section.key=value):\n");
    const char *cur = NULL;
    char tmp[96], lhs[160];
    for (int i = 0; i < cfg_nkeys; i++) {
        const CfgKey *k = &cfg_keys[i];
        if (!cur || strcmp(cur, k->section)) {
            cur = k->section;
            fprintf(f, "\n[%s]\n", cur);
        }
        const char *type = k->type == CT_INT || k->type == CT_I64 ? "INT"
                         : k->type == CT_FLOAT                    ? "FLOAT"
                         : k->type == CT_BOOL                     ? "BOOL"
                         : k->type == CT_PATH                     ? "PATH"
                         : k->type == CT_ENUM                     ? k->choices
                                                                  : "TEXT";
        snprintf(lhs, sizeof lhs, "--%s.%s=%s", k->section, k->key, type);
        fprintf(f, "  %-40s %s", lhs, k->help);
        if (k->required) fprintf(f, " (required");
        else fprintf(f, " (default %s", k->def[0] ? k->def : "\"\"");
        if (k->type == CT_INT || k->type == CT_I64 || k->type == CT_FLOAT) {
            cfg_range_text(k, tmp, sizeof tmp);
            fprintf(f, ", range %s", tmp);
        }
        if (k->type == CT_PATH && k->choices) fprintf(f, ", or %s", k->choices);
        fprintf(f, ")\n");
    }
    fprintf(f, "\n[data]\n"
               "  NAME = PATH.h5                           a training corpus named NAME\n"
               "  valid = PATH.h5                          the validation corpus (more: valid.GROUP = PATH.h5)\n"
               "\n[stage.N]   (N = 1, 2, ... run in order)\n"
               "  --stage.N.steps=INT                      length of the stage in optimizer steps (required)\n"
               "  --stage.N.mix=NAME:W,NAME:W              token shares over [data] corpora, weights > 0 (required)\n"
               "\nRelative paths resolve from the project root: the parent of the configs/ folder holding\n"
               "the config file (else the config file's folder).\n");
}

/* ---- queries ---- */

int train_config_stage_at(const TrainConfig *c, int64_t step) {
    if (c->n_stages == 0) return -1;
    int64_t end = 0;
    for (int s = 0; s < c->n_stages; s++) {
        end += c->stage[s].steps;
        if (step < end) return s;
    }
    return c->n_stages - 1;
}

int64_t train_config_stage_start(const TrainConfig *c, int s) {
    int64_t start = 0;
    for (int i = 0; i < s && i < c->n_stages; i++) start += c->stage[i].steps;
    return start;
}

int train_config_find_data(const TrainConfig *c, const char *name) {
    for (int i = 0; i < c->n_data; i++)
        if (!strcmp(c->data[i].name, name)) return i;
    return -1;
}

AdamWConfig train_config_adamw(const TrainConfig *c) {
    AdamWConfig a = {.beta1 = c->optim.beta1, .beta2 = c->optim.beta2, .eps = c->optim.eps,
                     .weight_decay = c->optim.weight_decay, .decay_embeddings = c->optim.decay_embeddings};
    return a;
}

LrSchedule train_config_schedule(const TrainConfig *c) {
    LrSchedule s = {.kind = (LrKind)c->optim.schedule, .lr = c->optim.lr, .min_lr = c->optim.min_lr,
                    .warmup_steps = (long)c->optim.warmup_steps, .steps = (long)c->train.steps,
                    .decay_fraction = c->optim.decay_fraction, .decay_shape = (DecayShape)c->optim.decay_shape};
    return s;
}
