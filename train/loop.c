/* The shared training loop (see loop.h). Rank 0 prints; every rank computes. */
#include "train/corpus_open.h"
#include "train/loop.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "data/mixture.h"
#include "data/tokenizer.h"
#include "model/sampler.h"
#include "model/griffin.h"
#include "optim/adamw.h"
#include "optim/clip.h"
#include "optim/dist.h"
#include "optim/schedule.h"
#include "train/checkpoint.h"
#include "train/commands.h"
#include "train/config.h"
#include "train/perf.h"
#include "train/runlog.h"
#include "train/step_check.h"
#include "train/zero.h"

/* Mean loss and bits per byte of the model on the first `batches` batches of one validation
 * corpus, in file order (the same rows at every evaluation). Bytes are estimated from the
 * corpus's bytes per token times the targets evaluated. */
static void evaluate(GriffinModel *m, Corpus *valid, PackMode mode, int batches, int B, int T, int rank, int world,
                     double *loss, double *bpb) {
    Mixture mx;
    mixture_init(&mx, &valid, 1, 0, 0, mode, B, T, rank, world);
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
static void report_shares(RunOut *o, const TrainConfig *cfg, const Mixture *mix, int stage, int64_t step) {
    double total = 0.0;
    for (int i = 0; i < mix->n; i++) total += (double)mix->cur[i].taken;
    if (total <= 0) return;
    run_say(o, "step %6lld | stage %d token shares:", (long long)step, stage + 1);
    for (int i = 0; i < mix->n; i++)
        if (mix->cur[i].taken) run_say(o, " %s %.1f%%", cfg->data[i].name, 100.0 * (double)mix->cur[i].taken / total);
    run_say(o, "\n");
    if (!o->metrics) return;
    fprintf(o->metrics, "{\"step\":%lld,\"stage_done\":%d,\"shares\":{", (long long)step, stage + 1);
    for (int i = 0, first = 1; i < mix->n; i++) {
        if (!mix->cur[i].taken) continue;
        fprintf(o->metrics, "%s\"%s\":%.6f", first ? "" : ",", cfg->data[i].name, (double)mix->cur[i].taken / total);
        first = 0;
    }
    fprintf(o->metrics, "}}\n");
    fflush(o->metrics);
}

/* Number of leading tokens of a chat document before its first model-turn token: the prompt
 * <bos><start_of_turn>user\n…<end_of_turn>\n<start_of_turn>model\n (0 if it has none). */
static int chat_prompt_len(CorpusDoc d) {
    for (size_t i = 0; i < d.n; i++)
        if (d.mask && d.mask[i]) return (int)i;
    return 0;
}

/* Greedy answers to the first held-out chat prompts, written to the log (SFT). */
static void log_chat_samples(RunOut *o, GriffinModel *m, Corpus *valid, const Tokenizer *tok, int n, int64_t step) {
    if (!tok) return;
    TokenizerSpecials sp = tokenizer_specials(tok);
    int *prompts[8], lens[8], count = 0;
    for (size_t d = 0; d < corpus_num_docs(valid) && count < n; d++) {
        CorpusDoc doc = corpus_doc(valid, 0, d);
        int p = chat_prompt_len(doc);
        if (p < 2 || p > m->max_T) continue;
        prompts[count] = mallocCheck(sizeof(int) * (size_t)p);
        for (int i = 0; i < p; i++) prompts[count][i] = (int)doc.tokens[i];
        lens[count++] = p;
    }
    if (!count) return;
    DecodeState *s = decode_create(m, count);
    Generation g;
    enum { MAX_NEW = 48 };
    generation_alloc(&g, count, MAX_NEW);
    SamplerParams greedy = {0.0f, 0, 1.0f, tokenizer_vocab_size(tok)};
    int stops[2] = {sp.eos, sp.end_of_turn};
    generate(m, s, (const int *const *)prompts, lens, MAX_NEW, &greedy, stops, 2, 0, 0, &g);
    for (int b = 0; b < count; b++) {
        uint32_t *ids = mallocCheck(sizeof(uint32_t) * (size_t)(lens[b] + g.len[b] + 1));
        for (int i = 0; i < lens[b]; i++) ids[i] = (uint32_t)prompts[b][i];
        char *q = tokenizer_decode(tok, ids, (size_t)lens[b], NULL);
        for (int i = 0; i < g.len[b]; i++) ids[i] = (uint32_t)g.tokens[(size_t)b * MAX_NEW + i];
        char *a = tokenizer_decode(tok, ids, (size_t)g.len[b], NULL);
        for (char *c = q; *c; c++) if (*c == '\n') *c = ' ';
        for (char *c = a; *c; c++) if (*c == '\n') *c = ' ';
        run_say(o, "step %6lld | sample %d | %s-> %s%s\n", (long long)step, b + 1, q, a,
            g.stopped[b] ? " <end>" : " [...]");
        free(q);
        free(a);
        free(ids);
        free(prompts[b]);
    }
    generation_free(&g);
    decode_free(s);
}

void train_apply_precision(int precision, RunOut *out) {
    GemmPrecision got = gemm_set_precision((GemmPrecision)precision);
    if (got != (GemmPrecision)precision)
        run_say(out, "train.precision = bf16: this CPU has no avx512_bf16, matrix products run in fp32\n");
    else if (got != GEMM_FP32)
        run_say(out, "train.precision = %s: matrix products in bf16 with fp32 sums; weights, gradients, AdamW fp32\n",
                gemm_precision_name(got));
}

TrainConfig *train_load_config(const char *name, int *argc, char ***argv) {
    dist_init(argc, argv);
    TrainConfig *cfg = callocCheck(1, sizeof *cfg);
    char err[2048];
    if (train_config_load(cfg, (*argv)[1], *argc - 2, *argv + 2, err, sizeof err) != 0) {
        if (dist_rank() == 0) fprintf(stderr, "griffin %s: %s\n", name, err);
        free(cfg);
        dist_finalize();
        return NULL;
    }
    return cfg;
}

void train_open_run(const char *name, const TrainConfig *cfg, RunOut *out) {
    int rank0 = dist_rank() == 0;
    if (cfg->train.threads > 0) omp_set_num_threads(cfg->train.threads);
    run_out_open(out, cfg->train.out_dir, rank0);
    run_say(out, "griffin %s: %s, %d rank(s) x %d thread(s)\n", name, cfg->source, dist_size(), omp_get_max_threads());
    if (rank0) {
        train_config_print(cfg, stdout);
        if (out->log) train_config_print(cfg, out->log);
    }
}

int train_main(TrainKind kind, int argc, char **argv) {
    const char *stage_name = kind == TRAIN_SFT ? "sft" : "pretrain";
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        printf("usage: griffin %s CONFIG.ini [--section.key=value ...]\n\n", stage_name);
        train_config_usage(stdout);
        return argc < 2 ? 2 : 0;
    }
    TrainConfig *cfg = train_load_config(stage_name, &argc, &argv);
    if (!cfg) return 2;
    int rank = dist_rank(), world = dist_size();
    char err[2048];
    TrainSection *ts = &cfg->train;
    CHECK(cfg->n_stages > 0, "%s: no [stage.N] sections: nothing to train on", cfg->source);
    RunOut out;
    train_open_run(stage_name, cfg, &out);
    train_apply_precision(ts->precision, &out);

    /* data */
    CorpusKind want = kind == TRAIN_SFT ? CORPUS_CHAT : CORPUS_TEXT;
    PackMode mode = kind == TRAIN_SFT ? PACK_WHOLE : PACK_STREAM;
    Corpus *corpora[CFG_MAX_DATA];
    for (int i = 0; i < cfg->n_data; i++) {
        corpora[i] = train_open_corpus(cfg, &cfg->data[i], want);
        CHECK(corpus_vocab_size(corpora[i]) <= cfg->griffin.vocab_size,
              "%s: corpus %s has vocabulary %d but model.vocab_size is %d", cfg->source, cfg->data[i].path,
              corpus_vocab_size(corpora[i]), cfg->griffin.vocab_size);
    }
    Corpus *valid[CFG_MAX_VALID];
    for (int i = 0; i < cfg->n_valid; i++) valid[i] = train_open_valid_corpus(cfg, &cfg->valid[i], want);
    Mixture mix;
    mixture_init(&mix, corpora, cfg->n_data, (uint64_t)ts->seed, 1, mode, ts->batch_size, ts->seq_len, rank, world);

    /* model and optimizer */
    GriffinModel *m = griffin_create_ex(&cfg->griffin, ts->batch_size, ts->seq_len, (uint64_t)ts->seed,
                                        ts->recompute ? GRIFFIN_RECOMPUTE | GRIFFIN_CHUNKED_LOSS : 0);
    size_t P = m->table.total;
    ZeroShard zs; /* ZeRO-1: this rank's shard of the Adam moments */
    zero_init(&zs, P);
    AdamWConfig ac = train_config_adamw(cfg);
    LrSchedule sched = train_config_schedule(cfg);
    char *tok_bytes = NULL;
    size_t tok_len = 0;
    Tokenizer *tok = NULL;
    if (cfg->model.tokenizer[0]) {
        tok_bytes = run_read_file(cfg->model.tokenizer, &tok_len);
        tok = tokenizer_load_from_memory(tok_bytes, tok_len, cfg->model.tokenizer);
        for (int i = 0; i < cfg->n_data; i++) corpus_check_tokenizer(corpora[i], tok, cfg->model.tokenizer);
    }

    /* resume or init */
    int64_t step = 0, tokens_done = 0;
    char ckpt[CFG_STR + 64] = "";
    int have = run_resume_path(ts->resume, ts->out_dir, rank == 0, ckpt, sizeof ckpt);
    int cur_stage = train_config_stage_at(cfg, 0);
    double w[MIXTURE_MAX_CORPORA];
    if (have) {
        CkptLoaded ld;
        int rc = zero_load(&zs, ckpt, &m->table, m->params, &ld, err, sizeof err);
        CHECK(rc == CKPT_OK, "resume from %s: %s", ckpt, err);
        CHECK(ld.cursor_len == mixture_state_len(cfg->n_data),
              "resume from %s: its data cursor is for another set of corpora", ckpt);
        CHECK(!tok_bytes || !ld.tokenizer_len ||
                  (ld.tokenizer_len == tok_len && !memcmp(ld.tokenizer, tok_bytes, tok_len)),
              "resume from %s: it was trained with another tokenizer than model.tokenizer = %s", ckpt,
              cfg->model.tokenizer);
        step = ld.step;
        tokens_done = ld.tokens;
        cur_stage = train_config_stage_at(cfg, step);
        for (int i = 0; i < cfg->n_data; i++) w[i] = 0;
        /* the cursor is the same on every rank (each rank walks the whole global stream) */
        StageConfig *sc = &cfg->stage[cur_stage];
        for (int k = 0; k < sc->n_mix; k++) w[train_config_find_data(cfg, sc->mix[k].name)] = sc->mix[k].weight;
        mixture_set_weights(&mix, w);
        mixture_set_state(&mix, ld.cursors, ld.cursor_len);
        run_say(&out, "resumed from %s at step %lld\n", ckpt, (long long)step);
        ckpt_loaded_free(&ld);
        cur_stage = -cur_stage - 2; /* weights already set: skip the stage switch below once */
    } else if (ts->init[0]) {
        int rc = ckpt_load_weights(ts->init, &m->table, m->params, err, sizeof err);
        CHECK(rc == CKPT_OK, "train.init = %s: %s", ts->init, err);
        /* weights trained with other token ids would be silently wrong: compare tokenizers */
        CkptLoaded meta;
        rc = ckpt_load(ts->init, NULL, NULL, NULL, NULL, &meta, err, sizeof err);
        CHECK(rc == CKPT_OK, "train.init = %s: %s", ts->init, err);
        CHECK(!tok_bytes || !meta.tokenizer_len ||
                  (meta.tokenizer_len == tok_len && !memcmp(meta.tokenizer, tok_bytes, tok_len)),
              "train.init = %s was trained with another tokenizer than model.tokenizer = %s; "
              "use the same tokenizer (and corpora made with it)", ts->init, cfg->model.tokenizer);
        ckpt_loaded_free(&meta);
        run_say(&out, "initialised weights from %s\n", ts->init);
    }
    dist_broadcast_f32(m->params, P, 0);
    run_say(&out, "model: %s, %zu parameters (%.2f M), activations %.1f MB per rank\n", family_name(m->cfg.family), P,
        P / 1e6, griffin_activation_bytes(m) / 1e6);

    int64_t total = ts->steps;
    int B = ts->batch_size, T = ts->seq_len, accum = ts->grad_accum;
    Batch *micro = mallocCheck(sizeof(Batch) * (size_t)accum);
    for (int a = 0; a < accum; a++) batch_alloc(&micro[a], B, T);
    uint64_t *cursors = mallocCheck(sizeof(uint64_t) * mixture_state_len(cfg->n_data));
    double flops_tok = griffin_flops_per_token(&m->cfg, T);
    double peak = sgemm_peak_gflops(B * T, m->cfg.width, m->cfg.mlp_width); /* MFU reference, per rank */
    double t_start = run_now_s();
    int64_t step0 = step;
    int status = 0;
    NonfiniteFault fault;
    nonfinite_fault_from_env(&fault);
    if (fault.what)
        run_say(&out, "fault injection (GRIFFIN_FAULT_NONFINITE): %s on rank %d at step %lld\n",
                fault.what == NF_GRAD ? "a NaN gradient" : "an Inf weight", fault.rank, (long long)fault.step);

    while (step <= total) {
        /* evaluation (also after the last step) */
        if (cfg->n_valid > 0 && ts->eval_every > 0 && (step % ts->eval_every == 0 || step == total)) {
            for (int v = 0; v < cfg->n_valid; v++) {
                double vl, bpb;
                evaluate(m, valid[v], mode, ts->eval_batches, B, T, rank, world, &vl, &bpb);
                const char *g = cfg->valid[v].name[0] ? cfg->valid[v].name : "valid";
                /* external corpora record no byte counts: bits per byte is then unavailable */
                if (corpus_num_bytes(valid[v], 0) > 0) {
                    run_say(&out, "step %6lld | eval %-10s loss %.4f | %.4f bits/byte\n", (long long)step, g, vl, bpb);
                    if (out.metrics)
                        fprintf(out.metrics, "{\"step\":%lld,\"group\":\"%s\",\"val_loss\":%.9g,\"val_bpb\":%.9g}\n",
                                (long long)step, g, vl, bpb);
                } else {
                    run_say(&out, "step %6lld | eval %-10s loss %.4f | bits/byte unavailable (no byte counts)\n",
                            (long long)step, g, vl);
                    if (out.metrics)
                        fprintf(out.metrics, "{\"step\":%lld,\"group\":\"%s\",\"val_loss\":%.9g,\"val_bpb\":null}\n",
                                (long long)step, g, vl);
                }
            }
            if (out.metrics) fflush(out.metrics);
            if (kind == TRAIN_SFT && rank == 0) log_chat_samples(&out, m, valid[0], tok, B < 3 ? B : 3, step);
        }
        /* checkpoint (after a step, and at the end) */
        if (step > step0 && (step == total || (ts->checkpoint_every > 0 && step % ts->checkpoint_every == 0))) {
            mixture_get_state(&mix, cursors);
            float *full_m, *full_v; /* whole on rank 0 while it saves */
            zero_full(&zs, &full_m, &full_v);
            char *ini = train_config_to_ini(cfg);
            uint64_t rng[1] = {(uint64_t)ts->seed};
            int stage_now = train_config_stage_at(cfg, step - 1);
            CkptState cs = {.step = step, .stage = stage_now, .tokens = tokens_done, .pt = &m->table,
                            .params = m->params, .adam_m = full_m, .adam_v = full_v, .rng = rng, .n_rng = 1,
                            .cursors = cursors, .ranks = 1, .cursor_len = mixture_state_len(cfg->n_data),
                            .config = ini, .tokenizer = tok_bytes, .tokenizer_len = tok_len};
            int rc = CKPT_OK;
            char path[CFG_STR + 64];
            if (rank == 0) rc = ckpt_save(ts->out_dir, &cs, ts->keep_checkpoints, path, sizeof path, err, sizeof err);
            free(ini);
            zero_full_free(&zs, full_m, full_v);
            int64_t bad = dist_sum_i64(rc != CKPT_OK);
            if (bad) {
                if (rank == 0) fprintf(stderr, "griffin %s: checkpoint at step %lld failed: %s; the previous checkpoint is kept\n",
                                       stage_name, (long long)step, err);
                status = 3;
                break;
            }
            run_say(&out, "step %6lld | saved %s\n", (long long)step, path);
        }
        if (step == total) {
            report_shares(&out, cfg, &mix, train_config_stage_at(cfg, step - 1), step);
            break;
        }

        /* stage switch */
        int s = train_config_stage_at(cfg, step);
        if (cur_stage <= -2) cur_stage = -cur_stage - 2;
        else if (s != cur_stage || step == step0) {
            if (s != cur_stage && step != step0) report_shares(&out, cfg, &mix, cur_stage, step);
            for (int i = 0; i < cfg->n_data; i++) w[i] = 0;
            StageConfig *sc = &cfg->stage[s];
            for (int k = 0; k < sc->n_mix; k++) w[train_config_find_data(cfg, sc->mix[k].name)] = sc->mix[k].weight;
            mixture_set_weights(&mix, w);
            if (s != cur_stage) run_say(&out, "step %6lld | stage %d begins\n", (long long)step, s + 1);
            cur_stage = s;
        }

        /* one optimizer step: micro-batches, average over ranks, clip, AdamW */
        double t0 = run_now_s();
        griffin_zero_grad(m);
        /* the step's loss is the mean over every unmasked target of every micro-batch on every
         * rank, so micro-batches and ranks are weighted by their target counts */
        uint64_t local_targets = 0;
        for (int a = 0; a < accum; a++) {
            mixture_next_batch(&mix, &micro[a]);
            local_targets += micro[a].ntargets;
        }
        double n_targets = dist_sum_double((double)local_targets);
        int inject = fault.what && fault.rank == rank && fault.step == step + 1;
        if (inject && fault.what == NF_WEIGHTS) m->params[m->table.t[m->table.embed].offset] = INFINITY;
        double nll_sum = 0.0;
        for (int a = 0; a < accum; a++) {
            Batch *mb = &micro[a];
            float l = griffin_forward(m, mb->tokens, mb->targets, mb->pos, mb->mask, B, T);
            nll_sum += (double)l * (double)mb->ntargets;
            /* ranks average their gradients, hence the factor world */
            griffin_backward_scaled(m, n_targets > 0 ? (float)(world / n_targets) : 0.0f);
        }
        if (inject && fault.what == NF_GRAD) m->grads[P / 2] = NAN;
        /* what this rank saw itself, before the ranks' gradients are mixed (step_check.h) */
        int nf = isfinite(nll_sum) ? 0 : NF_LOSS;
        if (world > 1 && !isfinite(grad_sumsq(m->grads, P))) nf |= NF_GRAD;
        /* ZeRO-1: each rank receives the mean gradient of its shard [lo, hi), updates that
         * shard of the parameters and Adam moments, then the parameters are all-gathered. */
        double shard_sq = zero_reduce(&zs, m->grads);
        if (!isfinite(shard_sq)) nf |= world > 1 ? NF_AVERAGED : NF_GRAD;
        double loss = n_targets > 0 ? dist_sum_double(nll_sum) / n_targets : 0.0;
        double norm = sqrt(dist_sum_double(shard_sq));
        /* finite parts whose sum overflowed: every rank has the same sums */
        if (!nf && (!isfinite(loss) || !isfinite(norm))) nf = NF_AVERAGED;
        char where[1024];
        if (step_check_nonfinite(nf, m->params, P, where, sizeof where)) { /* the same answer on every rank */
            if (rank == 0) fprintf(stderr, "griffin %s: non-finite %s at step %lld %s; the step is refused on all %d rank(s) "
                                   "before the update, the last checkpoint is intact (lower optim.lr?)\n",
                                   stage_name, isfinite(loss) ? "gradient" : "loss", (long long)step + 1, where, world);
            status = 4;
            break;
        }
        float lr = lr_at(&sched, step);
        zero_update(&zs, &m->table, m->params, m->grads, &ac, lr, (long)step + 1, clip_scale(norm, cfg->optim.grad_clip));
        step++;
        tokens_done += (int64_t)B * T * accum * world;
        double dt = run_now_s() - t0;
        if (ts->log_every > 0 && (step % ts->log_every == 0 || step == total)) {
            double tps = (double)B * T * accum * world / dt;
            double eta = (run_now_s() - t_start) / (double)(step - step0) * (double)(total - step);
            if (tps * flops_tok / 1e9 > peak * world) { /* the start-up measurement ran on a busy machine */
                peak = sgemm_peak_gflops(B * T, m->cfg.width, m->cfg.mlp_width);
                if (tps * flops_tok / 1e9 > peak * world) peak = tps * flops_tok / 1e9 / world;
            }
            run_say(&out, "step %6lld/%lld | loss %.4f | norm %.3f | lr %.2e | %.0f ms | %.0f tok/s | %.1f GFLOP/s | MFU %.0f%% | eta %.0fs\n",
                (long long)step, (long long)total, loss, norm, (double)lr, 1e3 * dt, tps, tps * flops_tok / 1e9,
                100.0 * tps * flops_tok / 1e9 / (peak * world), eta);
            if (out.metrics) {
                fprintf(out.metrics, "{\"step\":%lld,\"stage\":%d,\"loss\":%.17g,\"grad_norm\":%.17g,\"lr\":%.6g,"
                                     "\"ms\":%.1f,\"tokens_per_s\":%.1f,\"mfu\":%.4f,\"tokens\":%lld}\n",
                        (long long)step, cur_stage + 1, loss, norm, (double)lr, 1e3 * dt, tps,
                        tps * flops_tok / 1e9 / (peak * world), (long long)tokens_done);
                fflush(out.metrics);
            }
        }
    }
    if (mode == PACK_WHOLE && mix.truncated)
        run_say(&out, "note: %llu conversations longer than seq_len+1 were truncated\n", (unsigned long long)mix.truncated);

    for (int a = 0; a < accum; a++) batch_free(&micro[a]);
    free(micro);
    free(cursors);
    free(tok_bytes);
    if (tok) tokenizer_free(tok);
    zero_free(&zs);
    griffin_free(m);
    mixture_free(&mix);
    for (int i = 0; i < cfg->n_data; i++) corpus_close(corpora[i]);
    for (int i = 0; i < cfg->n_valid; i++) corpus_close(valid[i]);
    run_out_close(&out);
    free(cfg);
    dist_finalize();
    return status;
}

int cmd_pretrain(int argc, char **argv) { return train_main(TRAIN_PRETRAIN, argc, argv); }
int cmd_sft(int argc, char **argv) { return train_main(TRAIN_SFT, argc, argv); }
