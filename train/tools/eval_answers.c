/* The reward model's score of a policy's greedy answers to held-out prompts: the machinery of
 * rlhf's held-out evaluation (rlhf/ppo.c: ppo_rollout samples with the fixed-size state, packs
 * prompt ++ reply, scores it with the reward model on the last reply token and with a
 * reference for the KL), with the sampler at temperature 0 so that every policy (SFT, RLHF,
 * DPO) is compared on its single most likely answer, one prompt per row. */
#include "train/tools/eval_answers.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "data/corpus.h"
#include "rlhf/ppo.h"
#include "train/tools/model_io.h"

typedef struct {
    double rm, rm2, kl, ended, length, n;
} AnswerSums;

/* the prompts (field 0) of a prompt or preference corpus, at least 2 tokens each */
static int **read_prompts(Corpus *c, long max_docs, int **len, int *n, int *maxP) {
    size_t nd = corpus_num_docs(c);
    if (max_docs >= 0 && (size_t)max_docs < nd) nd = (size_t)max_docs;
    int **p = mallocCheck(sizeof(int *) * (nd ? nd : 1));
    *len = mallocCheck(sizeof(int) * (nd ? nd : 1));
    *n = 0, *maxP = 1;
    for (size_t d = 0; d < nd; d++) {
        CorpusDoc doc = corpus_doc(c, CORPUS_FIELD_PROMPT, d);
        if (doc.n < 2) continue;
        p[*n] = mallocCheck(sizeof(int) * doc.n);
        for (size_t i = 0; i < doc.n; i++) p[*n][i] = (int)doc.tokens[i];
        (*len)[*n] = (int)doc.n;
        *maxP = (int)doc.n > *maxP ? (int)doc.n : *maxP;
        (*n)++;
    }
    return p;
}

/* answers prompts s0 … s0+nb−1 (the batch's other rows repeat prompt s0) and adds them up */
static void answer_batch(PpoBatch *b, int **prompts, const int *len, int s0, int nb, AnswerSums *s) {
    for (int i = 0; i < b->G; i++) {
        int j = i < nb ? s0 + i : s0;
        b->prompts[i] = prompts[j];
        b->plen[i] = len[j];
        b->streams[i] = (uint64_t)j;
    }
    ppo_rollout(b, 0);
    for (int i = 0; i < nb; i++) {
        double r = (double)b->score[i];
        s->rm += r, s->rm2 += r * r, s->kl += (double)b->klsum[i];
        s->ended += ppo_ended(b, i), s->length += b->ro.len[i], s->n += 1;
    }
}

int eval_rm_answers(const char *ckpt, const char *rm, const char *prompts, const char *reference, long max_docs,
                    int max_new, int batch) {
    REQUIRE(batch > 0 && max_new > 0, "eval: --batch and --max-new-tokens must be positive");
    LoadedModel lm;
    load_model(ckpt, 1, 1, &lm);
    REQUIRE(lm.tok, "eval: checkpoint %s carries no tokenizer", ckpt);
    REQUIRE(lm.m->table.reward_w < 0, "eval: %s is a reward model; --reward-model scores a policy's answers",
            ckpt);
    Corpus *c = corpus_open(prompts, CORPUS_ANY);
    REQUIRE(corpus_kind(c) == CORPUS_PROMPT || corpus_kind(c) == CORPUS_PREFERENCE,
            "eval: --prompts %s is a %s corpus; give a prompt or preference corpus", prompts,
            corpus_kind_name(corpus_kind(c)));
    corpus_check_tokenizer(c, lm.tok, ckpt);
    int *len, n, maxP;
    int **p = read_prompts(c, max_docs, &len, &n, &maxP);
    REQUIRE(n > 0, "eval: %s has no prompt of 2 tokens or more", prompts);
    TokenizerSpecials sp = tokenizer_specials(lm.tok);
    REQUIRE(sp.end_of_turn >= 0, "eval: the tokenizer of %s has no <end_of_turn>", ckpt);
    int T = maxP + max_new, G = batch < n ? batch : n;
    const GriffinConfig *cfg = &lm.m->cfg;
    GriffinModel *pol = lm.m; /* resized in place: one copy of the weights */
    griffin_reshape(pol, G, T, GRIFFIN_INFERENCE | GRIFFIN_CHUNKED_LOSS);
    GriffinModel *ref = reference ? load_frozen(reference, G, T, cfg, lm.tok, "eval: --reference",
                                                GRIFFIN_CHUNKED_LOSS) : pol;
    GriffinModel *r = load_frozen(rm, G, T, cfg, lm.tok, "eval: --reward-model", GRIFFIN_CHUNKED_LOSS);
    REQUIRE(r->table.reward_w >= 0, "eval: --reward-model %s has no reward head (train it with griffin reward)",
            rm);
    PpoParams pp = {.seq_len = T, .max_new = max_new, .sp = {0.0f, 0, 1.0f, tokenizer_vocab_size(lm.tok)},
                    .eot = sp.end_of_turn, .eos = sp.eos, .kl = RLHF_KL_K1};
    PpoBatch b;
    ppo_batch_init(&b, &pp, pol, pol, ref, r, G, 1, G);
    AnswerSums s = {0};
    for (int s0 = 0; s0 < n; s0 += G) answer_batch(&b, p, len, s0, n - s0 < G ? n - s0 : G, &s);
    double mean = s.rm / s.n, var = s.n > 1 ? (s.rm2 - s.n * mean * mean) / (s.n - 1) : 0.0;
    printf("checkpoint: %s (step %lld)\nreward_model: %s\nprompts_file: %s\nprompts: %.0f\nmax_new_tokens: %d\n"
           "rm_score: %.4f (stderr %.4f)\nlog_ratio_to_reference: %.4f\nended_with_end_of_turn: %.4f\nmean_answer_tokens: %.1f\n",
           ckpt, (long long)lm.step, rm, prompts, s.n, max_new, mean, sqrt(var > 0 ? var / s.n : 0.0), s.kl / s.n,
           s.ended / s.n, s.length / s.n);
    if (reference) printf("reference: %s\n", reference);
    ppo_batch_free(&b);
    for (int i = 0; i < n; i++) free(p[i]);
    free(p);
    free(len);
    corpus_close(c);
    if (ref != pol) griffin_free(ref);
    griffin_free(r); /* pol is lm's */
    loaded_model_free(&lm);
    return 0;
}
