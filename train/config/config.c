/* Parsing and validation of INI configs (inih) driven by the key table of config_table.c;
 * see config.h for the rules. */
#include "config_table.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/check.h"
#include "data/corpus.h"

/* ---- parse context ---- */

typedef struct {
    TrainConfig *c;
    const char *source;          /* file name for messages */
    int n_over;
    char *const *over;           /* override strings, for messages */
    int line;                    /* current line (reader) or -(override+1) */
    char *err;
    size_t errlen;
    int failed;
    int nlines;
    int continuation;            /* the current file line is indented (inih continuation) */
    /* section headers seen in the file: line of each fixed section, of each stage */
    int section_line[CFG_NSECTIONS];
    /* reader state */
    FILE *file;
    const char *text;
} Ctx;

static void where(const Ctx *x, int line, char *buf, size_t n) {
    if (line > 0) snprintf(buf, n, "%s:%d", x->source, line);
    else if (line < 0 && -line - 1 < x->n_over) snprintf(buf, n, "override '%s'", x->over[-line - 1]);
    else snprintf(buf, n, "%s", x->source);
}

GRIFFIN_PRINTF(4, 5)
static int fail(Ctx *x, int line, const char *key, const char *fmt, ...) {
    if (x->failed) return 0; /* keep the first error */
    x->failed = 1;
    char w[CFG_STR + 64], msg[512];
    where(x, line, w, sizeof w);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (key) snprintf(x->err, x->errlen, "%s: %s: %s", w, key, msg);
    else snprintf(x->err, x->errlen, "%s: %s", w, msg);
    return 0;
}

/* "stage.N" -> N (1-based) or 0 if not a stage section; -1 if malformed */
static int stage_number(const char *s) {
    if (strncmp(s, "stage.", 6)) return 0;
    const char *p = s + 6;
    if (!*p) return -1;
    long n = 0;
    for (; *p; p++) {
        if (!isdigit((unsigned char)*p)) return -1;
        n = n * 10 + (*p - '0');
        if (n > CFG_MAX_STAGES) return -1;
    }
    return n >= 1 ? (int)n : -1;
}

/* ---- values ---- */

static int parse_bool(const char *v, int *out) {
    if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "on")) *out = 1;
    else if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "off")) *out = 0;
    else return -1;
    return 0;
}

static int in_range(const CfgKey *k, double v) {
    if (!(v >= k->min) || !(v <= k->max)) return 0;
    if ((k->open & R_MIN_OPEN) && v == k->min) return 0;
    if ((k->open & R_MAX_OPEN) && v == k->max) return 0;
    return 1;
}

/* Whether INI text can hold v so that it parses back the same (the resolved config is stored
 * in checkpoints as INI): inih ends a value at ';' after a blank and strips blanks at the
 * ends, and a line break would start a new line (found by tests/fuzz). */
#define INI_UNSTORABLE "a value cannot start with ';', hold ' ;', start or end with a blank, or break a line"
static int ini_storable(const char *v) {
    size_t n = strlen(v);
    if (n && (v[0] == ';' || isspace((unsigned char)v[0]) || isspace((unsigned char)v[n - 1]))) return 0;
    for (size_t i = 0; i < n; i++)
        if (v[i] == '\n' || v[i] == '\r' || (v[i] == ';' && i > 0 && isspace((unsigned char)v[i - 1]))) return 0;
    return 1;
}

/* Whether "key = v" fits one line of inih's buffer, so that the INI text stored in
 * checkpoints parses back (tests/fuzz); key is the dotted name, a little longer than the
 * stored one. */
static int ini_fits(const char *key, const char *v) { return strlen(key) + 3 + strlen(v) <= INI_MAX_LINE - 3; }

