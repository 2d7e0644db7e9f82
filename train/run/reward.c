/* griffin reward: a reward model trained on preference corpora with the Bradley-Terry loss
 * −log σ(r_chosen − r_rejected − margin) (docs/design.md: Reward). The model is the config's
 * backbone with model.reward_head = true; train.init (an SFT checkpoint, whose tensors are a
 * prefix of the reward model's) gives the backbone, the head starts at zero.
 *
 * Each optimizer step: grad_accum micro-batches of train.batch_size pairs per rank (2B rows:
 * chosen then rejected, each prompt ++ reply right-padded to seq_len), the loss averaged over
 * every pair of every rank, gradients averaged over ranks, clipped, AdamW. Pairs come from
 * the [data] corpora (concatenated) in a seeded per-epoch order whose one-integer cursor is
 * checkpointed, so a resumed run sees the same pairs. Evaluation scores every pair of the
 * [data] valid corpus (split over ranks). Logs: metrics.jsonl keys loss, accuracy, margin
 * (mean r_chosen − r_rejected) per step and val_loss, val_accuracy, val_margin per eval. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/check.h"
#include "data/corpus.h"
#include "data/tokenizer.h"
#include "model/griffin.h"
#include "optim/dist.h"
#include "rlhf/order.h"
#include "rlhf/reward_model.h"
#include "rlhf/rlhf.h"
#include "train/commands.h"
#include "train/run/engine.h"
#include "train/tools/model_io.h"

/* Weights of train.init: a reward model's own, else a language model's (the prefix). */
static void init_from(Engine *e, const char *path) {
    char how[128];
    int n;
    load_init_weights(path, e->m, "train.init", how, sizeof how, &n);
    engine_set_base(e, path, n);
    run_say(&e->out, "initialised %s from %s\n", how, path);
}

/* The tokenizer bytes: model.tokenizer, else the one stored in train.init; when both exist
 * they must be the same model (an SFT checkpoint's token ids mean nothing under another). */
static char *tokenizer_bytes(const TrainConfig *cfg, int check_init, size_t *len) {
    char *b = cfg->model.tokenizer[0] ? run_read_file(cfg->model.tokenizer, len) : NULL;
    if (!b) *len = 0;
    if (!check_init || !cfg->train.init[0]) return b;
    CkptLoaded ld;
    char err[2048];
    REQUIRE(ckpt_load(cfg->train.init, NULL, NULL, NULL, NULL, &ld, err, sizeof err) == CKPT_OK, "train.init = %s: %s",
          cfg->train.init, err);
    if (b && ld.tokenizer_len)
        REQUIRE(ld.tokenizer_len == *len && !memcmp(ld.tokenizer, b, *len),
              "train.init = %s was trained with another tokenizer than model.tokenizer = %s", cfg->train.init,
              cfg->model.tokenizer);
    if (!b && ld.tokenizer_len) {
        b = mallocCheck(ld.tokenizer_len);
        memcpy(b, ld.tokenizer, ld.tokenizer_len);
        *len = ld.tokenizer_len;
    }
    ckpt_loaded_free(&ld);
    return b;
}

/* train.init is checked when it is there (a resumed run may no longer need it) */
static int init_exists(const TrainConfig *cfg) { return cfg->train.init[0] && access(cfg->train.init, R_OK) == 0; }

typedef struct {
    int n_data;
    Corpus *corpora[CFG_MAX_DATA], *valid;
    size_t start[CFG_MAX_DATA + 1]; /* pair index space: corpus c holds [start[c], start[c+1]) */
    DocOrder order;
    uint64_t cursor;                /* pairs consumed, all ranks */
    int *tok, *pos, *rows;          /* [2B·T] x2, [2B]: chosen rows then rejected */
    float *r, *dr, *dhidden;        /* [2B], [2B], [2B·T, D] */
    double gpairs;                  /* pairs per step, all ranks */
    double correct, gap, loss_sum;  /* this step: local sums, then (end_step) over ranks */
    double truncated;
} RewardStage;

static int check(const TrainConfig *cfg, char *err, size_t errlen) {
    if (!cfg->griffin.reward_head) snprintf(err, errlen, "%s: a reward model needs model.reward_head = true", cfg->source);
    else if (cfg->n_data == 0) snprintf(err, errlen, "%s: no preference corpora in [data]", cfg->source);
    else if (cfg->train.steps <= 0) snprintf(err, errlen, "%s: train.steps must be set (> 0)", cfg->source);
    else return 0;
    return -1;
}

