#include "reward_model.h"

#include <string.h>

#include "common/check.h"
#include "rlhf.h"

int rm_pack_row(int *tokens, int *pos, int T, const uint32_t *prompt, size_t np, const uint32_t *reply, size_t nr,
                int *truncated) {
    size_t n = np + nr;
    *truncated = n > (size_t)T;
    if (n > (size_t)T) n = (size_t)T;
    for (int t = 0; t < T; t++) {
        size_t u = (size_t)t;
        tokens[t] = u < np ? (int)prompt[u] : u < n ? (int)reply[u - np] : 0;
        pos[t] = t;
    }
    return (int)n - 1;
}

void rm_score(GriffinModel *m, float *r, const int *tokens, const int *pos, const int *rows, int R, int T) {
    const ParamTable *pt = &m->table;
    CHECK(pt->reward_w >= 0, "rm_score: the model has no reward head (model.reward_head = false)");
    const float *h = griffin_forward_hidden(m, tokens, pos, R, T);
    reward_head_forward(r, h, rows, m->params + pt->t[pt->reward_w].offset, m->params + pt->t[pt->reward_b].offset,
                        R, m->cfg.width);
}

void rm_backward(GriffinModel *m, float *dhidden, const float *dr, const int *rows, int R) {
    const ParamTable *pt = &m->table;
    size_t ND = (size_t)m->B * m->T * m->cfg.width;
    memset(dhidden, 0, ND * sizeof(float));
    reward_head_backward(dhidden, griffin_grad_of(m, pt->reward_w), griffin_grad_of(m, pt->reward_b), dr,
                         m->fn_out, rows, m->params + pt->t[pt->reward_w].offset, R, m->cfg.width);
    griffin_backward_hidden(m, dhidden);
}

int rm_pack_pair(Corpus *c, size_t d, int b, int B, int T, int *tok, int *pos, int *rows) {
    CorpusDoc p = corpus_doc(c, CORPUS_FIELD_PROMPT, d), ch = corpus_doc(c, CORPUS_FIELD_CHOSEN, d),
              rj = corpus_doc(c, CORPUS_FIELD_REJECTED, d);
    int tr1, tr2;
    int l1 = rm_pack_row(tok + (size_t)b * T, pos + (size_t)b * T, T, p.tokens, p.n, ch.tokens, ch.n, &tr1);
    int l2 = rm_pack_row(tok + (size_t)(B + b) * T, pos + (size_t)(B + b) * T, T, p.tokens, p.n, rj.tokens, rj.n, &tr2);
    rows[b] = b * T + l1;
    rows[B + b] = (B + b) * T + l2;
    return tr1 + tr2;
}

void rm_eval_pairs(GriffinModel *m, Corpus *c, size_t first, size_t stride, size_t last, int B, int T,
                   float margin, int *tok, int *pos, int *rows, float *r, PairStats *st) {
    size_t d = first;
    while (d < last) {
        int nb = 0;
        for (; nb < B && d < last; nb++, d += stride)
            st->truncated += rm_pack_pair(c, d, nb, B, T, tok, pos, rows);
        /* unused slots repeat the first pair (scored, not counted) */
        for (int b = nb; b < B; b++) {
            memcpy(tok + (size_t)b * T, tok, sizeof(int) * (size_t)T);
            memcpy(pos + (size_t)b * T, pos, sizeof(int) * (size_t)T);
            memcpy(tok + (size_t)(B + b) * T, tok + (size_t)B * T, sizeof(int) * (size_t)T);
            memcpy(pos + (size_t)(B + b) * T, pos + (size_t)B * T, sizeof(int) * (size_t)T);
            rows[b] = b * T + rows[0];
            rows[B + b] = (B + b) * T + (rows[B] - B * T);
        }
        rm_score(m, r, tok, pos, rows, 2 * B, T);
        int ok = 0;
        st->loss += bt_loss_forward(r, r + B, margin, nb, &ok);
        st->correct += ok;
        for (int b = 0; b < nb; b++) st->gap += (double)r[b] - (double)r[B + b];
        st->pairs += nb;
    }
}