/* Sets key k of c from text v; line for messages. */
static int set_value(Ctx *x, const CfgKey *k, const char *v, int line) {
    char name[96], rt[96];
    snprintf(name, sizeof name, "%s.%s", k->section, k->key);
    char *base = (char *)x->c;
    void *dst = base + k->offset;
    char *end = NULL;
    switch (k->type) {
    case CT_INT:
    case CT_I64: {
        errno = 0;
        long long n = strtoll(v, &end, 10);
        if (!*v || *end || errno) return fail(x, line, name, "'%s' is not an integer", v);
        cfg_range_text(k, rt, sizeof rt);
        if (!in_range(k, (double)n)) return fail(x, line, name, "%s is out of range %s", v, rt);
        if (k->type == CT_INT) *(int *)dst = (int)n;
        else *(int64_t *)dst = (int64_t)n;
        break;
    }
    case CT_FLOAT: {
        errno = 0;
        double d = strtod(v, &end);
        if (!*v || *end || errno == ERANGE || !isfinite(d)) return fail(x, line, name, "'%s' is not a finite number", v);
        /* The value is kept as a float: check what is kept, so that 1e-50 does not pass an
         * open range at zero as a double and then become 0 (or 1e39 become inf). */
        float f = (float)d;
        if (!isfinite(f) || (d != 0 && f == 0))
            return fail(x, line, name, "%s is not representable as a 32-bit float (about 1.4e-45 to 3.4e38)", v);
        cfg_range_text(k, rt, sizeof rt);
        if (!in_range(k, (double)f)) return fail(x, line, name, "%s is out of range %s", v, rt);
        *(float *)dst = f;
        break;
    }
    case CT_BOOL:
        if (parse_bool(v, (int *)dst)) return fail(x, line, name, "'%s' is not a boolean (true|false)", v);
        break;
    case CT_ENUM: {
        int i = cfg_choice_index(k->choices, v);
        if (i < 0) return fail(x, line, name, "'%s' is not one of %s", v, k->choices);
        *(int *)dst = i;
        break;
    }
    case CT_STRING:
    case CT_PATH:
        if (strlen(v) >= CFG_STR) return fail(x, line, name, "value longer than %d characters", CFG_STR - 1);
        if (!ini_storable(v)) return fail(x, line, name, INI_UNSTORABLE);
        if (k->type == CT_STRING && !ini_fits(name, v))
            return fail(x, line, name, "value too long for a line of the config stored in checkpoints (at most "
                        "%d characters with its key)", INI_MAX_LINE - 3);
        snprintf((char *)dst, CFG_STR, "%s", v);
        break;
    }
    x->c->key_line[k - cfg_keys] = line;
    return 1;
}

static int valid_corpus_name(const char *s) {
    if (!*s || strlen(s) >= CFG_NAME) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-') return 0;
    return 1;
}

/* data.eot / data.NAME.eot: a token id */
static int set_eot(Ctx *x, const char *name, const char *v, int line, int *has, int64_t *eot) {
    char *end = NULL;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (!*v || *end || errno || n < 0 || n > (long long)UINT32_MAX)
        return fail(x, line, name, "'%s' is not a token id (an integer in [0, 4294967295])", v);
    *has = 1;
    *eot = n;
    return 1;
}

/* data.NAME.eot / data.NAME.tokenizer: the entry of NAME (created without a path if NAME
 * comes later) */
static int set_corpus_sub(Ctx *x, const char *key, const char *v, int line, const char *name) {
    TrainConfig *c = x->c;
    const char *dot = strchr(key, '.');
    char nm[CFG_NAME];
    int is_tok = !strcmp(dot + 1, "tokenizer");
    if ((strcmp(dot + 1, "eot") && !is_tok) || (size_t)(dot - key) >= sizeof nm)
        return fail(x, line, name, "unknown key (a corpus takes NAME.eot and NAME.tokenizer)");
    snprintf(nm, sizeof nm, "%.*s", (int)(dot - key), key);
    if (!valid_corpus_name(nm)) return fail(x, line, name, "'%s' is not a corpus name", nm);
    int i = train_config_find_data(c, nm);
    if (i < 0) {
        if (c->n_data >= CFG_MAX_DATA) return fail(x, line, name, "too many corpora (at most %d)", CFG_MAX_DATA);
        i = c->n_data++;
        memset(&c->data[i], 0, sizeof c->data[i]);
        snprintf(c->data[i].name, CFG_NAME, "%s", nm);
    }
    DataEntry *e = &c->data[i];
    int *at = is_tok ? &e->tokenizer_line : &e->eot_line;
    if (line > 0 && *at > 0) return fail(x, line, name, "duplicate key (first set at line %d)", *at);
    *at = line;
    if (!is_tok) return set_eot(x, name, v, line, &e->has_eot, &e->eot);
    if (!*v || strlen(v) >= CFG_STR) return fail(x, line, name, "empty or too long path");
    if (!ini_storable(v)) return fail(x, line, name, INI_UNSTORABLE);
    snprintf(e->tokenizer, CFG_STR, "%s", v);
    return 1;
}

