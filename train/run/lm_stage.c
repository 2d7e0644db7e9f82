/* The language-model stage (see lm_stage.h). */
#include "train/run/lm_stage.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "data/mixture.h"
#include "data/tokenizer.h"
#include "model/sampler.h"
#include "optim/dist.h"
#include "train/run/corpus_open.h"
#include "train/tools/model_io.h"
#include "train/tools/perf.h"

typedef struct {
    int sft, n_data, n_valid, accum;
    PackMode mode;
    Corpus *corpora[CFG_MAX_DATA], *valid[CFG_MAX_VALID];
    Mixture mix;
    uint64_t *cursor;     /* the mixture's state, for checkpoints */
    Batch *micro;         /* [grad_accum] the step's micro-batches */
    double n_targets;     /* unmasked targets of the step, all ranks */
    double last_loss_sum; /* Σ nll of the step's update, all ranks */
    int cur_stage;        /* the mixture stage whose weights are set */
    int have_weights;     /* the mixture's weights are those of cur_stage */
    Tokenizer *tok;       /* for SFT's logged answers (NULL without model.tokenizer) */
    double flops_tok, peak; /* model FLOPs per token of the step as it runs (frozen weights: no weight
                             * gradient); the sgemm rate MFU is measured against, per rank */
    double fma_peak;        /* the FMA loops' peak (train/tools/perf.h), per rank: the second MFU */
} LmStage;

/* Mean loss and bits per byte of the model on the first `batches` batches of one validation
 * corpus, in file order (the same rows at every evaluation). Bytes are estimated from the
 * corpus's bytes per token times the targets evaluated. */
static void eval_corpus(GriffinModel *m, Corpus *valid, PackMode mode, int batches, int B, int T, double *loss,
                        double *bpb) {
    Mixture mx;
    mixture_init(&mx, &valid, 1, 0, 0, mode, B, T, dist_rank(), dist_size());
    Batch b;
    batch_alloc(&b, B, T);
    double sum = 0.0, count = 0.0;
    for (int k = 0; k < batches; k++) {
        mixture_next_batch(&mx, &b);
        float l = griffin_forward(m, b.tokens, b.targets, b.pos, b.mask, B, T);
        sum += (double)l * (double)b.ntargets;
        count += (double)b.ntargets;
    }
    sum = dist_sum_double(sum);
    count = dist_sum_double(count);
    batch_free(&b);
    mixture_free(&mx);
    *loss = count > 0 ? sum / count : 0.0;
    double tokens = (double)corpus_num_tokens(valid, 0), bytes = (double)corpus_num_bytes(valid, 0);
    *bpb = bytes > 0 ? sum / log(2.0) / (count * bytes / tokens) : 0.0;
}

/* token shares the mixture realised in the stage that is ending (log and metrics) */
static void report_shares(Engine *e, const LmStage *s, int stage) {
    const Mixture *mix = &s->mix;
    double total = 0.0;
    for (int i = 0; i < mix->n; i++) total += (double)mix->cur[i].taken;
    if (total <= 0) return;
    char line[4096];
    size_t n = 0;
    run_say(&e->out, "step %6lld | stage %d token shares:", (long long)e->step, stage + 1);
    for (int i = 0; i < mix->n; i++) {
        if (!mix->cur[i].taken) continue;
        double share = (double)mix->cur[i].taken / total;
        run_say(&e->out, " %s %.1f%%", e->cfg->data[i].name, 100.0 * share);
        n += (size_t)snprintf(line + n, n < sizeof line ? sizeof line - n : 0, "%s\"%s\":%.6f", n ? "," : "",
                              e->cfg->data[i].name, share);
    }
    run_say(&e->out, "\n");
    run_metric(&e->out, "{\"step\":%lld,\"stage_done\":%d,\"shares\":{%s}}", (long long)e->step, stage + 1, line);
}

/* the mixture weights of stage s */
static void set_stage_weights(LmStage *s, const TrainConfig *cfg, int stage) {
    double w[MIXTURE_MAX_CORPORA] = {0};
    const StageConfig *sc = &cfg->stage[stage];
    for (int k = 0; k < sc->n_mix; k++) w[train_config_find_data(cfg, sc->mix[k].name)] = sc->mix[k].weight;
    mixture_set_weights(&s->mix, w);
    s->cur_stage = stage;
    s->have_weights = 1;
}

/* Number of leading tokens of a chat document before its first model-turn token: the prompt
 * <bos><start_of_turn>user\n…<end_of_turn>\n<start_of_turn>model\n (0 if it has none). */
static int chat_prompt_len(CorpusDoc d) {
    for (size_t i = 0; i < d.n; i++)
        if (d.mask && d.mask[i]) return (int)i;
    return 0;
}

