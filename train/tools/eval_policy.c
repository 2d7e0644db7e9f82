/* Held-out preference accuracy of a language model (a checkpoint without a reward head): does
 * the model itself prefer the chosen reply? For each pair both renderings prompt ++ reply
 * (reply = its tokens and the closing <end_of_turn>) go through one forward pass, and the
 * reply's log-likelihood log p(reply | prompt) = Σ_{reply tokens} log softmax(logits)[token]
 * is compared. Two rules are reported: the mean log-probability per reply token (length
 * normalised; the headline accuracy) and the total. Ties count one half. This is how the
 * demo measures whether SFT and RLHF moved the policy towards the preferred answers. With a
 * reference (--reference R) also DPO's implicit-reward accuracy: the share of pairs with
 * log π(y⁺) − log π_ref(y⁺) > log π(y⁻) − log π_ref(y⁻) (reply log-probabilities summed), and
 * the mean of that difference (h, without β) — griffin dpo's val_accuracy for any policy. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "data/corpus.h"
#include "train/tools/eval_policy.h"
#include "train/tools/model_io.h"

/* One row of T tokens: tokens, targets, pos [T], mask [T]; targets are the next token and the
 * mask covers the positions whose target is a reply token. Returns the reply tokens scored
 * (< nr when the pair does not fit in T). */
static int pack_lm_row(int *tok, int *tgt, int *pos, uint8_t *mask, int T, CorpusDoc p, CorpusDoc r, int *cut) {
    size_t n = p.n + r.n;
    *cut = n > (size_t)T;
    if (n > (size_t)T) n = (size_t)T;
    int scored = 0;
    for (int t = 0; t < T; t++) {
        size_t u = (size_t)t;
        tok[t] = u < p.n ? (int)p.tokens[u] : u < n ? (int)r.tokens[u - p.n] : 0;
        pos[t] = t;
    }
    for (int t = 0; t < T; t++) {
        size_t u = (size_t)t + 1; /* the target's index */
        int in_reply = u >= p.n && u < n;
        tgt[t] = in_reply ? tok[t + 1] : 0;
        mask[t] = (uint8_t)in_reply;
        scored += in_reply;
    }
    return scored;
}

/* lp [R] = Σ over masked positions of log p(target) of each row of the last forward */
static void row_sums(const GriffinModel *m, const int *tgt, const uint8_t *mask, int R, int T, double *lp) {
    int V = m->cfg.vocab_size;
    for (int r = 0; r < R; r++) {
        double s = 0;
        for (int t = 0; t < T; t++) {
            size_t n = (size_t)r * T + (size_t)t;
            if (mask[n]) s += (double)m->logits[n * V + tgt[n]] - (double)m->lse[n];
        }
        lp[r] = s;
    }
}

/* the loaded model itself, its arena resized for R x T rows (logits kept): one copy of the
 * weights, as `sample` does */
static GriffinModel *scorer(LoadedModel *lm, int R, int T) {
    griffin_reshape(lm->m, R, T, GRIFFIN_INFERENCE);
    return lm->m;
}

/* batch pairs d0 … d0+nb−1 into rows: chosen row b, rejected row batch + b; empty rows after */
static void pack_batch(Corpus *cp, size_t d0, int nb, int batch, int T, int *tok, int *tgt, int *pos, uint8_t *mask,
                       int *count, double *cut_rows) {
    memset(mask, 0, (size_t)2 * batch * T);
    for (int side = 0; side < 2; side++)
        for (int b = 0; b < batch; b++) {
            size_t row = (size_t)(side * batch + b);
            if (b >= nb) { /* unused slots: empty rows (mask 0) */
                for (int t = 0; t < T; t++) tok[row * T + t] = tgt[row * T + t] = 0, pos[row * T + t] = t;
                count[row] = 0;
                continue;
            }
            CorpusDoc p = corpus_doc(cp, CORPUS_FIELD_PROMPT, d0 + (size_t)b);
            CorpusDoc r = corpus_doc(cp, side ? CORPUS_FIELD_REJECTED : CORPUS_FIELD_CHOSEN, d0 + (size_t)b);
            int cut;
            count[row] = pack_lm_row(tok + row * T, tgt + row * T, pos + row * T, mask + row * T, T, p, r, &cut);
            *cut_rows += cut;
        }
}

typedef struct {
    double right_mean, right_sum, gap_mean, implicit_right, implicit_gap, pairs, cut_rows;
} PolicyPrefStats;

