/* griffin eval --tasks: the task-file reader and its refusals (data/tasks.c), the harness's
 * context/continuation split at the tokenisation boundary and few-shot prompts
 * (data/task_prompt.c), the scoring of generated replies, and the fixed-size-state scorer
 * against scoring every choice from scratch (train/tools/task_score.c).
 *
 * usage: test_eval_tasks unit WORK     everything above (GRIFFIN_TEST_TOKENIZER: a tokenizer.model)
 *        test_eval_tasks ref WORK      writes WORK/ref.h5 (a tiny random checkpoint carrying the
 *                                      tokenizer) and WORK/ref_tasks.jsonl for tests/ref/task_check.py
 *        test_eval_tasks cli WORK      griffin eval --tasks refusals: one line naming file:line,
 *                                      exit 1, no per-example file (GRIFFIN_BIN: the griffin binary) */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/check.h"
#include "common/rng.h"
#include "data/task_prompt.h"
#include "data/tasks.h"
#include "data/tokenizer.h"
#include "model/griffin.h"
#include "train/ckpt/checkpoint.h"
#include "train/interop/interop.h"
#include "train/tools/task_score.h"

static int failures = 0;
#define EXPECT(cond, ...)                                        \
    do {                                                         \
        if (!(cond)) {                                           \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                        \
            fputc('\n', stderr);                                 \
            failures++;                                          \
        }                                                        \
    } while (0)

static const char *work;

static const char *wpath(const char *name) {
    static char buf[8][1024];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 1024, "%s/%s", work, name);
    return p;
}

static void spit(const char *path, const char *text) {
    FILE *f = fopenCheck(path, "w");
    fputs(text, f);
    fclose(f);
}

static int exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

/* ---- the reader ---------------------------------------------------------------------------- */

/* text must be refused with a message containing want (and "NAME:line:" when line > 0) */
static void expect_refused(const char *name, const char *text, int line, const char *want) {
    const char *p = wpath(name);
    spit(p, text);
    TaskFile t;
    char err[1024] = "";
    int rc = task_file_read(p, &t, err, sizeof err);
    EXPECT(rc == -1, "%s: accepted", name);
    if (rc == 0) {
        task_file_free(&t);
        return;
    }
    char where[1200];
    if (line > 0) snprintf(where, sizeof where, "%s:%d: ", p, line);
    else snprintf(where, sizeof where, "%s: ", p);
    EXPECT(!strncmp(err, where, strlen(where)), "%s: message '%s' does not start with '%s'", name, err, where);
    EXPECT(strstr(err, want) != NULL, "%s: message '%s' lacks '%s'", name, err, want);
    EXPECT(!strchr(err, '\n'), "%s: message spans lines", name);
}

static void test_reader_refusals(void) {
    expect_refused("no_choices.jsonl", "{\"context\": \"a\", \"label\": 0}\n", 1, "missing \"choices\"");
    expect_refused("label_range.jsonl",
                   "{\"context\": \"a\", \"choices\": [\"x\", \"y\"], \"label\": 0}\n"
                   "{\"context\": \"a\", \"choices\": [\"x\", \"y\"], \"label\": 2}\n", 2, "label 2 out of range [0, 2)");
    expect_refused("label_neg.jsonl", "{\"context\": \"a\", \"choices\": [\"x\", \"y\"], \"label\": -1}\n", 1, "out of range");
    expect_refused("label_str.jsonl", "{\"context\": \"a\", \"choices\": [\"x\", \"y\"], \"label\": \"1\"}\n", 1,
                   "not an integer");
    expect_refused("empty_choice.jsonl", "\n{\"context\": \"a\", \"choices\": [\"x\", \"\"], \"label\": 0}\n", 2,
                   "\"choices\"[1] is empty");
    expect_refused("one_choice.jsonl", "{\"context\": \"a\", \"choices\": [\"x\"], \"label\": 0}\n", 1, "at least 2");
    expect_refused("text_kind.jsonl", "{\"text\": \"hello world\"}\n", 1, "a text corpus line");
    expect_refused("chat_kind.jsonl", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n", 1,
                   "a chat corpus line");
    expect_refused("pref_kind.jsonl", "{\"prompt\": \"p\", \"chosen\": \"a\", \"rejected\": \"b\"}\n", 1,
                   "a preference line");
    expect_refused("prompt_kind.jsonl", "{\"prompt\": \"p\"}\n", 1, "without \"answers\"");
    expect_refused("mixed.jsonl",
                   "{\"context\": \"a\", \"choices\": [\"x\", \"y\"], \"label\": 0}\n"
                   "{\"prompt\": \"p\", \"answers\": [\"a\"]}\n", 2, "one kind per file");
    expect_refused("not_json.jsonl", "{\"context\": \"a\", \"choices\": [\"x\", \"y\"], \"label\": 0}\nHDF\x89\n", 2,
                   "not JSON");
    expect_refused("not_object.jsonl", "[1, 2]\n", 1, "not a JSON object");
    expect_refused("late_header.jsonl",
                   "{\"context\": \"a\", \"choices\": [\"x\", \"y\"], \"label\": 0}\n{\"task\": \"t\"}\n", 2, "only allowed first");
    expect_refused("bad_match.jsonl", "{\"prompt\": \"p\", \"answers\": [\"a\"], \"match\": \"fuzzy\"}\n", 1, "\"match\"");
    expect_refused("empty.jsonl", "\n\n", 0, "no examples");
    expect_refused("header_only.jsonl", "{\"task\": \"t\", \"fewshot\": 2}\n", 0, "no examples");
    TaskFile t;
    char err[256];
    EXPECT(task_file_read(wpath("missing.jsonl"), &t, err, sizeof err) == -1 && strstr(err, "cannot open"),
           "a missing file: '%s'", err);
}