/* prompt and answer of sample b, decoded on one line each */
static void log_answer(Engine *e, const Tokenizer *tok, const int *prompt, int plen, const Generation *g, int b,
                       int max_new) {
    uint32_t *ids = mallocCheck(sizeof(uint32_t) * (size_t)(plen + g->len[b] + 1));
    for (int i = 0; i < plen; i++) ids[i] = (uint32_t)prompt[i];
    char *q = tokenizer_decode(tok, ids, (size_t)plen, NULL);
    for (int i = 0; i < g->len[b]; i++) ids[i] = (uint32_t)g->tokens[(size_t)b * max_new + i];
    char *a = tokenizer_decode(tok, ids, (size_t)g->len[b], NULL);
    for (char *c = q; *c; c++) if (*c == '\n') *c = ' ';
    for (char *c = a; *c; c++) if (*c == '\n') *c = ' ';
    run_say(&e->out, "step %6lld | sample %d | %s-> %s%s\n", (long long)e->step, b + 1, q, a,
            g->stopped[b] ? " <end>" : " [...]");
    free(q);
    free(a);
    free(ids);
}

/* Greedy answers to the first held-out chat prompts, written to the log (SFT, rank 0). */
static void log_chat_samples(Engine *e, const LmStage *s, int n) {
    GriffinModel *m = e->m;
    if (!s->tok) return;
    TokenizerSpecials sp = tokenizer_specials(s->tok);
    int *prompts[8], lens[8], count = 0;
    for (size_t d = 0; d < corpus_num_docs(s->valid[0]) && count < n; d++) {
        CorpusDoc doc = corpus_doc(s->valid[0], 0, d);
        int p = chat_prompt_len(doc);
        if (p < 2 || p > m->max_T) continue;
        prompts[count] = mallocCheck(sizeof(int) * (size_t)p);
        for (int i = 0; i < p; i++) prompts[count][i] = (int)doc.tokens[i];
        lens[count++] = p;
    }
    if (!count) return;
    DecodeState *ds = decode_create(m, count);
    Generation g;
    enum { MAX_NEW = 48 };
    generation_alloc(&g, count, MAX_NEW, 0);
    SamplerParams greedy = {0.0f, 0, 1.0f, tokenizer_vocab_size(s->tok)};
    int stops[2] = {sp.eos, sp.end_of_turn};
    generate(m, ds, (const int *const *)prompts, lens, MAX_NEW, &greedy, stops, 2, 0, 0, &g);
    for (int b = 0; b < count; b++) {
        log_answer(e, s->tok, prompts[b], lens[b], &g, b, MAX_NEW);
        free(prompts[b]);
    }
    generation_free(&g);
    decode_free(ds);
}

static int check_pretrain(const TrainConfig *cfg, char *err, size_t errlen) {
    if (cfg->n_stages > 0) return 0;
    snprintf(err, errlen, "%s: no [stage.N] sections: nothing to train on", cfg->source);
    return -1;
}

static void *setup(Engine *e, int sft) {
    TrainConfig *cfg = e->cfg;
    const TrainSection *ts = &cfg->train;
    LmStage *s = callocCheck(1, sizeof *s);
    s->sft = sft;
    s->n_data = cfg->n_data, s->n_valid = cfg->n_valid, s->accum = ts->grad_accum;
    s->mode = sft ? PACK_WHOLE : PACK_STREAM;
    engine_apply_precision(e);
    CorpusKind want = sft ? CORPUS_CHAT : CORPUS_TEXT;
    for (int i = 0; i < cfg->n_data; i++) {
        s->corpora[i] = train_open_corpus(cfg, &cfg->data[i], want);
        REQUIRE(corpus_vocab_size(s->corpora[i]) <= cfg->griffin.vocab_size,
              "%s: corpus %s has vocabulary %d but model.vocab_size is %d", cfg->source, cfg->data[i].path,
              corpus_vocab_size(s->corpora[i]), cfg->griffin.vocab_size);
    }
    for (int i = 0; i < cfg->n_valid; i++) s->valid[i] = train_open_valid_corpus(cfg, &cfg->valid[i], want);
    mixture_init(&s->mix, s->corpora, cfg->n_data, (uint64_t)ts->seed, 1, s->mode, ts->batch_size, ts->seq_len,
                 e->rank, e->world);
    s->cur_stage = train_config_stage_at(cfg, 0);
    s->cursor = mallocCheck(sizeof(uint64_t) * mixture_state_len(cfg->n_data));
    e->m = griffin_create_ex(&cfg->griffin, ts->batch_size, ts->seq_len, (uint64_t)ts->seed,
                             ts->recompute ? GRIFFIN_RECOMPUTE | GRIFFIN_CHUNKED_LOSS : 0);
    engine_read_tokenizer(e);
    if (e->tok_bytes) {
        s->tok = tokenizer_load_from_memory(e->tok_bytes, e->tok_len, cfg->model.tokenizer);
        for (int i = 0; i < cfg->n_data; i++) corpus_check_tokenizer(s->corpora[i], s->tok, cfg->model.tokenizer);
    }
    s->micro = mallocCheck(sizeof(Batch) * (size_t)ts->grad_accum);
    for (int a = 0; a < ts->grad_accum; a++) batch_alloc(&s->micro[a], ts->batch_size, ts->seq_len);
    s->peak = sgemm_peak_gflops(ts->batch_size * ts->seq_len, e->m->cfg.width, e->m->cfg.mlp_width);
    s->fma_peak = fma_peak_gflops().peak;
    run_say(&e->out, "model: %s, %zu parameters (%.2f M), activations %.1f MB per rank\n", family_name(e->m->cfg.family),
            e->m->table.total, e->m->table.total / 1e6, griffin_activation_bytes(e->m) / 1e6);
    return s;
}
static void *setup_pretrain(Engine *e) { return setup(e, 0); }
static void *setup_sft(Engine *e) { return setup(e, 1); }

