/* griffin dpo: direct preference optimisation of a policy (train.init, an SFT checkpoint) on
 * preference corpora, against a frozen reference (dpo.reference, default train.init); the
 * losses are rlhf/dpo.h's (dpo.loss, dpo.beta, dpo.label_smoothing, dpo.gamma,
 * dpo.sft_weight). No reward model, no sampling.
 *
 * A pair is two rows, prompt ++ chosen and prompt ++ rejected (the reply with its closing
 * <end_of_turn>, as rm_pack_row packs them), right-padded to seq_len; a row's log-probability
 * is the sum of log π(target) over the positions whose target is a reply token. Pairs that do
 * not fit in seq_len, or whose replies are identical, are counted and skipped (never cut).
 *
 * Each optimizer step: grad_accum micro-batches of train.batch_size pairs per rank, in a
 * seeded per-epoch order over the eligible pairs of every [data] corpus (one-integer cursor in
 * the checkpoint). The loss is the mean over the global batch of pairs; its gradient is the
 * policy's weighted NLL backward with weight −∂L/∂lp_s on each reply token of row s.
 *
 * Reference log-probabilities: dpo.precompute_ref = true scores every eligible pair (training
 * and held-out) under the reference once, in batches of the training shape, split over ranks,
 * and keeps them in out_dir/ref-logps-<reference crc>-<corpora crc>.bin (reused by a resumed or
 * a later run with the same reference, corpora and seq_len), then frees the reference; false
 * keeps the reference and scores each batch. simpo reads no reference.
 *
 * metrics.jsonl per step: loss, reward_accuracy (ρ_chosen > ρ_rejected; ties count one half),
 * reward_margin, rewards_chosen, rewards_rejected (implicit rewards ρ, rlhf/dpo.h),
 * logp_chosen, logp_rejected (per reply token), grad_norm, lr, ms, tokens_per_s (row
 * positions, padding included); per evaluation on [data]
 * valid: val_loss, val_accuracy, val_margin, val_rewards_chosen, val_rewards_rejected,
 * val_pairs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/check.h"
#include "common/sys.h"
#include "data/corpus.h"
#include "data/tokenizer.h"
#include "optim/dist.h"
#include "rlhf/dpo.h"
#include "rlhf/logprobs.h"
#include "rlhf/order.h"
#include "rlhf/reward_model.h"
#include "train/commands.h"
#include "train/run/engine.h"
#include "train/tools/model_io.h"

/* step / evaluation sums: Σℓ, right, Σ(ρc − ρr), Σρc, Σρr, Σlp_c, Σlp_r, Σn_c, Σn_r, pairs */
enum { S_LOSS, S_RIGHT, S_MARGIN, S_RC, S_RR, S_LPC, S_LPR, S_NC, S_NR, S_PAIRS, S_N };

typedef struct {
    int n_data, B, T;
    Corpus *corpora[CFG_MAX_DATA], *valid;
    size_t start[CFG_MAX_DATA + 1]; /* pair index space: corpus c holds [start[c], start[c+1]) */
    size_t npairs, *vids, nv;       /* all training pairs; eligible held-out pairs */
    DocOrder order;                 /* over the eligible training pairs */
    uint64_t cursor;                /* pairs consumed, all ranks */
    DpoLoss L;
    GriffinModel *ref;              /* in memory (dpo.precompute_ref = false), else NULL */
    double *ref_train, *ref_valid;  /* precomputed: [2·npairs], [2·nv] (chosen block, rejected block) */
    int *tok, *tgt, *pos, *n;       /* [2B·T] x3, n [2B] reply tokens */
    uint8_t *mask;                  /* [2B·T] */
    float *lpt, *w;                 /* [2B·T] per-token log-probabilities, row weights */
    double *lp, *lq, *dlp, *rho;    /* [2B] */
    size_t *slot;                   /* [B] the pair (index) of each slot */
    double gpairs;                  /* pairs per step, all ranks */
    double sums[S_N];               /* this step, local */
    double loss_sum;
} DpoStage;

