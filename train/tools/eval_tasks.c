/* griffin eval --tasks: multiple-choice and generation tasks in lm-evaluation-harness's
 * conventions (see train/tools/eval_tasks.h). Reads and encodes every task file first, so bad input is
 * refused in one line before anything is computed or written; then per task: scores with the
 * fixed-size state in batches of examples (sorted by context length, longest first, as the
 * harness batches), reports acc / acc_norm / acc_bytes (multiple choice) or exact_match
 * (generation) with their standard errors, examples/s, and with --compare-scratch the speed-up
 * over scoring every choice from scratch and the largest score difference between the two.
 *
 * Standard error as the harness's mean_stderr: sqrt(Σ (x − x̄)² / (n − 1) / n). */
#include "train/tools/eval_tasks.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "common/sys.h"
#include "data/task_prompt.h"
#include "data/tasks.h"
#include "train/ckpt/checkpoint.h"
#include "train/tools/model_io.h"
#include "train/run/runlog.h"
#include "train/tools/task_score.h"

#define MAX_TASKS 64
#define MAX_UNTIL 32

typedef struct {
    const char *ckpt, *tasks, *fewshot_file, *per_example;
    const char *until[MAX_UNTIL];
    int n_until, fewshot, chat, batch, max_len, max_new, compare;
    long limit;
    uint64_t seed;
} TaskArgs;

static void tasks_usage(FILE *f) {
    fprintf(f,
            "usage: griffin eval --checkpoint CKPT.h5 --tasks FILE.jsonl[,FILE2.jsonl ...]\n"
            "                    [--fewshot N] [--fewshot-file F.jsonl] [--seed S] [--chat]\n"
            "                    [--until STR ...] [--max-new-tokens N] [--per-example OUT.jsonl]\n"
            "                    [--batch B] [--max-length T] [--limit N] [--compare-scratch]\n"
            "  task files (data/tasks.h): multiple choice {\"context\", \"choices\", \"label\"} (optional\n"
            "  \"target_delimiter\", default one space), partial scoring {\"contexts\", \"continuation\",\n"
            "  \"label\"}, generation {\"prompt\", \"answers\"} (optional \"match\": exact|contains|number);\n"
            "  an optional first line {\"task\": NAME, \"fewshot\", \"match\", \"until\", \"max_new_tokens\", ...}.\n"
            "  Scored as lm-evaluation-harness: <bos> context, then target_delimiter + choice, encoded\n"
            "  together and split at the context's token count; score = sum of the continuation's\n"
            "  log-probabilities. Prints acc, acc_norm (score / characters), acc_bytes (score / UTF-8\n"
            "  bytes) or exact_match, each with its standard error, and examples/s.\n"
            "  --fewshot N        N solved examples before each one (default: the header's, else 0),\n"
            "                     drawn with --seed (default 1234) from --fewshot-file (default: the\n"
            "                     task file itself), never the example itself\n"
            "  --chat             prompts in the chat template (instruction-tuned models)\n"
            "  --until STR        generation stops before STR (repeatable; the header's otherwise);\n"
            "                     always at <eos> (and <end_of_turn> with --chat); --max-new-tokens\n"
            "                     (default: the header's, else 64)\n"
            "  --per-example F    one JSON line per example: scores of every choice, predictions, gold,\n"
            "                     greedy flags (generation: the reply and whether it matched)\n"
            "  --batch B          examples per batch (default 8); --max-length T context tokens per\n"
            "                     parallel prefill row (default: the longest context, at most 8192;\n"
            "                     a longer context continues by decode steps: never refused)\n"
            "  --limit N          the first N examples of each file\n"
            "  --compare-scratch  also score every choice from scratch: speed-up and largest difference\n"
            "  --base BASE.h5     an adapter checkpoint's base from BASE.h5, not the path it records\n");
}