static void test_reader_good(void) {
    const char *p = wpath("good.jsonl");
    spit(p, "{\"task\": \"demo\", \"fewshot\": 3, \"target_delimiter\": \": \"}\n"
            "\n"
            "{\"context\": \"Q\", \"choices\": [\"a\", \"b\", \"c\"], \"label\": 2, \"id\": 7}\r\n"
            "{\"context\": \"R \", \"choices\": [\"d\", \"e\"], \"label\": 0, \"target_delimiter\": \"\"}\n");
    TaskFile t;
    char err[512];
    int rc = task_file_read(p, &t, err, sizeof err);
    EXPECT(rc == 0, "good.jsonl refused: %s", err);
    if (rc) return;
    EXPECT(!strcmp(t.name, "demo") && t.fewshot == 3 && t.kind == TASK_CHOICE && !t.partial && t.n == 2,
           "header or kind: name %s fewshot %d n %zu", t.name, t.fewshot, t.n);
    EXPECT(t.ex[0].line == 3 && t.ex[1].line == 4 && t.ex[0].n_choices == 3 && t.ex[0].label == 2,
           "lines %zu %zu", t.ex[0].line, t.ex[1].line);
    EXPECT(!strcmp(t.ex[0].delimiter, ": ") && !strcmp(t.ex[1].delimiter, ""), "delimiters '%s' '%s'",
           t.ex[0].delimiter, t.ex[1].delimiter);
    task_file_free(&t);
    p = wpath("partial.jsonl");
    spit(p, "{\"contexts\": [\"The cup held Ann\", \"The cup held Bob\"], \"continuation\": \"'s tea.\", \"label\": 1}\n");
    rc = task_file_read(p, &t, err, sizeof err);
    EXPECT(rc == 0 && t.partial && !strcmp(t.name, "partial") && !strcmp(task_choice(&t.ex[0], 1), "'s tea.") &&
               !strcmp(task_context(&t.ex[0], 1), "The cup held Bob"),
           "partial scoring line: %s", rc ? err : "wrong fields");
    if (rc == 0) task_file_free(&t);
    p = wpath("gen.jsonl");
    spit(p, "{\"task\": \"g\", \"match\": \"number\", \"until\": [\"\\n\\n\", \"Q:\"], \"max_new_tokens\": 9}\n"
            "{\"prompt\": \"2+2=\", \"answers\": [\"4\"]}\n{\"prompt\": \"x\", \"answers\": [\"y\"], \"match\": \"exact\"}\n");
    rc = task_file_read(p, &t, err, sizeof err);
    EXPECT(rc == 0 && t.kind == TASK_GENERATE && t.n_until == 2 && t.max_new_tokens == 9 &&
               t.ex[0].match == MATCH_NUMBER && t.ex[1].match == MATCH_EXACT,
           "generation file: %s", rc ? err : "wrong fields");
    if (rc == 0) task_file_free(&t);
}

