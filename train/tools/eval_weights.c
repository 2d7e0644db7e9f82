/* griffin eval --compare-weights bf16,int8: what narrow weights (model/weights.h) change, against
 * the fp32 weights of the same checkpoint, on a held-out corpus:
 * - the held-out loss (documents from their first token, up to max-length, as plain eval);
 * - top-1 agreement: the share of target positions where both models predict the same next
 *   token (argmax of the logits);
 * - greedy text agreement: 64 prompts (the first 16 tokens of the first documents that are
 *   longer), up to 32 greedy tokens each (<eos> stops one): the share of identical
 *   continuations and the mean number of leading tokens the two continuations share. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "data/corpus.h"
#include "model/sampler.h"
#include "train/tools/eval_weights.h"
#include "train/tools/model_io.h"
#include "train/tools/weights_opt.h"

enum { PROMPTS = 64, PROMPT_TOKENS = 16, NEW_TOKENS = 32 };

typedef struct {
    int B, T, V;
    int *tok, *tgt, *pos;
    uint8_t *mask;
} Batch;

static int argmax(const float *row, int V) {
    int best = 0;
    for (int i = 1; i < V; i++)
        if (row[i] > row[best]) best = i;
    return best;
}

/* documents d0 … d0+nb−1 of cp, each from its first token, cut to T targets */
static void fill_batch(Batch *b, Corpus *cp, size_t d0, int nb) {
    for (int r = 0; r < b->B; r++)
        for (int t = 0; t < b->T; t++) {
            int i = r * b->T + t;
            b->tok[i] = b->tgt[i] = b->mask[i] = 0;
            b->pos[i] = t;
        }
    for (int r = 0; r < nb; r++) {
        CorpusDoc doc = corpus_doc(cp, 0, d0 + (size_t)r);
        int n = doc.n > (size_t)b->T + 1 ? b->T + 1 : (int)doc.n;
        for (int t = 0; t + 1 < n; t++) {
            int i = r * b->T + t;
            b->tok[i] = (int)doc.tokens[t];
            b->tgt[i] = (int)doc.tokens[t + 1];
            b->mask[i] = doc.mask ? doc.mask[t + 1] : 1;
        }
    }
}

/* loss of both models and their top-1 agreement over the first nd documents */
static void score(GriffinModel *ref, GriffinModel *q, Corpus *cp, size_t nd, Batch *b, double *loss_ref,
                  double *loss_q, double *agree) {
    double nll_r = 0, nll_q = 0, n = 0, same = 0;
    for (size_t d0 = 0; d0 < nd; d0 += (size_t)b->B) {
        int nb = (int)(nd - d0 < (size_t)b->B ? nd - d0 : (size_t)b->B);
        fill_batch(b, cp, d0, nb);
        griffin_forward(ref, b->tok, b->tgt, b->pos, b->mask, b->B, b->T);
        griffin_forward(q, b->tok, b->tgt, b->pos, b->mask, b->B, b->T);
        for (int i = 0; i < b->B * b->T; i++) {
            if (!b->mask[i]) continue;
            const float *lr = ref->logits + (size_t)i * b->V, *lq = q->logits + (size_t)i * b->V;
            nll_r += (double)(ref->lse[i] - lr[b->tgt[i]]);
            nll_q += (double)(q->lse[i] - lq[b->tgt[i]]);
            same += argmax(lr, b->V) == argmax(lq, b->V);
            n += 1;
        }
    }
    *loss_ref = n > 0 ? nll_r / n : 0;
    *loss_q = n > 0 ? nll_q / n : 0;
    *agree = n > 0 ? same / n : 0;
}

/* greedy continuations [np, NEW_TOKENS] of the prompts, in batches of B */
static void greedy(GriffinModel *m, int *const *prompts, const int *lens, int np, int B, int stop, Generation *out) {
    SamplerParams g = {0.0f, 0, 1.0f, 0};
    for (int s0 = 0; s0 < np; s0 += B) {
        int nb = np - s0 < B ? np - s0 : B;
        DecodeState *s = decode_create(m, nb);
        Generation gen;
        generation_alloc(&gen, nb, NEW_TOKENS, 0);
        generate(m, s, (const int *const *)(prompts + s0), lens + s0, NEW_TOKENS, &g, &stop, stop >= 0, 0, 0, &gen);
        for (int b = 0; b < nb; b++) {
            out->len[s0 + b] = gen.len[b];
            memcpy(out->tokens + (size_t)(s0 + b) * NEW_TOKENS, gen.tokens + (size_t)b * NEW_TOKENS,
                   sizeof(int) * NEW_TOKENS);
        }
        generation_free(&gen);
        decode_free(s);
    }
}

/* share of identical continuations, mean common prefix of a and b, mean length of a */
static void agreement(const Generation *a, const Generation *b, int np, double *identical, double *prefix,
                      double *length) {
    double same = 0, common = 0, len = 0;
    for (int i = 0; i < np; i++) {
        const int *x = a->tokens + (size_t)i * NEW_TOKENS, *y = b->tokens + (size_t)i * NEW_TOKENS;
        int n = a->len[i] < b->len[i] ? a->len[i] : b->len[i], k = 0;
        while (k < n && x[k] == y[k]) k++;
        common += k;
        len += a->len[i];
        same += a->len[i] == b->len[i] && k == a->len[i];
    }
    *identical = np ? same / np : 0;
    *prefix = np ? common / np : 0;
    *length = np ? len / np : 0;
}

