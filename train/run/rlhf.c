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
 *      response is not closed by <end_of_turn>; leave-one-out (rlhf.advantage = rloo) or
 *      group-normalised (grpo) advantages over the k samples of a prompt, optionally whitened
 *      over the global batch; the KL stays in the reward in both;
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
#include "common/sys.h"
#include "data/corpus.h"
#include "data/tokenizer.h"
#include "model/decode.h"
#include "model/griffin.h"
#include "model/sampler.h"
#include "optim/dist.h"
#include "rlhf/order.h"
#include "rlhf/logprobs.h"
#include "rlhf/reward_model.h"
#include "rlhf/rlhf.h"
#include "rlhf/ppo.h"
#include "train/run/engine.h"
#include "train/commands.h"
#include "train/tools/model_io.h"
#include "train/tools/weights_opt.h"

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

/* prompt and reply of evaluation sequence i, on one line each (rank 0's log) */
static void log_sample(RunOut *ro, const PpoBatch *e, int i, int n, const Tokenizer *tok, int64_t step) {
    uint32_t *ids = mallocCheck(sizeof(uint32_t) * (size_t)(e->plen[i] + e->ro.len[i] + 1));
    for (int t = 0; t < e->plen[i]; t++) ids[t] = (uint32_t)e->prompts[i][t];
    char *q = tokenizer_decode(tok, ids, (size_t)e->plen[i], NULL);
    for (int t = 0; t < e->ro.len[i]; t++) ids[t] = (uint32_t)e->ro.tokens[(size_t)i * e->ro.max_new + t];
    char *a = tokenizer_decode(tok, ids, (size_t)e->ro.len[i], NULL);
    for (char *c = q; *c; c++) if (*c == '\n') *c = ' ';
    for (char *c = a; *c; c++) if (*c == '\n') *c = ' ';
    run_say(ro, "step %6lld | sample %d | score %+.3f | %s-> %s%s\n", (long long)step, n, (double)e->score[i], q, a,
            ppo_ended(e, i) ? " <end>" : " [...]");
    free(q);
    free(a);
    free(ids);
}

static void eval_prompts(PpoBatch *e, const TrainConfig *cfg, Corpus *vc, const size_t *vids, size_t nv, int rank, int world,
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
        weights_sampler_refresh(e->smp, e->pol);
        ppo_rollout(e, (uint64_t)cfg->train.seed ^ 0x5eedULL);
        for (int i = 0; i < nb; i++) {
            int ended = ppo_ended(e, i);
            out->rm += (double)e->score[i];
            out->reward += (double)e->reward[i];
            out->kl += (double)e->klsum[i];
            out->ended += ended;
            out->length += e->ro.len[i];
            out->n += 1;
        }
        /* the first held-out answers, for the log (rank 0) */
        for (int i = 0; i < nb && rank == 0 && printed < 3; i++, printed++) log_sample(ro, e, i, printed + 1, tok, step);
        for (int i = 0; i < S; i++) free(bufs[i]);
    }
    double v[6] = {out->rm, out->reward, out->kl, out->ended, out->length, out->n};
    dist_allreduce_sum_f64(v, 6);
    out->rm = v[0], out->reward = v[1], out->kl = v[2], out->ended = v[3], out->length = v[4], out->n = v[5];
}

typedef struct {
    GriffinModel *ref, *rm;  /* frozen reference and reward model (the policy is the engine's) */
    GriffinModel *smp;       /* the rollouts' sampler: the policy, or its rlhf.sampler_weights copy */
    Tokenizer *tok;
    Corpus *pc, *vc;         /* rollout prompts, held-out prompts (or NULL) */
    size_t np, nv, *vids;
    DocOrder order;
    uint64_t cursor;         /* prompts consumed, all ranks */
    PpoBatch b, e;           /* the rollout batch, the evaluation batch */
    int **pbuf;              /* [G] this step's prompts */
    int G, k, S, Sm, nmb, Smb;
    double *ntok, ntok_all;  /* reply tokens per minibatch / in all, all ranks */
    double loss, clipped, t_update;
    size_t nc;               /* clipped tokens of the current update, this rank */
    double t0;
} RlhfStage;

static const char *policy_path(const TrainConfig *cfg) { return cfg->rlhf.policy[0] ? cfg->rlhf.policy : cfg->train.init; }