static int set_data(Ctx *x, const char *key, const char *v, int line) {
    TrainConfig *c = x->c;
    char name[96];
    snprintf(name, sizeof name, "data.%s", key);
    if (!strcmp(key, "eot")) return set_eot(x, name, v, line, &c->has_eot, &c->eot);
    if (strchr(key, '.') && strncmp(key, "valid.", 6)) return set_corpus_sub(x, key, v, line, name);
    if (!*v) return fail(x, line, name, "empty path");
    if (strlen(v) >= CFG_STR) return fail(x, line, name, "path longer than %d characters", CFG_STR - 1);
    if (!ini_storable(v)) return fail(x, line, name, INI_UNSTORABLE);
    DataEntry *list;
    int *count, cap;
    const char *ename;
    if (!strcmp(key, "valid") || !strncmp(key, "valid.", 6)) {
        ename = key[5] ? key + 6 : "";
        if (key[5] && !valid_corpus_name(ename))
            return fail(x, line, name, "validation group names use letters, digits, '_' and '-'");
        list = c->valid, count = &c->n_valid, cap = CFG_MAX_VALID;
    } else {
        ename = key;
        if (!valid_corpus_name(key))
            return fail(x, line, name, "corpus names use letters, digits, '_' and '-' (at most %d)", CFG_NAME - 1);
        list = c->data, count = &c->n_data, cap = CFG_MAX_DATA;
    }
    for (int i = 0; i < *count; i++)
        if (!strcmp(list[i].name, ename)) {
            if (line > 0 && list[i].line > 0) return fail(x, line, name, "duplicate key (first set at line %d)", list[i].line);
            snprintf(list[i].path, CFG_STR, "%s", v);
            list[i].line = line;
            return 1;
        }
    if (*count >= cap) return fail(x, line, name, "too many corpora (at most %d)", cap);
    DataEntry *e = &list[(*count)++];
    snprintf(e->name, CFG_NAME, "%s", ename);
    snprintf(e->path, CFG_STR, "%s", v);
    e->line = line;
    return 1;
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

/* "a:1, b:2.5" appended to the stage's mix (continuation lines append too) */
static int parse_mix(Ctx *x, StageConfig *st, const char *key, const char *v, int line) {
    char buf[CFG_STR];
    if (strlen(v) >= sizeof buf) return fail(x, line, key, "value too long");
    snprintf(buf, sizeof buf, "%s", v);
    char *save = NULL;
    int n = 0;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *t = trim(tok);
        if (!*t) continue;
        char *colon = strrchr(t, ':');
        if (!colon) return fail(x, line, key, "'%s' is not name:weight", t);
        *colon = 0;
        char *nm = trim(t), *w = trim(colon + 1), *end = NULL;
        errno = 0;
        double d = strtod(w, &end);
        if (!*w || *end || errno || !isfinite(d) || d <= 0)
            return fail(x, line, key, "weight of '%s' must be a positive number (got '%s')", nm, w);
        if (!valid_corpus_name(nm)) return fail(x, line, key, "'%s' is not a corpus name", nm);
        for (int i = 0; i < st->n_mix; i++)
            if (!strcmp(st->mix[i].name, nm)) return fail(x, line, key, "corpus '%s' appears twice", nm);
        if (st->n_mix >= CFG_MAX_MIX) return fail(x, line, key, "too many entries (at most %d)", CFG_MAX_MIX);
        MixEntry *m = &st->mix[st->n_mix++];
        snprintf(m->name, CFG_NAME, "%s", nm);
        m->weight = d;
        n++;
    }
    if (!n && st->n_mix == 0) return fail(x, line, key, "empty mix");
    return 1;
}

