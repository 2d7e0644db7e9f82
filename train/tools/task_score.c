/* Continuation log-likelihoods and greedy generation for task examples (see task_score.h). */
#include "train/tools/task_score.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "model/decode.h"

/* log softmax(row)[id] in double; *is_max = id is the (first) argmax */
static double row_logprob(const float *row, int V, int id, int *is_max) {
    int best = 0;
    for (int i = 1; i < V; i++)
        if (row[i] > row[best]) best = i;
    double mx = (double)row[best], sum = 0.0;
    for (int i = 0; i < V; i++) sum += exp((double)row[i] - mx);
    *is_max = best == id;
    return (double)row[id] - mx - log(sum);
}

/* Continues row u of s by n more tokens, one decode step each (a context longer than the
 * prefill's T columns), through a one-row state so the other rows stay put. */
static void feed_tail(DecodeState *s, int u, const uint32_t *tail, size_t n) {
    DecodeState *one = decode_create(s->m, 1);
    decode_copy_row(one, 0, s, u);
    for (size_t i = 0; i < n; i++) {
        int x = (int)tail[i];
        decode_step(one, &x);
    }
    decode_copy_row(s, u, one, 0);
    decode_free(one);
}

/* A state of U rows, row u holding context ctx[u] (len[u] tokens, <bos> first): the first T
 * tokens of each through the parallel prefill (left-padded, pads at position -1), the rest by
 * decode steps. Its logits [U,V] predict each context's next token. */
static DecodeState *prefill_contexts(GriffinModel *m, int T, const uint32_t *const *ctx, const size_t *len, int U) {
    int P = 1;
    for (int u = 0; u < U; u++) {
        CHECK(len[u] > 0, "prefill_contexts: empty context %d", u);
        int p = len[u] < (size_t)T ? (int)len[u] : T;
        P = p > P ? p : P;
    }
    int *tok = mallocCheck(sizeof(int) * (size_t)U * P), *pos = mallocCheck(sizeof(int) * (size_t)U * P);
    for (int u = 0; u < U; u++) {
        int p = len[u] < (size_t)P ? (int)len[u] : P, pad = P - p;
        for (int t = 0; t < P; t++) {
            tok[(size_t)u * P + t] = t < pad ? 0 : (int)ctx[u][t - pad];
            pos[(size_t)u * P + t] = t < pad ? -1 : t - pad;
        }
    }
    DecodeState *s = decode_create(m, U);
    decode_prefill(s, m, tok, pos, P);
    for (int u = 0; u < U; u++)
        if (len[u] > (size_t)P) feed_tail(s, u, ctx[u] + P, len[u] - (size_t)P);
    free(tok);
    free(pos);
    return s;
}

/* the contexts of n examples as one list; base[e] = index of example e's first context */
static int gather_contexts(const TaskTokens *const *ex, int n, const uint32_t ***ctx, size_t **len, int **base) {
    int U = 0;
    for (int e = 0; e < n; e++) U += ex[e]->n_ctx;
    *ctx = mallocCheck(sizeof(uint32_t *) * (size_t)U);
    *len = mallocCheck(sizeof(size_t) * (size_t)U);
    *base = mallocCheck(sizeof(int) * (size_t)n);
    int u = 0;
    for (int e = 0; e < n; e++) {
        (*base)[e] = u;
        for (int c = 0; c < ex[e]->n_ctx; c++, u++) {
            (*ctx)[u] = ex[e]->ctx[c];
            (*len)[u] = ex[e]->ctx_len[c];
        }
    }
    return U;
}

/* adds the log-probabilities of step t's tokens: state row i holds request row[i] */
static void score_step(const float *lg, int V, int n, const int *row, int t, const uint32_t *const *cont,
                       const size_t *clen, double *score, int *greedy) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < n; i++) {
        int r = row[i];
        if ((size_t)t >= clen[r]) continue;
        int is_max;
        score[r] += row_logprob(lg + (size_t)i * V, V, (int)cont[r][t], &is_max);
        greedy[r] &= is_max;
    }
}

/* Drops the rows whose continuation ends before step t + 1 once they are half the state or
 * more: a smaller state with the rest (decode steps cost per row). Returns the state in use. */
