/* griffin eval: loss, perplexity and bits per byte of a checkpoint on corpora, every document
 * evaluated on its own from its first token (no packing, so no context from other documents),
 * up to --max-length tokens. Bits per byte use the UTF-8 byte counts the corpus records per
 * document (for a truncated document, in proportion to the targets evaluated), so they do not
 * depend on the tokenizer. --by-position adds the mean loss per target position bucket (powers of
 * two, or --bucket-width W targets each); --min-length N keeps only documents of at least N
 * tokens, so that every bucket of a length-extrapolation curve averages the same documents. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "data/corpus.h"
#include "model/decode.h"
#include "model/sampler.h"
#include "rlhf/reward_model.h"
#include "train/commands.h"
#include "train/tools/eval_answers.h"
#include "train/tools/eval_policy.h"
#include "train/tools/eval_tasks.h"
#include "train/tools/eval_weights.h"
#include "train/ckpt/checkpoint.h"
#include "train/tools/model_io.h"
#include "train/tools/weights_opt.h"

static void eval_usage(FILE *f) {
    fprintf(f, "usage: griffin eval --checkpoint CKPT.h5 --corpus X.h5 [--corpus Y.h5 ...]\n"
               "                    [--max-length N] [--max-docs N] [--batch B] [--by-position]\n"
               "                    [--bucket-width W] [--min-length N] [--weights fp32|bf16|int8] [--eot ID]\n"
               "  text and chat corpora (chat: the model's turns only); defaults: max-length = the\n"
               "  checkpoint's train.seq_len, all documents, batch 8.\n"
               "Prints per corpus: documents:, targets:, loss:, perplexity:, bits_per_byte:\n"
               "  (unavailable for external corpora: megatron:PREFIX, llmc:GLOB, nanogpt:FILE, whose documents\n"
               "  llmc and nanogpt find at --eot ID)\n"
               "  --by-position adds the mean loss per target position bucket [0,1), [1,2), [2,4), ...;\n"
               "  --bucket-width W (implies --by-position) uses buckets of W targets [0,W), [W,2W), ...;\n"
               "  --min-length N evaluates only documents of at least N tokens (--max-docs counts those)\n"
               "  --weights bf16|int8 holds the weights so for the evaluation (here, --per-document and\n"
               "       --chat-prompts; default fp32; see griffin sample --help)\n"
               "       griffin eval --checkpoint CKPT.h5 --corpus X.h5 --compare-weights bf16,int8 [--max-docs N]\n"
               "  per format against fp32: loss, loss_diff, top1_agreement (same argmax next token) and\n"
               "  greedy_identical / greedy_common_prefix (32 greedy tokens after 64 prompts of 16 tokens)\n"
               "       griffin eval --checkpoint CKPT.h5 --corpus X.h5 --per-document OUT.jsonl [--max-length N]\n"
               "  scores every document from its own start however long it is (beyond max-length the\n"
               "  fixed-size state carries on token by token): one line {\"doc\", \"tokens\", \"nll\"} each,\n"
               "  nll = -sum_{t>=1} log p(x_t | x_<t) in nats over all the document's tokens\n"
               "       griffin eval --checkpoint CKPT.h5 --chat-prompts CHAT.h5 [--max-docs N] [--max-new-tokens N]\n"
               "  answers the prompts of a chat corpus greedily and prints ended_with_end_of_turn: (the\n"
               "  fraction of answers that close their turn within max-new-tokens, default 64)\n"
               "       griffin eval --checkpoint RM.h5 --preferences PREF.h5 [--max-docs N] [--batch B] [--max-length N]\n"
               "  a reward model (griffin reward) on a preference corpus: prints pairs:, accuracy: (share of\n"
               "  pairs scored r_chosen > r_rejected), loss: (Bradley-Terry, margin 0), margin: (mean gap);\n"
               "  a language model instead prints policy_accuracy: (share of pairs whose chosen reply has the\n"
               "  higher mean log-probability per token given the prompt) and the same by total log-probability;\n"
               "  with --reference R.h5 also implicit_reward_accuracy: (DPO's: log-ratios to R summed per reply)\n"
               "  and implicit_reward_margin: (their mean difference)\n"
               "       griffin eval --checkpoint CKPT.h5 --reward-model RM.h5 --prompts P.h5 [--reference R.h5]\n"
               "                    [--max-docs N] [--max-new-tokens N] [--batch B]\n"
               "  answers the prompts of a prompt or preference corpus greedily (default 64 new tokens) and prints\n"
               "  the reward model's rm_score: of the answers (mean, stderr; scored as rlhf's held-out evaluation\n"
               "  scores them), log_ratio_to_reference: (log p - log p_ref summed per answer; 0 without --reference),\n"
               "  ended_with_end_of_turn: and mean_answer_tokens:\n"
               "       griffin eval --checkpoint CKPT.h5 --tasks FILE.jsonl[,FILE2...] [...]\n"
               "  multiple-choice and generation tasks as lm-evaluation-harness scores them (griffin eval --tasks --help)\n"
               "  every form: --base BASE.h5 reads an adapter checkpoint's base from BASE.h5 instead of the\n"
               "  path it records (the base moved); its size and CRC-32 must still match\n");
}

/* -log softmax(row)[target] */
static double row_nll(const float *row, int V, int target) {
    float mx = row[0];
    for (int i = 1; i < V; i++) mx = row[i] > mx ? row[i] : mx;
    double sum = 0.0;
    for (int i = 0; i < V; i++) sum += exp((double)(row[i] - mx));
    return (double)mx + log(sum) - (double)row[target];
}

