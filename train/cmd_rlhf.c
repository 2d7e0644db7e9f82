/* griffin rlhf: a policy (train.init, an SFT checkpoint) optimised against a frozen reward
 * model under a KL penalty to a frozen reference (rlhf.reference, default train.init); see
 * rlhf/rlhf.h for the maths. One iteration (= one `step`):
 *   1. each rank takes train.batch_size prompts of the global batch (seeded per-epoch order,
 *      one-integer cursor in the checkpoint) and samples rlhf.samples_per_prompt responses
 *      per prompt with the fixed-size state (rlhf/rollout.h), recording log-probabilities;
 *   2. the reference and the policy score every response token (training forward; the
 *      policy's is log p_old, compared with the sampler's: max |difference| is logged);
 *      the reward model scores prompt ++ response on its last token;
 *   3. reward = RM score − β·KL (k1 or k3 summed over the response) − eos_penalty when the
 *      response is not closed by <end_of_turn>; leave-one-out advantages over the k samples
 *      of a prompt, optionally whitened over the global batch;
 *   4. rlhf.epochs clipped policy-gradient updates on the batch (loss = mean over all response
 *      tokens of all ranks), each: gradients accumulated over train.grad_accum micro-batches
 *      (which also split step 2), averaged over ranks, clipped, AdamW.
 * metrics.jsonl per iteration: reward, rm_score, kl, entropy, response_length,
 * ended_fraction, clip_fraction, logprob_max_diff, loss, grad_norm, lr, ms (sample_ms,
 * score_ms, update_ms: rank 0's sampling, scoring passes, and updates); on held-out prompts
 * (rlhf.valid_prompts, one sample each with a fixed seed, so evaluations compare like with
 * like): val_rm_score, val_reward, val_kl, val_ended_fraction, val_response_length. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "data/corpus.h"
#include "data/tokenizer.h"
#include "model/decode.h"
#include "model/griffin.h"
#include "model/sampler.h"
#include "optim/adamw.h"
#include "optim/clip.h"
#include "optim/dist.h"
#include "optim/schedule.h"
#include "rlhf/order.h"
#include "rlhf/reward_model.h"
#include "rlhf/rlhf.h"
#include "rlhf/rollout.h"
#include "train/checkpoint.h"
#include "train/commands.h"
#include "train/config.h"
#include "train/loop.h"
#include "train/model_io.h"
#include "train/runlog.h"
#include "train/step_check.h"
#include "train/weights_opt.h"
#include "train/zero.h"

/* Everything one rollout batch needs, allocated once for S = G·k sequences of T tokens. The
 * training passes (reward model, reference, policy) run in micro-batches of Sm = S / accum
 * sequences: the models hold activations for Sm x T only. */
typedef struct {
    int G, k, S, T, max_new, Sm;
    GriffinModel *pol, *ref, *rm;
    GriffinModel *smp;           /* the rollouts' sampler: pol, or its rlhf.sampler_weights copy */
    DecodeState *ps, *st;        /* prompt state [G], sequence state [S] */
    Rollout ro;
    SamplerParams sp;
    int stops[2], eot;
    const int **prompts;         /* [G] borrowed */
    int *plen;                   /* [G] */
    uint64_t *streams;           /* [S] */
    int *tok, *tgt, *pos, *rows; /* [S·T] x3, rows [S] */
    int *mrows;                  /* [Sm]: rows of one micro-batch */
    uint8_t *mask;               /* [S·T] response tokens */
    float *logp_old, *logq, *logp_s, *logp, *kl, *w, *adv_tok; /* [S·T] */
    float *score, *reward, *klsum, *adv; /* [S] */
    int Tb;                      /* columns used by the current batch */
    double entropy, maxdiff;     /* local sums / max */
    double sample_s, score_s;    /* seconds of the last batch_rollout: sampling, scoring passes */
} Batch;