static void test_answers(void) {
    double x = 0;
    EXPECT(task_last_number("so 12 apples, then 1,234.", &x) && x == 1234.0, "last number %g", x);
    EXPECT(task_last_number("from 3 to -7.25 degrees", &x) && x == -7.25, "last number %g", x);
    EXPECT(!task_last_number("no digits here", &x), "a number where there is none");
    char *ans[] = {"72"};
    TaskExample e = {0};
    e.answers = ans;
    e.n_answers = 1;
    e.match = MATCH_NUMBER;
    EXPECT(task_answer_correct(&e, "She sold 48 + 24 = 72 clips.\n"), "number match");
    EXPECT(!task_answer_correct(&e, "72 or 73"), "number match takes the last number");
    e.match = MATCH_EXACT;
    EXPECT(task_answer_correct(&e, "  72\n") && !task_answer_correct(&e, "72 clips"), "exact match (trimmed)");
    char *word[] = {" Bank "};
    e.answers = word;
    e.match = MATCH_CONTAINS;
    EXPECT(task_answer_correct(&e, "a river bank.") && !task_answer_correct(&e, "a river"), "contains (no case)");
}

/* ---- the split at the tokenisation boundary ------------------------------------------------- */

static size_t enc(const Tokenizer *tok, const char *s, uint32_t **ids) { return tokenizer_encode(tok, s, strlen(s), ids); }

/* one plain multiple-choice example (context, delimiter, two choices) encoded */
static int encode_one(const Tokenizer *tok, const char *ctx, const char *delim, const char *c0, const char *c1,
                      TaskTokens *tt) {
    char line[2048];
    snprintf(line, sizeof line, "{\"context\": \"%s\", \"choices\": [\"%s\", \"%s\"], \"label\": 0, \"target_delimiter\": \"%s\"}\n",
             ctx, c0, c1, delim);
    TaskFile t;
    char err[512];
    CHECK(task_file_parse("inline.jsonl", line, strlen(line), &t, err, sizeof err) == 0, "%s", err);
    TaskPromptOptions o = {0, NULL, 1, 0};
    int rc = task_encode(tok, &t, 0, &o, tt, err, sizeof err);
    if (rc) fprintf(stderr, "  (%s)\n", err);
    task_file_free(&t);
    return rc;
}

/* ctx tokens == <bos> encode(context without trailing whitespace), cont == the rest of encode(all) */
static void expect_split(const Tokenizer *tok, const char *ctx, const char *delim, const char *choice, const char *what) {
    TaskTokens tt;
    EXPECT(encode_one(tok, ctx, delim, choice, "zz", &tt) == 0, "%s: not encoded", what);
    if (tt.n_req == 0) return;
    char c2[512], all[1024];
    snprintf(c2, sizeof c2, "%s", ctx);
    size_t n = strlen(c2);
    while (n > 0 && c2[n - 1] == ' ') c2[--n] = 0;
    snprintf(all, sizeof all, "%s%s%s", ctx, delim, choice);
    uint32_t *ci, *wi;
    size_t cn = enc(tok, c2, &ci), wn = enc(tok, all, &wi);
    EXPECT(tt.n_ctx == 1 && tt.ctx_len[0] == cn + 1 && tt.ctx[0][0] == (uint32_t)tokenizer_specials(tok).bos &&
               !memcmp(tt.ctx[0] + 1, ci, cn * sizeof(uint32_t)),
           "%s: context tokens are not <bos> encode(\"%s\")", what, c2);
    EXPECT(tt.cont_len[0] == wn - cn && !memcmp(tt.cont[0], wi + cn, (wn - cn) * sizeof(uint32_t)),
           "%s: continuation is not encode(all)[%zu:]", what, cn);
    char *back = tokenizer_decode(tok, tt.cont[0], tt.cont_len[0], NULL);
    if (!memcmp(ci, wi, cn * sizeof(uint32_t))) /* the parts tokenise as the whole: the text splits cleanly */
        EXPECT(!strcmp(back, all + n), "%s: continuation decodes to '%s', want '%s'", what, back, all + n);
    free(back);
    free(ci);
    free(wi);
    task_tokens_free(&tt);
}