static const char *ref_path(const TrainConfig *cfg) { return cfg->dpo.reference[0] ? cfg->dpo.reference : cfg->train.init; }

/* 0 if path is a readable preference corpus, else -1 with the message */
static int check_corpus(const TrainConfig *cfg, const char *key, const char *path, char *err, size_t errlen) {
    if (engine_unreadable(key, path, err, errlen)) return -1;
    Corpus *c = corpus_open(path, CORPUS_ANY);
    CorpusKind k = corpus_kind(c);
    corpus_close(c);
    if (k == CORPUS_PREFERENCE) return 0;
    return set_error(err, errlen, "%s: %s = %s is a %s corpus; dpo trains on preference corpora (griffin tokenize "
                     "--kind preference)", cfg->source, key, path, corpus_kind_name(k));
}

/* 0 if the reference's tokenizer agrees with train.init's (the engine's rule), checked before anything is
 * written; else -1 */
static int check_reference_tokenizer(const TrainConfig *cfg, char *err, size_t errlen) {
    const char *ref = cfg->dpo.reference;
    if (!ref[0] || !strcmp(ref, cfg->train.init) || !dpo_uses_reference((DpoKind)cfg->dpo.loss)) return 0;
    CkptLoaded a, b;
    char why[1024];
    if (ckpt_load(cfg->train.init, NULL, NULL, NULL, NULL, &a, why, sizeof why) != CKPT_OK)
        return set_error(err, errlen, "%s: train.init = %s: %s", cfg->source, cfg->train.init, why);
    if (ckpt_load(ref, NULL, NULL, NULL, NULL, &b, why, sizeof why) != CKPT_OK) {
        ckpt_loaded_free(&a);
        return set_error(err, errlen, "%s: dpo.reference = %s: %s", cfg->source, ref, why);
    }
    int same = engine_tokenizers_agree(a.tokenizer, a.tokenizer_len, b.tokenizer, b.tokenizer_len);
    ckpt_loaded_free(&a), ckpt_loaded_free(&b);
    if (same) return 0;
    return set_error(err, errlen, "%s: dpo.reference = %s was trained with another tokenizer than train.init = %s",
                     cfg->source, ref, cfg->train.init);
}

static int check(const TrainConfig *cfg, char *err, size_t errlen) {
    const DpoSection *d = &cfg->dpo;
    char key[CFG_NAME + 8];
    if (!cfg->train.init[0])
        return set_error(err, errlen, "%s: train.init (the SFT checkpoint the policy starts from) is required", cfg->source);
    if (engine_unreadable("train.init", cfg->train.init, err, errlen) ||
        engine_unreadable("dpo.reference", d->reference, err, errlen))
        return -1;
    if (cfg->griffin.reward_head)
        return set_error(err, errlen, "%s: the policy is a language model (model.reward_head = false)", cfg->source);
    if (cfg->train.steps <= 0) return set_error(err, errlen, "%s: train.steps must be set (> 0)", cfg->source);
    if (cfg->n_data == 0) return set_error(err, errlen, "%s: no preference corpora in [data]", cfg->source);
    if (d->label_smoothing > 0 && (d->loss == DPO_IPO || d->loss == DPO_HINGE))
        return set_error(err, errlen, "%s: dpo.label_smoothing applies to dpo.loss = sigmoid, robust or simpo, not %s",
                         cfg->source, d->loss == DPO_IPO ? "ipo" : "hinge");
    for (int i = 0; i < cfg->n_data; i++) {
        snprintf(key, sizeof key, "data.%s", cfg->data[i].name);
        if (check_corpus(cfg, key, cfg->data[i].path, err, errlen)) return -1;
    }
    if (cfg->n_valid > 0 && check_corpus(cfg, "data.valid", cfg->valid[0].path, err, errlen)) return -1;
    return check_reference_tokenizer(cfg, err, errlen);
}