static void batch_init(Batch *b, const TrainConfig *cfg, GriffinModel *pol, GriffinModel *ref, GriffinModel *rm,
                       const Tokenizer *tok, int G, int k, int Sm) {
    memset(b, 0, sizeof *b);
    b->G = G, b->k = k, b->S = G * k, b->T = cfg->train.seq_len, b->max_new = cfg->rlhf.max_new_tokens, b->Sm = Sm;
    b->pol = pol, b->ref = ref, b->rm = rm;
    b->smp = weights_sampler(pol, (WeightFormat)cfg->rlhf.sampler_weights);
    b->ps = k > 1 ? decode_create(b->smp, G) : NULL;
    b->st = decode_create(b->smp, b->S);
    rollout_alloc(&b->ro, b->S, b->max_new);
    b->sp = (SamplerParams){cfg->rlhf.temperature, 0, cfg->rlhf.top_p, tokenizer_vocab_size(tok)};
    TokenizerSpecials sp = tokenizer_specials(tok);
    CHECK(sp.end_of_turn >= 0, "rlhf: the tokenizer has no <end_of_turn>");
    b->eot = sp.end_of_turn;
    b->stops[0] = sp.end_of_turn;
    b->stops[1] = sp.eos;
    b->prompts = mallocCheck(sizeof(int *) * (size_t)G);
    b->plen = mallocCheck(sizeof(int) * (size_t)G);
    b->streams = mallocCheck(sizeof(uint64_t) * (size_t)b->S);
    size_t n = (size_t)b->S * b->T;
    b->tok = mallocCheck(sizeof(int) * n), b->tgt = mallocCheck(sizeof(int) * n), b->pos = mallocCheck(sizeof(int) * n);
    b->rows = mallocCheck(sizeof(int) * (size_t)b->S);
    b->mrows = mallocCheck(sizeof(int) * (size_t)Sm);
    b->mask = mallocCheck(n);
    float **f[] = {&b->logp_old, &b->logq, &b->logp_s, &b->logp, &b->kl, &b->w, &b->adv_tok};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) *f[i] = callocCheck(n, sizeof(float));
    float **g[] = {&b->score, &b->reward, &b->klsum, &b->adv};
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++) *g[i] = callocCheck((size_t)b->S, sizeof(float));
}

static void batch_free(Batch *b) {
    decode_free(b->ps);
    decode_free(b->st);
    weights_sampler_free(b->smp, b->pol);
    rollout_free(&b->ro);
    void *p[] = {b->prompts, b->plen, b->streams, b->tok, b->tgt, b->pos, b->rows, b->mrows, b->mask, b->logp_old, b->logq,
                 b->logp_s, b->logp, b->kl, b->w, b->adv_tok, b->score, b->reward, b->klsum, b->adv};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) free(p[i]);
}

/* Per-token log-probabilities of the masked rows, read chunk by chunk during a forward with
 * targets (the models keep no [N,V] logits); with entropy set also the summed entropy and the
 * largest difference from the sampler's log-probabilities logp_s. */
typedef struct {
    float *out;
    const int *tgt;
    const uint8_t *mask;
    double *entropy, *maxdiff; /* NULL: not wanted */
    const float *logp_s;
} LogpHook;

static void logp_hook(void *ctx, const GriffinModel *m, const float *lg, int r0, int nr) {
    const LogpHook *h = ctx;
    int V = m->cfg.vocab_size;
    for (int i = 0; i < nr; i++) {
        int x = r0 + i;
        const float *z = lg + (size_t)i * V;
        h->out[x] = h->mask[x] ? z[h->tgt[x]] - m->lse[x] : 0.0f;
        if (!h->entropy || !h->mask[x]) continue;
        *h->entropy += softmax_entropy(z, m->lse[x], V);
        double d = fabs((double)h->out[x] - (double)h->logp_s[x]);
        *h->maxdiff = d > *h->maxdiff ? d : *h->maxdiff;
    }
}

/* griffin_forward of rows tok … [S,T] with targets; out [S·T] = log p(target) of masked rows */
static void forward_logprobs(GriffinModel *m, float *out, const int *tok, const int *tgt, const int *pos,
                             const uint8_t *mask, int S, int T, double *entropy, double *maxdiff, const float *logp_s) {
    LogpHook h = {out, tgt, mask, entropy, maxdiff, logp_s};
    m->logits_hook = logp_hook;
    m->logits_ctx = &h;
    griffin_forward(m, tok, tgt, pos, mask, S, T);
    m->logits_hook = NULL;
    m->logits_ctx = NULL;
}

/* Sample, pack, and score a batch: fills logq, logp_old (+ entropy, max diff vs the sampler),
 * score, klsum, reward, micro-batch by micro-batch. With one micro-batch the policy's forward
 * is the last one, so its activations serve the first epoch's backward. */