static DecodeState *compact_rows(DecodeState *s, int *row, int *n, size_t t, const size_t *clen) {
    int live = 0;
    for (int i = 0; i < *n; i++) live += clen[row[i]] > t + 1;
    if (live == 0 || 2 * live > *n) return s;
    DecodeState *c = decode_create(s->m, live);
    for (int i = 0, k = 0; i < *n; i++)
        if (clen[row[i]] > t + 1) {
            decode_copy_row(c, k, s, i);
            row[k++] = row[i];
        }
    decode_free(s);
    *n = live;
    return c;
}

void task_score_states(GriffinModel *m, int T, const TaskTokens *const *ex, int n, double *score, int *greedy) {
    const uint32_t **ctx;
    size_t *len;
    int *base, S = 0, V = m->cfg.vocab_size;
    int U = gather_contexts(ex, n, &ctx, &len, &base);
    for (int e = 0; e < n; e++) S += ex[e]->n_req;
    DecodeState *cs = prefill_contexts(m, T, ctx, len, U);
    DecodeState *rs = decode_create(m, S);
    const uint32_t **cont = mallocCheck(sizeof(uint32_t *) * (size_t)S);
    size_t *clen = mallocCheck(sizeof(size_t) * (size_t)S), L = 0;
    int *next = mallocCheck(sizeof(int) * (size_t)S), *row = mallocCheck(sizeof(int) * (size_t)S), rows = S;
    for (int e = 0, r = 0; e < n; e++)
        for (int j = 0; j < ex[e]->n_req; j++, r++) {
            decode_copy_row(rs, r, cs, base[e] + ex[e]->ctx_of[j]); /* the context's state, once per choice */
            cont[r] = ex[e]->cont[j];
            clen[r] = ex[e]->cont_len[j];
            L = clen[r] > L ? clen[r] : L;
            score[r] = 0.0;
            greedy[r] = 1;
            row[r] = r;
        }
    decode_free(cs);
    const float *lg = rs->logits;
    for (size_t t = 0; t < L; t++) {
        score_step(lg, V, rows, row, (int)t, cont, clen, score, greedy);
        if (t + 1 == L) break;
        rs = compact_rows(rs, row, &rows, t, clen);
        for (int i = 0; i < rows; i++) next[i] = t + 1 < clen[row[i]] ? (int)cont[row[i]][t] : 0; /* done: idle */
        lg = decode_step(rs, next);
    }
    decode_free(rs);
    free(cont);
    free(clen);
    free(next);
    free(row);
    free(ctx);
    free(len);
    free(base);
}

/* one row <bos> ctx cont, right-padded to Tn (pads after the row change nothing before them) */
static void scratch_row(int *tok, int *pos, int Tn, const TaskTokens *x, int j) {
    const uint32_t *c = x->ctx[x->ctx_of[j]], *k = x->cont[j];
    size_t cl = x->ctx_len[x->ctx_of[j]], kl = x->cont_len[j];
    for (int t = 0; t < Tn; t++) {
        size_t u = (size_t)t;
        tok[t] = u < cl ? (int)c[u] : u < cl + kl ? (int)k[u - cl] : 0;
        pos[t] = t;
    }
}