/* ---- pairs ------------------------------------------------------------------------- */

/* 0 if pair d fits in T and its replies differ; else 1 (too long) or 2 (identical) */
static int pair_skip(Corpus *c, size_t d, int T) {
    CorpusDoc p = corpus_doc(c, CORPUS_FIELD_PROMPT, d), ch = corpus_doc(c, CORPUS_FIELD_CHOSEN, d),
              rj = corpus_doc(c, CORPUS_FIELD_REJECTED, d);
    if (p.n < 1 || ch.n < 1 || rj.n < 1 || p.n + (ch.n > rj.n ? ch.n : rj.n) > (size_t)T) return 1;
    return ch.n == rj.n && !memcmp(ch.tokens, rj.tokens, ch.n * sizeof(uint32_t)) ? 2 : 0;
}

/* the eligible pairs d of corpus c into ids (as base + d); counts the skipped ones by reason */
static size_t eligible(Corpus *c, size_t base, int T, size_t *ids, size_t *skipped) {
    size_t k = 0, nd = corpus_num_docs(c);
    for (size_t d = 0; d < nd; d++) {
        int why = pair_skip(c, d, T);
        if (why) skipped[why - 1]++;
        else ids[k++] = base + d;
    }
    return k;
}

/* one row: prompt ++ reply right-padded; targets = the next token where it is a reply token */
static int pack_row(int *tok, int *tgt, int *pos, uint8_t *mask, int T, CorpusDoc p, CorpusDoc r) {
    int cut;
    rm_pack_row(tok, pos, T, p.tokens, p.n, r.tokens, r.n, &cut);
    for (int t = 0; t < T; t++) {
        size_t u = (size_t)t + 1;
        mask[t] = (uint8_t)(u >= p.n && u < p.n + r.n);
        tgt[t] = mask[t] ? tok[t + 1] : 0;
    }
    return (int)r.n;
}

/* pair d of corpus c into slot b: chosen row b, rejected row B + b */
static void pack_pair(DpoStage *s, Corpus *c, size_t d, int b) {
    int B = s->B, T = s->T;
    CorpusDoc p = corpus_doc(c, CORPUS_FIELD_PROMPT, d);
    for (int side = 0; side < 2; side++) {
        size_t o = (size_t)(side * B + b) * T;
        CorpusDoc r = corpus_doc(c, side ? CORPUS_FIELD_REJECTED : CORPUS_FIELD_CHOSEN, d);
        s->n[side * B + b] = pack_row(s->tok + o, s->tgt + o, s->pos + o, s->mask + o, T, p, r);
    }
}

/* training pair g of the index space into slot b */
static void pack_train(DpoStage *s, size_t g, int b) {
    int c = 0;
    while (g >= s->start[c + 1]) c++;
    pack_pair(s, s->corpora[c], g - s->start[c], b);
    s->slot[b] = g;
}

/* slots [nb, B) repeat slot 0 (scored, not counted) */
static void pad_slots(DpoStage *s, int nb) {
    int B = s->B, T = s->T;
    for (int b = nb; b < B; b++)
        for (int side = 0; side < 2; side++) {
            size_t o = (size_t)(side * B + b) * T, o0 = (size_t)(side * B) * T;
            memcpy(s->tok + o, s->tok + o0, sizeof(int) * T), memcpy(s->tgt + o, s->tgt + o0, sizeof(int) * T);
            memcpy(s->pos + o, s->pos + o0, sizeof(int) * T), memcpy(s->mask + o, s->mask + o0, (size_t)T);
            s->n[side * B + b] = s->n[side * B];
            s->slot[b] = s->slot[0];
        }
}