/* 0: parsed; 1: --help printed; 2: bad usage (message printed) */
static int parse_task_args(int argc, char **argv, TaskArgs *a) {
    memset(a, 0, sizeof *a);
    a->fewshot = -1;
    a->batch = 8;
    a->seed = 1234;
    a->limit = -1;
    for (int i = 1; i < argc; i++) /* also `griffin eval --tasks --help` */
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return tasks_usage(stdout), 1;
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        if (!strcmp(k, "--chat")) a->chat = 1;
        else if (!strcmp(k, "--compare-scratch")) a->compare = 1;
        else if (i + 1 >= argc) return fprintf(stderr, "griffin eval: %s needs a value\n", k), 2;
        else {
            const char *v = argv[++i];
            if (!strcmp(k, "--checkpoint")) a->ckpt = v;
            else if (!strcmp(k, "--base")) ckpt_set_base(v);
            else if (!strcmp(k, "--tasks")) a->tasks = v;
            else if (!strcmp(k, "--fewshot")) a->fewshot = atoi(v);
            else if (!strcmp(k, "--fewshot-file")) a->fewshot_file = v;
            else if (!strcmp(k, "--seed")) a->seed = strtoull(v, NULL, 10);
            else if (!strcmp(k, "--per-example")) a->per_example = v;
            else if (!strcmp(k, "--batch")) a->batch = atoi(v);
            else if (!strcmp(k, "--max-length")) a->max_len = atoi(v);
            else if (!strcmp(k, "--max-new-tokens")) a->max_new = atoi(v);
            else if (!strcmp(k, "--limit")) a->limit = atol(v);
            else if (!strcmp(k, "--until") && a->n_until < MAX_UNTIL) a->until[a->n_until++] = v;
            else return fprintf(stderr, "griffin eval: unknown or repeated option %s with --tasks (see --tasks --help)\n", k), 2;
        }
    }
    if (!a->ckpt || !a->tasks) return tasks_usage(stderr), 2;
    if (a->batch < 1 || a->max_len < 0 || a->max_new < 0 || a->fewshot < -1 || a->fewshot > 1000)
        return fprintf(stderr, "griffin eval: --batch must be >= 1, --max-length, --max-new-tokens >= 0, --fewshot in [0, 1000]\n"), 2;
    return 0;
}

/* ---- reading and encoding everything up front -------------------------------------------- */

typedef struct {
    TaskFile file;
    TaskTokens *tok;   /* [n] */
    size_t n;          /* examples evaluated (--limit) */
    int fewshot;
} Task;

/* Reads the comma-separated task files and encodes every example. 0, or -1 with err set. */
static int load_tasks(const TaskArgs *a, const Tokenizer *tok, const TaskFile *shots, Task *t, int *n_tasks,
                      char *err, size_t errlen) {
    char *list = mallocCheck(strlen(a->tasks) + 1);
    strcpy(list, a->tasks);
    int n = 0, rc = 0;
    for (char *p = strtok(list, ","); p && rc == 0; p = strtok(NULL, ",")) {
        if (n == MAX_TASKS) {
            snprintf(err, errlen, "at most %d task files", MAX_TASKS);
            rc = -1;
            break;
        }
        Task *x = &t[n];
        memset(x, 0, sizeof *x);
        if ((rc = task_file_read(p, &x->file, err, errlen))) break;
        n++;
        x->n = a->limit >= 0 && (size_t)a->limit < x->file.n ? (size_t)a->limit : x->file.n;
        x->fewshot = a->fewshot >= 0 ? a->fewshot : x->file.fewshot >= 0 ? x->file.fewshot : 0;
        TaskPromptOptions o = {x->fewshot, shots, a->seed, a->chat};
        x->tok = callocCheck(x->n ? x->n : 1, sizeof(TaskTokens));
        for (size_t i = 0; i < x->n && rc == 0; i++) rc = task_encode(tok, &x->file, i, &o, &x->tok[i], err, errlen);
    }
    free(list);
    *n_tasks = n;
    return rc;
}

static void free_tasks(Task *t, int n) {
    for (int k = 0; k < n; k++) {
        for (size_t i = 0; i < t[k].n; i++) task_tokens_free(&t[k].tok[i]);
        free(t[k].tok);
        task_file_free(&t[k].file);
    }
}

/* ---- metrics ------------------------------------------------------------------------------- */

typedef struct {
    double sum, sq;
    size_t n;
} Mean;

static void mean_add(Mean *m, double x) {
    m->sum += x;
    m->sq += x * x;
    m->n++;
}