static int set_stage(Ctx *x, int sn, const char *key, const char *v, int line) {
    TrainConfig *c = x->c;
    StageConfig *st = &c->stage[sn - 1];
    char name[96];
    snprintf(name, sizeof name, "stage.%d.%s", sn, key);
    if (sn > c->n_stages) c->n_stages = sn;
    if (!st->line) st->line = line;
    if (!strcmp(key, "steps")) {
        if (line > 0 && st->steps_line > 0) return fail(x, line, name, "duplicate key (first set at line %d)", st->steps_line);
        char *end = NULL;
        errno = 0;
        long long n = strtoll(v, &end, 10);
        if (!*v || *end || errno) return fail(x, line, name, "'%s' is not an integer", v);
        if (n < 1 || n > (long long)1e12) return fail(x, line, name, "%s is out of range [1, 1e12]", v);
        st->steps = n;
        st->steps_line = line;
        return 1;
    }
    if (!strcmp(key, "mix")) {
        /* an indented continuation line appends to the mix; an override replaces it */
        if (line > 0 && x->continuation && st->mix_line > 0) return parse_mix(x, st, name, v, line);
        if (line > 0 && st->mix_line > 0) return fail(x, line, name, "duplicate key (first set at line %d)", st->mix_line);
        st->n_mix = 0;
        st->mix_line = line;
        return parse_mix(x, st, name, v, line);
    }
    return fail(x, line, name, "unknown key (a stage has steps and mix)");
}

/* Routes one section/key/value; used by the inih handler and by overrides. */
static int set_any(Ctx *x, const char *section, const char *key, const char *v, int line) {
    int sn = stage_number(section);
    if (sn < 0) return fail(x, line, NULL, "bad section [%s] (stages are [stage.1] .. [stage.%d])", section, CFG_MAX_STAGES);
    if (sn > 0) return set_stage(x, sn, key, v, line);
    if (!*section) return fail(x, line, key, "key outside any section");
    if (!strcmp(section, "data")) return set_data(x, key, v, line);
    for (int i = 0; i < cfg_nkeys; i++)
        if (!strcmp(cfg_keys[i].section, section) && !strcmp(cfg_keys[i].key, key)) {
            int prev = x->c->key_line[i];
            if (line > 0 && prev > 0) {
                char name[96];
                snprintf(name, sizeof name, "%s.%s", section, key);
                if (x->continuation) return fail(x, line, name, "indented continuation lines are only allowed for stage mixes");
                return fail(x, line, name, "duplicate key (first set at line %d)", prev);
            }
            return set_value(x, &cfg_keys[i], v, line);
        }
    char name[96];
    snprintf(name, sizeof name, "%s.%s", section, key);
    if (cfg_section_index(section) < 0) return fail(x, line, name, "unknown section [%s]", section);
    return fail(x, line, name, "unknown key in [%s] (--help lists the keys)", section);
}

static int handler(void *user, const char *section, const char *name, const char *value) {
    Ctx *x = user;
    if (x->failed) return 0;
    return set_any(x, section, name, value ? value : "", x->line);
}

/* Line reader for inih that counts lines (the handler then knows its line), checks section
 * headers as they pass and reports lines longer than inih's buffer. */
