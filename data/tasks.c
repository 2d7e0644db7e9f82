/* Task files (see tasks.h): whole file in memory, one JSON object per line, checked line by line. */
#include "data/tasks.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/check.h"

#define TASK_MAX_BYTES ((size_t)1 << 30)

/* One line's parse: the kind it claims and an error (line context added by the caller). */
typedef struct {
    char err[256];
} LineErr;

GRIFFIN_PRINTF(2, 3)
static int fail(LineErr *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->err, sizeof e->err, fmt, ap);
    va_end(ap);
    return -1;
}

static char *dup_n(const char *s, size_t n) {
    char *d = mallocCheck(n + 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

static char *dup_s(const char *s) { return dup_n(s, strlen(s)); }

static void free_strings(char **v, int n) {
    if (!v) return;
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

/* key's string value (may be empty if allow_empty) copied into *out; 0 or -1 */
static int get_string(json_t *o, const char *key, int allow_empty, char **out, LineErr *e) {
    json_t *v = json_object_get(o, key);
    if (!v) return fail(e, "missing \"%s\"", key);
    if (!json_is_string(v)) return fail(e, "\"%s\" is not a string", key);
    if (!allow_empty && json_string_length(v) == 0) return fail(e, "empty \"%s\"", key);
    *out = dup_n(json_string_value(v), json_string_length(v));
    return 0;
}

/* key's list of non-empty strings, at least min_n of them; 0 or -1 */
static int get_strings(json_t *o, const char *key, int min_n, char ***out, int *n, LineErr *e) {
    json_t *v = json_object_get(o, key);
    if (!v) return fail(e, "missing \"%s\"", key);
    if (!json_is_array(v)) return fail(e, "\"%s\" is not a list", key);
    size_t k = json_array_size(v);
    if (k < (size_t)min_n) return fail(e, "\"%s\" has %zu entries, needs at least %d", key, k, min_n);
    if (k > 1000000) return fail(e, "\"%s\" has %zu entries", key, k);
    char **s = callocCheck(k, sizeof(char *));
    for (size_t i = 0; i < k; i++) {
        json_t *x = json_array_get(v, i);
        if (!json_is_string(x) || json_string_length(x) == 0) {
            free_strings(s, (int)k);
            return fail(e, "\"%s\"[%zu] is %s", key, i, json_is_string(x) ? "empty" : "not a string");
        }
        s[i] = dup_n(json_string_value(x), json_string_length(x));
    }
    *out = s;
    *n = (int)k;
    return 0;
}

static int get_label(json_t *o, int n_choices, int *label, LineErr *e) {
    json_t *v = json_object_get(o, "label");
    if (!v) return fail(e, "missing \"label\"");
    if (!json_is_integer(v)) return fail(e, "\"label\" is not an integer");
    json_int_t k = json_integer_value(v);
    if (k < 0 || k >= n_choices) return fail(e, "label %lld out of range [0, %d)", (long long)k, n_choices);
    *label = (int)k;
    return 0;
}

static void example_free(TaskExample *x) {
    free(x->context);
    free_strings(x->contexts, x->contexts ? x->n_choices : 0);
    free_strings(x->choices, x->choices ? x->n_choices : 0);
    free(x->continuation);
    free(x->delimiter);
    free(x->prompt);
    free_strings(x->answers, x->n_answers);
    free(x->target);
    memset(x, 0, sizeof *x);
}

/* the words for a line of another file kind, or NULL */
static const char *other_kind(json_t *o) {
    if (json_object_get(o, "messages")) return "a chat corpus line (\"messages\": griffin tokenize --kind chat)";
    if (json_object_get(o, "chosen") || json_object_get(o, "rejected"))
        return "a preference line (\"chosen\"/\"rejected\": griffin tokenize --kind preference)";
    if (json_object_get(o, "text")) return "a text corpus line (\"text\": griffin tokenize --kind text)";
    if (json_object_get(o, "prompt") && !json_object_get(o, "answers"))
        return "a prompt line without \"answers\" (a prompt corpus? generation tasks need \"answers\")";
    return NULL;
}

/* optional string key, else def (copied) */
static int opt_string(json_t *o, const char *key, const char *def, char **out, LineErr *e) {
    json_t *v = json_object_get(o, key);
    if (!v) {
        *out = def ? dup_s(def) : NULL;
        return 0;
    }
    if (!json_is_string(v)) return fail(e, "\"%s\" is not a string", key);
    *out = dup_n(json_string_value(v), json_string_length(v));
    return 0;
}

static int parse_choice(json_t *o, const char *delim, TaskExample *x, int *partial, LineErr *e) {
    if (opt_string(o, "target_delimiter", delim, &x->delimiter, e)) return -1;
    if (json_object_get(o, "contexts")) { /* partial scoring */
        *partial = 1;
        if (get_strings(o, "contexts", 2, &x->contexts, &x->n_choices, e)) return -1;
        if (get_string(o, "continuation", 0, &x->continuation, e)) return -1;
        return get_label(o, x->n_choices, &x->label, e);
    }
    *partial = 0;
    if (!json_object_get(o, "context")) return fail(e, "missing \"context\"");
    if (get_string(o, "context", 1, &x->context, e)) return -1;
    if (get_strings(o, "choices", 2, &x->choices, &x->n_choices, e)) return -1;
    return get_label(o, x->n_choices, &x->label, e);
}

static int parse_generate(json_t *o, TaskMatch match, TaskExample *x, LineErr *e) {
    if (get_string(o, "prompt", 0, &x->prompt, e)) return -1;
    if (get_strings(o, "answers", 1, &x->answers, &x->n_answers, e)) return -1;
    if (json_object_get(o, "target") && get_string(o, "target", 0, &x->target, e)) return -1;
    x->match = match;
    json_t *m = json_object_get(o, "match");
    if (m) {
        int k = json_is_string(m) ? task_match_parse(json_string_value(m)) : -1;
        if (k < 0) return fail(e, "\"match\" must be \"exact\", \"contains\" or \"number\"");
        x->match = (TaskMatch)k;
    }
    return 0;
}

/* The header line {"task": ...}; 0 or -1. */
static int parse_header(json_t *o, TaskFile *t, char **delim, TaskMatch *match, LineErr *e) {
    free(t->name);
    t->name = NULL;
    if (get_string(o, "task", 0, &t->name, e)) return -1;
    json_t *v;
    if ((v = json_object_get(o, "fewshot"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1000)
            return fail(e, "\"fewshot\" must be an integer in [0, 1000]");
        t->fewshot = (int)json_integer_value(v);
    }
    if ((v = json_object_get(o, "max_new_tokens"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 100000)
            return fail(e, "\"max_new_tokens\" must be an integer in [1, 100000]");
        t->max_new_tokens = (int)json_integer_value(v);
    }
    if ((v = json_object_get(o, "match"))) {
        int k = json_is_string(v) ? task_match_parse(json_string_value(v)) : -1;
        if (k < 0) return fail(e, "\"match\" must be \"exact\", \"contains\" or \"number\"");
        *match = (TaskMatch)k;
    }
    if (json_object_get(o, "until") && get_strings(o, "until", 1, &t->until, &t->n_until, e)) return -1;
    if ((v = json_object_get(o, "target_delimiter"))) {
        if (!json_is_string(v)) return fail(e, "\"target_delimiter\" is not a string");
        free(*delim);
        *delim = dup_n(json_string_value(v), json_string_length(v));
    }
    return 0;
}

static int is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return 0;
    return 1;
}

/* One example line into t->ex[t->n]; kind fixed by the first example. 0 or -1. */
static int parse_example(json_t *o, size_t lineno, TaskFile *t, const char *delim, TaskMatch match, LineErr *e) {
    const char *other = other_kind(o);
    int is_choice = json_object_get(o, "choices") || json_object_get(o, "contexts");
    int is_gen = json_object_get(o, "prompt") && json_object_get(o, "answers");
    if (other && !is_choice) return fail(e, "not a task line: %s", other);
    if (!is_choice && !is_gen) {
        if (json_object_get(o, "context")) return fail(e, "missing \"choices\"");
        return fail(e, "not a task line: needs \"context\", \"choices\", \"label\" (multiple choice) or "
                       "\"prompt\", \"answers\" (generation)");
    }
    TaskKind kind = is_choice ? TASK_CHOICE : TASK_GENERATE;
    TaskExample x = {0};
    int partial = 0, rc = kind == TASK_CHOICE ? parse_choice(o, delim, &x, &partial, e) : parse_generate(o, match, &x, e);
    if (rc == 0 && t->n > 0 && kind != t->kind)
        rc = fail(e, "a %s line in a file of %s lines (one kind per file)",
                  kind == TASK_GENERATE ? "generation" : "multiple-choice",
                  t->kind == TASK_GENERATE ? "generation" : "multiple-choice");
    if (rc) {
        example_free(&x);
        return -1;
    }
    t->kind = kind;
    t->partial |= partial;
    x.line = lineno;
    t->ex = realloc(t->ex, (t->n + 1) * sizeof *t->ex);
    CHECK(t->ex, "out of memory reading a task file");
    t->ex[t->n++] = x;
    return 0;
}

static void default_name(TaskFile *t, const char *path) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b);
    const char *exts[] = {".jsonl.gz", ".jsonl", ".json"};
    for (int i = 0; i < 3; i++) {
        size_t k = strlen(exts[i]);
        if (n > k && !strcmp(b + n - k, exts[i])) {
            n -= k;
            break;
        }
    }
    t->name = dup_n(b, n);
}

int task_file_parse(const char *name, const char *text, size_t len, TaskFile *out, char *err, size_t errlen) {
    TaskFile t = {0};
    t.fewshot = -1;
    t.path = dup_s(name);
    default_name(&t, name);
    char *delim = dup_s(" ");
    TaskMatch match = MATCH_EXACT;
    LineErr e = {{0}};
    size_t lineno = 0, pos = 0;
    int seen_line = 0, rc = 0;
    while (pos < len && rc == 0) {
        const char *s = text + pos, *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        pos += n + (nl ? 1 : 0);
        lineno++;
        if (is_blank(s, n)) continue;
        json_error_t je;
        json_t *o = json_loadb(s, n, JSON_REJECT_DUPLICATES, &je);
        if (!o || !json_is_object(o)) {
            rc = o ? fail(&e, "not a JSON object") : fail(&e, "not JSON (%s)", je.text);
        } else if (json_object_get(o, "task")) {
            rc = seen_line ? fail(&e, "a header line {\"task\": ...} is only allowed first")
                           : parse_header(o, &t, &delim, &match, &e);
        } else {
            rc = parse_example(o, lineno, &t, delim, match, &e);
        }
        seen_line = 1;
        json_decref(o);
    }
    free(delim);
    if (rc == 0 && t.n == 0) {
        snprintf(err, errlen, "%s: no examples", name);
        rc = -1;
    } else if (rc) {
        snprintf(err, errlen, "%s:%zu: %s", name, lineno, e.err);
    }
    if (rc) {
        task_file_free(&t);
        return -1;
    }
    *out = t;
    return 0;
}

int task_file_read(const char *path, TaskFile *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    gzFile gz = gzopen(path, "rb");
    if (!gz) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = mallocCheck(cap);
    int got, zerr = Z_OK;
    while ((got = gzread(gz, buf + n, (unsigned)(cap - n))) > 0) {
        n += (size_t)got;
        if (n == cap) {
            if (cap >= TASK_MAX_BYTES) break;
            cap *= 2;
            buf = realloc(buf, cap);
            CHECK(buf, "out of memory reading %s", path);
        }
    }
    const char *msg = gzerror(gz, &zerr);
    int bad = got < 0 || (zerr != Z_OK && zerr != Z_STREAM_END);
    if (bad) snprintf(err, errlen, "%s: read error (%s)", path, msg);
    else if (n >= TASK_MAX_BYTES) snprintf(err, errlen, "%s: larger than %zu bytes", path, TASK_MAX_BYTES);
    gzclose(gz);
    int rc = bad || n >= TASK_MAX_BYTES ? -1 : task_file_parse(path, buf, n, out, err, errlen);
    free(buf);
    return rc;
}

void task_file_free(TaskFile *t) {
    for (size_t i = 0; i < t->n; i++) example_free(&t->ex[i]);
    free(t->ex);
    free(t->path);
    free(t->name);
    free_strings(t->until, t->n_until);
    memset(t, 0, sizeof *t);
}

const char *task_context(const TaskExample *e, int j) { return e->contexts ? e->contexts[j] : e->context; }

const char *task_choice(const TaskExample *e, int j) { return e->choices ? e->choices[j] : e->continuation; }

const char *task_kind_name(const TaskFile *t) {
    return t->kind == TASK_GENERATE ? "generation" : "multiple_choice";
}

const char *task_match_name(TaskMatch m) {
    return m == MATCH_CONTAINS ? "contains" : m == MATCH_NUMBER ? "number" : "exact";
}

int task_match_parse(const char *s) {
    if (!strcmp(s, "exact")) return MATCH_EXACT;
    if (!strcmp(s, "contains")) return MATCH_CONTAINS;
    if (!strcmp(s, "number")) return MATCH_NUMBER;
    return -1;
}

/* ---- scoring of generated replies -------------------------------------------------------- */

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/* s without surrounding whitespace: *n bytes from the returned pointer */
static const char *trimmed(const char *s, size_t *n) {
    size_t k = strlen(s);
    while (k > 0 && is_space(s[k - 1])) k--;
    while (k > 0 && is_space(*s)) s++, k--;
    *n = k;
    return s;
}

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static int contains_nocase(const char *hay, const char *needle, size_t n) {
    if (n == 0) return 1;
    for (const char *p = hay; *p; p++) {
        size_t i = 0;
        while (i < n && p[i] && lower((unsigned char)p[i]) == lower((unsigned char)needle[i])) i++;
        if (i == n) return 1;
    }
    return 0;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

int task_last_number(const char *s, double *out) {
    const char *last = NULL;
    size_t last_n = 0;
    for (const char *p = s; *p;) {
        if (!is_digit(*p)) {
            p++;
            continue;
        }
        const char *b = p > s && p[-1] == '-' ? p - 1 : p;
        while (is_digit(*p) || (*p == ',' && is_digit(p[1]))) p++;
        if (*p == '.' && is_digit(p[1]))
            for (p++; is_digit(*p); p++) {}
        last = b;
        last_n = (size_t)(p - b);
    }
    if (!last) return 0;
    char buf[128];
    size_t k = 0;
    for (size_t i = 0; i < last_n && k + 1 < sizeof buf; i++)
        if (last[i] != ',') buf[k++] = last[i];
    buf[k] = 0;
    *out = strtod(buf, NULL);
    return 1;
}

int task_answer_correct(const TaskExample *e, const char *reply) {
    size_t rn;
    const char *r = trimmed(reply, &rn);
    for (int a = 0; a < e->n_answers; a++) {
        size_t an;
        const char *ans = trimmed(e->answers[a], &an);
        double x, y;
        switch (e->match) {
        case MATCH_EXACT:
            if (rn == an && !memcmp(r, ans, an)) return 1;
            break;
        case MATCH_CONTAINS:
            if (contains_nocase(reply, ans, an)) return 1;
            break;
        case MATCH_NUMBER:
            if (task_last_number(reply, &x) && task_last_number(e->answers[a], &y) && x == y) return 1;
            break;
        }
    }
    return 0;
}