/* out [2B] = Σ_t log p(target) of each packed row under m */
static void score_rows(DpoStage *s, GriffinModel *m, double *out) {
    int R = 2 * s->B, T = s->T;
    forward_logprobs(m, s->lpt, s->tok, s->tgt, s->pos, s->mask, R, T, NULL, NULL, NULL);
    for (int r = 0; r < R; r++) {
        double sum = 0;
        for (int t = 0; t < T; t++) sum += (double)s->lpt[(size_t)r * T + t];
        out[r] = sum;
    }
}

/* ---- the reference ----------------------------------------------------------------- */

static uint32_t file_crc(const char *path) {
    FILE *f = fopen(path, "rb");
    CHECK(f, "dpo: cannot read %s", path);
    static unsigned char buf[1 << 20];
    uLong crc = crc32(0L, Z_NULL, 0);
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) crc = crc32(crc, buf, (uInt)n);
    fclose(f);
    return (uint32_t)crc;
}

/* the cache file of this reference, these corpora, seq_len and precision */
static void cache_path(const TrainConfig *cfg, char *path, size_t n) {
    uLong k = crc32(0L, Z_NULL, 0);
    for (int i = 0; i <= cfg->n_data; i++) {
        if (i == cfg->n_data && cfg->n_valid == 0) break;
        uint32_t c = file_crc(i < cfg->n_data ? cfg->data[i].path : cfg->valid[0].path);
        k = crc32(k, (const unsigned char *)&c, sizeof c);
    }
    int32_t shape[2] = {cfg->train.seq_len, cfg->train.precision};
    k = crc32(k, (const unsigned char *)shape, sizeof shape);
    snprintf(path, n, "%s/ref-logps-%08x-%08x.bin", cfg->train.out_dir, file_crc(ref_path(cfg)), (uint32_t)k);
}

#define CACHE_MAGIC "griffin-dpo-ref1"

/* 1 when path holds exactly nt + nv values (read into ref_train, ref_valid) */
static int cache_read(const char *path, double *tr, size_t nt, double *va, size_t nv) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char magic[16];
    uint64_t n[2];
    int ok = fread(magic, 1, 16, f) == 16 && !memcmp(magic, CACHE_MAGIC, 16) && fread(n, sizeof n, 1, f) == 1 &&
             n[0] == nt && n[1] == nv && fread(tr, sizeof(double), nt, f) == nt && fread(va, sizeof(double), nv, f) == nv &&
             fgetc(f) == EOF;
    fclose(f);
    return ok;
}

/* written to a temporary name, then renamed */
static void cache_write(const char *path, const double *tr, size_t nt, const double *va, size_t nv) {
    char tmp[CFG_STR + 96];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    CHECK(f, "dpo: cannot write %s", tmp);
    uint64_t n[2] = {nt, nv};
    int ok = fwrite(CACHE_MAGIC, 1, 16, f) == 16 && fwrite(n, sizeof n, 1, f) == 1 &&
             fwrite(tr, sizeof(double), nt, f) == nt && fwrite(va, sizeof(double), nv, f) == nv;
    ok = (fflush(f) == 0) & ok & (fsync(fileno(f)) == 0);
    CHECK((fclose(f) == 0) & ok && rename(tmp, path) == 0, "dpo: cannot write %s", path);
}

/* every eligible pair of ids [n] (corpus c, or the training space when c is NULL) scored by
 * the reference in batches of B, batch j on rank j mod world; out chosen [0, N), rejected [N, 2N) */
static void score_all(DpoStage *s, Engine *e, Corpus *c, const size_t *ids, size_t n, double *out, size_t N) {
    int B = s->B;
    for (size_t j = 0, k = 0; k < n; j++, k += (size_t)B) {
        int nb = (int)(n - k < (size_t)B ? n - k : (size_t)B);
        if ((int)(j % (size_t)e->world) != e->rank) continue;
        for (int b = 0; b < nb; b++) {
            if (c) pack_pair(s, c, ids[k + b], b), s->slot[b] = k + b;
            else pack_train(s, ids[k + b], b);
        }
        pad_slots(s, nb);
        score_rows(s, s->ref, s->lq);
        for (int b = 0; b < nb; b++) out[s->slot[b]] = s->lq[b], out[N + s->slot[b]] = s->lq[B + b];
    }
    dist_allreduce_sum_f64(out, 2 * N);
}