static char *reader(char *str, int num, void *stream) {
    Ctx *x = stream;
    if (x->file) {
        if (!fgets(str, num, x->file)) return NULL;
    } else {
        if (!*x->text) return NULL;
        const char *nl = strchr(x->text, '\n');
        size_t len = nl ? (size_t)(nl - x->text) + 1 : strlen(x->text);
        if (len > (size_t)num - 1) len = (size_t)num - 1;
        memcpy(str, x->text, len);
        str[len] = 0;
        x->text += len;
    }
    x->line++;
    x->nlines = x->line;
    x->continuation = str[0] == ' ' || str[0] == '\t';
    size_t len = strlen(str);
    int next;
    if (x->file) {
        next = fgetc(x->file);
        if (next != EOF) ungetc(next, x->file);
    } else {
        next = *x->text ? (unsigned char)*x->text : EOF; /* a 0xff byte is not EOF (tests/fuzz) */
    }
    int more = next != EOF && next != '\n' && next != '\r';
    if (len == (size_t)num - 1 && str[len - 1] != '\n' && more) {
        /* skip the rest of the over-long line and hand inih a comment instead */
        if (x->file) {
            int ch;
            while ((ch = fgetc(x->file)) != EOF && ch != '\n') {}
        } else {
            while (*x->text && *x->text != '\n') x->text++;
            if (*x->text) x->text++;
        }
        fail(x, x->line, NULL, "line longer than %d characters", num - 3);
        snprintf(str, (size_t)num, ";\n");
        return str;
    }
    const char *p = str;
    while (isspace((unsigned char)*p)) p++;
    if (*p == '[') {
        const char *close = strchr(p, ']');
        if (close) {
            char sec[128];
            size_t n = (size_t)(close - p - 1);
            if (n >= sizeof sec) n = sizeof sec - 1;
            memcpy(sec, p + 1, n);
            sec[n] = 0;
            char *s = trim(sec);
            int si = cfg_section_index(s), sn = stage_number(s);
            if (si >= 0) {
                if (!x->section_line[si]) x->section_line[si] = x->line;
            } else if (sn > 0) {
                StageConfig *st = &x->c->stage[sn - 1];
                if (!st->line) st->line = x->line;
                if (sn > x->c->n_stages) x->c->n_stages = sn;
            } else if (sn < 0) {
                fail(x, x->line, NULL, "bad section [%s] (stages are [stage.1] .. [stage.%d])", s, CFG_MAX_STAGES);
            } else {
                fail(x, x->line, NULL, "unknown section [%s] (known: model train optim rlhf sample data stage.N)", s);
            }
        }
    }
    return str;
}

/* ---- defaults, overrides, finalisation ---- */

static void set_defaults(TrainConfig *c) {
    memset(c, 0, sizeof *c);
    char err[256];
    Ctx x = {.c = c, .source = "defaults", .err = err, .errlen = sizeof err};
    for (int i = 0; i < cfg_nkeys; i++) {
        CHECK(set_value(&x, &cfg_keys[i], cfg_keys[i].def, 0) || cfg_keys[i].required, "bad default: %s", err);
        x.failed = 0;
        c->key_line[i] = 0;
    }
}

static int apply_overrides(Ctx *x, int n, char *const *over) {
    for (int i = 0; i < n && !x->failed; i++) {
        const char *o = over[i];
        int line = -(i + 1);
        if (strncmp(o, "--", 2)) return fail(x, line, NULL, "expected --section.key=value");
        const char *eq = strchr(o, '=');
        if (!eq) return fail(x, line, NULL, "expected --section.key=value (no '=')");
        char lhs[256], section[256], key[256];
        size_t n_lhs = (size_t)(eq - o - 2);
        if (n_lhs >= sizeof lhs) return fail(x, line, NULL, "key too long");
        memcpy(lhs, o + 2, n_lhs);
        lhs[n_lhs] = 0;
        char *dot = strchr(lhs, '.');
        if (dot && !strncmp(lhs, "stage.", 6)) dot = strchr(lhs + 6, '.');
        if (!dot || !dot[1] || dot == lhs) return fail(x, line, NULL, "expected --section.key=value");
        *dot = 0;
        snprintf(section, sizeof section, "%s", lhs);
        snprintf(key, sizeof key, "%s", dot + 1);
        char value[CFG_STR + 1];
        if (strlen(eq + 1) >= sizeof value) return fail(x, line, NULL, "value too long");
        snprintf(value, sizeof value, "%s", eq + 1);
        if (!set_any(x, section, key, trim(value), line)) return 0;
    }
    return !x->failed;
}

static int is_word(const char *choices, const char *v) { return choices && cfg_choice_index(choices, v) >= 0; }