static void test_boundary(const Tokenizer *tok) {
    /* a context ending in a space: the space moves into the continuation */
    expect_split(tok, "The cat sat on the ", " ", "mat", "trailing space");
    TaskTokens tt;
    CHECK(encode_one(tok, "The cat sat on the ", " ", "mat", "hat", &tt) == 0, "encode");
    const char *last = tokenizer_id_to_piece(tok, (int)tt.ctx[0][tt.ctx_len[0] - 1]);
    size_t ll = strlen(last);
    EXPECT(ll > 0 && last[ll - 1] != ' ' && (ll < 3 || strncmp(last + ll - 3, "\xe2\x96\x81", 3) != 0),
           "the context's last piece '%s' still holds the trailing space", last);
    char *c = tokenizer_decode(tok, tt.cont[0], tt.cont_len[0], NULL);
    EXPECT(!strcmp(c, "  mat"), "continuation '%s', want the moved space + delimiter + choice", c);
    free(c);
    task_tokens_free(&tt);
    /* a choice beginning with punctuation, no delimiter */
    expect_split(tok, "Hello", "", ", world.", "punctuation");
    /* context + choice tokenising differently from the parts: find such a pair, then check the split */
    const char *ctxs[] = {"in th", "the ca", "wh", "sh", "of the hou", "a b", "and th", "it wa"};
    const char *chs[] = {"e house", "t sat", "en he", "ould go", "se", "ird", "at was", "s good"};
    int found = 0;
    for (int i = 0; i < 8; i++) {
        char all[256];
        snprintf(all, sizeof all, "%s%s", ctxs[i], chs[i]);
        uint32_t *a, *b, *w;
        size_t na = enc(tok, ctxs[i], &a), nb = enc(tok, chs[i], &b), nw = enc(tok, all, &w);
        int differs = nw != na + nb || memcmp(w, a, na * sizeof(uint32_t)) || memcmp(w + na, b, nb * sizeof(uint32_t));
        if (differs) {
            found++;
            expect_split(tok, ctxs[i], "", chs[i], "merge across the boundary");
        }
        free(a);
        free(b);
        free(w);
    }
    EXPECT(found > 0, "no context + choice pair tokenises differently from its parts with this tokenizer");
    printf("boundary: trailing space, punctuation, %d of 8 pairs merging across the boundary checked\n", found);
}

static void test_fewshot(const Tokenizer *tok) {
    char text[8192] = "";
    for (int i = 0; i < 12; i++) {
        char line[256];
        snprintf(line, sizeof line, "{\"context\": \"question %d?\", \"choices\": [\"yes %d\", \"no %d\"], \"label\": %d}\n", i, i,
                 i, i % 2);
        strcat(text, line);
    }
    TaskFile t;
    char err[512];
    CHECK(task_file_parse("shots.jsonl", text, strlen(text), &t, err, sizeof err) == 0, "%s", err);
    TaskPromptOptions o = {11, NULL, 1234, 0};
    for (size_t i = 0; i < t.n; i++) {
        char *p = task_fewshot_prefix(&t, i, &o, err, sizeof err);
        CHECK(p, "%s", err);
        char own[64];
        snprintf(own, sizeof own, "question %zu?", i);
        EXPECT(!strstr(p, own), "example %zu's prefix holds the example itself", i);
        int shots = 0;
        for (const char *q = p; (q = strstr(q, "\n\n")); q += 2) shots++;
        EXPECT(shots == 11, "example %zu: %d shots, want 11", i, shots);
        free(p);
    }
    o.fewshot = 12;
    EXPECT(!task_fewshot_prefix(&t, 0, &o, err, sizeof err) && strstr(err, "shots.jsonl:1: cannot draw 12"),
           "12 shots from 12 examples: '%s'", err);
    o.fewshot = 3;
    char *a = task_fewshot_prefix(&t, 4, &o, err, sizeof err), *b = task_fewshot_prefix(&t, 4, &o, err, sizeof err);
    o.seed = 99;
    char *c = task_fewshot_prefix(&t, 4, &o, err, sizeof err);
    EXPECT(!strcmp(a, b) && strcmp(a, c), "few-shot draws: same seed same shots, another seed other shots");
    EXPECT(strstr(a, "? yes ") || strstr(a, "? no "), "a shot reads context + delimiter + gold: '%s'", a);
    free(a);
    free(b);
    free(c);
    /* generation shots read prompt + " " + the example's target (GSM8K: the worked solution) */
    const char *g = "{\"prompt\": \"Q: 1+1?\\nA:\", \"answers\": [\"2\"], \"target\": \"1+1=2 #### 2\"}\n"
                    "{\"prompt\": \"Q: 2+2?\\nA:\", \"answers\": [\"4\"]}\n";
    TaskFile gt;
    CHECK(task_file_parse("gen.jsonl", g, strlen(g), &gt, err, sizeof err) == 0, "%s", err);
    o = (TaskPromptOptions){1, NULL, 1, 0};
    char *g1 = task_fewshot_prefix(&gt, 1, &o, err, sizeof err), *g0 = task_fewshot_prefix(&gt, 0, &o, err, sizeof err);
    EXPECT(g1 && !strcmp(g1, "Q: 1+1?\nA: 1+1=2 #### 2\n\n"), "generation shot with a target: '%s'", g1);
    EXPECT(g0 && !strcmp(g0, "Q: 2+2?\nA: 4\n\n"), "generation shot without a target: '%s'", g0);
    free(g1);
    free(g0);
    task_file_free(&gt);
    /* chat: shots as earlier turns, one <bos>, continuation without the delimiter */
    TaskTokens tt;
    o = (TaskPromptOptions){2, NULL, 1, 1};
    EXPECT(task_encode(tok, &t, 0, &o, &tt, err, sizeof err) == 0, "chat encode: %s", err);
    TokenizerSpecials sp = tokenizer_specials(tok);
    int bos = 0, turns = 0;
    for (size_t k = 0; k < tt.ctx_len[0]; k++) {
        bos += tt.ctx[0][k] == (uint32_t)sp.bos;
        turns += tt.ctx[0][k] == (uint32_t)sp.start_of_turn;
    }
    EXPECT(bos == 1 && turns == 6, "chat prompt with 2 shots: %d <bos>, %d turns (want 1, 6)", bos, turns);
    char *k = tokenizer_decode(tok, tt.cont[0], tt.cont_len[0], NULL);
    EXPECT(!strcmp(k, "yes 0"), "chat continuation '%s'", k);
    free(k);
    task_tokens_free(&tt);
    task_file_free(&t);
}