/* dpo.precompute_ref: the cache, or every pair scored now (and the cache written) */
static void precompute(DpoStage *s, Engine *e) {
    char path[CFG_STR + 64];
    cache_path(e->cfg, path, sizeof path);
    size_t nt = 2 * s->npairs, nv = 2 * s->nv;
    s->ref_train = callocCheck(nt ? nt : 1, sizeof(double));
    s->ref_valid = callocCheck(nv ? nv : 1, sizeof(double));
    int hit = e->rank == 0 && cache_read(path, s->ref_train, nt, s->ref_valid, nv);
    dist_broadcast_bytes(&hit, sizeof hit, 0);
    if (hit) {
        dist_broadcast_bytes(s->ref_train, nt * sizeof(double), 0);
        dist_broadcast_bytes(s->ref_valid, nv * sizeof(double), 0);
        run_say(&e->out, "reference log-probabilities: %s (reused)\n", path);
        return;
    }
    double t0 = now_seconds();
    score_all(s, e, NULL, s->order.ids, s->order.n, s->ref_train, s->npairs);
    if (s->valid) score_all(s, e, s->valid, s->vids, s->nv, s->ref_valid, s->nv);
    if (e->rank == 0) cache_write(path, s->ref_train, nt, s->ref_valid, nv);
    run_say(&e->out, "reference log-probabilities of %zu + %zu pairs in %.1f s: %s; the reference is freed\n",
            s->order.n, s->nv, now_seconds() - t0, path);
    griffin_free(s->ref);
    s->ref = NULL;
}

/* lq [2B] of the packed slots: the reference in memory, the cache, or nothing (simpo) */
static void reference_rows(DpoStage *s, const double *cache, size_t N) {
    int B = s->B;
    if (s->ref) score_rows(s, s->ref, s->lq);
    else if (cache)
        for (int b = 0; b < B; b++) s->lq[b] = cache[s->slot[b]], s->lq[B + b] = cache[N + s->slot[b]];
    else memset(s->lq, 0, sizeof(double) * 2 * B);
}

/* ---- set-up ------------------------------------------------------------------------ */

/* every pair of every [data] corpus in one index space, the eligible ones in a seeded order */
static void open_pairs(DpoStage *s, const TrainConfig *cfg, const Tokenizer *tok, RunOut *out) {
    size_t skipped[2] = {0, 0}, vskipped[2] = {0, 0};
    s->n_data = cfg->n_data;
    for (int i = 0; i < cfg->n_data; i++) {
        s->corpora[i] = corpus_open(cfg->data[i].path, CORPUS_PREFERENCE);
        corpus_check_tokenizer(s->corpora[i], tok, cfg->train.init);
        s->start[i + 1] = s->start[i] + corpus_num_docs(s->corpora[i]);
    }
    s->npairs = s->start[cfg->n_data];
    size_t *ids = mallocCheck(sizeof(size_t) * (s->npairs ? s->npairs : 1)), k = 0;
    for (int i = 0; i < cfg->n_data; i++) k += eligible(s->corpora[i], s->start[i], s->T, ids + k, skipped);
    CHECK(k > 0, "dpo: no pair of [data] fits in train.seq_len = %d with distinct replies", s->T);
    doc_order_init(&s->order, ids, k, (uint64_t)cfg->train.seed);
    if (cfg->n_valid > 0) {
        s->valid = corpus_open(cfg->valid[0].path, CORPUS_PREFERENCE);
        corpus_check_tokenizer(s->valid, tok, cfg->train.init);
        s->vids = mallocCheck(sizeof(size_t) * (corpus_num_docs(s->valid) + 1));
        s->nv = eligible(s->valid, 0, s->T, s->vids, vskipped);
    }
    run_say(out, "pairs: %zu for training, %zu held-out; skipped: %zu + %zu longer than seq_len %d, %zu + %zu with "
            "identical replies (training + held-out)\n", k, s->nv, skipped[0], vskipped[0], s->T, skipped[1], vskipped[1]);
}