/* the checkpoints and corpora [rlhf] names must be readable */
static int missing(const TrainConfig *cfg, char *err, size_t errlen) {
    const RlhfSection *rc = &cfg->rlhf;
    const char *key[] = {cfg->rlhf.policy[0] ? "rlhf.policy" : "train.init", "rlhf.reward_model", "rlhf.prompts",
                         "rlhf.reference", "rlhf.valid_prompts"};
    const char *path[] = {policy_path(cfg), rc->reward_model, rc->prompts, rc->reference, rc->valid_prompts};
    for (int i = 0; i < 5; i++)
        if (engine_unreadable(key[i], path[i], err, errlen)) return -1;
    return 0;
}

static int check(const TrainConfig *cfg, char *err, size_t errlen) {
    const TrainSection *ts = &cfg->train;
    const RlhfSection *rc = &cfg->rlhf;
    int S = ts->batch_size * rc->samples_per_prompt;
    if (!policy_path(cfg)[0]) snprintf(err, errlen, "%s: train.init (the SFT checkpoint the policy starts from) is required", cfg->source);
    else if (!rc->reward_model[0]) snprintf(err, errlen, "%s: rlhf.reward_model is required", cfg->source);
    else if (!rc->prompts[0]) snprintf(err, errlen, "%s: rlhf.prompts (a prompt corpus) is required", cfg->source);
    else if (cfg->griffin.reward_head) snprintf(err, errlen, "%s: the policy is a language model (model.reward_head = false)", cfg->source);
    else if (cfg->griffin.lora_rank > 0 && cfg->griffin.lora_dropout > 0)
        snprintf(err, errlen, "%s: lora.dropout must be 0 in rlhf: its ratios compare the trainer's log-probabilities "
                 "with the sampler's, which has no dropout", cfg->source);
    else if (ts->steps <= 0) snprintf(err, errlen, "%s: train.steps (iterations) must be set", cfg->source);
    else if (rc->max_new_tokens >= ts->seq_len) snprintf(err, errlen, "%s: rlhf.max_new_tokens must be below train.seq_len", cfg->source);
    else if (S % ts->grad_accum)
        snprintf(err, errlen, "%s: train.grad_accum (%d) must divide the %d sequences of a rank's iteration "
                 "(train.batch_size %d x rlhf.samples_per_prompt %d)", cfg->source, ts->grad_accum, S, ts->batch_size,
                 rc->samples_per_prompt);
    else if (missing(cfg, err, errlen)) return -1;
    else if (ts->grad_accum % rc->minibatches)
        snprintf(err, errlen, "%s: rlhf.minibatches (%d) must divide train.grad_accum (%d): a minibatch is a whole "
                 "number of micro-batches (train.grad_accum = %d gives one micro-batch per minibatch)", cfg->source,
                 rc->minibatches, ts->grad_accum, rc->minibatches);
    else return 0;
    return -1;
}

/* the policy (the engine's model) from the init checkpoint, and the tokenizer it carries */
/* returns 1 when the policy's adapters start at B = 0 (off, it is the checkpoint's model) */
static int load_policy(Engine *e, int Sm) {
    const TrainSection *ts = &e->cfg->train;
    const char *init = policy_path(e->cfg);
    char err[2048];
    e->m = griffin_create_ex(&e->cfg->griffin, Sm, ts->seq_len, (uint64_t)ts->seed,
                             ts->recompute ? GRIFFIN_RECOMPUTE | GRIFFIN_CHUNKED_LOSS : 0);
    char how[128];
    int n, fresh = load_init_weights(init, e->m, "policy", how, sizeof how, &n);
    engine_set_base(e, init, n);
    CkptLoaded meta;
    REQUIRE(ckpt_load(init, NULL, NULL, NULL, NULL, &meta, err, sizeof err) == CKPT_OK, "policy %s: %s", init, err);
    REQUIRE(meta.tokenizer_len > 0, "policy %s carries no tokenizer", init);
    e->tok_len = meta.tokenizer_len;
    e->tok_bytes = mallocCheck(e->tok_len);
    memcpy(e->tok_bytes, meta.tokenizer, e->tok_len);
    ckpt_loaded_free(&meta);
    return fresh;
}

/* rollout prompts (a seeded per-epoch order over those that leave room for the reply) and the
 * held-out ones */