/* ---- state copy vs from scratch ------------------------------------------------------------ */

static void perturb(GriffinModel *m, uint64_t seed) {
    Rng r;
    rng_seed(&r, seed, 5);
    for (int i = 0; i < m->table.count; i++) {
        const TensorInfo *t = &m->table.t[i];
        if (t->init == INIT_A_PARAM) continue;
        float std = t->init == INIT_ZERO ? 0.2f : t->init_std * 0.5f;
        for (size_t j = 0; j < t->numel; j++) m->params[t->offset + j] += (float)((double)std * rng_normal(&r));
    }
}

static GriffinConfig tiny_cfg(Family f, int V) {
    GriffinConfig c = {0};
    c.family = f;
    c.vocab_size = V;
    c.width = 32;
    c.lru_width = 40;
    c.mlp_width = 48;
    c.num_heads = 2;
    c.depth = 3;
    c.window = 6;
    c.soft_cap = 30.0f;
    c.embed_scale = 1;
    CHECK(!config_finalize(&c), "bad test config");
    return c;
}

static uint32_t *random_ids(Rng *r, size_t n, int V, int bos) {
    uint32_t *x = mallocCheck(sizeof(uint32_t) * n);
    for (size_t i = 0; i < n; i++) x[i] = (uint32_t)rng_below(r, (uint64_t)V);
    if (bos >= 0) x[0] = (uint32_t)bos;
    return x;
}

/* n random examples: shared contexts (1..30 tokens) with 2..4 choices, every third one partial */
static void random_examples(TaskTokens *ex, int n, int V, Rng *r) {
    for (int e = 0; e < n; e++) {
        TaskTokens *x = &ex[e];
        int k = 2 + (int)rng_below(r, 3), partial = e % 3 == 2;
        x->n_req = k;
        x->n_ctx = partial ? k : 1;
        x->ctx = mallocCheck(sizeof(uint32_t *) * (size_t)x->n_ctx);
        x->ctx_len = mallocCheck(sizeof(size_t) * (size_t)x->n_ctx);
        for (int c = 0; c < x->n_ctx; c++) {
            x->ctx_len[c] = 1 + rng_below(r, 30);
            x->ctx[c] = random_ids(r, x->ctx_len[c], V, 2);
        }
        x->cont = mallocCheck(sizeof(uint32_t *) * (size_t)k);
        x->cont_len = mallocCheck(sizeof(size_t) * (size_t)k);
        x->ctx_of = mallocCheck(sizeof(int) * (size_t)k);
        for (int j = 0; j < k; j++) {
            x->cont_len[j] = 1 + rng_below(r, 8);
            x->cont[j] = random_ids(r, x->cont_len[j], V, -1);
            x->ctx_of[j] = partial ? j : 0;
        }
    }
}