/* One line per document: its whole negative log-likelihood, the first max_len tokens through
 * the parallel forward, the rest through decode steps that carry the fixed-size state. */
static int eval_per_document(const char *ckpt, const char *path, const char *out_path, int max_len, long max_docs,
                             WeightFormat wf) {
    LoadedModel lm;
    load_model(ckpt, 1, 1, &lm);
    int T = max_len > 0 ? max_len : lm.cfg->train.seq_len;
    GriffinModel *m = lm.m; /* the loaded weights, with an arena for this batch (no copy) */
    griffin_reshape(m, 1, T, 1);
    weights_apply(m, wf, ckpt);
    Corpus *cp = corpus_open(path, CORPUS_ANY);
    CHECK(corpus_kind(cp) == CORPUS_TEXT || corpus_kind(cp) == CORPUS_CHAT,
          "griffin eval: %s is a %s corpus; --per-document takes text or chat", path, corpus_kind_name(corpus_kind(cp)));
    CHECK(corpus_vocab_size(cp) <= m->cfg.vocab_size, "griffin eval: %s has vocabulary %d > the model's %d", path,
          corpus_vocab_size(cp), m->cfg.vocab_size);
    if (lm.tok) corpus_check_tokenizer(cp, lm.tok, ckpt);
    size_t nd = corpus_num_docs(cp);
    if (max_docs >= 0 && (size_t)max_docs < nd) nd = (size_t)max_docs;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", out_path);
    FILE *f = fopenCheck(tmp, "w");
    DecodeState *s = decode_create(m, 1);
    int V = m->cfg.vocab_size, *tok = mallocCheck(sizeof(int) * (size_t)T), *pos = mallocCheck(sizeof(int) * (size_t)T);
    double total = 0.0, count = 0.0;
    for (size_t d = 0; d < nd; d++) {
        CorpusDoc doc = corpus_doc(cp, 0, d);
        double nll = 0.0;
        if (doc.n >= 2) {
            int C = doc.n < (size_t)T ? (int)doc.n : T;
            for (int t = 0; t < C; t++) {
                tok[t] = (int)doc.tokens[t];
                pos[t] = t;
            }
            griffin_forward(m, tok, NULL, pos, NULL, 1, C); /* the prefix's logits (prefill keeps only the last) */
            for (int t = 0; t + 1 < C; t++) nll += row_nll(m->logits + (size_t)t * V, V, tok[t + 1]);
            const float *last = decode_prefill(s, m, tok, pos, C);
            for (size_t t = (size_t)C; t < doc.n; t++) {
                nll += row_nll(last, V, (int)doc.tokens[t]);
                if (t + 1 < doc.n) {
                    int x = (int)doc.tokens[t];
                    last = decode_step(s, &x);
                }
            }
        }
        fprintf(f, "{\"doc\": %zu, \"tokens\": %zu, \"nll\": %.6f}\n", d, doc.n, nll);
        total += nll;
        count += doc.n > 1 ? (double)(doc.n - 1) : 0.0;
    }
    CHECK(fclose(f) == 0, "griffin eval: cannot write %s", tmp);
    CHECK(rename(tmp, out_path) == 0, "griffin eval: cannot rename %s to %s", tmp, out_path);
    printf("corpus: %s\ndocuments: %zu\ntargets: %.0f\nloss: %.6f\nper_document: %s\n", path, nd, count,
           count > 0 ? total / count : 0.0, out_path);
    free(tok);
    free(pos);
    decode_free(s);
    corpus_close(cp);
    loaded_model_free(&lm);
    return 0;
}