/* every pair of every [data] corpus, one index space in a seeded per-epoch order */
static void open_pairs(RewardStage *s, const TrainConfig *cfg) {
    s->n_data = cfg->n_data;
    s->start[0] = 0;
    for (int i = 0; i < cfg->n_data; i++) {
        s->corpora[i] = corpus_open(cfg->data[i].path, CORPUS_PREFERENCE);
        REQUIRE(corpus_vocab_size(s->corpora[i]) <= cfg->griffin.vocab_size,
              "%s: corpus %s has vocabulary %d but model.vocab_size is %d", cfg->source, cfg->data[i].path,
              corpus_vocab_size(s->corpora[i]), cfg->griffin.vocab_size);
        s->start[i + 1] = s->start[i] + corpus_num_docs(s->corpora[i]);
    }
    s->valid = cfg->n_valid > 0 ? corpus_open(cfg->valid[0].path, CORPUS_PREFERENCE) : NULL;
    size_t npairs = s->start[cfg->n_data], *ids = mallocCheck(sizeof(size_t) * (npairs ? npairs : 1));
    for (size_t i = 0; i < npairs; i++) ids[i] = i;
    doc_order_init(&s->order, ids, npairs, (uint64_t)cfg->train.seed);
}

static void *setup(Engine *e) {
    const TrainConfig *cfg = e->cfg;
    const TrainSection *ts = &cfg->train;
    RewardStage *s = callocCheck(1, sizeof *s);
    engine_apply_precision(e);
    open_pairs(s, cfg);
    int B = ts->batch_size, T = ts->seq_len;
    e->m = griffin_create_ex(&cfg->griffin, 2 * B, T, (uint64_t)ts->seed,
                             GRIFFIN_CHUNKED_LOSS | (ts->recompute ? GRIFFIN_RECOMPUTE : 0));
    e->tok_bytes = tokenizer_bytes(cfg, init_exists(cfg), &e->tok_len);
    if (e->tok_bytes) {
        Tokenizer *tok = tokenizer_load_from_memory(e->tok_bytes, e->tok_len, "reward tokenizer");
        for (int i = 0; i < cfg->n_data; i++) corpus_check_tokenizer(s->corpora[i], tok, cfg->data[i].path);
        if (s->valid) corpus_check_tokenizer(s->valid, tok, cfg->valid[0].path);
        tokenizer_free(tok);
    }
    size_t NT = (size_t)2 * B * T;
    s->tok = mallocCheck(sizeof(int) * NT), s->pos = mallocCheck(sizeof(int) * NT);
    s->rows = mallocCheck(sizeof(int) * 2 * B);
    s->r = mallocCheck(sizeof(float) * 2 * B), s->dr = mallocCheck(sizeof(float) * 2 * B);
    s->dhidden = alignedCallocCheck(NT * (size_t)cfg->griffin.width * sizeof(float));
    s->gpairs = (double)B * e->world * ts->grad_accum;
    run_say(&e->out, "reward model: %s backbone + head, %zu parameters (%.2f M), activations %.1f MB per rank; "
            "%zu training pairs, %zu held-out\n", family_name(e->m->cfg.family), e->m->table.total,
            e->m->table.total / 1e6, griffin_activation_bytes(e->m) / 1e6, s->start[s->n_data],
            s->valid ? corpus_num_docs(s->valid) : (size_t)0);
    return s;
}

static void teardown(void *st) {
    RewardStage *s = st;
    void *p[] = {s->tok, s->pos, s->rows, s->r, s->dr, s->dhidden};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) free(p[i]);
    doc_order_free(&s->order);
    for (int i = 0; i < s->n_data; i++) corpus_close(s->corpora[i]);
    if (s->valid) corpus_close(s->valid);
    free(s);
}

static void init(void *st, Engine *e) {
    (void)st;
    if (e->cfg->train.init[0]) init_from(e, e->cfg->train.init);
}

/* one integer: the pairs (prompts) consumed by every rank so far */
static size_t cursor(void *st, uint64_t **values) {
    *values = &((RewardStage *)st)->cursor;
    return 1;
}