static void test_state_vs_scratch(Family fam, const char *name) {
    const int V = 61, N = 7, T = 12; /* T < the longest context: some continue by decode steps */
    GriffinConfig cfg = tiny_cfg(fam, V);
    GriffinModel *m = griffin_create_ex(&cfg, 3, T, 7, GRIFFIN_INFERENCE | GRIFFIN_CHUNKED_LOSS);
    perturb(m, 21);
    GriffinModel *s = griffin_create_ex(&cfg, 5, 40, 7, GRIFFIN_INFERENCE);
    memcpy(s->params, m->params, m->table.total * sizeof(float));
    Rng r;
    rng_seed(&r, 33, (uint64_t)fam);
    TaskTokens ex[7];
    random_examples(ex, N, V, &r);
    const TaskTokens *p[7];
    int R = 0;
    for (int e = 0; e < N; e++) p[e] = &ex[e], R += ex[e].n_req;
    double *a = mallocCheck(sizeof(double) * (size_t)R), *b = mallocCheck(sizeof(double) * (size_t)R);
    double *a1 = mallocCheck(sizeof(double) * (size_t)R);
    int *ga = mallocCheck(sizeof(int) * (size_t)R), *gb = mallocCheck(sizeof(int) * (size_t)R);
    int *g1 = mallocCheck(sizeof(int) * (size_t)R);
    task_score_states(m, T, p, N, a, ga);
    task_score_scratch(s, p, N, b, gb);
    for (int e = 0, off = 0; e < N; off += ex[e].n_req, e++) task_score_states(m, T, p + e, 1, a1 + off, g1 + off);
    double worst = 0, worst_batch = 0;
    int greedy_same = 1;
    for (int i = 0; i < R; i++) {
        worst = fmax(worst, fabs(a[i] - b[i]) / fmax(1.0, fabs(b[i])));
        worst_batch = fmax(worst_batch, fabs(a[i] - a1[i]) / fmax(1.0, fabs(a1[i])));
        greedy_same &= ga[i] == gb[i] && ga[i] == g1[i];
        EXPECT(a[i] < 0 && isfinite(a[i]), "%s: score %d = %g", name, i, a[i]);
    }
    EXPECT(worst <= 1e-6, "%s: state copy vs from scratch differ by %.3g (relative, tolerance 1e-6)", name, worst);
    EXPECT(worst_batch <= 1e-6, "%s: batched vs one example at a time differ by %.3g (relative)", name, worst_batch);
    EXPECT(greedy_same, "%s: greedy flags differ", name);
    printf("%s: %d requests of %d examples, state copy vs from scratch %.2g (relative), batch vs alone %.2g\n", name, R, N,
           worst, worst_batch);
    for (int e = 0; e < N; e++) task_tokens_free(&ex[e]);
    free(a);
    free(b);
    free(a1);
    free(ga);
    free(gb);
    free(g1);
    griffin_free(m);
    griffin_free(s);
}

/* generation: greedy replies equal the argmax chain of the parallel forward, stop strings cut */
static void test_generate(const Tokenizer *tok) {
    int V = tokenizer_vocab_size(tok);
    GriffinConfig cfg = tiny_cfg(FAMILY_GRIFFIN, V);
    GriffinModel *m = griffin_create_ex(&cfg, 2, 16, 9, GRIFFIN_INFERENCE | GRIFFIN_CHUNKED_LOSS);
    perturb(m, 4);
    GriffinModel *f = griffin_create_ex(&cfg, 1, 64, 9, GRIFFIN_INFERENCE);
    memcpy(f->params, m->params, m->table.total * sizeof(float));
    TaskTokens x = {0};
    uint32_t prompt[5] = {(uint32_t)tokenizer_specials(tok).bos, 40, 41, 42, 43};
    uint32_t *pp = prompt;
    size_t pl = 5;
    int zero = 0;
    x.n_ctx = 1;
    x.ctx = &pp;
    x.ctx_len = &pl;
    x.ctx_of = &zero;
    const TaskTokens *px = &x;
    int stop = -1;
    TaskGenOptions o = {12, &stop, 1, NULL, 0, V};
    char *reply;
    task_generate(m, 16, tok, &px, 1, &o, &reply);
    int tokens[64], pos[64], n = 5;
    for (int i = 0; i < 5; i++) tokens[i] = (int)prompt[i], pos[i] = i;
    for (int k = 0; k < 12; k++, n++) {
        griffin_forward(f, tokens, NULL, pos, NULL, 1, n);
        const float *row = f->logits + (size_t)(n - 1) * V;
        int best = 0;
        for (int i = 1; i < V; i++) best = row[i] > row[best] ? i : best;
        tokens[n] = best;
        pos[n] = n;
    }
    uint32_t ids[12];
    for (int i = 0; i < 12; i++) ids[i] = (uint32_t)tokens[5 + i];
    char *want = tokenizer_decode(tok, ids, 12, NULL);
    EXPECT(!strcmp(reply, want), "greedy reply '%s', argmax chain '%s'", reply, want);
    if (strlen(want) > 2) { /* a stop string from inside the reply cuts it there */
        char until[3] = {want[1], want[2], 0};
        const char *u = until;
        TaskGenOptions o2 = {12, &stop, 1, &u, 1, V};
        char *cut;
        task_generate(m, 16, tok, &px, 1, &o2, &cut);
        char *at = strstr(want, until);
        EXPECT(at && strlen(cut) == (size_t)(at - want) && !strncmp(cut, want, strlen(cut)), "stop string '%s': '%s' of '%s'",
               until, cut, want);
        free(cut);
    }
    free(reply);
    free(want);
    griffin_free(m);
    griffin_free(f);
}