static void open_prompts(RlhfStage *s, const TrainConfig *cfg, const char *init) {
    const RlhfSection *rc = &cfg->rlhf;
    int T = cfg->train.seq_len;
    s->pc = corpus_open(rc->prompts, CORPUS_ANY);
    REQUIRE(corpus_kind(s->pc) == CORPUS_PROMPT || corpus_kind(s->pc) == CORPUS_PREFERENCE,
          "rlhf.prompts = %s is a %s corpus; give a prompt or preference corpus", rc->prompts,
          corpus_kind_name(corpus_kind(s->pc)));
    corpus_check_tokenizer(s->pc, s->tok, init);
    size_t *pids = eligible_prompts(s->pc, T, rc->max_new_tokens, &s->np);
    REQUIRE(s->np > 0, "rlhf: no prompt of %s leaves room for %d new tokens within seq_len %d", rc->prompts,
          rc->max_new_tokens, T);
    doc_order_init(&s->order, pids, s->np, (uint64_t)cfg->train.seed);
    if (!rc->valid_prompts[0]) return;
    s->vc = corpus_open(rc->valid_prompts, CORPUS_ANY);
    corpus_check_tokenizer(s->vc, s->tok, init);
    s->vids = eligible_prompts(s->vc, T, rc->max_new_tokens, &s->nv);
    if (s->nv > (size_t)rc->valid_samples) s->nv = (size_t)rc->valid_samples;
}

static void *setup(Engine *e) {
    const TrainConfig *cfg = e->cfg;
    const TrainSection *ts = &cfg->train;
    const RlhfSection *rc = &cfg->rlhf;
    RlhfStage *s = callocCheck(1, sizeof *s);
    s->G = ts->batch_size, s->k = rc->samples_per_prompt, s->S = s->G * s->k;
    s->Sm = s->S / ts->grad_accum, s->nmb = rc->minibatches, s->Smb = s->S / s->nmb;
    if (ts->precision != GEMM_FP32) /* PPO's ratio compares the trainer with the fp32 sampler */
        run_say(&e->out, "train.precision = %s is not used by rlhf: its ratios compare the trainer's log-probabilities "
                "with the fp32 sampler's, so both compute in fp32\n", gemm_precision_name((GemmPrecision)ts->precision));
    s->ntok = callocCheck((size_t)s->nmb, sizeof(double));
    const char *init = policy_path(cfg), *refp = rc->reference[0] ? rc->reference : init;
    int fresh = load_policy(e, s->Sm);
    s->tok = tokenizer_load_from_memory(e->tok_bytes, e->tok_len, init);
    /* the reference gives log-probabilities only, the reward model scores hidden states: no [N,V] logits.
     * A policy of fresh adapters on the reference checkpoint is its own reference with the adapters
     * off (ppo.c): the same weights, computed in the same chunks, so no second copy. */
    if (fresh && !strcmp(refp, init)) {
        s->ref = e->m;
        run_say(&e->out, "reference: the policy with its LoRA adapters off (the weights of %s, not copied)\n", init);
    } else {
        s->ref = load_frozen(refp, s->Sm, ts->seq_len, &e->m->cfg, s->tok, "rlhf: reference", GRIFFIN_CHUNKED_LOSS);
    }
    s->rm = load_frozen(rc->reward_model, s->Sm, ts->seq_len, &e->m->cfg, s->tok, "rlhf: reward model",
                        GRIFFIN_CHUNKED_LOSS);
    REQUIRE(s->rm->table.reward_w >= 0, "rlhf.reward_model = %s has no reward head (train it with griffin reward)",
          rc->reward_model);
    open_prompts(s, cfg, init);
    run_say(&e->out, "policy: %zu parameters; %zu prompts (%zu held-out); %d prompts x %d samples per rank per iteration",
            e->m->table.total, s->np, s->nv, s->G, s->k);
    if (s->nmb > 1) run_say(&e->out, ", %d updates per epoch on minibatches of %d sequences", s->nmb, s->Smb);
    run_say(&e->out, ts->grad_accum > 1 ? ", trained in %d micro-batches of %d\n" : "\n", ts->grad_accum, s->Sm);
    TokenizerSpecials sp = tokenizer_specials(s->tok);
    REQUIRE(sp.end_of_turn >= 0, "rlhf: the tokenizer of %s has no <end_of_turn>", init);
    PpoParams pp = {.seq_len = ts->seq_len, .max_new = rc->max_new_tokens,
                    .sp = {rc->temperature, 0, rc->top_p, tokenizer_vocab_size(s->tok)}, .eot = sp.end_of_turn,
                    .eos = sp.eos, .beta = rc->beta, .eos_penalty = rc->eos_penalty, .clip = rc->clip,
                    .kl = (RlhfKl)rc->kl_estimator};
    s->smp = weights_sampler(e->m, (WeightFormat)rc->sampler_weights);
    ppo_batch_init(&s->b, &pp, e->m, s->smp, s->ref, s->rm, s->G, s->k, s->Sm);
    ppo_batch_init(&s->e, &pp, e->m, s->smp, s->ref, s->rm, s->S, 1, s->Sm);
    s->pbuf = callocCheck((size_t)s->G, sizeof(int *));
    return s;
}