/* every pair of the held-out corpus (split over ranks) */
static void evaluate(void *st, Engine *e) {
    RewardStage *s = st;
    if (!s->valid) return;
    const TrainSection *ts = &e->cfg->train;
    PairStats ps = {0};
    rm_eval_pairs(e->m, s->valid, (size_t)e->rank, (size_t)e->world, corpus_num_docs(s->valid), ts->batch_size,
                  ts->seq_len, e->cfg->rlhf.margin, s->tok, s->pos, s->rows, s->r, &ps);
    double v[4] = {ps.loss, ps.correct, ps.gap, ps.pairs};
    dist_allreduce_sum_f64(v, 4);
    run_say(&e->out, "step %6lld | eval loss %.4f | accuracy %.4f | margin %.4f | %.0f pairs\n", (long long)e->step,
            v[0] / v[3], v[1] / v[3], v[2] / v[3], v[3]);
    run_metric(&e->out, "{\"step\":%lld,\"val_loss\":%.9g,\"val_accuracy\":%.9g,\"val_margin\":%.9g,\"val_pairs\":%.0f}",
               (long long)e->step, v[0] / v[3], v[1] / v[3], v[2] / v[3], v[3]);
}

static void plan(void *st, Engine *e, StepPlan *p) {
    (void)e, (void)p;
    RewardStage *s = st;
    s->correct = s->gap = 0;
}

/* micro-batch a: this rank's B pairs of the global batch, scored, Bradley-Terry loss */
static double micro_step(void *st, Engine *e, int u, int a) {
    (void)u;
    RewardStage *s = st;
    int B = e->cfg->train.batch_size, T = e->cfg->train.seq_len;
    float margin = e->cfg->rlhf.margin;
    uint64_t base = s->cursor + ((uint64_t)a * e->world + (uint64_t)e->rank) * (uint64_t)B;
    for (int b = 0; b < B; b++) {
        size_t g = doc_order_at(&s->order, base + (uint64_t)b);
        int c = 0;
        while (g >= s->start[c + 1]) c++;
        s->truncated += rm_pack_pair(s->corpora[c], g - s->start[c], b, B, T, s->tok, s->pos, s->rows);
    }
    rm_score(e->m, s->r, s->tok, s->pos, s->rows, 2 * B, T);
    int ok = 0;
    double loss = bt_loss_forward(s->r, s->r + B, margin, B, &ok);
    s->correct += ok;
    for (int b = 0; b < B; b++) s->gap += (double)s->r[b] - (double)s->r[B + b];
    memset(s->dr, 0, sizeof(float) * 2 * B);
    /* mean over the global batch; ranks average their gradients, hence the factor world */
    bt_loss_backward(s->dr, s->dr + B, s->r, s->r + B, margin, (float)(e->world / s->gpairs), B);
    rm_backward(e->m, s->dhidden, s->dr, s->rows, 2 * B);
    return loss;
}

static void after_update(void *st, Engine *e, const UpdateInfo *ui) {
    (void)e;
    RewardStage *s = st;
    s->loss_sum = ui->loss_sum;
    s->cursor += (uint64_t)s->gpairs;
}

static void end_step(void *st, Engine *e, const StepInfo *si) {
    RewardStage *s = st;
    double v[2] = {s->correct, s->gap}, n = s->gpairs;
    dist_allreduce_sum_f64(v, 2);
    if (!si->log) return;
    run_say(&e->out, "step %6lld/%lld | loss %.4f | accuracy %.3f | margin %.3f | norm %.3f | lr %.2e | %.0f ms | eta %.0fs\n",
            (long long)si->step, (long long)si->total, s->loss_sum / n, v[0] / n, v[1] / n, si->norm, (double)si->lr,
            1e3 * si->seconds, si->eta);
    run_metric(&e->out, "{\"step\":%lld,\"loss\":%.17g,\"accuracy\":%.9g,\"margin\":%.9g,\"grad_norm\":%.9g,"
               "\"lr\":%.6g,\"ms\":%.1f}", (long long)si->step, s->loss_sum / n, v[0] / n, v[1] / n, si->norm,
               (double)si->lr, 1e3 * si->seconds);
}

static void finish(void *st, Engine *e) {
    double truncated = dist_sum_double(((RewardStage *)st)->truncated);
    if (truncated > 0)
        run_say(&e->out, "note: %.0f sequences longer than seq_len were cut (scored on their last kept token)\n", truncated);
}

static const StageDef reward_stage = {
    .name = "reward",
    .usage = "  [model] as the SFT model plus reward_head = true; [data] <name> = preference corpora,\n"
             "  valid = a held-out preference corpus; train.init = the SFT checkpoint; rlhf.margin.\n",
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
    .finish = finish,
};

int cmd_reward(int argc, char **argv) { return engine_main(&reward_stage, argc, argv); }
