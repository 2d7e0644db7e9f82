/* Held-out preference accuracy of a language model (a checkpoint without a reward head): does
 * the model itself prefer the chosen reply? For each pair both renderings prompt ++ reply
 * (reply = its tokens and the closing <end_of_turn>) go through one forward pass, and the
 * reply's log-likelihood log p(reply | prompt) = Σ_{reply tokens} log softmax(logits)[token]
 * is compared. Two rules are reported: the mean log-probability per reply token (length
 * normalised; the headline accuracy) and the total. Ties count one half. This is how the
 * demo measures whether SFT and RLHF moved the policy towards the preferred answers. */
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

int eval_policy_preferences(const char *ckpt, const char *path, long max_docs, int batch, int max_len) {
    LoadedModel lm;
    load_model(ckpt, 1, 1, &lm);
    Corpus *cp = corpus_open(path, CORPUS_PREFERENCE);
    if (lm.tok) corpus_check_tokenizer(cp, lm.tok, ckpt);
    int T = max_len > 0 ? max_len : lm.cfg->train.seq_len;
    int R = 2 * batch, V = lm.m->cfg.vocab_size;
    GriffinModel *m = griffin_create_ex(&lm.m->cfg, R, T, 0, 1);
    memcpy(m->params, lm.m->params, m->table.total * sizeof(float));
    size_t nd = corpus_num_docs(cp);
    if (max_docs >= 0 && (size_t)max_docs < nd) nd = (size_t)max_docs;
    size_t RT = (size_t)R * T;
    int *tok = mallocCheck(sizeof(int) * RT), *tgt = mallocCheck(sizeof(int) * RT), *pos = mallocCheck(sizeof(int) * RT);
    uint8_t *mask = mallocCheck(RT);
    int *count = mallocCheck(sizeof(int) * (size_t)R);
    double right_mean = 0, right_sum = 0, pairs = 0, cut_rows = 0, gap_mean = 0;
    for (size_t d0 = 0; d0 < nd; d0 += (size_t)batch) {
        int nb = (int)(nd - d0 < (size_t)batch ? nd - d0 : (size_t)batch);
        memset(mask, 0, RT);
        for (int b = 0; b < nb; b++) {
            CorpusDoc p = corpus_doc(cp, CORPUS_FIELD_PROMPT, d0 + (size_t)b);
            for (int side = 0; side < 2; side++) {
                CorpusDoc r = corpus_doc(cp, side ? CORPUS_FIELD_REJECTED : CORPUS_FIELD_CHOSEN, d0 + (size_t)b);
                size_t row = (size_t)(side * batch + b);
                int cut;
                count[row] = pack_lm_row(tok + row * T, tgt + row * T, pos + row * T, mask + row * T, T, p, r, &cut);
                cut_rows += cut;
            }
        }
        for (int b = nb; b < batch; b++) /* unused slots: empty rows (mask 0) */
            for (int side = 0; side < 2; side++) {
                size_t row = (size_t)(side * batch + b);
                for (int t = 0; t < T; t++) tok[row * T + t] = tgt[row * T + t] = 0, pos[row * T + t] = t;
                count[row] = 0;
            }
        griffin_forward(m, tok, tgt, pos, mask, R, T);
        double lp[2];
        for (int b = 0; b < nb; b++) {
            double mean[2];
            for (int side = 0; side < 2; side++) {
                size_t row = (size_t)(side * batch + b);
                double s = 0;
                for (int t = 0; t < T; t++) {
                    size_t n = row * T + (size_t)t;
                    if (mask[n]) s += (double)m->logits[n * V + tgt[n]] - (double)m->lse[n];
                }
                lp[side] = s;
                mean[side] = count[row] > 0 ? s / count[row] : -(double)INFINITY;
            }
            right_mean += mean[0] > mean[1] ? 1.0 : mean[0] == mean[1] ? 0.5 : 0.0;
            right_sum += lp[0] > lp[1] ? 1.0 : lp[0] == lp[1] ? 0.5 : 0.0;
            if (isfinite(mean[0]) && isfinite(mean[1])) gap_mean += mean[0] - mean[1];
            pairs++;
        }
    }
    double n = pairs > 0 ? pairs : 1;
    printf("checkpoint: %s (step %lld)\npreferences: %s\npairs: %.0f\n"
           "policy_accuracy: %.4f\npolicy_accuracy_total_logprob: %.4f\nmean_logprob_gap: %.4f\ntruncated: %.0f\n",
           ckpt, (long long)lm.step, path, pairs, right_mean / n, right_sum / n, gap_mean / n, cut_rows);
    free(tok);
    free(tgt);
    free(pos);
    free(mask);
    free(count);
    corpus_close(cp);
    griffin_free(m);
    loaded_model_free(&lm);
    return 0;
}