/* fraction of a chat corpus's prompts answered greedily with a closing <end_of_turn> */
static int eval_chat_endings(const char *ckpt, const char *path, long max_docs, int max_new, int batch,
                             WeightFormat wf) {
    LoadedModel lm;
    load_model(ckpt, 1, 1, &lm);
    CHECK(lm.tok, "checkpoint %s carries no tokenizer", ckpt);
    TokenizerSpecials sp = tokenizer_specials(lm.tok);
    Corpus *cp = corpus_open(path, CORPUS_CHAT);
    corpus_check_tokenizer(cp, lm.tok, ckpt);
    size_t nd = corpus_num_docs(cp);
    if (max_docs >= 0 && (size_t)max_docs < nd) nd = (size_t)max_docs;
    int **prompts = mallocCheck(sizeof(int *) * nd), *lens = mallocCheck(sizeof(int) * nd), maxP = 1, n = 0;
    for (size_t d = 0; d < nd; d++) {
        CorpusDoc doc = corpus_doc(cp, 0, d);
        int p = 0;
        while ((size_t)p < doc.n && !doc.mask[p]) p++;
        if (p < 2 || (size_t)p == doc.n) continue;
        prompts[n] = mallocCheck(sizeof(int) * (size_t)p);
        for (int i = 0; i < p; i++) prompts[n][i] = (int)doc.tokens[i];
        lens[n++] = p;
        maxP = p > maxP ? p : maxP;
    }
    CHECK(n > 0, "griffin eval: %s has no chat prompts", path);
    GriffinModel *m = lm.m; /* the loaded weights, with an arena for this batch (no copy) */
    griffin_reshape(m, batch, maxP, 1);
    weights_apply(m, wf, ckpt);
    SamplerParams greedy = {0.0f, 0, 1.0f, tokenizer_vocab_size(lm.tok)};
    int stops[2] = {sp.eos, sp.end_of_turn}, ended = 0;
    double length = 0;
    for (int s0 = 0; s0 < n; s0 += batch) {
        int nb = n - s0 < batch ? n - s0 : batch;
        DecodeState *s = decode_create(m, nb);
        Generation g;
        generation_alloc(&g, nb, max_new, 0);
        generate(m, s, (const int *const *)(prompts + s0), lens + s0, max_new, &greedy, stops, 2, 0, 0, &g);
        for (int b = 0; b < nb; b++) {
            ended += g.stopped[b] && g.tokens[(size_t)b * max_new + g.len[b] - 1] == sp.end_of_turn;
            length += g.len[b];
        }
        generation_free(&g);
        decode_free(s);
    }
    printf("checkpoint: %s (step %lld)\nchat_prompts: %s\nprompts: %d\nmean_answer_tokens: %.1f\n"
           "ended_with_end_of_turn: %.4f\n", ckpt, (long long)lm.step, path, n, length / n, (double)ended / n);
    for (int i = 0; i < n; i++) free(prompts[i]);
    free(prompts);
    free(lens);
    corpus_close(cp);
    loaded_model_free(&lm);
    return 0;
}

/* ---- reward models: held-out preference accuracy ---------------------------------- */