static void batch_rollout(Batch *b, const TrainConfig *cfg, uint64_t seed) {
    int S = b->S, T = b->T, k = b->k;
    double t0 = run_now_s();
    weights_sampler_refresh(b->smp, b->pol); /* the policy's current weights, in the sampler's format */
    rollout_sample(b->smp, b->ps, b->st, b->prompts, b->plen, b->G, k, b->max_new, &b->sp, b->stops, 2, seed,
                   b->streams, &b->ro);
    /* rows: prompt ++ response; row t predicts t+1; response token j sits at P + j */
    int Tb = 1;
    for (int i = 0; i < S; i++) {
        int n = b->plen[i / k] + b->ro.len[i];
        CHECK(n <= T, "rlhf: prompt + response (%d) exceeds train.seq_len (%d)", n, T);
        Tb = n > Tb ? n : Tb;
    }
    b->Tb = Tb;
    double t1 = run_now_s();
    b->sample_s = t1 - t0;
    for (int i = 0; i < S; i++) {
        const int *p = b->prompts[i / k];
        int P = b->plen[i / k], L = b->ro.len[i];
        const int *r = b->ro.tokens + (size_t)i * b->ro.max_new;
        for (int t = 0; t < Tb; t++) {
            size_t x = (size_t)i * Tb + t;
            int cur = t < P ? p[t] : t < P + L ? r[t - P] : 0;
            int nxt = t + 1 < P ? p[t + 1] : t + 1 < P + L ? r[t + 1 - P] : 0;
            b->tok[x] = cur;
            b->pos[x] = t;
            b->tgt[x] = nxt;
            b->mask[x] = t >= P - 1 && t < P + L - 1;
            b->logp_s[x] = b->mask[x] ? b->ro.logp[(size_t)i * b->ro.max_new + (t - P + 1)] : 0.0f;
        }
        b->rows[i] = i * Tb + P + L - 1;
    }
    size_t n = (size_t)S * Tb;
    b->entropy = 0;
    b->maxdiff = 0;
    for (int s0 = 0; s0 < S; s0 += b->Sm) { /* micro-batches of Sm sequences */
        size_t o = (size_t)s0 * Tb;
        for (int i = 0; i < b->Sm; i++) b->mrows[i] = b->rows[s0 + i] - (int)o;
        /* reward model on the last response token */
        rm_score(b->rm, b->score + s0, b->tok + o, b->pos + o, b->mrows, b->Sm, Tb);
        /* reference */
        forward_logprobs(b->ref, b->logq + o, b->tok + o, b->tgt + o, b->pos + o, b->mask + o, b->Sm, Tb, NULL,
                         NULL, NULL);
        /* policy (log p_old), entropy, agreement with the sampler */
        forward_logprobs(b->pol, b->logp_old + o, b->tok + o, b->tgt + o, b->pos + o, b->mask + o, b->Sm, Tb,
                         &b->entropy, &b->maxdiff, b->logp_s + o);
    }
    /* KL and reward */
    kl_forward(b->kl, b->logp_old, b->logq, cfg->rlhf.kl_estimator == KL_K3 ? RLHF_KL_K3 : RLHF_KL_K1, n);
    for (int i = 0; i < S; i++) {
        double s = 0;
        for (int t = 0; t < Tb; t++) s += b->mask[(size_t)i * Tb + t] ? (double)b->kl[(size_t)i * Tb + t] : 0.0;
        b->klsum[i] = (float)s;
        int ended = b->ro.stopped[i] && b->ro.last[i] == b->eot;
        b->reward[i] = b->score[i] - cfg->rlhf.beta * b->klsum[i] - (ended ? 0.0f : cfg->rlhf.eos_penalty);
    }
    b->score_s = run_now_s() - t1;
}

/* prompts of a prompt or preference corpus (field 0) that leave room for max_new tokens */
static size_t *eligible_prompts(Corpus *c, int T, int max_new, size_t *n) {
    size_t nd = corpus_num_docs(c), *ids = mallocCheck(sizeof(size_t) * (nd ? nd : 1));
    *n = 0;
    for (size_t d = 0; d < nd; d++) {
        CorpusDoc doc = corpus_doc(c, CORPUS_FIELD_PROMPT, d);
        if (doc.n >= 2 && doc.n + (size_t)max_new <= (size_t)T) ids[(*n)++] = d;
    }
    return ids;
}

static int *prompt_ints(Corpus *c, size_t d, int *len) {
    CorpusDoc doc = corpus_doc(c, CORPUS_FIELD_PROMPT, d);
    int *p = mallocCheck(sizeof(int) * doc.n);
    for (size_t i = 0; i < doc.n; i++) p[i] = (int)doc.tokens[i];
    *len = (int)doc.n;
    return p;
}

/* held-out: one sample per prompt (fixed streams), scored; sums over ranks */
typedef struct {
    double rm, reward, kl, ended, length, n;
} EvalSums;