/* the first PROMPTS documents longer than PROMPT_TOKENS, cut to their first PROMPT_TOKENS */
static int pick_prompts(Corpus *cp, int **prompts, int *lens) {
    int np = 0;
    for (size_t d = 0; d < corpus_num_docs(cp) && np < PROMPTS; d++) {
        CorpusDoc doc = corpus_doc(cp, 0, d);
        if (doc.n <= PROMPT_TOKENS) continue;
        prompts[np] = mallocCheck(sizeof(int) * PROMPT_TOKENS);
        for (int t = 0; t < PROMPT_TOKENS; t++) prompts[np][t] = (int)doc.tokens[t];
        lens[np++] = PROMPT_TOKENS;
    }
    return np;
}

int eval_compare_weights(const char *ckpt, const char *path, const char *formats, long max_docs, int max_len,
                         int batch) {
    LoadedModel lm;
    load_model(ckpt, 1, 1, &lm);
    int T = max_len > 0 ? max_len : lm.cfg->train.seq_len, stop = lm.tok ? tokenizer_specials(lm.tok).eos : -1;
    T = T > PROMPT_TOKENS ? T : PROMPT_TOKENS;
    Corpus *cp = corpus_open(path, CORPUS_ANY);
    CHECK(corpus_kind(cp) == CORPUS_TEXT || corpus_kind(cp) == CORPUS_CHAT,
          "griffin eval: %s is a %s corpus; --compare-weights takes text or chat", path,
          corpus_kind_name(corpus_kind(cp)));
    if (lm.tok) corpus_check_tokenizer(cp, lm.tok, ckpt);
    size_t nd = corpus_num_docs(cp);
    if (max_docs >= 0 && (size_t)max_docs < nd) nd = (size_t)max_docs;
    GriffinModel *ref = griffin_create_ex(&lm.m->cfg, batch, T, 0, GRIFFIN_INFERENCE);
    GriffinModel *q = griffin_create_ex(&lm.m->cfg, batch, T, 0, GRIFFIN_INFERENCE);
    memcpy(ref->params, lm.m->params, ref->table.total * sizeof(float));
    memcpy(q->params, lm.m->params, q->table.total * sizeof(float));
    Batch b = {batch, T, ref->cfg.vocab_size, NULL, NULL, NULL, NULL};
    b.tok = mallocCheck(sizeof(int) * (size_t)batch * T);
    b.tgt = mallocCheck(sizeof(int) * (size_t)batch * T);
    b.pos = mallocCheck(sizeof(int) * (size_t)batch * T);
    b.mask = mallocCheck((size_t)batch * T);
    int *prompts[PROMPTS], lens[PROMPTS], np = pick_prompts(cp, prompts, lens);
    Generation g_ref, g_q;
    generation_alloc(&g_ref, np > 0 ? np : 1, NEW_TOKENS, 0);
    generation_alloc(&g_q, np > 0 ? np : 1, NEW_TOKENS, 0);
    greedy(ref, prompts, lens, np, batch, stop, &g_ref);
    printf("checkpoint: %s (step %lld)\ncorpus: %s\ndocuments: %zu\nmax_length: %d\ngreedy_prompts: %d x %d tokens, "
           "%d new\n", ckpt, (long long)lm.step, path, nd, T, np, PROMPT_TOKENS, NEW_TOKENS);
    char list[64];
    snprintf(list, sizeof list, "%s", formats);
    for (char *name = strtok(list, ","); name; name = strtok(NULL, ",")) {
        WeightFormat f = weights_option("griffin eval", name);
        weights_apply(q, f, ckpt);
        double lr, lq, agree, identical, prefix, length;
        score(ref, q, cp, nd, &b, &lr, &lq, &agree);
        greedy(q, prompts, lens, np, batch, stop, &g_q);
        agreement(&g_ref, &g_q, np, &identical, &prefix, &length);
        printf("weights: %s\n  loss_fp32: %.6f\n  loss: %.6f\n  loss_diff: %+.6f (%+.4f%%)\n  top1_agreement: %.4f\n"
               "  greedy_identical: %.4f\n  greedy_common_prefix: %.2f tokens (fp32's continuations: %.2f on average, "
               "at most %d)\n", name, lr, lq, lq - lr, lr > 0 ? 100.0 * (lq - lr) / lr : 0.0, agree, identical, prefix,
               length, NEW_TOKENS);
        weights_apply(q, WEIGHTS_FP32, ckpt);
    }
    for (int i = 0; i < np; i++) free(prompts[i]);
    generation_free(&g_ref);
    generation_free(&g_q);
    free(b.tok), free(b.tgt), free(b.pos), free(b.mask);
    griffin_free(ref);
    griffin_free(q);
    corpus_close(cp);
    loaded_model_free(&lm);
    return 0;
}