static void teardown(void *st) {
    RlhfStage *s = st;
    ppo_batch_free(&s->b);
    ppo_batch_free(&s->e);
    weights_sampler_free(s->smp, s->b.pol);
    free(s->pbuf);
    free(s->ntok);
    free(s->vids);
    doc_order_free(&s->order);
    corpus_close(s->pc);
    if (s->vc) corpus_close(s->vc);
    tokenizer_free(s->tok);
    if (s->ref != s->b.pol) griffin_free(s->ref);
    griffin_free(s->rm);
    free(s);
}

static void init(void *st, Engine *e) {
    (void)st;
    const RlhfSection *rc = &e->cfg->rlhf;
    const char *p = policy_path(e->cfg);
    run_say(&e->out, "policy from %s, reference %s, reward model %s\n", p, rc->reference[0] ? rc->reference : p,
            rc->reward_model);
}

/* one integer: the pairs (prompts) consumed by every rank so far */
static size_t cursor(void *st, uint64_t **values) {
    *values = &((RlhfStage *)st)->cursor;
    return 1;
}

static void evaluate(void *st, Engine *e) {
    RlhfStage *s = st;
    if (!s->vc || !s->nv) return;
    EvalSums es;
    eval_prompts(&s->e, e->cfg, s->vc, s->vids, s->nv, e->rank, e->world, &es, s->tok, &e->out, e->step);
    run_say(&e->out, "step %6lld | eval rm_score %.4f | reward %.4f | kl %.4f | ended %.3f | length %.1f | %.0f prompts\n",
            (long long)e->step, es.rm / es.n, es.reward / es.n, es.kl / es.n, es.ended / es.n, es.length / es.n, es.n);
    run_metric(&e->out, "{\"step\":%lld,\"val_rm_score\":%.9g,\"val_reward\":%.9g,\"val_kl\":%.9g,"
               "\"val_ended_fraction\":%.9g,\"val_response_length\":%.9g,\"val_prompts\":%.0f}", (long long)e->step,
               es.rm / es.n, es.reward / es.n, es.kl / es.n, es.ended / es.n, es.length / es.n, es.n);
}

/* advantages (leave-one-out or GRPO within each prompt's k samples, optionally whitened over
 * the global batch) per reply token, and the reply tokens of each minibatch over all ranks */
static void advantages(RlhfStage *s, const RlhfSection *rc, int world) {
    double sums[2] = {0, 0};
    ppo_advantages(&s->b, rc->advantage == ADV_GRPO, sums);
    if (rc->whiten) dist_allreduce_sum_f64(sums, 2);
    ppo_advantages_finish(&s->b, rc->whiten, sums, (double)s->S * world, s->nmb, s->ntok);
    dist_allreduce_sum_f64(s->ntok, (size_t)s->nmb);
    s->ntok_all = 0;
    for (int j = 0; j < s->nmb; j++) s->ntok_all += s->ntok[j];
}

/* an iteration's rollout phase: this rank's prompts, samples, scores, advantages; then
 * rlhf.epochs x rlhf.minibatches updates of micro-batches of Sm sequences */
static void plan(void *st, Engine *e, StepPlan *p) {
    RlhfStage *s = st;
    s->t0 = now_seconds();
    for (int g = 0; g < s->G; g++) {
        uint64_t slot = s->cursor + (uint64_t)e->rank * s->G + (uint64_t)g;
        s->pbuf[g] = prompt_ints(s->pc, doc_order_at(&s->order, slot), &s->b.plen[g]);
        s->b.prompts[g] = s->pbuf[g];
        for (int j = 0; j < s->k; j++) s->b.streams[g * s->k + j] = slot * (uint64_t)s->k + (uint64_t)j;
    }
    s->cursor += (uint64_t)s->G * e->world;
    weights_sampler_refresh(s->smp, e->m); /* the policy's current weights, in the sampler's format */
    ppo_rollout(&s->b, (uint64_t)e->cfg->train.seed);
    for (int g = 0; g < s->G; g++) free(s->pbuf[g]);
    advantages(s, &e->cfg->rlhf, e->world);
    s->loss = s->clipped = 0;
    s->t_update = now_seconds();
    p->updates = e->cfg->rlhf.epochs * s->nmb;
    p->micro = s->Smb / s->Sm;
}

/* micro-batch a of update u (epoch u / nmb, minibatch u % nmb): the clipped policy loss, its
 * mean over the minibatch's reply tokens of every rank (ranks average gradients: x world) */