static void evaluate(Batch *e, const TrainConfig *cfg, Corpus *vc, const size_t *vids, size_t nv, int rank, int world,
                     EvalSums *out, const Tokenizer *tok, RunOut *ro, int64_t step) {
    memset(out, 0, sizeof *out);
    int S = e->S;
    int *bufs[512];
    CHECK(S <= 512, "rlhf: evaluation batch too large");
    int printed = 0;
    for (size_t base = 0; base < nv; base += (size_t)S * world) {
        int nb = 0;
        for (int i = 0; i < S; i++) {
            size_t j = base + (size_t)rank * S + (size_t)i;
            size_t d = vids[j < nv ? j : 0];
            bufs[i] = prompt_ints(vc, d, &e->plen[i]);
            e->prompts[i] = bufs[i];
            e->streams[i] = 0x76616c00ULL + (j < nv ? j : 0);
            nb += j < nv;
        }
        batch_rollout(e, cfg, (uint64_t)cfg->train.seed ^ 0x5eedULL);
        for (int i = 0; i < nb; i++) {
            int ended = e->ro.stopped[i] && e->ro.last[i] == e->eot;
            out->rm += (double)e->score[i];
            out->reward += (double)e->reward[i];
            out->kl += (double)e->klsum[i];
            out->ended += ended;
            out->length += e->ro.len[i];
            out->n += 1;
        }
        /* the first held-out answers, for the log (rank 0) */
        for (int i = 0; i < nb && rank == 0 && printed < 3; i++, printed++) {
            uint32_t *ids = mallocCheck(sizeof(uint32_t) * (size_t)(e->plen[i] + e->ro.len[i] + 1));
            for (int t = 0; t < e->plen[i]; t++) ids[t] = (uint32_t)e->prompts[i][t];
            char *q = tokenizer_decode(tok, ids, (size_t)e->plen[i], NULL);
            for (int t = 0; t < e->ro.len[i]; t++) ids[t] = (uint32_t)e->ro.tokens[(size_t)i * e->ro.max_new + t];
            char *a = tokenizer_decode(tok, ids, (size_t)e->ro.len[i], NULL);
            for (char *c = q; *c; c++) if (*c == '\n') *c = ' ';
            for (char *c = a; *c; c++) if (*c == '\n') *c = ' ';
            run_say(ro, "step %6lld | sample %d | score %+.3f | %s-> %s%s\n", (long long)step, printed + 1,
                    (double)e->score[i], q, a, e->ro.stopped[i] && e->ro.last[i] == e->eot ? " <end>" : " [...]");
            free(q);
            free(a);
            free(ids);
        }
        for (int i = 0; i < S; i++) free(bufs[i]);
    }
    double v[6] = {out->rm, out->reward, out->kl, out->ended, out->length, out->n};
    dist_allreduce_sum_f64(v, 6);
    out->rm = v[0], out->reward = v[1], out->kl = v[2], out->ended = v[3], out->length = v[4], out->n = v[5];
}

/* an inference-only copy of a checkpoint's model for batches up to B x T */
static GriffinModel *frozen(const char *path, int B, int T, const GriffinConfig *want, const Tokenizer *tok,
                            const char *what, int flags) {
    LoadedModel lm;
    load_model(path, 1, 1, &lm);
    if (lm.tok)
        CHECK(tokenizer_checksum(lm.tok) == tokenizer_checksum(tok), "rlhf: %s %s was trained with another tokenizer",
              what, path);
    if (want)
        CHECK(lm.m->cfg.vocab_size == want->vocab_size, "rlhf: %s %s has vocabulary %d, the policy %d", what, path,
              lm.m->cfg.vocab_size, want->vocab_size);
    GriffinModel *m = griffin_create_ex(&lm.m->cfg, B, T, 0, GRIFFIN_INFERENCE | flags);
    memcpy(m->params, lm.m->params, m->table.total * sizeof(float));
    loaded_model_free(&lm);
    return m;
}