static void teardown(void *st) {
    LmStage *s = st;
    for (int a = 0; a < s->accum; a++) batch_free(&s->micro[a]);
    free(s->micro);
    free(s->cursor);
    if (s->tok) tokenizer_free(s->tok);
    mixture_free(&s->mix);
    for (int i = 0; i < s->n_data; i++) corpus_close(s->corpora[i]);
    for (int i = 0; i < s->n_valid; i++) corpus_close(s->valid[i]);
    free(s);
}

/* train.init: weights only, trained with the same tokenizer */
static void init(void *st, Engine *e) {
    (void)st;
    const char *path = e->cfg->train.init;
    if (!path[0]) return;
    char err[2048], what[CFG_STR + 32], how[128];
    engine_require_file("train.init", path);
    int n;
    load_init_weights(path, e->m, "train.init", how, sizeof how, &n);
    engine_set_base(e, path, n);
    CkptLoaded meta;
    REQUIRE(ckpt_load(path, NULL, NULL, NULL, NULL, &meta, err, sizeof err) == CKPT_OK, "train.init = %s: %s", path, err);
    snprintf(what, sizeof what, "train.init = %s", path);
    engine_check_tokenizer(e, &meta, what);
    ckpt_loaded_free(&meta);
    run_say(&e->out, "initialised %s from %s\n", how, path);
}

/* the cursor is the same on every rank (each rank walks the whole global stream) */
static size_t cursor(void *st, uint64_t **values) {
    LmStage *s = st;
    mixture_get_state(&s->mix, s->cursor);
    *values = s->cursor;
    return mixture_state_len(s->mix.n);
}

static void resumed(void *st, Engine *e) {
    LmStage *s = st;
    set_stage_weights(s, e->cfg, train_config_stage_at(e->cfg, e->step));
    mixture_set_state(&s->mix, s->cursor, mixture_state_len(s->mix.n));
}

static void evaluate(void *st, Engine *e) {
    LmStage *s = st;
    const TrainSection *ts = &e->cfg->train;
    for (int v = 0; v < e->cfg->n_valid; v++) {
        double vl, bpb;
        eval_corpus(e->m, s->valid[v], s->mode, ts->eval_batches, ts->batch_size, ts->seq_len, &vl, &bpb);
        const char *g = e->cfg->valid[v].name[0] ? e->cfg->valid[v].name : "valid";
        if (corpus_num_bytes(s->valid[v], 0) > 0) {
            run_say(&e->out, "step %6lld | eval %-10s loss %.4f | %.4f bits/byte\n", (long long)e->step, g, vl, bpb);
            run_metric(&e->out, "{\"step\":%lld,\"group\":\"%s\",\"val_loss\":%.9g,\"val_bpb\":%.9g}", (long long)e->step,
                       g, vl, bpb);
        } else { /* external corpora record no byte counts: bits per byte is then unavailable */
            run_say(&e->out, "step %6lld | eval %-10s loss %.4f | bits/byte unavailable (no byte counts)\n",
                    (long long)e->step, g, vl);
            run_metric(&e->out, "{\"step\":%lld,\"group\":\"%s\",\"val_loss\":%.9g,\"val_bpb\":null}", (long long)e->step,
                       g, vl);
        }
    }
    if (s->sft && e->cfg->n_valid > 0 && e->rank == 0)
        log_chat_samples(e, s, ts->batch_size < 3 ? ts->batch_size : 3);
}