static Tokenizer *test_tokenizer(void) {
    const char *tp = getenv("GRIFFIN_TEST_TOKENIZER");
    CHECK(tp && exists(tp), "set GRIFFIN_TEST_TOKENIZER to a tokenizer.model");
    return tokenizer_load(tp);
}

/* ---- the reference checkpoint and task file -------------------------------------------------- */

static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopenCheck(path, "rb");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = mallocCheck((size_t)n + 1);
    CHECK(fread(b, 1, (size_t)n, f) == (size_t)n, "short read of %s", path);
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* writes the checkpoint (its path into ckpt) and the task file */
static void cmd_ref(char *ckpt, size_t ckpt_len) {
    const char *tp = getenv("GRIFFIN_TEST_TOKENIZER");
    CHECK(tp && exists(tp), "set GRIFFIN_TEST_TOKENIZER to a tokenizer.model");
    Tokenizer *tok = tokenizer_load(tp);
    GriffinConfig cfg = tiny_cfg(FAMILY_GRIFFIN, tokenizer_vocab_size(tok));
    tokenizer_free(tok);
    ParamTable pt;
    param_table_build(&pt, &cfg);
    GriffinModel *m = griffin_create_ex(&cfg, 1, 1, 42, GRIFFIN_INFERENCE);
    perturb(m, 17);
    size_t tl;
    uint8_t *tb = slurp(tp, &tl);
    char err[1024];
    char *ini = interop_config_ini(&cfg, err, sizeof err);
    CHECK(ini, "config text: %s", err);
    CkptState s = {.pt = &pt, .params = m->params, .config = ini, .tokenizer = tb, .tokenizer_len = tl};
    CHECK(ckpt_save(wpath("ref_ckpt"), &s, 1, ckpt, ckpt_len, err, sizeof err) == CKPT_OK, "ckpt_save: %s", err);
    printf("%s\n", ckpt);
    free(ini);
    free(tb);
    param_table_free(&pt);
    griffin_free(m);
    /* contexts ending in a space, punctuation, a merge across the boundary, UTF-8 (chars != bytes),
     * an empty context, a custom delimiter, partial scoring, a context longer than --max-length 8 */
    spit(wpath("ref_tasks.jsonl"),
         "{\"task\": \"ref\"}\n"
         "{\"context\": \"The cat sat on the \", \"choices\": [\"mat\", \"hat\", \"dog\"], \"label\": 0}\n"
         "{\"context\": \"Hello\", \"choices\": [\", world.\", \"! world\", \" world\"], \"label\": 1, \"target_delimiter\": \"\"}\n"
         "{\"context\": \"in th\", \"choices\": [\"e house\", \"is way\"], \"label\": 0, \"target_delimiter\": \"\"}\n"
         "{\"context\": \"caf\\u00e9 or \", \"choices\": [\"th\\u00e9\", \"tea\", \"\\u00e9t\\u00e9\"], \"label\": 2}\n"
         "{\"context\": \"\", \"choices\": [\"yes\", \"no\"], \"label\": 1}\n"
         "{\"context\": \"Question: what is it?\", \"choices\": [\"a bird\", \"a plane\"], \"label\": 1, \"target_delimiter\": \"\\nAnswer: \"}\n"
         "{\"contexts\": [\"The trophy did not fit because the trophy\", \"The trophy did not fit because the case\"], "
         "\"continuation\": \"was too big.\", \"label\": 0}\n"
         "{\"context\": \"It was a long and winding road that led us over the hills to the sea and \", \"choices\": "
         "[\"back\", \"home again\", \"away\"], \"label\": 1}\n");
}

/* ---- the command's refusals ----------------------------------------------------------------- */