int cmd_rlhf(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        printf("usage: griffin rlhf CONFIG.ini [--section.key=value ...]\n"
               "  [model] as the SFT model; train.init = the SFT checkpoint (policy start);\n"
               "  [rlhf] reward_model, prompts, reference (default train.init), ...\n"
               "  train.batch_size = prompts per rank per iteration, train.steps = iterations,\n"
               "  train.grad_accum = micro-batches of the training passes (divides batch_size x samples_per_prompt),\n"
               "  train.seq_len >= longest prompt + rlhf.max_new_tokens.\n\n");
        train_config_usage(stdout);
        return argc < 2 ? 2 : 0;
    }
    TrainConfig *cfg = train_load_config("rlhf", &argc, &argv);
    if (!cfg) return 2;
    int rank = dist_rank(), world = dist_size();
    char err[2048];
    TrainSection *ts = &cfg->train;
    RlhfSection *rc = &cfg->rlhf;
    const char *init = rc->policy[0] ? rc->policy : ts->init;
    const char *refp = rc->reference[0] ? rc->reference : init;
    CHECK(init[0], "%s: train.init (the SFT checkpoint the policy starts from) is required", cfg->source);
    CHECK(rc->reward_model[0], "%s: rlhf.reward_model is required", cfg->source);
    CHECK(rc->prompts[0], "%s: rlhf.prompts (a prompt corpus) is required", cfg->source);
    CHECK(!cfg->griffin.reward_head, "%s: the policy is a language model (model.reward_head = false)", cfg->source);
    CHECK(ts->steps > 0, "%s: train.steps (iterations) must be set", cfg->source);
    CHECK(rc->max_new_tokens < ts->seq_len, "%s: rlhf.max_new_tokens must be below train.seq_len", cfg->source);
    int G = ts->batch_size, k = rc->samples_per_prompt, S = G * k, T = ts->seq_len, accum = ts->grad_accum;
    CHECK(S % accum == 0, "%s: train.grad_accum (%d) must divide the %d sequences of a rank's iteration "
          "(train.batch_size %d x rlhf.samples_per_prompt %d)", cfg->source, accum, S, G, k);
    int Sm = S / accum; /* sequences per micro-batch of the training passes */
    int nmb = rc->minibatches, Smb = S / nmb; /* updates per epoch, sequences per minibatch */
    CHECK(accum % nmb == 0, "%s: rlhf.minibatches (%d) must divide train.grad_accum (%d): a minibatch is a whole "
          "number of micro-batches (train.grad_accum = %d gives one micro-batch per minibatch)", cfg->source, nmb,
          accum, nmb);
    RunOut out;
    train_open_run("rlhf", cfg, &out);
    if (ts->precision != PRECISION_FP32) /* PPO's ratio compares the trainer with the fp32 sampler */
        run_say(&out, "train.precision = %s is not used by rlhf: its ratios compare the trainer's log-probabilities "
                      "with the fp32 sampler's, so both compute in fp32\n",
                ts->precision == PRECISION_BF16 ? "bf16" : "bf16-emulated");
    double *ntok = callocCheck((size_t)nmb, sizeof(double)); /* reply tokens per minibatch, all ranks */
    /* policy (trainable), its tokenizer from the init checkpoint */
    GriffinModel *pol = griffin_create_ex(&cfg->griffin, Sm, T, (uint64_t)ts->seed,
                                          ts->recompute ? GRIFFIN_RECOMPUTE | GRIFFIN_CHUNKED_LOSS : 0);
    size_t P = pol->table.total;
    CHECK(ckpt_load_weights(init, &pol->table, pol->params, err, sizeof err) == CKPT_OK, "policy %s: %s", init, err);
    CkptLoaded meta;
    CHECK(ckpt_load(init, NULL, NULL, NULL, NULL, &meta, err, sizeof err) == CKPT_OK, "policy %s: %s", init, err);
    CHECK(meta.tokenizer_len > 0, "policy %s carries no tokenizer", init);
    char *tok_bytes = mallocCheck(meta.tokenizer_len);
    size_t tok_len = meta.tokenizer_len;
    memcpy(tok_bytes, meta.tokenizer, tok_len);
    ckpt_loaded_free(&meta);
    Tokenizer *tok = tokenizer_load_from_memory(tok_bytes, tok_len, init);
    /* the reference gives log-probabilities only: no [N,V] logits */
    GriffinModel *ref = frozen(refp, Sm, T, &pol->cfg, tok, "reference", GRIFFIN_CHUNKED_LOSS);
    /* the reward model scores hidden states: no [N,V] logits */
    GriffinModel *rm = frozen(rc->reward_model, Sm, T, &pol->cfg, tok, "reward model", GRIFFIN_CHUNKED_LOSS);
    CHECK(rm->table.reward_w >= 0, "rlhf.reward_model = %s has no reward head (train it with griffin reward)",
          rc->reward_model);
    ZeroShard zs; /* ZeRO-1: this rank's shard of the Adam moments */
    zero_init(&zs, P);
    AdamWConfig ac = train_config_adamw(cfg);
    LrSchedule sched = train_config_schedule(cfg);

    Corpus *pc = corpus_open(rc->prompts, CORPUS_ANY);
    CHECK(corpus_kind(pc) == CORPUS_PROMPT || corpus_kind(pc) == CORPUS_PREFERENCE,
          "rlhf.prompts = %s is a %s corpus; give a prompt or preference corpus", rc->prompts, corpus_kind_name(corpus_kind(pc)));
    corpus_check_tokenizer(pc, tok, init);
    size_t np;
    size_t *pids = eligible_prompts(pc, T, rc->max_new_tokens, &np);
    CHECK(np > 0, "rlhf: no prompt of %s leaves room for %d new tokens within seq_len %d", rc->prompts,
          rc->max_new_tokens, T);
    DocOrder order;
    doc_order_init(&order, pids, np, (uint64_t)ts->seed);
    Corpus *vc = NULL;
    size_t nv = 0, *vids = NULL;
    if (rc->valid_prompts[0]) {
        vc = corpus_open(rc->valid_prompts, CORPUS_ANY);
        corpus_check_tokenizer(vc, tok, init);
        vids = eligible_prompts(vc, T, rc->max_new_tokens, &nv);
        if (nv > (size_t)rc->valid_samples) nv = (size_t)rc->valid_samples;
    }

    /* resume */
    int64_t step = 0;
    uint64_t cursor = 0;
    char ckpt[CFG_STR + 64] = "";
    int have = run_resume_path(ts->resume, ts->out_dir, rank == 0, ckpt, sizeof ckpt);
    if (have) {
        CkptLoaded ld;
        int r = zero_load(&zs, ckpt, &pol->table, pol->params, &ld, err, sizeof err);
        CHECK(r == CKPT_OK, "resume from %s: %s", ckpt, err);
        CHECK(ld.cursor_len == 1, "resume from %s: not an rlhf checkpoint", ckpt);
        step = ld.step;
        cursor = ld.cursors[0];
        ckpt_loaded_free(&ld);
        run_say(&out, "resumed from %s at iteration %lld\n", ckpt, (long long)step);
    } else {
        run_say(&out, "policy from %s, reference %s, reward model %s\n", init, refp, rc->reward_model);
    }
    dist_broadcast_f32(pol->params, P, 0);
    run_say(&out, "policy: %zu parameters; %zu prompts (%zu held-out); %d prompts x %d samples per rank per iteration",
            P, np, nv, G, k);
    if (nmb > 1) run_say(&out, ", %d updates per epoch on minibatches of %d sequences", nmb, Smb);
    run_say(&out, accum > 1 ? ", trained in %d micro-batches of %d\n" : "\n", accum, Sm);

    Batch b;
    batch_init(&b, cfg, pol, ref, rm, tok, G, k, Sm);
    Batch e;
    batch_init(&e, cfg, pol, ref, rm, tok, S, 1, Sm);
    int **pbuf = callocCheck((size_t)G, sizeof(int *));
    int64_t total = ts->steps, step0 = step;
    double t_start = run_now_s();
    int status = 0;
    RlhfKl kind = rc->kl_estimator == KL_K3 ? RLHF_KL_K3 : RLHF_KL_K1;
    while (step <= total) {
        if (vc && nv > 0 && ((ts->eval_every > 0 && step % ts->eval_every == 0) || step == total)) {
            EvalSums es;
            evaluate(&e, cfg, vc, vids, nv, rank, world, &es, tok, &out, step);
            run_say(&out, "step %6lld | eval rm_score %.4f | reward %.4f | kl %.4f | ended %.3f | length %.1f | %.0f prompts\n",
                    (long long)step, es.rm / es.n, es.reward / es.n, es.kl / es.n, es.ended / es.n, es.length / es.n, es.n);
            run_metric(&out, "{\"step\":%lld,\"val_rm_score\":%.9g,\"val_reward\":%.9g,\"val_kl\":%.9g,"
                             "\"val_ended_fraction\":%.9g,\"val_response_length\":%.9g,\"val_prompts\":%.0f}",
                       (long long)step, es.rm / es.n, es.reward / es.n, es.kl / es.n, es.ended / es.n, es.length / es.n, es.n);
        }
        if (step > step0 && (step == total || (ts->checkpoint_every > 0 && step % ts->checkpoint_every == 0))) {
            char *ini = train_config_to_ini(cfg);
            uint64_t rng[1] = {(uint64_t)ts->seed};
            float *full_m, *full_v; /* whole on rank 0 while it saves */
            zero_full(&zs, &full_m, &full_v);
            CkptState cs = {.step = step, .pt = &pol->table, .params = pol->params, .adam_m = full_m, .adam_v = full_v,
                            .rng = rng, .n_rng = 1, .cursors = &cursor, .ranks = 1, .cursor_len = 1, .config = ini,
                            .tokenizer = tok_bytes, .tokenizer_len = tok_len};
            int r = CKPT_OK;
            char path[CFG_STR + 64];
            if (rank == 0) r = ckpt_save(ts->out_dir, &cs, ts->keep_checkpoints, path, sizeof path, err, sizeof err);
            free(ini);
            zero_full_free(&zs, full_m, full_v);
            if (dist_sum_i64(r != CKPT_OK)) {
                if (rank == 0) fprintf(stderr, "griffin rlhf: checkpoint at iteration %lld failed: %s\n", (long long)step, err);
                status = 3;
                break;
            }
            run_say(&out, "step %6lld | saved %s\n", (long long)step, path);
        }
        if (step == total) break;

        double t0 = run_now_s();
        /* 1-2. this rank's prompts, rollouts, scores */
        for (int g = 0; g < G; g++) {
            uint64_t slot = cursor + (uint64_t)rank * G + (uint64_t)g;
            pbuf[g] = prompt_ints(pc, doc_order_at(&order, slot), &b.plen[g]);
            b.prompts[g] = pbuf[g];
            for (int j = 0; j < k; j++) b.streams[g * k + j] = slot * (uint64_t)k + (uint64_t)j;
        }
        cursor += (uint64_t)G * world;
        batch_rollout(&b, cfg, (uint64_t)ts->seed);
        for (int g = 0; g < G; g++) free(pbuf[g]);
        /* 3. advantages: leave-one-out within each prompt's k samples (all on this rank) */
        rloo_advantages(b.adv, b.reward, G, k, 0);
        if (rc->whiten) {
            double s[2] = {0, 0};
            for (int i = 0; i < S; i++) s[0] += (double)b.adv[i], s[1] += (double)b.adv[i] * (double)b.adv[i];
            dist_allreduce_sum_f64(s, 2);
            double n = (double)S * world, mean = s[0] / n, var = s[1] / n - mean * mean;
            rloo_whiten(b.adv, (size_t)S, mean, sqrt(var > 0 ? var : 0));
        }
        int Tb = b.Tb;
        size_t n = (size_t)S * Tb;
        for (size_t x = 0; x < n; x++) b.adv_tok[x] = b.adv[x / (size_t)Tb];
        /* response tokens of each minibatch over all ranks: its loss is their mean */
        for (int j = 0; j < nmb; j++) {
            ntok[j] = 0;
            for (size_t x = (size_t)j * Smb * Tb; x < (size_t)(j + 1) * Smb * Tb; x++) ntok[j] += b.mask[x];
        }
        dist_allreduce_sum_f64(ntok, (size_t)nmb);
        double ntok_all = 0;
        for (int j = 0; j < nmb; j++) ntok_all += ntok[j];
        /* 4. clipped policy-gradient epochs, each one update per minibatch */
        double loss = 0, norm = 0, clipped = 0, t_update = run_now_s();
        int refused = 0, nupd = rc->epochs * nmb;
        char where[1024];
        float lr = lr_at(&sched, step);
        for (int u = 0; u < nupd; u++) {
            int ep = u / nmb, j = u % nmb;
            double l = 0;
            size_t nc = 0;
            griffin_zero_grad(pol);
            for (int s0 = j * Smb; s0 < (j + 1) * Smb; s0 += Sm) { /* micro-batches: gradients accumulate */
                size_t o = (size_t)s0 * Tb, nm = (size_t)Sm * Tb, c = 0;
                /* one micro-batch: the rollout's policy forward is still in place for epoch 0, and
                 * its log-probabilities are log p_old */
                if (ep > 0 || accum > 1)
                    forward_logprobs(pol, b.logp + o, b.tok + o, b.tgt + o, b.pos + o, b.mask + o, Sm, Tb, NULL, NULL,
                                     NULL);
                else memcpy(b.logp + o, b.logp_old + o, nm * sizeof(float));
                l += policy_loss_forward(b.logp + o, b.logp_old + o, b.adv_tok + o, b.mask + o, rc->clip, nm, &c);
                nc += c;
                /* mean over the minibatch's response tokens of every rank; ranks average gradients (x world) */
                policy_loss_weights(b.w + o, b.logp + o, b.logp_old + o, b.adv_tok + o, b.mask + o, rc->clip,
                                    ntok[j] > 0 ? (float)(world / ntok[j]) : 0.0f, nm);
                griffin_backward_weighted(pol, b.w + o);
            }
            /* what this rank saw itself, before the ranks' gradients are averaged (step_check.h) */
            int nf = (isfinite(l) ? 0 : NF_LOSS) | (isfinite(grad_sumsq(pol->grads, P)) ? 0 : NF_GRAD);
            double shard_sq = zero_reduce(&zs, pol->grads); /* ZeRO-1: this rank's shard of the mean */
            double v[2] = {l, (double)nc};
            dist_allreduce_sum_f64(v, 2);
            double ul = ntok[j] > 0 ? v[0] / ntok[j] : 0.0;
            loss += ul / nupd;
            clipped += v[1] / ntok_all / rc->epochs;
            norm = sqrt(dist_sum_double(shard_sq));
            if (!nf && (!isfinite(ul) || !isfinite(norm))) nf = NF_AVERAGED; /* a sum overflowed, alike everywhere */
            if ((refused = step_check_nonfinite(nf, pol->params, P, where, sizeof where))) break;
            zero_update(&zs, &pol->table, pol->params, pol->grads, &ac, lr, (long)(step * nupd + u + 1),
                        clip_scale(norm, cfg->optim.grad_clip));
        }
        t_update = run_now_s() - t_update;
        if (refused) {
            if (rank == 0) fprintf(stderr, "griffin rlhf: non-finite loss or gradient at iteration %lld %s; the update is "
                                   "refused on all %d rank(s)\n", (long long)step + 1, where, world);
            status = 4;
            break;
        }
        /* metrics over the global batch */
        double m[8] = {0};
        for (int i = 0; i < S; i++) {
            m[0] += (double)b.reward[i];
            m[1] += (double)b.score[i];
            m[2] += (double)b.klsum[i];
            m[3] += b.ro.len[i];
            m[4] += b.ro.stopped[i] && b.ro.last[i] == b.eot;
        }
        m[5] = b.entropy;
        dist_allreduce_sum_f64(m, 6);
        double ns = (double)S * world;
        /* max over ranks: every rank fills its own slot of a sum */
        double *md = callocCheck((size_t)world, sizeof(double)), maxdiff = 0;
        md[rank] = b.maxdiff;
        dist_allreduce_sum_f64(md, (size_t)world);
        for (int r = 0; r < world; r++) maxdiff = md[r] > maxdiff ? md[r] : maxdiff;
        free(md);
        step++;
        double dt = run_now_s() - t0;
        if (ts->log_every > 0 && (step % ts->log_every == 0 || step == total)) {
            double eta = (run_now_s() - t_start) / (double)(step - step0) * (double)(total - step);
            run_say(&out, "iter %5lld/%lld | reward %+.4f | rm %+.4f | kl %.4f | ent %.3f | len %.1f | ended %.2f | clip %.3f | "
                          "dlogp %.1e | norm %.3f | %.0f ms (sample %.0f, score %.0f, update %.0f) | eta %.0fs\n",
                    (long long)step, (long long)total, m[0] / ns, m[1] / ns, m[2] / ns, m[5] / ntok_all, m[3] / ns, m[4] / ns,
                    clipped, maxdiff, norm, 1e3 * dt, 1e3 * b.sample_s, 1e3 * b.score_s, 1e3 * t_update, eta);
            run_metric(&out, "{\"step\":%lld,\"reward\":%.9g,\"rm_score\":%.9g,\"kl\":%.9g,\"kl_estimator\":\"%s\","
                             "\"entropy\":%.9g,\"response_length\":%.9g,\"ended_fraction\":%.9g,\"clip_fraction\":%.9g,"
                             "\"logprob_max_diff\":%.9g,\"loss\":%.9g,\"grad_norm\":%.9g,\"lr\":%.6g,\"ms\":%.1f,"
                             "\"sample_ms\":%.1f,\"score_ms\":%.1f,\"update_ms\":%.1f}",
                       (long long)step, m[0] / ns, m[1] / ns, m[2] / ns, kind == RLHF_KL_K3 ? "k3" : "k1", m[5] / ntok_all,
                       m[3] / ns, m[4] / ns, clipped, maxdiff, loss, norm, (double)lr, 1e3 * dt, 1e3 * b.sample_s,
                       1e3 * b.score_s, 1e3 * t_update);
        }
    }

    batch_free(&b);
    batch_free(&e);
    free(pbuf);
    free(ntok);
    free(vids);
    doc_order_free(&order);
    corpus_close(pc);
    if (vc) corpus_close(vc);
    tokenizer_free(tok);
    free(tok_bytes);
    zero_free(&zs);
    griffin_free(pol);
    griffin_free(ref);
    griffin_free(rm);
    run_out_close(&out);
    free(cfg);
    dist_finalize();
    return status;
}