static int resolve_path(Ctx *x, char *p, const char *key, int line) {
    if (!*p) return 1;
    char buf[2 * CFG_STR + 2];
    if (p[0] == '/') {
        snprintf(buf, sizeof buf, "%s", p);
    } else {
        const char *rel = p;
        while (rel[0] == '.' && rel[1] == '/') rel += 2;
        snprintf(buf, sizeof buf, "%s/%s", x->c->root, rel);
    }
    size_t n = strlen(buf);
    if (n >= CFG_STR || !ini_fits(key, buf))
        return fail(x, line, key, "resolved path of %zu characters is too long for a line of the config stored "
                    "in checkpoints (at most %d with its key)", n, INI_MAX_LINE - 3);
    memcpy(p, buf, n + 1);
    return 1;
}

/* a corpus path; an external one (megatron:PREFIX ...) is resolved after its prefix */
static int resolve_corpus(Ctx *x, char *p, const char *key, int line) {
    const char *colon = strchr(p, ':');
    if (!corpus_spec_is_external(p)) return resolve_path(x, p, key, line);
    char kind[16], rest[CFG_STR];
    snprintf(kind, sizeof kind, "%.*s", (int)(colon - p), p);
    snprintf(rest, sizeof rest, "%s", colon + 1);
    if (!rest[0]) return fail(x, line, key, "%s: needs a path after the colon", kind);
    if (!resolve_path(x, rest, key, line)) return 0;
    size_t nk = strlen(kind), nr = strlen(rest);
    if (nk + 1 + nr >= CFG_STR) return fail(x, line, key, "resolved path too long");
    memcpy(p, kind, nk);
    p[nk] = ':';
    memcpy(p + nk + 1, rest, nr + 1);
    return 1;
}

/* line of a key for messages: where it was set, else its section header */
static int key_where(const Ctx *x, const char *section, const char *key) {
    int i = cfg_key_index(section, key);
    if (i >= 0 && x->c->key_line[i]) return x->c->key_line[i];
    int s = cfg_section_index(section);
    return s >= 0 ? x->section_line[s] : 0;
}

static int missing(Ctx *x, const char *section, const char *name) {
    int s = cfg_section_index(section);
    if (s >= 0 && x->section_line[s])
        return fail(x, x->section_line[s], name, "required key missing in [%s]", section);
    char w[CFG_STR + 32];
    snprintf(w, sizeof w, "%s:%d", x->source, x->nlines);
    x->failed = 1;
    snprintf(x->err, x->errlen, "%s: %s: required key missing (no [%s] section)", w, name, section);
    return 0;
}

/* [lora]: the model's adapter fields, and the default trainable set of an adapted model (the
 * adapters, and a reward model's head) written into train.trainable, so the stored config
 * names the set it trained */
static int lora_finalize(Ctx *x, TrainConfig *c) {
    GriffinConfig *g = &c->griffin;
    g->lora_rank = c->lora.rank;
    g->lora_alpha = c->lora.alpha;
    g->lora_dropout = c->lora.dropout;
    g->lora_targets = 0;
    char buf[CFG_STR];
    snprintf(buf, sizeof buf, "%s", c->lora.targets);
    for (char *save = NULL, *p = strtok_r(buf, ", \t", &save); p; p = strtok_r(NULL, ", \t", &save)) {
        int t = !strcmp(p, "all") ? -2 : lora_target_parse(p);
        if (t == -1)
            return fail(x, key_where(x, "lora", "targets"), "lora.targets",
                        "'%s' is not a layer name (proj_q proj_k proj_v proj_final linear_x linear_y linear_out "
                        "ffw_up ffw_down, or HF q_proj k_proj v_proj o_proj gate_proj up_proj down_proj)", p);
        g->lora_targets |= t == -2 ? LORA_ALL : 1u << t;
    }
    if (!g->lora_targets && g->lora_rank > 0)
        return fail(x, key_where(x, "lora", "targets"), "lora.targets", "names no layer");
    if (g->lora_rank > 0 && !c->train.trainable[0])
        snprintf(c->train.trainable, sizeof c->train.trainable, "*.lora_A.weight,*.lora_B.weight%s",
                 c->model.reward_head ? ",reward_head.*" : "");
    return 1;
}