static double micro_step(void *st, Engine *e, int u, int a) {
    RlhfStage *s = st;
    int ep = u / s->nmb, j = u % s->nmb;
    if (a == 0) s->nc = 0;
    /* one micro-batch: the rollout's policy forward is still in place for epoch 0, and its
     * log-probabilities are log p_old */
    int reuse = ep == 0 && e->cfg->train.grad_accum == 1;
    float scale = s->ntok[j] > 0 ? (float)(e->world / s->ntok[j]) : 0.0f;
    return ppo_micro_step(&s->b, j * s->Smb + a * s->Sm, reuse, scale, &s->nc);
}

static void after_update(void *st, Engine *e, const UpdateInfo *ui) {
    RlhfStage *s = st;
    int j = ui->u % s->nmb, nupd = e->cfg->rlhf.epochs * s->nmb;
    double nc = dist_sum_double((double)s->nc);
    s->loss += (s->ntok[j] > 0 ? ui->loss_sum / s->ntok[j] : 0.0) / nupd;
    s->clipped += nc / s->ntok_all / e->cfg->rlhf.epochs;
}

static void end_step(void *st, Engine *e, const StepInfo *si) {
    RlhfStage *s = st;
    PpoBatch *b = &s->b;
    double t_update = now_seconds() - s->t_update, m[6] = {0};
    for (int i = 0; i < s->S; i++) {
        m[0] += (double)b->reward[i];
        m[1] += (double)b->score[i];
        m[2] += (double)b->klsum[i];
        m[3] += b->ro.len[i];
        m[4] += ppo_ended(b, i);
    }
    m[5] = b->entropy;
    dist_allreduce_sum_f64(m, 6);
    double ns = (double)s->S * e->world, maxdiff = dist_max_double(b->maxdiff);
    if (!si->log) return;
    double dt = now_seconds() - s->t0;
    const char *kl = e->cfg->rlhf.kl_estimator == RLHF_KL_K3 ? "k3" : "k1";
    run_say(&e->out, "iter %5lld/%lld | reward %+.4f | rm %+.4f | kl %.4f | ent %.3f | len %.1f | ended %.2f | clip %.3f | "
            "dlogp %.1e | norm %.3f | %.0f ms (sample %.0f, score %.0f, update %.0f) | eta %.0fs\n", (long long)si->step,
            (long long)si->total, m[0] / ns, m[1] / ns, m[2] / ns, m[5] / s->ntok_all, m[3] / ns, m[4] / ns, s->clipped,
            maxdiff, si->norm, 1e3 * dt, 1e3 * b->sample_s, 1e3 * b->score_s, 1e3 * t_update, si->eta);
    run_metric(&e->out, "{\"step\":%lld,\"reward\":%.9g,\"rm_score\":%.9g,\"kl\":%.9g,\"kl_estimator\":\"%s\","
               "\"entropy\":%.9g,\"response_length\":%.9g,\"ended_fraction\":%.9g,\"clip_fraction\":%.9g,"
               "\"logprob_max_diff\":%.9g,\"loss\":%.9g,\"grad_norm\":%.9g,\"lr\":%.6g,\"ms\":%.1f,"
               "\"sample_ms\":%.1f,\"score_ms\":%.1f,\"update_ms\":%.1f}", (long long)si->step, m[0] / ns, m[1] / ns,
               m[2] / ns, kl, m[5] / s->ntok_all, m[3] / ns, m[4] / ns, s->clipped, maxdiff, s->loss, si->norm,
               (double)si->lr, 1e3 * dt, 1e3 * b->sample_s, 1e3 * b->score_s, 1e3 * t_update);
}

static const StageDef rlhf_stage = {
    .name = "rlhf",
    .usage = "  [model] as the SFT model; train.init = the SFT checkpoint (policy start);\n"
             "  [rlhf] reward_model, prompts, reference (default train.init), ...\n"
             "  train.batch_size = prompts per rank per iteration, train.steps = iterations,\n"
             "  train.grad_accum = micro-batches of the training passes (divides batch_size x samples_per_prompt),\n"
             "  train.seq_len >= longest prompt + rlhf.max_new_tokens.\n",
    .check = check,
    .setup = setup,
    .teardown = teardown,
    .init = init,
    .cursor = cursor,
    .evaluate = evaluate,
    .plan = plan,
    .micro_step = micro_step,
    .after_update = after_update,
    .end_step = end_step,
};

int cmd_rlhf(int argc, char **argv) { return engine_main(&rlhf_stage, argc, argv); }