/* the tokenizer stored in train.init (the policy's) */
static void read_tokenizer(Engine *e) {
    CkptLoaded meta;
    char err[2048];
    const char *init = e->cfg->train.init;
    CHECK(ckpt_load(init, NULL, NULL, NULL, NULL, &meta, err, sizeof err) == CKPT_OK, "train.init = %s: %s", init, err);
    CHECK(meta.tokenizer_len > 0, "train.init = %s carries no tokenizer", init);
    e->tok_len = meta.tokenizer_len;
    e->tok_bytes = mallocCheck(e->tok_len);
    memcpy(e->tok_bytes, meta.tokenizer, e->tok_len);
    ckpt_loaded_free(&meta);
}

static void alloc_buffers(DpoStage *s) {
    size_t R = 2 * (size_t)s->B, NT = R * s->T;
    s->tok = mallocCheck(sizeof(int) * NT), s->tgt = mallocCheck(sizeof(int) * NT), s->pos = mallocCheck(sizeof(int) * NT);
    s->mask = mallocCheck(NT), s->n = mallocCheck(sizeof(int) * R);
    s->lpt = mallocCheck(sizeof(float) * NT), s->w = mallocCheck(sizeof(float) * NT);
    s->lp = mallocCheck(sizeof(double) * R), s->lq = mallocCheck(sizeof(double) * R);
    s->dlp = mallocCheck(sizeof(double) * R), s->rho = mallocCheck(sizeof(double) * R);
    s->slot = mallocCheck(sizeof(size_t) * (size_t)s->B);
}

static void *setup(Engine *e) {
    const TrainConfig *cfg = e->cfg;
    const TrainSection *ts = &cfg->train;
    const DpoSection *d = &cfg->dpo;
    DpoStage *s = callocCheck(1, sizeof *s);
    s->B = ts->batch_size, s->T = ts->seq_len;
    s->L = (DpoLoss){(DpoKind)d->loss, d->beta, d->label_smoothing, d->gamma, d->sft_weight};
    s->gpairs = (double)s->B * e->world * ts->grad_accum;
    engine_apply_precision(e);
    read_tokenizer(e);
    Tokenizer *tok = tokenizer_load_from_memory(e->tok_bytes, e->tok_len, ts->init);
    open_pairs(s, cfg, tok, &e->out);
    alloc_buffers(s);
    e->m = griffin_create_ex(&cfg->griffin, 2 * s->B, s->T, (uint64_t)ts->seed,
                             GRIFFIN_CHUNKED_LOSS | (ts->recompute ? GRIFFIN_RECOMPUTE : 0));
    if (dpo_uses_reference(s->L.kind))
        s->ref = load_frozen(ref_path(cfg), 2 * s->B, s->T, &e->m->cfg, tok, "dpo: reference", GRIFFIN_CHUNKED_LOSS);
    tokenizer_free(tok);
    if (s->ref && d->precompute_ref) precompute(s, e);
    run_say(&e->out, "dpo: loss %s, beta %g; policy %zu parameters from %s; reference %s; %d pairs per rank per "
            "micro-batch, %.0f per step\n", (const char *[]){"sigmoid", "robust", "ipo", "hinge", "simpo"}[s->L.kind],
            (double)d->beta, e->m->table.total, ts->init, !dpo_uses_reference(s->L.kind) ? "none (simpo)" :
            s->ref ? ref_path(cfg) : "precomputed", s->B, s->gpairs);
    return s;
}