static int finalize(Ctx *x) {
    TrainConfig *c = x->c;
    /* required keys */
    for (int i = 0; i < cfg_nkeys; i++)
        if (cfg_keys[i].required && c->key_line[i] == 0) {
            char name[96];
            snprintf(name, sizeof name, "%s.%s", cfg_keys[i].section, cfg_keys[i].key);
            return missing(x, cfg_keys[i].section, name);
        }
    /* stages: contiguous, complete, mixing known corpora */
    int64_t total = 0;
    for (int s = 0; s < c->n_stages; s++) {
        StageConfig *st = &c->stage[s];
        char name[96];
        if (!st->line) {
            snprintf(name, sizeof name, "stage.%d", s + 1);
            return fail(x, c->stage[c->n_stages - 1].line, name,
                        "missing: stages must be numbered 1, 2, ... without gaps");
        }
        if (!st->steps_line) {
            snprintf(name, sizeof name, "stage.%d.steps", s + 1);
            return fail(x, st->line, name, "required key missing in [stage.%d]", s + 1);
        }
        if (!st->mix_line) {
            snprintf(name, sizeof name, "stage.%d.mix", s + 1);
            return fail(x, st->line, name, "required key missing in [stage.%d]", s + 1);
        }
        snprintf(name, sizeof name, "stage.%d.mix", s + 1);
        for (int m = 0; m < st->n_mix; m++)
            if (train_config_find_data(c, st->mix[m].name) < 0)
                return fail(x, st->mix_line, name, "corpus '%s' is not defined in [data]", st->mix[m].name);
        total += st->steps;
    }
    if (c->train.steps == 0) c->train.steps = total;
    /* cross-key checks */
    if (c->optim.min_lr > c->optim.lr)
        return fail(x, key_where(x, "optim", "min_lr"), "optim.min_lr", "%g exceeds optim.lr = %g",
                    (double)c->optim.min_lr, (double)c->optim.lr);
    if (c->train.steps > 0 && c->optim.warmup_steps > c->train.steps)
        return fail(x, key_where(x, "optim", "warmup_steps"), "optim.warmup_steps",
                    "%lld exceeds train.steps = %lld", (long long)c->optim.warmup_steps, (long long)c->train.steps);
    /* paths from the project root */
    if (!c->train.out_dir[0]) {
        const char *base = strrchr(c->source, '/');
        base = base ? base + 1 : c->source;
        char stem[CFG_NAME * 2];
        snprintf(stem, sizeof stem, "%.*s", (int)sizeof stem - 1, base);
        char *dot = strrchr(stem, '.');
        if (dot && dot != stem) *dot = 0;
        snprintf(c->train.out_dir, CFG_STR, "runs/%s", stem[0] ? stem : "run");
    }
    for (int i = 0; i < cfg_nkeys; i++)
        if (cfg_keys[i].type == CT_PATH) {
            char *p = (char *)c + cfg_keys[i].offset;
            char name[96];
            snprintf(name, sizeof name, "%s.%s", cfg_keys[i].section, cfg_keys[i].key);
            if (!is_word(cfg_keys[i].choices, p) && !resolve_path(x, p, name, key_where(x, cfg_keys[i].section, cfg_keys[i].key)))
                return 0;
        }
    for (int i = 0; i < c->n_data; i++) {
        if (!c->data[i].path[0])
            return fail(x, c->data[i].eot_line ? c->data[i].eot_line : c->data[i].tokenizer_line, c->data[i].name,
                        "data.%s.%s is set but data.%s is not", c->data[i].name,
                        c->data[i].has_eot ? "eot" : "tokenizer", c->data[i].name);
        if (!resolve_path(x, c->data[i].tokenizer, c->data[i].name, c->data[i].tokenizer_line)) return 0;
        if (!resolve_corpus(x, c->data[i].path, c->data[i].name, c->data[i].line)) return 0;
    }
    for (int i = 0; i < c->n_valid; i++)
        if (!resolve_corpus(x, c->valid[i].path, "data.valid", c->valid[i].line)) return 0;
    /* the model */
    GriffinConfig *g = &c->griffin;
    memset(g, 0, sizeof *g);
    g->family = (Family)c->model.family;
    g->vocab_size = c->model.vocab_size;
    g->width = c->model.width;
    g->lru_width = c->model.lru_width;
    g->mlp_width = c->model.mlp_width;
    g->num_heads = c->model.heads;
    g->depth = c->model.depth;
    g->window = c->model.window;
    g->soft_cap = c->model.soft_cap;
    g->embed_scale = c->model.embed_scale;
    g->reward_head = c->model.reward_head;
    if (!lora_finalize(x, c)) return 0;
    const char *msg = config_finalize(g);
    if (msg && !strncmp(msg, "lora_", 5)) { /* lora_rank ..., lora_alpha ..., lora_targets ... */
        char key[32] = "";
        sscanf(msg + 5, "%31[a-z]", key);
        char name[48];
        snprintf(name, sizeof name, "lora.%s", key);
        return fail(x, key_where(x, "lora", key), name, "%s", msg);
    }
    if (msg) {
        /* the message starts with the field it is about */
        char first[64] = "";
        sscanf(msg, "%63[a-z_]", first);
        if (!strcmp(first, "head")) snprintf(first, sizeof first, "heads");
        char name[96];
        snprintf(name, sizeof name, "model.%s", cfg_key_index("model", first) >= 0 ? first : "heads");
        return fail(x, key_where(x, "model", name + 6), name, "%s", msg);
    }
    return 1;
}