/* the mixture stage of this step (weights switched at a boundary), then its micro-batches */
static void plan(void *st, Engine *e, StepPlan *p) {
    LmStage *s = st;
    const TrainSection *ts = &e->cfg->train;
    int stage = train_config_stage_at(e->cfg, e->step);
    if (!s->have_weights || stage != s->cur_stage) {
        int switching = s->have_weights && stage != s->cur_stage;
        if (switching) report_shares(e, s, s->cur_stage);
        set_stage_weights(s, e->cfg, stage);
        if (switching) run_say(&e->out, "step %6lld | stage %d begins\n", (long long)e->step, stage + 1);
    }
    uint64_t local = 0;
    for (int a = 0; a < ts->grad_accum; a++) {
        mixture_next_batch(&s->mix, &s->micro[a]);
        local += s->micro[a].ntargets;
    }
    s->n_targets = dist_sum_double((double)local);
    p->tokens = (int64_t)ts->batch_size * ts->seq_len * ts->grad_accum * e->world;
}

static double micro_step(void *st, Engine *e, int u, int a) {
    (void)u;
    LmStage *s = st;
    Batch *mb = &s->micro[a];
    float l = griffin_forward(e->m, mb->tokens, mb->targets, mb->pos, mb->mask, mb->B, mb->T);
    /* mean over the step's targets of every rank; ranks average their gradients, hence x world */
    griffin_backward_scaled(e->m, s->n_targets > 0 ? (float)(e->world / s->n_targets) : 0.0f);
    return (double)l * (double)mb->ntargets;
}

static void end_step(void *st, Engine *e, const StepInfo *si) {
    LmStage *s = st;
    if (!si->log) return;
    const TrainSection *ts = &e->cfg->train;
    double loss = s->n_targets > 0 ? s->last_loss_sum / s->n_targets : 0.0;
    double tps = (double)ts->batch_size * ts->seq_len * ts->grad_accum * e->world / si->seconds;
    if (!s->flops_tok) s->flops_tok = griffin_step_flops_per_token(e->m, ts->seq_len); /* the trainable set is set */
    double gflops = tps * s->flops_tok / 1e9;
    if (gflops > s->peak * e->world) { /* the start-up measurement ran on a busy machine */
        s->peak = sgemm_peak_gflops(ts->batch_size * ts->seq_len, e->m->cfg.width, e->m->cfg.mlp_width);
        if (gflops > s->peak * e->world) s->peak = gflops / e->world;
    }
    if (gflops > s->fma_peak * e->world) { /* likewise */
        s->fma_peak = fma_peak_gflops().peak;
        if (gflops > s->fma_peak * e->world) s->fma_peak = gflops / e->world;
    }
    double mfu = gflops / (s->peak * e->world), mfu_fma = gflops / (s->fma_peak * e->world);
    run_say(&e->out, "step %6lld/%lld | loss %.4f | norm %.3f | lr %.2e | %.0f ms | %.0f tok/s | %.1f GFLOP/s | MFU %.0f%% "
            "(FMA peak %.0f%%) | eta %.0fs\n", (long long)si->step, (long long)si->total, loss, si->norm, (double)si->lr,
            1e3 * si->seconds, tps, gflops, 100.0 * mfu, 100.0 * mfu_fma, si->eta);
    run_metric(&e->out, "{\"step\":%lld,\"stage\":%d,\"loss\":%.17g,\"grad_norm\":%.17g,\"lr\":%.6g,\"ms\":%.1f,"
               "\"tokens_per_s\":%.1f,\"mfu\":%.4f,\"mfu_fma\":%.4f,\"tokens\":%lld}", (long long)si->step,
               s->cur_stage + 1, loss, si->norm, (double)si->lr, 1e3 * si->seconds, tps, mfu, mfu_fma,
               (long long)e->tokens);
}

static void after_update(void *st, Engine *e, const UpdateInfo *ui) {
    (void)e;
    ((LmStage *)st)->last_loss_sum = ui->loss_sum;
}

static void finish(void *st, Engine *e) {
    LmStage *s = st;
    report_shares(e, s, train_config_stage_at(e->cfg, e->step - 1));
    if (s->mode == PACK_WHOLE && s->mix.truncated)
        run_say(&e->out, "note: %llu conversations longer than seq_len+1 were truncated\n",
                (unsigned long long)s->mix.truncated);
}

void lm_stage_def(StageDef *def, int sft) {
    *def = (StageDef){
        .name = sft ? "sft" : "pretrain",
        .usage = sft ? "  [data] <name> = chat corpora (tokenize --kind chat), valid[.group] = held-out chat corpora;\n"
                       "  [stage.N] mixes over them; train.init = the pretrained checkpoint. Loss on model turns.\n"
                     : "  [data] <name> = text corpora, valid[.group] = held-out corpora; [stage.N] steps, mix.\n",
        .check = check_pretrain,
        .setup = sft ? setup_sft : setup_pretrain,
        .teardown = teardown,
        .init = init,
        .cursor = cursor,
        .resumed = resumed,
        .evaluate = evaluate,
        .plan = plan,
        .micro_step = micro_step,
        .after_update = after_update,
        .end_step = end_step,
        .finish = finish,
    };
}