/* accuracy, Bradley-Terry loss and mean score gap of a reward model on a preference corpus */
static int eval_preferences(const char *ckpt, const char *path, long max_docs, int batch, int max_len,
                            const char *reference) {
    LoadedModel lm;
    load_model(ckpt, 1, 1, &lm);
    if (lm.m->table.reward_w < 0) { /* a language model: its own preference by log-likelihood */
        loaded_model_free(&lm);
        return eval_policy_preferences(ckpt, path, max_docs, batch, max_len, reference);
    }
    CHECK(!reference, "griffin eval: --reference is for a language model (a policy); %s is a reward model", ckpt);
    Corpus *cp = corpus_open(path, CORPUS_PREFERENCE);
    if (lm.tok) corpus_check_tokenizer(cp, lm.tok, ckpt);
    int T = max_len > 0 ? max_len : lm.cfg->train.seq_len;
    GriffinModel *m = lm.m; /* the loaded weights, with an arena for this batch (no copy) */
    griffin_reshape(m, 2 * batch, T, GRIFFIN_INFERENCE | GRIFFIN_CHUNKED_LOSS);
    size_t nd = corpus_num_docs(cp);
    if (max_docs >= 0 && (size_t)max_docs < nd) nd = (size_t)max_docs;
    int *tok = mallocCheck(sizeof(int) * 2 * (size_t)batch * T), *pos = mallocCheck(sizeof(int) * 2 * (size_t)batch * T);
    int *rows = mallocCheck(sizeof(int) * 2 * (size_t)batch);
    float *r = mallocCheck(sizeof(float) * 2 * (size_t)batch);
    PairStats st = {0};
    rm_eval_pairs(m, cp, 0, 1, nd, batch, T, 0.0f, tok, pos, rows, r, &st);
    double n = st.pairs > 0 ? st.pairs : 1;
    printf("checkpoint: %s (step %lld)\npreferences: %s\npairs: %.0f\naccuracy: %.4f\nloss: %.6f\nmargin: %.4f\n"
           "truncated: %.0f\n", ckpt, (long long)lm.step, path, st.pairs, st.correct / n, st.loss / n, st.gap / n,
           st.truncated);
    free(tok);
    free(pos);
    free(rows);
    free(r);
    corpus_close(cp);
    loaded_model_free(&lm);
    return 0;
}

/* the options of `griffin eval` (the --tasks form parses its own: train/tools/eval_tasks.c) */
typedef struct {
    const char *ckpt, *corpora[64], *chat_prompts, *preferences, *per_doc, *reference, *compare, *reward_model, *prompts;
    int max_new, n_corpora, max_len, batch, by_pos, bucket_w;
    long max_docs, min_len;
    long long eot;
    WeightFormat wf;
} EvalArgs;

/* 0, or 1 after --help */
static int eval_args(EvalArgs *o, int argc, char **argv) {
    *o = (EvalArgs){.max_new = 64, .batch = 8, .max_docs = -1, .eot = -1, .wf = WEIGHTS_FP32};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return eval_usage(stdout), 1;
        if (!strcmp(a, "--by-position")) {
            o->by_pos = 1;
            continue;
        }
        CHECK(i + 1 < argc, "griffin eval: %s needs a value", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--checkpoint")) o->ckpt = v;
        else if (!strcmp(a, "--base")) ckpt_set_base(v);
        else if (!strcmp(a, "--corpus")) {
            CHECK(o->n_corpora < 64, "griffin eval: at most 64 corpora");
            o->corpora[o->n_corpora++] = v;
        } else if (!strcmp(a, "--max-length")) o->max_len = atoi(v);
        else if (!strcmp(a, "--max-docs")) o->max_docs = atol(v);
        else if (!strcmp(a, "--batch")) o->batch = atoi(v);
        else if (!strcmp(a, "--bucket-width")) {
            o->bucket_w = atoi(v);
            o->by_pos = 1;
            CHECK(o->bucket_w > 0, "griffin eval: --bucket-width must be positive");
        } else if (!strcmp(a, "--min-length")) {
            o->min_len = atol(v);
            CHECK(o->min_len >= 0, "griffin eval: --min-length must be >= 0");
        } else if (!strcmp(a, "--chat-prompts")) o->chat_prompts = v;
        else if (!strcmp(a, "--per-document")) o->per_doc = v;
        else if (!strcmp(a, "--preferences")) o->preferences = v;
        else if (!strcmp(a, "--reference")) o->reference = v;
        else if (!strcmp(a, "--reward-model")) o->reward_model = v;
        else if (!strcmp(a, "--prompts")) o->prompts = v;
        else if (!strcmp(a, "--max-new-tokens")) o->max_new = atoi(v);
        else if (!strcmp(a, "--weights")) o->wf = weights_option("griffin eval", v);
        else if (!strcmp(a, "--compare-weights")) o->compare = v;
        else if (!strcmp(a, "--eot")) o->eot = atoll(v);
        else DIE("griffin eval: unknown option %s (see --help)", a);
    }
    return 0;
}

/* one corpus's sums: NLL over unmasked targets, their count, their UTF-8 bytes, per position
 * bucket ([0,1), [1,2), [2,4), ... (16 of them), or [0,W), [W,2W), ...) */
typedef struct {
    double nll, targets, bytes, *bucket_nll, *bucket_n;
    int nb_buckets;
    size_t evaluated;
} EvalSums;