void task_score_scratch(GriffinModel *m, const TaskTokens *const *ex, int n, double *score, int *greedy) {
    int S = 0, V = m->cfg.vocab_size, B = m->max_B;
    for (int e = 0; e < n; e++) S += ex[e]->n_req;
    int *re = mallocCheck(sizeof(int) * (size_t)S), *rj = mallocCheck(sizeof(int) * (size_t)S);
    for (int e = 0, r = 0; e < n; e++)
        for (int j = 0; j < ex[e]->n_req; j++, r++) re[r] = e, rj[r] = j;
    int *tok = mallocCheck(sizeof(int) * (size_t)B * m->max_T), *pos = mallocCheck(sizeof(int) * (size_t)B * m->max_T);
    for (int r0 = 0; r0 < S; r0 += B) {
        int nb = S - r0 < B ? S - r0 : B, Tn = 1;
        for (int b = 0; b < nb; b++) {
            const TaskTokens *x = ex[re[r0 + b]];
            int j = rj[r0 + b], full = (int)(x->ctx_len[x->ctx_of[j]] + x->cont_len[j]);
            Tn = full > Tn ? full : Tn;
        }
        CHECK(Tn <= m->max_T, "task_score_scratch: a request of %d tokens > the model's %d columns", Tn, m->max_T);
        for (int b = 0; b < nb; b++) scratch_row(tok + (size_t)b * Tn, pos + (size_t)b * Tn, Tn, ex[re[r0 + b]], rj[r0 + b]);
        griffin_forward(m, tok, NULL, pos, NULL, nb, Tn);
#pragma omp parallel for schedule(static)
        for (int b = 0; b < nb; b++) {
            const TaskTokens *x = ex[re[r0 + b]];
            int j = rj[r0 + b], cl = (int)x->ctx_len[x->ctx_of[j]], kl = (int)x->cont_len[j], all = 1, is_max;
            double s = 0.0;
            for (int t = cl - 1; t < cl + kl - 1; t++) {
                s += row_logprob(m->logits + ((size_t)b * Tn + t) * V, V, tok[(size_t)b * Tn + t + 1], &is_max);
                all &= is_max;
            }
            score[r0 + b] = s;
            greedy[r0 + b] = all;
        }
    }
    free(tok);
    free(pos);
    free(re);
    free(rj);
}

static int greedy_token(const float *row, int V) {
    int best = 0;
    for (int i = 1; i < V; i++)
        if (row[i] > row[best]) best = i;
    return best;
}

/* the reply so far, cut before the first stop string; sets *hit when one occurs */
static char *reply_text(const Tokenizer *tok, const uint32_t *ids, int n, const TaskGenOptions *o, int *hit) {
    char *s = tokenizer_decode(tok, ids, (size_t)n, NULL);
    char *cut = NULL;
    for (int k = 0; k < o->n_until; k++) {
        char *p = strstr(s, o->until[k]);
        if (p && (!cut || p < cut)) cut = p;
    }
    *hit = cut != NULL;
    if (cut) *cut = 0;
    return s;
}

void task_generate(GriffinModel *m, int T, const Tokenizer *tok, const TaskTokens *const *ex, int n,
                   const TaskGenOptions *o, char **replies) {
    const uint32_t **ctx = mallocCheck(sizeof(uint32_t *) * (size_t)n);
    size_t *len = mallocCheck(sizeof(size_t) * (size_t)n);
    for (int i = 0; i < n; i++) ctx[i] = ex[i]->ctx[0], len[i] = ex[i]->ctx_len[0];
    DecodeState *s = prefill_contexts(m, T, ctx, len, n);
    int V = m->cfg.vocab_size, Vg = o->vocab_limit > 0 && o->vocab_limit < V ? o->vocab_limit : V;
    uint32_t *gen = mallocCheck(sizeof(uint32_t) * (size_t)n * (size_t)(o->max_new ? o->max_new : 1));
    int *glen = callocCheck((size_t)n, sizeof(int)), *done = callocCheck((size_t)n, sizeof(int));
    int *next = callocCheck((size_t)n, sizeof(int));
    const float *lg = s->logits;
    for (int step = 0; step < o->max_new; step++) {
        int active = 0;
        for (int i = 0; i < n; i++) {
            next[i] = 0;
            if (done[i]) continue;
            int id = greedy_token(lg + (size_t)i * V, Vg), hit = 0;
            for (int k = 0; k < o->n_stop; k++) hit |= id == o->stop_ids[k];
            if (!hit) {
                gen[(size_t)i * o->max_new + glen[i]++] = (uint32_t)id;
                free(reply_text(tok, gen + (size_t)i * o->max_new, glen[i], o, &hit));
            }
            done[i] = hit;
            next[i] = id;
            active += !hit;
        }
        if (!active || step + 1 == o->max_new) break;
        lg = decode_step(s, next);
    }
    for (int i = 0; i < n; i++) {
        int hit;
        replies[i] = reply_text(tok, gen + (size_t)i * o->max_new, glen[i], o, &hit);
    }
    decode_free(s);
    free(gen);
    free(glen);
    free(done);
    free(next);
    free(ctx);
    free(len);
}
