/* griffin reward: a reward model trained on preference corpora with the Bradley-Terry loss
 * −log σ(r_chosen − r_rejected − margin) (DESIGN.md: Reward). The model is the config's
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
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/check.h"
#include "data/corpus.h"
#include "model/griffin.h"
#include "optim/adamw.h"
#include "optim/clip.h"
#include "optim/dist.h"
#include "optim/schedule.h"
#include "rlhf/order.h"
#include "rlhf/reward_model.h"
#include "rlhf/rlhf.h"
#include "train/ckpt/checkpoint.h"
#include "train/commands.h"
#include "train/config/config.h"
#include "train/run/loop.h"
#include "train/run/runlog.h"
#include "train/run/step_check.h"
#include "train/run/zero.h"

/* Weights of train.init: a reward model's own, else a language model's (the prefix). */
static void init_from(GriffinModel *m, const char *path, RunOut *out) {
    char err[2048];
    int rc = ckpt_load_weights(path, &m->table, m->params, err, sizeof err);
    if (rc == CKPT_ERR_MISMATCH) {
        GriffinConfig lm = m->cfg;
        lm.reward_head = 0;
        ParamTable pt;
        param_table_build(&pt, &lm);
        rc = ckpt_load_weights(path, &pt, m->params, err, sizeof err); /* same offsets: a prefix */
        param_table_free(&pt);
        CHECK(rc == CKPT_OK, "train.init = %s: %s", path, err);
        run_say(out, "initialised the backbone from %s (reward head: zero)\n", path);
        return;
    }
    CHECK(rc == CKPT_OK, "train.init = %s: %s", path, err);
    run_say(out, "initialised from reward model %s\n", path);
}

/* The tokenizer bytes: model.tokenizer, else the one stored in train.init; when both exist
 * they must be the same model (an SFT checkpoint's token ids mean nothing under another). */