static int parse_common(TrainConfig *c, Ctx *x, int n_over, char *const *over) {
    int rc = ini_parse_stream(reader, x, handler, x);
    if (rc != 0 && !x->failed) {
        if (rc > 0) fail(x, rc, NULL, "syntax error (expected [section] or key = value)");
        else fail(x, 0, NULL, "cannot parse (inih error %d)", rc);
    }
    if (x->failed) return -1;
    if (!apply_overrides(x, n_over, over)) return -1;
    if (!finalize(x)) return -1;
    (void)c;
    return 0;
}

int train_config_load(TrainConfig *c, const char *path, int n_over, char *const *over, char *err,
                      size_t errlen) {
    set_defaults(c);
    snprintf(c->source, CFG_STR, "%s", path);
    Ctx x = {.c = c, .source = path, .n_over = n_over, .over = over, .err = err, .errlen = errlen};
    err[0] = 0;
    x.file = fopen(path, "r");
    if (!x.file) {
        snprintf(err, errlen, "%s: cannot open config: %s", path, strerror(errno));
        return -1;
    }
    /* root: parent of a configs/ folder, else the config's own folder */
    char *real = realpath(path, NULL);
    if (!real) {
        snprintf(err, errlen, "%s: cannot resolve path: %s", path, strerror(errno));
        fclose(x.file);
        return -1;
    }
    char *slash = strrchr(real, '/');
    *slash = 0;
    const char *dir = real[0] ? real : "/";
    const char *dname = strrchr(dir, '/');
    dname = dname ? dname + 1 : dir;
    if (!strcmp(dname, "configs")) {
        char *s2 = strrchr(real, '/');
        if (s2 == real) snprintf(c->root, CFG_STR, "/");
        else {
            *s2 = 0;
            snprintf(c->root, CFG_STR, "%s", real);
        }
    } else {
        snprintf(c->root, CFG_STR, "%s", dir);
    }
    free(real);
    int rc = parse_common(c, &x, n_over, over);
    fclose(x.file);
    return rc;
}

int train_config_parse_string(TrainConfig *c, const char *text, const char *name, const char *root,
                              int n_over, char *const *over, char *err, size_t errlen) {
    set_defaults(c);
    snprintf(c->source, CFG_STR, "%s", name);
    if (root) snprintf(c->root, CFG_STR, "%s", root);
    else if (!getcwd(c->root, CFG_STR)) snprintf(c->root, CFG_STR, ".");
    Ctx x = {.c = c, .source = name, .n_over = n_over, .over = over, .err = err, .errlen = errlen, .text = text};
    err[0] = 0;
    return parse_common(c, &x, n_over, over);
}