/* rows b of the batch: document docs[b] (its first T+1 tokens) or padding; adds its bytes */
static void fill_rows(Corpus *cp, const size_t *docs, int nb, int batch, int T, int *tok, int *tgt, int *pos,
                      uint8_t *mask, double *bytes) {
    for (int b = 0; b < batch; b++) {
        for (int t = 0; t < T; t++) {
            int i = b * T + t;
            tok[i] = tgt[i] = 0;
            pos[i] = t;
            mask[i] = 0;
        }
        if (b >= nb) continue;
        CorpusDoc doc = corpus_doc(cp, 0, docs[b]);
        int n = doc.n > (size_t)T + 1 ? T + 1 : (int)doc.n;
        for (int t = 0; t + 1 < n; t++) {
            int i = b * T + t;
            tok[i] = (int)doc.tokens[t];
            tgt[i] = (int)doc.tokens[t + 1];
            mask[i] = doc.mask ? doc.mask[t + 1] : 1;
        }
        double all = 0, used = 0;
        for (size_t t = 1; t < doc.n; t++) all += doc.mask ? doc.mask[t] : 1;
        for (int t = 1; t < n; t++) used += doc.mask ? doc.mask[t] : 1;
        *bytes += all > 0 ? (double)doc.bytes * used / all : 0.0;
    }
}

/* the documents of cp (at least min_len tokens, the first max_docs of those), batch by batch */
static void score_corpus(GriffinModel *m, Corpus *cp, const EvalArgs *o, int T, EvalSums *s) {
    int batch = o->batch, V = m->cfg.vocab_size;
    size_t all_docs = corpus_num_docs(cp), nd = 0;
    size_t *docs = mallocCheck(sizeof(size_t) * (all_docs ? all_docs : 1));
    for (size_t d = 0; d < all_docs && (o->max_docs < 0 || nd < (size_t)o->max_docs); d++)
        if (o->min_len <= 0 || corpus_doc_len(cp, 0, d) >= (size_t)o->min_len) docs[nd++] = d;
    int *tok = mallocCheck(sizeof(int) * (size_t)batch * T), *tgt = mallocCheck(sizeof(int) * (size_t)batch * T);
    int *pos = mallocCheck(sizeof(int) * (size_t)batch * T);
    uint8_t *mask = mallocCheck((size_t)batch * T);
    for (size_t d0 = 0; d0 < nd; d0 += (size_t)batch) {
        int nb = (int)(nd - d0 < (size_t)batch ? nd - d0 : (size_t)batch);
        fill_rows(cp, docs + d0, nb, batch, T, tok, tgt, pos, mask, &s->bytes);
        griffin_forward(m, tok, tgt, pos, mask, batch, T);
        for (int i = 0; i < nb * T; i++) {
            if (!mask[i]) continue;
            double l = (double)(m->lse[i] - m->logits[(size_t)i * V + tgt[i]]);
            int t = i % T, k = 0;
            if (o->bucket_w > 0) k = t / o->bucket_w;
            else
                while ((1 << k) <= t && k < s->nb_buckets - 1) k++;
            s->nll += l, s->targets += 1, s->bucket_nll[k] += l, s->bucket_n[k] += 1;
        }
        s->evaluated += (size_t)nb;
    }
    free(docs), free(tok), free(tgt), free(pos), free(mask);
}

static void report_corpus(const char *name, Corpus *cp, const EvalArgs *o, const EvalSums *s) {
    double loss = s->targets > 0 ? s->nll / s->targets : 0.0;
    printf("corpus: %s\ndocuments: %zu\ntargets: %.0f\nloss: %.6f\nperplexity: %.4f\n", name, s->evaluated, s->targets,
           loss, exp(loss));
    if (corpus_num_bytes(cp, 0) > 0) printf("bits_per_byte: %.6f\n", s->bytes > 0 ? s->nll / log(2.0) / s->bytes : 0.0);
    else printf("bits_per_byte: unavailable (the corpus records no byte counts)\n");
    if (!o->by_pos) return;
    printf("by_position (target index range: mean loss, targets):\n");
    for (int k = 0; k < s->nb_buckets; k++) {
        if (!(s->bucket_n[k] > 0)) continue;
        int lo = o->bucket_w > 0 ? k * o->bucket_w : k ? 1 << (k - 1) : 0;
        int hi = o->bucket_w > 0 ? (k + 1) * o->bucket_w : 1 << k;
        printf("  [%d, %d): %.4f  %.0f\n", lo, hi, s->bucket_nll[k] / s->bucket_n[k], s->bucket_n[k]);
    }
}