static char *tokenizer_bytes(const TrainConfig *cfg, int check_init, size_t *len) {
    char *b = cfg->model.tokenizer[0] ? run_read_file(cfg->model.tokenizer, len) : NULL;
    if (!b) *len = 0;
    if (!check_init || !cfg->train.init[0]) return b;
    CkptLoaded ld;
    char err[2048];
    CHECK(ckpt_load(cfg->train.init, NULL, NULL, NULL, NULL, &ld, err, sizeof err) == CKPT_OK, "train.init = %s: %s",
          cfg->train.init, err);
    if (b && ld.tokenizer_len)
        CHECK(ld.tokenizer_len == *len && !memcmp(ld.tokenizer, b, *len),
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

int cmd_reward(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        printf("usage: griffin reward CONFIG.ini [--section.key=value ...]\n"
               "  [model] as the SFT model plus reward_head = true; [data] <name> = preference corpora,\n"
               "  valid = a held-out preference corpus; train.init = the SFT checkpoint; rlhf.margin.\n\n");
        train_config_usage(stdout);
        return argc < 2 ? 2 : 0;
    }
    TrainConfig *cfg = train_load_config("reward", &argc, &argv);
    if (!cfg) return 2;
    int rank = dist_rank(), world = dist_size();
    char err[2048];
    TrainSection *ts = &cfg->train;
    CHECK(cfg->griffin.reward_head, "%s: a reward model needs model.reward_head = true", cfg->source);
    CHECK(cfg->n_data > 0, "%s: no preference corpora in [data]", cfg->source);
    CHECK(ts->steps > 0, "%s: train.steps must be set (> 0)", cfg->source);
    RunOut out;
    train_open_run("reward", cfg, &out);
    train_apply_precision(ts->precision, &out);

    /* data: every pair of every [data] corpus, one index space */
    Corpus *corpora[CFG_MAX_DATA];
    size_t start[CFG_MAX_DATA + 1];
    start[0] = 0;
    for (int i = 0; i < cfg->n_data; i++) {
        corpora[i] = corpus_open(cfg->data[i].path, CORPUS_PREFERENCE);
        CHECK(corpus_vocab_size(corpora[i]) <= cfg->griffin.vocab_size,
              "%s: corpus %s has vocabulary %d but model.vocab_size is %d", cfg->source, cfg->data[i].path,
              corpus_vocab_size(corpora[i]), cfg->griffin.vocab_size);
        start[i + 1] = start[i] + corpus_num_docs(corpora[i]);
    }
    Corpus *valid = cfg->n_valid > 0 ? corpus_open(cfg->valid[0].path, CORPUS_PREFERENCE) : NULL;
    size_t npairs = start[cfg->n_data], *ids = mallocCheck(sizeof(size_t) * npairs);
    for (size_t i = 0; i < npairs; i++) ids[i] = i;
    DocOrder order;
    doc_order_init(&order, ids, npairs, (uint64_t)ts->seed);

    int B = ts->batch_size, T = ts->seq_len, accum = ts->grad_accum;
    GriffinModel *m = griffin_create_ex(&cfg->griffin, 2 * B, T, (uint64_t)ts->seed,
                                        GRIFFIN_CHUNKED_LOSS | (ts->recompute ? GRIFFIN_RECOMPUTE : 0));
    size_t P = m->table.total;
    ZeroShard zs; /* ZeRO-1: this rank's shard of the Adam moments */
    zero_init(&zs, P);
    AdamWConfig ac = train_config_adamw(cfg);
    LrSchedule sched = train_config_schedule(cfg);
    size_t tok_len = 0;
    char *tok_bytes = tokenizer_bytes(cfg, init_exists(cfg), &tok_len);
    if (tok_bytes) {
        Tokenizer *tok = tokenizer_load_from_memory(tok_bytes, tok_len, "reward tokenizer");
        for (int i = 0; i < cfg->n_data; i++) corpus_check_tokenizer(corpora[i], tok, cfg->data[i].path);
        if (valid) corpus_check_tokenizer(valid, tok, cfg->valid[0].path);
        tokenizer_free(tok);
    }

    /* resume or init */
    int64_t step = 0;
    uint64_t cursor = 0;
    char ckpt[CFG_STR + 64] = "";
    int have = run_resume_path(ts->resume, ts->out_dir, rank == 0, ckpt, sizeof ckpt);
    if (have) {
        CkptLoaded ld;
        int rc = zero_load(&zs, ckpt, &m->table, m->params, &ld, err, sizeof err);
        CHECK(rc == CKPT_OK, "resume from %s: %s", ckpt, err);
        CHECK(ld.cursor_len == 1, "resume from %s: not a reward-model checkpoint (data cursor)", ckpt);
        step = ld.step;
        cursor = ld.cursors[0];
        ckpt_loaded_free(&ld);
        run_say(&out, "resumed from %s at step %lld\n", ckpt, (long long)step);
    } else if (ts->init[0]) {
        init_from(m, ts->init, &out);
    }
    dist_broadcast_f32(m->params, P, 0);
    run_say(&out, "reward model: %s backbone + head, %zu parameters (%.2f M), activations %.1f MB per rank; "
            "%zu training pairs, %zu held-out\n", family_name(m->cfg.family), P, P / 1e6,
            griffin_activation_bytes(m) / 1e6, npairs, valid ? corpus_num_docs(valid) : (size_t)0);

    size_t NT = (size_t)2 * B * T;
    int *tok = mallocCheck(sizeof(int) * NT), *pos = mallocCheck(sizeof(int) * NT), *rows = mallocCheck(sizeof(int) * 2 * B);
    float *r = mallocCheck(sizeof(float) * 2 * B), *dr = mallocCheck(sizeof(float) * 2 * B);
    float *dhidden = alignedCallocCheck(NT * (size_t)cfg->griffin.width * sizeof(float));
    int64_t total = ts->steps, step0 = step;
    double t_start = run_now_s(), truncated = 0;
    int status = 0;
    while (step <= total) {
        if (valid && ((ts->eval_every > 0 && step % ts->eval_every == 0) || step == total)) {
            PairStats st = {0};
            rm_eval_pairs(m, valid, (size_t)rank, (size_t)world, corpus_num_docs(valid), B, T, cfg->rlhf.margin, tok,
                          pos, rows, r, &st);
            double v[4] = {st.loss, st.correct, st.gap, st.pairs};
            dist_allreduce_sum_f64(v, 4);
            run_say(&out, "step %6lld | eval loss %.4f | accuracy %.4f | margin %.4f | %.0f pairs\n", (long long)step,
                    v[0] / v[3], v[1] / v[3], v[2] / v[3], v[3]);
            run_metric(&out, "{\"step\":%lld,\"val_loss\":%.9g,\"val_accuracy\":%.9g,\"val_margin\":%.9g,\"val_pairs\":%.0f}",
                       (long long)step, v[0] / v[3], v[1] / v[3], v[2] / v[3], v[3]);
        }
        if (step > step0 && (step == total || (ts->checkpoint_every > 0 && step % ts->checkpoint_every == 0))) {
            char *ini = train_config_to_ini(cfg);
            uint64_t rng[1] = {(uint64_t)ts->seed};
            float *full_m, *full_v; /* whole on rank 0 while it saves */
            zero_full(&zs, &full_m, &full_v);
            CkptState cs = {.step = step, .stage = 0, .tokens = 0, .pt = &m->table, .params = m->params,
                            .adam_m = full_m, .adam_v = full_v, .rng = rng, .n_rng = 1, .cursors = &cursor,
                            .ranks = 1, .cursor_len = 1, .config = ini, .tokenizer = tok_bytes,
                            .tokenizer_len = tok_len};
            int rc = CKPT_OK;
            char path[CFG_STR + 64];
            if (rank == 0) rc = ckpt_save(ts->out_dir, &cs, ts->keep_checkpoints, path, sizeof path, err, sizeof err);
            free(ini);
            zero_full_free(&zs, full_m, full_v);
            if (dist_sum_i64(rc != CKPT_OK)) {
                if (rank == 0) fprintf(stderr, "griffin reward: checkpoint at step %lld failed: %s\n", (long long)step, err);
                status = 3;
                break;
            }
            run_say(&out, "step %6lld | saved %s\n", (long long)step, path);
        }
        if (step == total) break;

        double t0 = run_now_s();
        griffin_zero_grad(m);
        double gpairs = (double)B * world * accum, loss = 0.0, correct = 0.0, gap = 0.0;
        for (int a = 0; a < accum; a++) {
            /* this rank's B pairs of the global batch */
            uint64_t base = cursor + ((uint64_t)a * world + (uint64_t)rank) * (uint64_t)B;
            for (int b = 0; b < B; b++) {
                size_t g = doc_order_at(&order, base + (uint64_t)b);
                int c = 0;
                while (g >= start[c + 1]) c++;
                truncated += rm_pack_pair(corpora[c], g - start[c], b, B, T, tok, pos, rows);
            }
            rm_score(m, r, tok, pos, rows, 2 * B, T);
            int ok = 0;
            loss += bt_loss_forward(r, r + B, cfg->rlhf.margin, B, &ok);
            correct += ok;
            for (int b = 0; b < B; b++) gap += (double)r[b] - (double)r[B + b];
            memset(dr, 0, sizeof(float) * 2 * B);
            /* mean over the global batch; ranks average their gradients, hence the factor world */
            bt_loss_backward(dr, dr + B, r, r + B, cfg->rlhf.margin, (float)(world / gpairs), B);
            rm_backward(m, dhidden, dr, rows, 2 * B);
        }
        cursor += (uint64_t)gpairs;
        /* what this rank saw itself, before the ranks' gradients are averaged (step_check.h) */
        int nf = (isfinite(loss) ? 0 : NF_LOSS) | (isfinite(grad_sumsq(m->grads, P)) ? 0 : NF_GRAD);
        double shard_sq = zero_reduce(&zs, m->grads); /* ZeRO-1: this rank's shard of the mean */
        double v[3] = {loss, correct, gap};
        dist_allreduce_sum_f64(v, 3);
        double norm = sqrt(dist_sum_double(shard_sq));
        if (!nf && (!isfinite(v[0]) || !isfinite(norm))) nf = NF_AVERAGED; /* a sum overflowed, alike on every rank */
        char where[1024];
        if (step_check_nonfinite(nf, m->params, P, where, sizeof where)) {
            if (rank == 0) fprintf(stderr, "griffin reward: non-finite loss or gradient at step %lld %s; the step is refused "
                                   "on all %d rank(s) before the update\n", (long long)step + 1, where, world);
            status = 4;
            break;
        }
        float lr = lr_at(&sched, step);
        zero_update(&zs, &m->table, m->params, m->grads, &ac, lr, (long)step + 1, clip_scale(norm, cfg->optim.grad_clip));
        step++;
        double dt = run_now_s() - t0;
        if (ts->log_every > 0 && (step % ts->log_every == 0 || step == total)) {
            double eta = (run_now_s() - t_start) / (double)(step - step0) * (double)(total - step);
            run_say(&out, "step %6lld/%lld | loss %.4f | accuracy %.3f | margin %.3f | norm %.3f | lr %.2e | %.0f ms | eta %.0fs\n",
                    (long long)step, (long long)total, v[0] / gpairs, v[1] / gpairs, v[2] / gpairs, norm, (double)lr,
                    1e3 * dt, eta);
            run_metric(&out, "{\"step\":%lld,\"loss\":%.17g,\"accuracy\":%.9g,\"margin\":%.9g,\"grad_norm\":%.9g,"
                             "\"lr\":%.6g,\"ms\":%.1f}",
                       (long long)step, v[0] / gpairs, v[1] / gpairs, v[2] / gpairs, norm, (double)lr, 1e3 * dt);
        }
    }
    truncated = dist_sum_double(truncated);
    if (truncated > 0) run_say(&out, "note: %.0f sequences longer than seq_len were cut (scored on their last kept token)\n", truncated);

    free(tok);
    free(pos);
    free(rows);
    free(r);
    free(dr);
    free(dhidden);
    free(tok_bytes);
    zero_free(&zs);
    griffin_free(m);
    doc_order_free(&order);
    for (int i = 0; i < cfg->n_data; i++) corpus_close(corpora[i]);
    if (valid) corpus_close(valid);
    run_out_close(&out);
    free(cfg);
    dist_finalize();
    return status;
}
