/* Task examples to token ids (see task_prompt.h). */
#include "data/task_prompt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "common/rng.h"
#include "data/chat.h"

#define SHOT_TRIES 100000

/* growable string */
typedef struct {
    char *s;
    size_t n, cap;
} Str;

static void str_add(Str *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        b->s = realloc(b->s, cap);
        CHECK(b->s, "out of memory building a prompt");
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

static void str_adds(Str *b, const char *s) { str_add(b, s, strlen(s)); }

/* the text an example is recognised by (its context or prompt) */
static const char *example_key(const TaskFile *t, const TaskExample *e) {
    return t->kind == TASK_GENERATE ? e->prompt : task_context(e, 0);
}

/* shot context (before the delimiter) and its gold target */
static void shot_parts(const TaskFile *t, const TaskExample *e, const char **ctx, const char **target,
                       const char **delim) {
    if (t->kind == TASK_GENERATE) {
        *ctx = e->prompt;
        *target = e->target ? e->target : e->answers[0];
        *delim = " ";
    } else {
        *ctx = task_context(e, e->label);
        *target = task_choice(e, e->label);
        *delim = e->delimiter;
    }
}

/* Draws o->fewshot shot indices into idx (seeded by (seed, i)), never example i of the same
 * file nor one with the same context / prompt text. 0 or -1. */
static int draw_shots(const TaskFile *t, size_t i, const TaskPromptOptions *o, size_t *idx, char *err, size_t errlen) {
    const TaskFile *src = o->shots ? o->shots : t;
    const char *own = example_key(t, &t->ex[i]);
    Rng r;
    rng_seed(&r, o->seed, (uint64_t)i);
    int got = 0;
    for (int tries = 0; got < o->fewshot && tries < SHOT_TRIES; tries++) {
        size_t k = (size_t)rng_below(&r, src->n);
        int ok = !(src == t && k == i) && strcmp(example_key(src, &src->ex[k]), own) != 0;
        for (int j = 0; ok && j < got; j++) ok = idx[j] != k;
        if (ok) idx[got++] = k;
    }
    if (got < o->fewshot) {
        snprintf(err, errlen, "cannot draw %d few-shot examples other than this one from %s (%zu examples)",
                 o->fewshot, src->path, src->n);
        return -1;
    }
    return 0;
}

char *task_fewshot_prefix(const TaskFile *t, size_t i, const TaskPromptOptions *o, char *err, size_t errlen) {
    Str b = {0};
    str_add(&b, "", 0);
    if (o->fewshot <= 0) return b.s;
    const TaskFile *src = o->shots ? o->shots : t;
    if (src->kind != t->kind) {
        snprintf(err, errlen, "%s: few-shot file of another kind (%s) than the task %s (%s)", src->path,
                 task_kind_name(src), t->path, task_kind_name(t));
        free(b.s);
        return NULL;
    }
    size_t *idx = mallocCheck(sizeof(size_t) * (size_t)o->fewshot);
    char why[512];
    if (draw_shots(t, i, o, idx, why, sizeof why)) {
        snprintf(err, errlen, "%s:%zu: %s", t->path, t->ex[i].line, why);
        free(idx);
        free(b.s);
        return NULL;
    }
    for (int j = 0; j < o->fewshot; j++) {
        const char *ctx, *target, *delim;
        shot_parts(src, &src->ex[idx[j]], &ctx, &target, &delim);
        str_adds(&b, ctx);
        str_adds(&b, delim);
        str_adds(&b, target);
        str_adds(&b, "\n\n");
    }
    free(idx);
    return b.s;
}

static void push_tokens(uint32_t **dst, size_t *dst_n, const uint32_t *ids, size_t n, int bos) {
    *dst = mallocCheck(sizeof(uint32_t) * (n + (bos >= 0 ? 1 : 0)));
    size_t k = 0;
    if (bos >= 0) (*dst)[k++] = (uint32_t)bos;
    memcpy(*dst + k, ids, sizeof(uint32_t) * n);
    *dst_n = n + k;
}

static void alloc_tokens(TaskTokens *tt, int n_ctx, int n_req) {
    memset(tt, 0, sizeof *tt);
    tt->n_ctx = n_ctx;
    tt->n_req = n_req;
    tt->ctx = callocCheck((size_t)n_ctx, sizeof(uint32_t *));
    tt->ctx_len = callocCheck((size_t)n_ctx, sizeof(size_t));
    tt->cont = callocCheck((size_t)(n_req ? n_req : 1), sizeof(uint32_t *));
    tt->cont_len = callocCheck((size_t)(n_req ? n_req : 1), sizeof(size_t));
    tt->ctx_of = callocCheck((size_t)(n_req ? n_req : 1), sizeof(int));
}

void task_tokens_free(TaskTokens *tt) {
    for (int i = 0; i < tt->n_ctx; i++) free(tt->ctx[i]);
    for (int i = 0; i < tt->n_req; i++) free(tt->cont[i]);
    free(tt->ctx);
    free(tt->ctx_len);
    free(tt->cont);
    free(tt->cont_len);
    free(tt->ctx_of);
    memset(tt, 0, sizeof *tt);
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/* encode or say why not */
static int encode(const Tokenizer *tok, const char *s, size_t n, uint32_t **ids, size_t *len) {
    *len = tokenizer_encode(tok, s, n, ids);
    return *len == (size_t)-1 ? -1 : 0;
}

/* Plain request: context c (prefix included), continuation k; the harness's split. Writes the
 * context tokens (with <bos>) when ctx != NULL. 0, or -1 when the continuation adds no token. */
static int encode_pair(const Tokenizer *tok, const char *c, const char *k, uint32_t **ctx, size_t *ctx_len,
                       uint32_t **cont, size_t *cont_len) {
    size_t cn = strlen(c), ws = 0;
    while (ws < cn && is_ws(c[cn - 1 - ws])) ws++;
    Str whole = {0};
    str_add(&whole, c, cn);
    str_adds(&whole, k);
    uint32_t *wi = NULL, *ci = NULL;
    size_t wn, n_ci;
    int rc = encode(tok, whole.s, whole.n, &wi, &wn) || encode(tok, c, cn - ws, &ci, &n_ci) ? -1 : 0;
    if (rc == 0 && wn <= n_ci) rc = -2;
    if (rc == 0) {
        if (ctx) push_tokens(ctx, ctx_len, ci, n_ci, tokenizer_specials(tok).bos);
        push_tokens(cont, cont_len, wi + n_ci, wn - n_ci, -1);
    }
    free(wi);
    free(ci);
    free(whole.s);
    return rc;
}

/* chat: the prompt rendered as a user turn after the shots' turn pairs */
static const char *chat_context(const Tokenizer *tok, const TaskFile *t, size_t i, const TaskPromptOptions *o,
                                const char *query, TokenBuf *out, char *err, size_t errlen) {
    const TaskFile *src = o->shots ? o->shots : t;
    if (o->fewshot > 0) {
        if (src->kind != t->kind) return "few-shot file of another kind than the task";
        size_t *idx = mallocCheck(sizeof(size_t) * (size_t)o->fewshot);
        if (draw_shots(t, i, o, idx, err, errlen)) {
            free(idx);
            return err;
        }
        ChatMessage *m = mallocCheck(sizeof(ChatMessage) * 2 * (size_t)o->fewshot);
        for (int j = 0; j < o->fewshot; j++) {
            const char *ctx, *target, *delim;
            shot_parts(src, &src->ex[idx[j]], &ctx, &target, &delim);
            if (!ctx[0]) { /* chat_render would say "message k: empty content" */
                snprintf(err, errlen, "its few-shot example %s:%zu has an empty context, which cannot be a chat "
                         "user turn", src->path, src->ex[idx[j]].line);
                free(m);
                free(idx);
                return err;
            }
            m[2 * j] = (ChatMessage){CHAT_USER, ctx, strlen(ctx)};
            m[2 * j + 1] = (ChatMessage){CHAT_MODEL, target, strlen(target)};
        }
        const char *e = chat_render(tok, m, 2 * (size_t)o->fewshot, out, err, errlen);
        free(m);
        free(idx);
        if (e) return e;
    }
    if (!query[0]) return "an empty context cannot be a chat user turn";
    TokenBuf q = {0};
    const char *e = chat_render_prompt(tok, query, strlen(query), &q);
    if (!e) tokbuf_push_n(out, q.ids + (out->n ? 1 : 0), q.n - (out->n ? 1 : 0), 0); /* one <bos> */
    tokbuf_free(&q);
    return e;
}

static int chat_encode(const Tokenizer *tok, const TaskFile *t, size_t i, const TaskPromptOptions *o, TaskTokens *tt,
                       char *err, size_t errlen) {
    const TaskExample *e = &t->ex[i];
    int n_ctx = t->kind == TASK_GENERATE ? 1 : e->contexts ? e->n_choices : 1;
    alloc_tokens(tt, n_ctx, t->kind == TASK_GENERATE ? 0 : e->n_choices);
    char why[512];
    for (int c = 0; c < n_ctx; c++) {
        TokenBuf b = {0};
        const char *q = t->kind == TASK_GENERATE ? e->prompt : task_context(e, c);
        const char *m = chat_context(tok, t, i, o, q, &b, why, sizeof why);
        if (m) {
            tokbuf_free(&b);
            snprintf(err, errlen, "%s:%zu: %s", t->path, e->line, m);
            return -1;
        }
        push_tokens(&tt->ctx[c], &tt->ctx_len[c], b.ids, b.n, -1);
        tokbuf_free(&b);
    }
    for (int j = 0; j < tt->n_req; j++) {
        uint32_t *ids;
        size_t n;
        const char *ch = task_choice(e, j);
        if (encode(tok, ch, strlen(ch), &ids, &n) || n == 0) {
            free(ids);
            snprintf(err, errlen, "%s:%zu: choice %d encodes to no tokens", t->path, e->line, j);
            return -1;
        }
        tt->cont[j] = ids;
        tt->cont_len[j] = n;
        tt->ctx_of[j] = e->contexts ? j : 0;
    }
    return 0;
}

static int plain_encode(const Tokenizer *tok, const TaskFile *t, size_t i, const TaskPromptOptions *o,
                        TaskTokens *tt, char *err, size_t errlen) {
    const TaskExample *e = &t->ex[i];
    char *prefix = task_fewshot_prefix(t, i, o, err, errlen);
    if (!prefix) return -1;
    Str c = {0};
    int rc = 0;
    if (t->kind == TASK_GENERATE) {
        alloc_tokens(tt, 1, 0);
        str_adds(&c, prefix);
        str_adds(&c, e->prompt);
        uint32_t *ids;
        size_t n;
        rc = encode(tok, c.s, c.n, &ids, &n);
        if (!rc) push_tokens(&tt->ctx[0], &tt->ctx_len[0], ids, n, tokenizer_specials(tok).bos);
        if (!rc) free(ids);
        if (rc) snprintf(err, errlen, "%s:%zu: the prompt cannot be encoded", t->path, e->line);
    } else {
        alloc_tokens(tt, e->contexts ? e->n_choices : 1, e->n_choices);
        for (int j = 0; j < e->n_choices && !rc; j++) {
            c.n = 0;
            str_adds(&c, prefix);
            str_adds(&c, task_context(e, j));
            Str k = {0};
            str_adds(&k, e->delimiter);
            str_adds(&k, task_choice(e, j));
            int own = e->contexts || j == 0; /* a context of its own (else shared with choice 0) */
            tt->ctx_of[j] = e->contexts ? j : 0;
            rc = encode_pair(tok, c.s, k.s, own ? &tt->ctx[tt->ctx_of[j]] : NULL, &tt->ctx_len[tt->ctx_of[j]],
                             &tt->cont[j], &tt->cont_len[j]);
            if (rc == -2) snprintf(err, errlen, "%s:%zu: choice %d adds no token after the context", t->path, e->line, j);
            else if (rc) snprintf(err, errlen, "%s:%zu: choice %d cannot be encoded", t->path, e->line, j);
            free(k.s);
        }
    }
    free(c.s);
    free(prefix);
    return rc ? -1 : 0;
}

int task_encode(const Tokenizer *tok, const TaskFile *t, size_t i, const TaskPromptOptions *o, TaskTokens *out,
                char *err, size_t errlen) {
    CHECK(i < t->n, "task_encode: example %zu of %zu", i, t->n);
    memset(out, 0, sizeof *out);
    if (tokenizer_specials(tok).bos < 0) {
        snprintf(err, errlen, "the tokenizer has no <bos> piece; task sequences start with <bos>");
        return -1;
    }
    int rc = o->chat ? chat_encode(tok, t, i, o, out, err, errlen) : plain_encode(tok, t, i, o, out, err, errlen);
    if (rc) task_tokens_free(out);
    return rc;
}