/* loss, perplexity and bits per byte of a checkpoint on each corpus */
static int eval_corpora(const EvalArgs *o) {
    CHECK(o->batch > 0 && o->max_len >= 0, "griffin eval: --batch must be positive");
    LoadedModel lm;
    load_model(o->ckpt, 1, 1, &lm);
    int T = o->max_len > 0 ? o->max_len : lm.cfg->train.seq_len;
    GriffinModel *m = lm.m; /* the loaded weights, with an arena for this batch (no copy) */
    griffin_reshape(m, o->batch, T, 0);
    weights_apply(m, o->wf, o->ckpt);
    printf("checkpoint: %s (step %lld)\nmax_length: %d\n", o->ckpt, (long long)lm.step, T);
    if (o->wf != WEIGHTS_FP32) printf("weights: %s\n", weight_format_name(o->wf));
    if (o->min_len > 0) printf("min_length: %ld\n", o->min_len);
    EvalSums s = {.nb_buckets = o->bucket_w > 0 ? (T + o->bucket_w - 1) / o->bucket_w : 16};
    s.bucket_nll = mallocCheck(sizeof(double) * (size_t)s.nb_buckets);
    s.bucket_n = mallocCheck(sizeof(double) * (size_t)s.nb_buckets);
    for (int c = 0; c < o->n_corpora; c++) {
        CorpusOptions co = {m->cfg.vocab_size, o->eot, 0, 0};
        Corpus *cp = corpus_open_ex(o->corpora[c], CORPUS_ANY, &co);
        CorpusKind kind = corpus_kind(cp);
        CHECK(kind == CORPUS_TEXT || kind == CORPUS_CHAT, "griffin eval: %s is a %s corpus; eval takes text or chat",
              o->corpora[c], corpus_kind_name(kind));
        CHECK(corpus_vocab_size(cp) <= m->cfg.vocab_size, "griffin eval: %s has vocabulary %d > the model's %d",
              o->corpora[c], corpus_vocab_size(cp), m->cfg.vocab_size);
        if (lm.tok) corpus_check_tokenizer(cp, lm.tok, o->ckpt);
        s.nll = s.targets = s.bytes = 0.0, s.evaluated = 0;
        for (int k = 0; k < s.nb_buckets; k++) s.bucket_nll[k] = s.bucket_n[k] = 0.0;
        score_corpus(m, cp, o, T, &s);
        report_corpus(o->corpora[c], cp, o, &s);
        corpus_close(cp);
    }
    free(s.bucket_nll);
    free(s.bucket_n);
    loaded_model_free(&lm);
    return 0;
}

int cmd_eval(int argc, char **argv) {
    for (int i = 1; i < argc; i++) /* task files: train/tools/eval_tasks.c parses its own options */
        if (!strcmp(argv[i], "--tasks")) return cmd_eval_tasks(argc, argv);
    EvalArgs o;
    if (eval_args(&o, argc, argv)) return 0;
    CHECK(!o.preferences || o.wf == WEIGHTS_FP32, "griffin eval: --weights applies to corpora, --per-document and "
          "--chat-prompts, not to --preferences");
    REQUIRE(!o.reward_model == !o.prompts, "eval: --reward-model and --prompts go together");
    if (o.ckpt && o.reward_model)
        return eval_rm_answers(o.ckpt, o.reward_model, o.prompts, o.reference, o.max_docs, o.max_new, o.batch);
    if (o.ckpt && o.preferences) return eval_preferences(o.ckpt, o.preferences, o.max_docs, o.batch, o.max_len, o.reference);
    if (o.ckpt && o.compare && o.n_corpora == 1)
        return eval_compare_weights(o.ckpt, o.corpora[0], o.compare, o.max_docs, o.max_len, o.batch);
    CHECK(!o.compare, "griffin eval: --compare-weights takes exactly one --corpus");
    if (o.ckpt && o.chat_prompts) return eval_chat_endings(o.ckpt, o.chat_prompts, o.max_docs, o.max_new, o.batch, o.wf);
    if (o.ckpt && o.per_doc && o.n_corpora == 1)
        return eval_per_document(o.ckpt, o.corpora[0], o.per_doc, o.max_len, o.max_docs, o.wf);
    CHECK(!o.per_doc, "griffin eval: --per-document takes exactly one --corpus");
    if (!o.ckpt || !o.n_corpora) {
        eval_usage(stderr);
        return 2;
    }
    return eval_corpora(&o);
}