/* the pair's rules: mean and total log-probability, and with a reference the implicit reward */
static void pair_rules(PolicyPrefStats *st, const double *lp, const double *lq, const int *count, int b, int batch) {
    double s0 = lp[b], s1 = lp[batch + b];
    int c0 = count[b], c1 = count[batch + b];
    double m0 = c0 > 0 ? s0 / c0 : -(double)INFINITY, m1 = c1 > 0 ? s1 / c1 : -(double)INFINITY;
    st->right_mean += m0 > m1 ? 1.0 : m0 == m1 ? 0.5 : 0.0;
    st->right_sum += s0 > s1 ? 1.0 : s0 == s1 ? 0.5 : 0.0;
    if (isfinite(m0) && isfinite(m1)) st->gap_mean += m0 - m1;
    if (lq) {
        double r0 = s0 - lq[b], r1 = s1 - lq[batch + b];
        st->implicit_right += r0 > r1 ? 1.0 : r0 == r1 ? 0.5 : 0.0;
        st->implicit_gap += r0 - r1;
    }
    st->pairs++;
}

int eval_policy_preferences(const char *ckpt, const char *path, long max_docs, int batch, int max_len,
                            const char *reference) {
    LoadedModel lm, lr;
    load_model(ckpt, 1, 1, &lm);
    Corpus *cp = corpus_open(path, CORPUS_PREFERENCE);
    if (lm.tok) corpus_check_tokenizer(cp, lm.tok, ckpt);
    if (reference) {
        load_model(reference, 1, 1, &lr);
        CHECK(lr.m->cfg.vocab_size == lm.m->cfg.vocab_size && lr.m->table.reward_w < 0,
              "griffin eval: --reference %s is not a language model of the policy's vocabulary", reference);
        if (lr.tok && lm.tok)
            CHECK(tokenizer_checksum(lr.tok) == tokenizer_checksum(lm.tok),
                  "griffin eval: --reference %s was trained with another tokenizer than %s", reference, ckpt);
    }
    int T = max_len > 0 ? max_len : lm.cfg->train.seq_len, R = 2 * batch;
    GriffinModel *m = scorer(&lm, R, T), *ref = reference ? scorer(&lr, R, T) : NULL;
    size_t nd = corpus_num_docs(cp), RT = (size_t)R * T;
    if (max_docs >= 0 && (size_t)max_docs < nd) nd = (size_t)max_docs;
    int *tok = mallocCheck(sizeof(int) * RT), *tgt = mallocCheck(sizeof(int) * RT), *pos = mallocCheck(sizeof(int) * RT);
    uint8_t *mask = mallocCheck(RT);
    int *count = mallocCheck(sizeof(int) * (size_t)R);
    double *lp = mallocCheck(sizeof(double) * (size_t)R), *lq = mallocCheck(sizeof(double) * (size_t)R);
    PolicyPrefStats st = {0};
    for (size_t d0 = 0; d0 < nd; d0 += (size_t)batch) {
        int nb = (int)(nd - d0 < (size_t)batch ? nd - d0 : (size_t)batch);
        pack_batch(cp, d0, nb, batch, T, tok, tgt, pos, mask, count, &st.cut_rows);
        griffin_forward(m, tok, tgt, pos, mask, R, T);
        row_sums(m, tgt, mask, R, T, lp);
        if (ref) griffin_forward(ref, tok, tgt, pos, mask, R, T), row_sums(ref, tgt, mask, R, T, lq);
        for (int b = 0; b < nb; b++) pair_rules(&st, lp, ref ? lq : NULL, count, b, batch);
    }
    double n = st.pairs > 0 ? st.pairs : 1;
    printf("checkpoint: %s (step %lld)\npreferences: %s\npairs: %.0f\n"
           "policy_accuracy: %.4f\npolicy_accuracy_total_logprob: %.4f\nmean_logprob_gap: %.4f\ntruncated: %.0f\n",
           ckpt, (long long)lm.step, path, st.pairs, st.right_mean / n, st.right_sum / n, st.gap_mean / n, st.cut_rows);
    if (ref)
        printf("reference: %s\nimplicit_reward_accuracy: %.4f\nimplicit_reward_margin: %.4f\n", reference,
               st.implicit_right / n, st.implicit_gap / n);
    void *p[] = {tok, tgt, pos, mask, count, lp, lq};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) free(p[i]);
    corpus_close(cp);
    loaded_model_free(&lm); /* m and ref belong to lm and lr */
    if (reference) loaded_model_free(&lr);
    return 0;
}