GRIFFIN_PRINTF(2, 3)
static int run(const char *log, const char *fmt, ...) {
    char cmd[8192], full[8192 + 2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(full, sizeof full, "%s > %s 2>&1", cmd, log);
    int st = system(full);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void expect_cli_refusal(const char *bin, const char *ckpt, const char *file, const char *extra, const char *want) {
    char out[1100], log[1100];
    snprintf(out, sizeof out, "%s", wpath("cli_out.jsonl"));
    snprintf(log, sizeof log, "%s", wpath("cli.log"));
    unlink(out);
    int rc = run(log, "%s eval --checkpoint %s --tasks %s %s --per-example %s", bin, ckpt, file, extra, out);
    size_t n;
    uint8_t *b = slurp(log, &n);
    char *t = (char *)b;
    t[n] = 0;
    int lines = 0;
    for (size_t i = 0; i < n; i++) lines += t[i] == '\n';
    EXPECT(rc == 1, "%s: exit %d, want 1 (%s)", file, rc, t);
    EXPECT(lines == 1 && strstr(t, want) && !strstr(t, ".c:"), "%s: want one line with '%s' and no source location, got: %s",
           file, want, t);
    EXPECT(!exists(out), "%s: a per-example file was written", file);
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    EXPECT(!exists(tmp), "%s: a temporary per-example file was left", file);
    free(b);
}

static void cmd_cli(void) {
    const char *bin = getenv("GRIFFIN_BIN");
    CHECK(bin, "set GRIFFIN_BIN to the griffin binary");
    char ckpt[1200];
    cmd_ref(ckpt, sizeof ckpt);
    char good[1100];
    snprintf(good, sizeof good, "%s", wpath("ref_tasks.jsonl"));
    spit(wpath("c_no_choices.jsonl"), "{\"context\": \"a\", \"choices\": [\"x\", \"y\"], \"label\": 0}\n{\"context\": \"b\", \"label\": 0}\n");
    char list[4096];
    snprintf(list, sizeof list, "%s,%s", good, wpath("c_no_choices.jsonl"));
    expect_cli_refusal(bin, ckpt, list, "", "c_no_choices.jsonl:2: missing \"choices\"");
    spit(wpath("c_label.jsonl"), "{\"context\": \"a\", \"choices\": [\"x\", \"y\"], \"label\": 5}\n");
    expect_cli_refusal(bin, ckpt, wpath("c_label.jsonl"), "", "c_label.jsonl:1: label 5 out of range");
    spit(wpath("c_empty.jsonl"), "{\"context\": \"a\", \"choices\": [\"\", \"y\"], \"label\": 0}\n");
    expect_cli_refusal(bin, ckpt, wpath("c_empty.jsonl"), "", "c_empty.jsonl:1: \"choices\"[0] is empty");
    spit(wpath("c_kind.jsonl"), "{\"text\": \"a document\"}\n");
    expect_cli_refusal(bin, ckpt, wpath("c_kind.jsonl"), "", "c_kind.jsonl:1: not a task line: a text corpus line");
    expect_cli_refusal(bin, ckpt, ckpt, "", ".h5:1: not JSON");
    expect_cli_refusal(bin, ckpt, good, "--fewshot 8", "ref_tasks.jsonl:2: cannot draw 8 few-shot examples");
    expect_cli_refusal(bin, ckpt, good, "--chat", "ref_tasks.jsonl:6: an empty context cannot be a chat user turn");
    /* a context longer than --max-length is scored (the fixed-size state carries on), not refused */
    const char *log = wpath("cli_long.log"), *out = wpath("cli_long.jsonl");
    int rc = run(log, "%s eval --checkpoint %s --tasks %s --max-length 8 --per-example %s", bin, ckpt, good, out);
    EXPECT(rc == 0 && exists(out), "--max-length 8: exit %d (see %s)", rc, log);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: test_eval_tasks unit|ref|cli WORK\n");
        return 2;
    }
    work = argv[2];
    mkdir(work, 0755);
    if (!strcmp(argv[1], "ref")) {
        char ckpt[1200];
        cmd_ref(ckpt, sizeof ckpt);
        return 0;
    }
    if (!strcmp(argv[1], "cli")) cmd_cli();
    else {
        test_reader_refusals();
        test_reader_good();
        test_answers();
        Tokenizer *tok = test_tokenizer();
        test_boundary(tok);
        test_fewshot(tok);
        test_state_vs_scratch(FAMILY_GRIFFIN, "griffin");
        test_state_vs_scratch(FAMILY_HAWK, "hawk");
        test_state_vs_scratch(FAMILY_TRANSFORMER, "transformer");
        test_generate(tok);
        tokenizer_free(tok);
    }
    if (failures) fprintf(stderr, "%d failures\n", failures);
    else printf("all passed\n");
    return failures ? 1 : 0;
}