static void teardown(void *st) {
    DpoStage *s = st;
    void *p[] = {s->tok, s->tgt, s->pos, s->mask, s->n, s->lpt, s->w, s->lp, s->lq, s->dlp, s->rho, s->slot,
                 s->ref_train, s->ref_valid, s->vids};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) free(p[i]);
    griffin_free(s->ref);
    doc_order_free(&s->order);
    for (int i = 0; i < s->n_data; i++) corpus_close(s->corpora[i]);
    if (s->valid) corpus_close(s->valid);
    free(s);
}

static void init(void *st, Engine *e) {
    (void)st;
    char how[128];
    const char *init = e->cfg->train.init;
    int n;
    load_init_weights(init, e->m, "train.init", how, sizeof how, &n);
    engine_set_base(e, init, n);
    run_say(&e->out, "policy from %s (%s), reference %s\n", init, how, ref_path(e->cfg));
}

static size_t cursor(void *st, uint64_t **values) {
    *values = &((DpoStage *)st)->cursor;
    return 1;
}

/* ---- steps and evaluation ---------------------------------------------------------- */

/* the loss of M pairs whose lp, lq, n are set (chosen [0, M), rejected [M, 2M)), and their sums */
static double pair_stats(DpoStage *s, int M, double *sums) {
    double l = dpo_loss_forward(&s->L, s->lp, s->lq, s->n, M);
    dpo_rewards(s->rho, &s->L, s->lp, s->lq, s->n, M);
    for (int b = 0; b < M; b++) {
        double rc = s->rho[b], rr = s->rho[M + b];
        sums[S_RIGHT] += rc > rr ? 1.0 : rc == rr ? 0.5 : 0.0;
        sums[S_MARGIN] += rc - rr, sums[S_RC] += rc, sums[S_RR] += rr;
        sums[S_LPC] += s->lp[b], sums[S_LPR] += s->lp[M + b], sums[S_NC] += s->n[b], sums[S_NR] += s->n[M + b];
    }
    sums[S_LOSS] += l, sums[S_PAIRS] += M;
    return l;
}

/* tokens: the rows' positions (2 per pair, seq_len each), as the forward and backward see them */
static void plan(void *st, Engine *e, StepPlan *p) {
    (void)e;
    DpoStage *s = st;
    memset(s->sums, 0, sizeof s->sums);
    p->tokens = (int64_t)(2 * s->gpairs) * s->T;
}

/* micro-batch a: this rank's B pairs of the global batch */
static double micro_step(void *st, Engine *e, int u, int a) {
    (void)u;
    DpoStage *s = st;
    int B = s->B, T = s->T;
    uint64_t base = s->cursor + ((uint64_t)a * e->world + (uint64_t)e->rank) * (uint64_t)B;
    for (int b = 0; b < B; b++) pack_train(s, doc_order_at(&s->order, base + (uint64_t)b), b);
    score_rows(s, e->m, s->lp);
    reference_rows(s, s->ref_train, s->npairs);
    double l = pair_stats(s, B, s->sums);
    /* mean over the global batch; ranks average their gradients, hence the factor world */
    memset(s->dlp, 0, sizeof(double) * 2 * B);
    dpo_loss_backward(s->dlp, &s->L, s->lp, s->lq, s->n, e->world / s->gpairs, B);
    for (size_t x = 0; x < (size_t)2 * B * T; x++) s->w[x] = s->mask[x] ? (float)-s->dlp[x / (size_t)T] : 0.0f;
    griffin_backward_weighted(e->m, s->w);
    return l;
}

static void after_update(void *st, Engine *e, const UpdateInfo *ui) {
    (void)e;
    DpoStage *s = st;
    s->loss_sum = ui->loss_sum;
    s->cursor += (uint64_t)s->gpairs;
}