static double mean_value(const Mean *m) { return m->n ? m->sum / (double)m->n : 0.0; }

/* the harness's mean_stderr: sample standard deviation / sqrt(n) */
static double mean_stderr(const Mean *m) {
    if (m->n < 2) return 0.0;
    double n = (double)m->n, mu = m->sum / n, var = (m->sq - n * mu * mu) / (n - 1.0);
    return var > 0 ? sqrt(var / n) : 0.0;
}

static void print_metric(const char *name, const Mean *m) {
    printf("%s: %.4f (stderr %.4f)\n", name, mean_value(m), mean_stderr(m));
}

static size_t utf8_chars(const char *s) {
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* index of the largest score[j] / div[j] (the first of equals, as numpy's argmax) */
static int argmax_div(const double *score, const double *div, int n) {
    int best = 0;
    for (int j = 1; j < n; j++)
        if (score[j] / div[j] > score[best] / div[best]) best = j;
    return best;
}

/* ---- multiple choice ----------------------------------------------------------------------- */

typedef struct {
    size_t len, i;
} LenIdx;

static int cmp_len_desc(const void *a, const void *b) {
    const LenIdx *x = a, *y = b;
    return x->len != y->len ? (x->len > y->len ? -1 : 1) : (x->i < y->i ? -1 : x->i > y->i);
}

/* examples in the order they are batched: longest context first */
static size_t *batch_order(const Task *t) {
    LenIdx *li = mallocCheck(sizeof(LenIdx) * (t->n ? t->n : 1));
    for (size_t i = 0; i < t->n; i++) li[i] = (LenIdx){t->tok[i].ctx_len[0], i};
    qsort(li, t->n, sizeof(LenIdx), cmp_len_desc);
    size_t *o = mallocCheck(sizeof(size_t) * (t->n ? t->n : 1));
    for (size_t i = 0; i < t->n; i++) o[i] = li[i].i;
    free(li);
    return o;
}

/* every request's score and greedy flag, examples in file order; offsets off[i] into them */
static double score_task(GriffinModel *m, int T, const Task *t, int batch, int scratch, double *score, int *greedy,
                         const size_t *off) {
    size_t *order = batch_order(t);
    const TaskTokens **ex = mallocCheck(sizeof(TaskTokens *) * (size_t)batch);
    size_t R = off[t->n];
    double *s = mallocCheck(sizeof(double) * (R ? R : 1));
    int *g = mallocCheck(sizeof(int) * (R ? R : 1));
    double t0 = now_seconds();
    for (size_t b0 = 0; b0 < t->n; b0 += (size_t)batch) {
        int nb = (int)(t->n - b0 < (size_t)batch ? t->n - b0 : (size_t)batch);
        for (int b = 0; b < nb; b++) ex[b] = &t->tok[order[b0 + (size_t)b]];
        if (scratch) task_score_scratch(m, ex, nb, s, g);
        else task_score_states(m, T, ex, nb, s, g);
        for (int b = 0, r = 0; b < nb; b++)
            for (int j = 0; j < ex[b]->n_req; j++, r++) {
                score[off[order[b0 + (size_t)b]] + (size_t)j] = s[r];
                greedy[off[order[b0 + (size_t)b]] + (size_t)j] = g[r];
            }
    }
    double secs = now_seconds() - t0;
    free(order);
    free(ex);
    free(s);
    free(g);
    return secs;
}

/* one per-example line of a multiple-choice task */
static void write_choice_line(FILE *f, const Task *t, size_t i, const double *sc, const int *gr, const int pred[3]) {
    const TaskExample *e = &t->file.ex[i];
    json_t *o = json_object(), *s = json_array(), *g = json_array();
    for (int j = 0; j < e->n_choices; j++) {
        json_array_append_new(s, json_real(sc[j]));
        json_array_append_new(g, json_boolean(gr[j]));
    }
    json_object_set_new(o, "task", json_string(t->file.name));
    json_object_set_new(o, "example", json_integer((json_int_t)i));
    json_object_set_new(o, "line", json_integer((json_int_t)e->line));
    json_object_set_new(o, "scores", s);
    json_object_set_new(o, "greedy", g);
    json_object_set_new(o, "gold", json_integer(e->label));
    json_object_set_new(o, "pred", json_integer(pred[0]));
    json_object_set_new(o, "pred_norm", json_integer(pred[1]));
    json_object_set_new(o, "pred_bytes", json_integer(pred[2]));
    char *line = json_dumps(o, JSON_REAL_PRECISION(12));
    fprintf(f, "%s\n", line);
    free(line);
    json_decref(o);
}

/* acc, acc_norm, acc_bytes over the task; per-example lines to f */
static void choice_metrics(const Task *t, const double *score, const int *greedy, const size_t *off, FILE *f,
                           Mean m[3], double *chance) {
    *chance = 0;
    for (size_t i = 0; i < t->n; i++) {
        const TaskExample *e = &t->file.ex[i];
        const double *sc = score + off[i];
        double *chars = mallocCheck(sizeof(double) * (size_t)e->n_choices), *bytes = mallocCheck(sizeof(double) * (size_t)e->n_choices);
        double *one = mallocCheck(sizeof(double) * (size_t)e->n_choices);
        for (int j = 0; j < e->n_choices; j++) {
            chars[j] = (double)utf8_chars(task_choice(e, j));
            bytes[j] = (double)strlen(task_choice(e, j));
            one[j] = 1.0;
        }
        int pred[3] = {argmax_div(sc, one, e->n_choices), argmax_div(sc, chars, e->n_choices),
                       argmax_div(sc, bytes, e->n_choices)};
        for (int k = 0; k < 3; k++) mean_add(&m[k], pred[k] == e->label);
        *chance += 1.0 / e->n_choices;
        if (f) write_choice_line(f, t, i, sc, greedy + off[i], pred);
        free(chars);
        free(bytes);
        free(one);
    }
    *chance /= t->n ? (double)t->n : 1.0;
}

static void run_choice_task(GriffinModel *m, GriffinModel *scratch, int T, const Task *t, const TaskArgs *a, FILE *f) {
    size_t *off = mallocCheck(sizeof(size_t) * (t->n + 1));
    off[0] = 0;
    for (size_t i = 0; i < t->n; i++) off[i + 1] = off[i] + (size_t)t->tok[i].n_req;
    size_t R = off[t->n] ? off[t->n] : 1;
    double *score = mallocCheck(sizeof(double) * R);
    int *greedy = mallocCheck(sizeof(int) * R);
    double secs = score_task(m, T, t, a->batch, 0, score, greedy, off);
    Mean mt[3] = {{0}};
    double chance;
    choice_metrics(t, score, greedy, off, f, mt, &chance);
    printf("choices: %.2f (chance %.4f)\n", (double)off[t->n] / (double)(t->n ? t->n : 1), chance);
    print_metric("acc", &mt[0]);
    print_metric("acc_norm", &mt[1]);
    print_metric("acc_bytes", &mt[2]);
    printf("seconds: %.3f\nexamples_per_s: %.2f\n", secs, (double)t->n / (secs > 0 ? secs : 1e-9));
    if (scratch) {
        double *s2 = mallocCheck(sizeof(double) * R), diff = 0, rel = 0;
        int *g2 = mallocCheck(sizeof(int) * R);
        double secs2 = score_task(scratch, T, t, a->batch, 1, s2, g2, off);
        for (size_t r = 0; r < off[t->n]; r++) {
            diff = fmax(diff, fabs(s2[r] - score[r]));
            rel = fmax(rel, fabs(s2[r] - score[r]) / fmax(1.0, fabs(s2[r])));
        }
        printf("from_scratch_seconds: %.3f\nfrom_scratch_examples_per_s: %.2f\nspeedup: %.2f\n"
               "max_score_diff: %.3g (relative %.3g)\n", secs2, (double)t->n / (secs2 > 0 ? secs2 : 1e-9),
               secs2 / (secs > 0 ? secs : 1e-9), diff, rel);
        free(s2);
        free(g2);
    }
    free(off);
    free(score);
    free(greedy);
}

/* ---- generation ---------------------------------------------------------------------------- */

static void write_gen_line(FILE *f, const Task *t, size_t i, const char *reply, int ok) {
    const TaskExample *e = &t->file.ex[i];
    json_t *o = json_object(), *ans = json_array();
    for (int k = 0; k < e->n_answers; k++) json_array_append_new(ans, json_string(e->answers[k]));
    json_object_set_new(o, "task", json_string(t->file.name));
    json_object_set_new(o, "example", json_integer((json_int_t)i));
    json_object_set_new(o, "line", json_integer((json_int_t)e->line));
    json_t *r = json_string(reply);
    json_object_set_new(o, "reply", r ? r : json_string("(not UTF-8)"));
    json_object_set_new(o, "answers", ans);
    json_object_set_new(o, "match", json_string(task_match_name(e->match)));
    json_object_set_new(o, "correct", json_boolean(ok));
    char *line = json_dumps(o, 0);
    fprintf(f, "%s\n", line);
    free(line);
    json_decref(o);
}

static void run_gen_task(GriffinModel *m, int T, const Tokenizer *tok, const Task *t, const TaskArgs *a, FILE *f) {
    TokenizerSpecials sp = tokenizer_specials(tok);
    int stops[2] = {sp.eos, sp.end_of_turn};
    const char *const *until = a->n_until ? a->until : (const char *const *)t->file.until;
    TaskGenOptions o = {a->max_new ? a->max_new : t->file.max_new_tokens ? t->file.max_new_tokens : 64, stops,
                        a->chat ? 2 : 1, until, a->n_until ? a->n_until : t->file.n_until, tokenizer_vocab_size(tok)};
    size_t *order = batch_order(t);
    const TaskTokens **ex = mallocCheck(sizeof(TaskTokens *) * (size_t)a->batch);
    char **replies = callocCheck(t->n ? t->n : 1, sizeof(char *)), **r = mallocCheck(sizeof(char *) * (size_t)a->batch);
    double t0 = now_seconds();
    for (size_t b0 = 0; b0 < t->n; b0 += (size_t)a->batch) {
        int nb = (int)(t->n - b0 < (size_t)a->batch ? t->n - b0 : (size_t)a->batch);
        for (int b = 0; b < nb; b++) ex[b] = &t->tok[order[b0 + (size_t)b]];
        task_generate(m, T, tok, ex, nb, &o, r);
        for (int b = 0; b < nb; b++) replies[order[b0 + (size_t)b]] = r[b];
    }
    double secs = now_seconds() - t0;
    Mean em = {0};
    for (size_t i = 0; i < t->n; i++) {
        int ok = task_answer_correct(&t->file.ex[i], replies[i]);
        mean_add(&em, ok);
        if (f) write_gen_line(f, t, i, replies[i], ok);
        free(replies[i]);
    }
    printf("max_new_tokens: %d\n", o.max_new);
    print_metric("exact_match", &em);
    printf("seconds: %.3f\nexamples_per_s: %.2f\n", secs, (double)t->n / (secs > 0 ? secs : 1e-9));
    free(order);
    free(ex);
    free(replies);
    free(r);
}

/* ---- the command --------------------------------------------------------------------------- */

static int refuse(const char *msg) {
    fflush(stdout);
    fprintf(stderr, "griffin eval: %s\n", msg);
    return 1;
}

#define MAX_PREFILL 8192

static int longest_context(const Task *tasks, int n_tasks) {
    size_t L = 1;
    for (int k = 0; k < n_tasks; k++)
        for (size_t i = 0; i < tasks[k].n; i++)
            for (int c = 0; c < tasks[k].tok[i].n_ctx; c++) L = tasks[k].tok[i].ctx_len[c] > L ? tasks[k].tok[i].ctx_len[c] : L;
    return L < MAX_PREFILL ? (int)L : MAX_PREFILL;
}

/* The prefill model: T columns (--max-length, else the longest context up to MAX_PREFILL) and
 * as many rows as keep rows × T within batch × train.seq_len tokens of activations (the
 * prefill runs a batch's contexts in chunks of those rows). */
static GriffinModel *prefill_model(const TaskArgs *a, LoadedModel *lm, int longest, int *T) {
    int seq = lm->cfg->train.seq_len > 0 ? lm->cfg->train.seq_len : 256;
    *T = a->max_len > 0 ? a->max_len : longest > seq ? longest : seq;
    long budget = (long)a->batch * (a->max_len > 0 ? a->max_len : seq), rows = budget / *T;
    rows = rows < 1 ? 1 : rows > a->batch ? a->batch : rows;
    griffin_reshape(lm->m, (int)rows, *T, GRIFFIN_INFERENCE | GRIFFIN_CHUNKED_LOSS); /* no second copy */
    return lm->m;
}

static void run_tasks(const TaskArgs *a, LoadedModel *lm, Task *tasks, int n_tasks, FILE *f) {
    int T, Tmax = 1;
    GriffinModel *m = prefill_model(a, lm, longest_context(tasks, n_tasks), &T);
    GriffinModel *scratch = NULL;
    if (a->compare) { /* rows as long as the longest request */
        for (int k = 0; k < n_tasks; k++)
            for (size_t i = 0; i < tasks[k].n; i++)
                for (int j = 0; j < tasks[k].tok[i].n_req; j++) {
                    const TaskTokens *x = &tasks[k].tok[i];
                    int L = (int)(x->ctx_len[x->ctx_of[j]] + x->cont_len[j]);
                    Tmax = L > Tmax ? L : Tmax;
                }
        /* it keeps the logits of every position: at most 2^28 floats of them, and rows x Tmax
         * within the prefill's token budget */
        long V = lm->m->cfg.vocab_size, rows = (long)m->max_B * T / Tmax, cap = (1L << 28) / ((long)Tmax * V);
        rows = rows < cap ? rows : cap;
        rows = rows < 1 ? 1 : rows > a->batch ? a->batch : rows;
        /* a second model only for this check mode: it copies the weights */
        scratch = griffin_create_ex(&lm->m->cfg, (int)rows, Tmax, 0, GRIFFIN_INFERENCE);
        memcpy(scratch->params, lm->m->params, m->table.total * sizeof(float));
    }
    printf("checkpoint: %s (step %lld)\nmax_length: %d\nprefill_rows: %d\n", a->ckpt, (long long)lm->step, T, m->max_B);
    for (int k = 0; k < n_tasks; k++) {
        const Task *t = &tasks[k];
        printf("task: %s\nfile: %s\nkind: %s\nexamples: %zu\nfewshot: %d\n", t->file.name, t->file.path,
               task_kind_name(&t->file), t->n, t->fewshot);
        if (t->file.kind == TASK_GENERATE) run_gen_task(m, T, lm->tok, t, a, f);
        else run_choice_task(m, scratch, T, t, a, f);
        fflush(stdout);
    }
    griffin_free(scratch); /* m is lm's */
}

int cmd_eval_tasks(int argc, char **argv) {
    TaskArgs a;
    int rc = parse_task_args(argc, argv, &a);
    if (rc) return rc == 1 ? 0 : 2;
    LoadedModel lm;
    load_model(a.ckpt, 1, 1, &lm);
    if (!lm.tok) return refuse("the checkpoint carries no tokenizer; task files are text");
    char err[1024];
    TaskFile shots = {0};
    Task *tasks = callocCheck(MAX_TASKS, sizeof(Task));
    int n_tasks = 0;
    if (a.fewshot_file && task_file_read(a.fewshot_file, &shots, err, sizeof err)) rc = refuse(err);
    if (!rc && load_tasks(&a, lm.tok, a.fewshot_file ? &shots : NULL, tasks, &n_tasks, err, sizeof err)) rc = refuse(err);
    FILE *f = NULL;
    char tmp[4096];
    if (!rc && a.per_example) {
        snprintf(tmp, sizeof tmp, "%s.tmp", a.per_example);
        f = fopenCheck(tmp, "w");
    }
    if (!rc) run_tasks(&a, &lm, tasks, n_tasks, f);
    if (f) {
        CHECK(fclose(f) == 0, "griffin eval: cannot write %s", tmp);
        CHECK(rename(tmp, a.per_example) == 0, "griffin eval: cannot rename %s to %s", tmp, a.per_example);
        printf("per_example: %s\n", a.per_example);
    }
    free_tasks(tasks, n_tasks);
    free(tasks);
    task_file_free(&shots);
    loaded_model_free(&lm);
    return rc;
}