/* held-out pairs j = rank, rank + world, … in batches of B; sums over ranks */
static void eval_pairs(DpoStage *s, Engine *e, double *sums) {
    int B = s->B;
    size_t j = (size_t)e->rank;
    while (j < s->nv) {
        int nb = 0;
        for (; nb < B && j < s->nv; nb++, j += (size_t)e->world) pack_pair(s, s->valid, s->vids[j], nb), s->slot[nb] = j;
        pad_slots(s, nb);
        score_rows(s, e->m, s->lp);
        reference_rows(s, s->ref_valid, s->nv);
        /* rejected rows B + b move to nb + b: the kernels' layout for nb pairs */
        for (int b = 0; b < nb; b++) s->lp[nb + b] = s->lp[B + b], s->lq[nb + b] = s->lq[B + b], s->n[nb + b] = s->n[B + b];
        pair_stats(s, nb, sums);
    }
    dist_allreduce_sum_f64(sums, S_N);
}

static void evaluate(void *st, Engine *e) {
    DpoStage *s = st;
    if (!s->valid || !s->nv) return;
    double v[S_N] = {0};
    eval_pairs(s, e, v);
    double n = v[S_PAIRS];
    run_say(&e->out, "step %6lld | eval loss %.4f | accuracy %.4f | margin %.4f | chosen %+.4f | rejected %+.4f | %.0f pairs\n",
            (long long)e->step, v[S_LOSS] / n, v[S_RIGHT] / n, v[S_MARGIN] / n, v[S_RC] / n, v[S_RR] / n, n);
    run_metric(&e->out, "{\"step\":%lld,\"val_loss\":%.17g,\"val_accuracy\":%.9g,\"val_margin\":%.9g,"
               "\"val_rewards_chosen\":%.9g,\"val_rewards_rejected\":%.9g,\"val_pairs\":%.0f}", (long long)e->step,
               v[S_LOSS] / n, v[S_RIGHT] / n, v[S_MARGIN] / n, v[S_RC] / n, v[S_RR] / n, n);
}

static void end_step(void *st, Engine *e, const StepInfo *si) {
    DpoStage *s = st;
    double *v = s->sums, n = s->gpairs, tps = 2 * n * s->T / si->seconds;
    dist_allreduce_sum_f64(v, S_N);
    if (!si->log) return;
    run_say(&e->out, "step %6lld/%lld | loss %.4f | acc %.3f | margin %+.4f | chosen %+.4f | rejected %+.4f | logp %.3f / "
            "%.3f | norm %.3f | lr %.2e | %.0f ms | %.0f tok/s | eta %.0fs\n", (long long)si->step, (long long)si->total,
            s->loss_sum / n, v[S_RIGHT] / n, v[S_MARGIN] / n, v[S_RC] / n, v[S_RR] / n, v[S_LPC] / v[S_NC],
            v[S_LPR] / v[S_NR], si->norm, (double)si->lr, 1e3 * si->seconds, tps, si->eta);
    run_metric(&e->out, "{\"step\":%lld,\"loss\":%.17g,\"reward_accuracy\":%.9g,\"reward_margin\":%.9g,"
               "\"rewards_chosen\":%.9g,\"rewards_rejected\":%.9g,\"logp_chosen\":%.9g,\"logp_rejected\":%.9g,"
               "\"grad_norm\":%.9g,\"lr\":%.6g,\"ms\":%.1f,\"tokens_per_s\":%.1f}", (long long)si->step,
               s->loss_sum / n, v[S_RIGHT] / n, v[S_MARGIN] / n, v[S_RC] / n, v[S_RR] / n, v[S_LPC] / v[S_NC],
               v[S_LPR] / v[S_NR], si->norm, (double)si->lr, 1e3 * si->seconds, tps);
}

static const StageDef dpo_stage = {
    .name = "dpo",
    .usage = "  [model] as the SFT model; train.init = the SFT checkpoint; [data] <name> = preference corpora,\n"
             "  valid = a held-out preference corpus; [dpo] loss, beta, label_smoothing, gamma, sft_weight,\n"
             "  reference (default train.init), precompute_ref. train.batch_size = pairs per rank per micro-batch.\n",
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

int cmd_dpo(int argc, char **argv) { return engine_main(&dpo_stage, argc, argv); }
