/* The step engine (see engine.h). Rank 0 prints; every rank computes. */
#include "train/run/engine.h"

#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/check.h"
#include "common/sys.h"
#include "data/h5guard.h"
#include "optim/clip.h"
#include "optim/dist.h"
#include "train/ckpt/ckpt_zero.h"
#include "train/run/plan.h"

void engine_apply_precision(Engine *e) {
    int want = e->cfg->train.precision;
    GemmPrecision got = gemm_set_precision((GemmPrecision)want);
    if (got != (GemmPrecision)want)
        run_say(&e->out, "train.precision = bf16: this CPU has no avx512_bf16, matrix products run in fp32\n");
    else if (got != GEMM_FP32)
        run_say(&e->out, "train.precision = %s: matrix products in bf16 with fp32 sums; weights, gradients, AdamW fp32\n",
                gemm_precision_name(got));
}

int engine_unreadable(const char *key, const char *path, char *err, size_t errlen) {
    if (!path[0] || access(path, R_OK) == 0) return 0;
    return set_error(err, errlen, "%s = %s: %s", key, path, strerror(errno));
}

void engine_require_file(const char *key, const char *path) {
    char err[CFG_STR + 256];
    REQUIRE(!engine_unreadable(key, path, err, sizeof err), "%s", err);
}

void engine_set_base(Engine *e, const char *path, int n) {
    if (e->cfg->train.full_checkpoints || n <= 0) return;
    char err[1024];
    REQUIRE(!h5guard_identity(path, &e->base_crc, &e->base_size, err, sizeof err), "%s: %s", path, err);
    free(e->base);
    free(e->base_of);
    e->base = strdup(path);
    CHECK(e->base, "out of memory");
    e->base_of = callocCheck((size_t)e->m->table.count, 1);
    memset(e->base_of, 1, (size_t)(n < e->m->table.count ? n : e->m->table.count));
}

/* what the resumed checkpoint says: an adapter checkpoint's base and the tensors read from it
 * (taken from ld), or for a full checkpoint none (tensors trained before may be frozen now) */
static void take_base(Engine *e, CkptLoaded *ld) {
    free(e->base);
    free(e->base_of);
    e->base = NULL, e->base_of = NULL;
    if (e->cfg->train.full_checkpoints || !ld->base || !ld->from_base) return;
    e->base = ld->base, e->base_of = ld->from_base;
    e->base_crc = ld->base_crc, e->base_size = ld->base_size;
    ld->base = NULL, ld->from_base = NULL;
}

/* the tensors a checkpoint leaves to the base: frozen and bitwise the base's; NULL for none */
static uint8_t *omitted(const Engine *e) {
    if (!e->base || e->set.all) return NULL;
    int n = e->m->table.count, any = 0;
    uint8_t *omit = callocCheck((size_t)n, 1);
    for (int i = 0; i < n; i++) any |= omit[i] = e->base_of[i] && !e->set.on[i];
    if (!any) free(omit);
    return any ? omit : NULL;
}

void engine_read_tokenizer(Engine *e) {
    const char *path = e->cfg->model.tokenizer;
    if (!path[0]) return; /* readable: checked with the config (check_files) */
    e->tok_bytes = run_read_file(path, &e->tok_len);
}

int engine_tokenizers_agree(const void *a, size_t alen, const void *b, size_t blen) {
    return !a || !alen || !b || !blen || (alen == blen && !memcmp(a, b, alen));
}

void engine_check_tokenizer(const Engine *e, const CkptLoaded *ld, const char *what) {
    REQUIRE(engine_tokenizers_agree(e->tok_bytes, e->tok_len, ld->tokenizer, ld->tokenizer_len),
          "%s was trained with another tokenizer than model.tokenizer = %s; use the same tokenizer (and corpora "
          "made with it)", what, e->cfg->model.tokenizer);
}

/* train.freeze / train.trainable against the model's tensor names */
static int check_trainable(const TrainConfig *cfg, char *err, size_t errlen) {
    ParamTable pt;
    param_table_build(&pt, &cfg->griffin);
    TrainableSet s;
    int rc = trainable_build(&s, &pt, cfg->train.freeze, cfg->train.trainable, err, errlen);
    if (!rc) trainable_free(&s);
    param_table_free(&pt);
    return rc;
}

/* a plain file path (not an external corpus spec such as megatron:PREFIX, checked at open) */
static int plain_path(const char *p) {
    return strncmp(p, "megatron:", 9) && strncmp(p, "llmc:", 5) && strncmp(p, "nanogpt:", 8);
}

/* the files the config names that every stage reads: missing ones are a config error */
static int check_files(const TrainConfig *cfg, char *err, size_t errlen) {
    char key[CFG_NAME + 16];
    for (int i = 0; i < cfg->n_data + cfg->n_valid; i++) {
        const DataEntry *d = i < cfg->n_data ? &cfg->data[i] : &cfg->valid[i - cfg->n_data];
        if (i < cfg->n_data) snprintf(key, sizeof key, "data.%s", d->name);
        else snprintf(key, sizeof key, "data.valid%s%s", d->name[0] ? "." : "", d->name);
        if (plain_path(d->path) && engine_unreadable(key, d->path, err, errlen)) return -1;
    }
    return engine_unreadable("model.tokenizer", cfg->model.tokenizer, err, errlen);
}

/* MPI, the config and the stage's own checks; a bad one is reported by rank 0 in one line,
 * MPI finalised, NULL returned (exit code 2) and nothing written */
static TrainConfig *load_config(const StageDef *def, int *argc, char ***argv) {
    dist_init(argc, argv);
    TrainConfig *cfg = callocCheck(1, sizeof *cfg);
    char err[2048];
    int bad = train_config_load(cfg, (*argv)[1], *argc - 2, *argv + 2, err, sizeof err) != 0;
    if (!bad && def->check) bad = def->check(cfg, err, sizeof err) != 0;
    if (!bad) bad = check_trainable(cfg, err, sizeof err) != 0;
    if (!bad) bad = check_files(cfg, err, sizeof err) != 0;
    if (!bad) return cfg;
    if (dist_rank() == 0) fprintf(stderr, "griffin %s: %s\n", def->name, err);
    free(cfg);
    dist_finalize();
    return NULL;
}

/* train.threads, the output folder (log.txt, metrics.jsonl) on rank 0, what runs where, and the
 * resolved config on the console and in the log */
static void open_run(Engine *e) {
    const TrainConfig *cfg = e->cfg;
    if (cfg->train.threads > 0) omp_set_num_threads(cfg->train.threads);
    run_out_open(&e->out, cfg->train.out_dir, e->rank == 0);
    run_say(&e->out, "griffin %s: %s, %d rank(s) x %d thread(s)\n", e->def->name, cfg->source, e->world,
            omp_get_max_threads());
    if (e->rank == 0) {
        train_config_print(cfg, stdout);
        if (e->out.log) train_config_print(cfg, e->out.log);
    }
}

/* the trainable set and its ZeRO shard; the start-up line says what trains */
static void set_up_optimizer(Engine *e) {
    char err[1024];
    const TrainSection *ts = &e->cfg->train;
    /* the patterns were checked against this model's table by check_trainable */
    CHECK(trainable_build(&e->set, &e->m->table, ts->freeze, ts->trainable, err, sizeof err) == 0, "%s", err);
    griffin_set_trainable(e->m, e->set.all ? NULL : e->set.on);
    zero_init(&e->zs, &e->set, &e->m->table);
    e->ac = train_config_adamw(e->cfg);
    e->sched = train_config_schedule(e->cfg);
    size_t P = e->m->table.total;
    run_say(&e->out, "trainable: %zu of %zu parameters (%.1f%%) in %d of %d tensors; frozen %zu in %d; AdamW moments "
            "%.1f MB per rank (ZeRO-1 over %d rank(s))\n", e->set.n, P, 100.0 * (double)e->set.n / (double)P,
            e->set.mt.count, e->m->table.count, P - e->set.n, trainable_frozen_tensors(&e->set),
            2.0 * (double)(e->zs.hi - e->zs.lo) * sizeof(float) / 1e6, e->world);
}

/* resume (train.resume) or the stage's init, then every rank gets rank 0's weights */
static void resume_or_init(Engine *e, void *st) {
    const TrainSection *ts = &e->cfg->train;
    char ckpt[CFG_STR + 64] = "", err[2048], what[CFG_STR + 96];
    if (run_resume_path(ts->resume, ts->out_dir, e->rank == 0, ckpt, sizeof ckpt)) {
        CkptLoaded ld;
        int rc = zero_load(&e->zs, ckpt, e->m->params, &ld, err, sizeof err);
        REQUIRE(rc == CKPT_OK, "resume from %s: %s", ckpt, ckpt_why(err, ckpt));
        snprintf(what, sizeof what, "resume from %s: it", ckpt);
        engine_check_tokenizer(e, &ld, what);
        uint64_t *cursor;
        size_t n = e->def->cursor(st, &cursor);
        REQUIRE(ld.cursor_len == n, "resume from %s: its data cursor (%zu values) is not one of a %s run on these corpora "
              "(%zu): a checkpoint of another stage or data?", ckpt, ld.cursor_len, e->def->name, n);
        memcpy(cursor, ld.cursors, n * sizeof(uint64_t));
        e->step = ld.step;
        e->tokens = ld.tokens;
        e->resumed = 1;
        if (e->def->resumed) e->def->resumed(st, e);
        take_base(e, &ld);
        ckpt_loaded_free(&ld);
        run_say(&e->out, "resumed from %s at step %lld\n", ckpt, (long long)e->step);
    } else if (e->def->init) {
        e->def->init(st, e);
    }
    uint8_t *omit = omitted(e);
    if (omit) {
        int n = 0;
        for (int i = 0; i < e->m->table.count; i++) n += omit[i];
        run_say(&e->out, "checkpoints: adapter checkpoints, %d frozen tensor(s) left to the base %s (CRC-32 %08x, "
                "%llu bytes)\n", n, e->base, e->base_crc, (unsigned long long)e->base_size);
        free(omit);
    }
    dist_broadcast_f32(e->m->params, e->m->table.total, 0);
}

/* a checkpoint after step e->step; 0, or -1 when it could not be written (on every rank) */
static int save(Engine *e, void *st) {
    const TrainSection *ts = &e->cfg->train;
    uint64_t *cursor;
    size_t n = e->def->cursor(st, &cursor);
    /* the mixture stage of the last step done ([stage.N] configs), else 0 */
    int64_t stage = e->cfg->n_stages > 0 ? train_config_stage_at(e->cfg, e->step - 1) : 0;
    char *ini = train_config_to_ini(e->cfg);
    uint64_t rng[1] = {(uint64_t)ts->seed};
    uint8_t *omit = omitted(e);
    CkptState cs = {.step = e->step, .stage = stage, .tokens = e->tokens, .pt = &e->m->table,
                    .params = e->m->params,
                    .mt = e->set.all ? NULL : &e->set.mt, .rng = rng, .n_rng = 1, .cursors = cursor, .ranks = 1,
                    .cursor_len = n, .config = ini, .tokenizer = e->tok_bytes, .tokenizer_len = e->tok_len,
                    .base = e->base, .omit = omit, .base_crc = e->base_crc, .base_size = e->base_size};
    char path[CFG_STR + 64], err[2048] = "";
    int rc = zero_save(&e->zs, ts->out_dir, &cs, ts->keep_checkpoints, path, sizeof path, err, sizeof err);
    free(ini);
    free(omit);
    if (dist_sum_i64(rc != CKPT_OK)) {
        if (e->rank == 0)
            fprintf(stderr, "griffin %s: checkpoint at step %lld failed: %s; the previous checkpoint is kept\n",
                    e->def->name, (long long)e->step, err);
        return -1;
    }
    run_say(&e->out, "step %6lld | saved %s\n", (long long)e->step, path);
    return 0;
}

/* NF_* flags this rank raises before the update (step_check.h): its own loss and its own
 * gradient (`own`, taken before the ranks' gradients are mixed), the averaged gradient of its
 * shard, and sums that overflowed (alike on every rank) */
static int nonfinite_flags(Engine *e, int own, double shard_sq, double loss_sum, double norm) {
    int nf = own;
    if (!isfinite(shard_sq)) nf |= e->world > 1 ? NF_AVERAGED : NF_GRAD;
    if (!nf && (!isfinite(loss_sum) || !isfinite(norm))) nf = NF_AVERAGED;
    return nf;
}

/* a 64-bit hash of n words (splitmix64's finaliser over a running sum): dropout keys */
static uint64_t engine_hash(const uint64_t *v, int n) {
    uint64_t h = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < n; i++) {
        h += v[i] + 0x9E3779B97F4A7C15ull;
        h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
        h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
        h ^= h >> 31;
    }
    return h;
}

/* one optimizer update: the micro-steps, reduce-scatter, the check, clip, AdamW, all-gather.
 * Returns 0, or -1 when the update was refused (non-finite, reported on rank 0). */
static int update(Engine *e, void *st, const StepPlan *p, int u, float lr, double *norm) {
    GriffinModel *m = e->m;
    int inject = e->fault.what && e->fault.rank == e->rank && e->fault.step == e->step + 1 && u == 0;
    griffin_zero_grad(m);
    if (inject && e->fault.what == NF_WEIGHTS) m->params[m->table.t[m->table.embed].offset] = INFINITY;
    double local = 0.0;
    for (int a = 0; a < p->micro; a++) {
        /* adapter dropout (lora.dropout): masks of this micro-batch only, the same after a resume */
        uint64_t key[5] = {(uint64_t)e->cfg->train.seed, (uint64_t)e->step, (uint64_t)u, (uint64_t)a, (uint64_t)e->rank};
        griffin_set_dropout_key(m, engine_hash(key, 5) | 1);
        local += e->def->micro_step(st, e, u, a);
        griffin_set_dropout_key(m, 0);
    }
    if (inject && e->fault.what == NF_GRAD) m->grads[m->grad_floats / 2] = NAN;
    /* what this rank saw itself, before the reduce-scatter mixes the ranks' gradients */
    int own = isfinite(local) ? 0 : NF_LOSS;
    if (e->world > 1 && !isfinite(grad_sumsq(m->grads, m->grad_floats))) own |= NF_GRAD;
    double shard_sq = zero_reduce(&e->zs, m->grads); /* this rank's shard of the mean gradient */
    double loss_sum = dist_sum_double(local);
    *norm = sqrt(dist_sum_double(shard_sq));
    char where[1024];
    int nf = nonfinite_flags(e, own, shard_sq, loss_sum, *norm);
    if (step_check_nonfinite(nf, m->params, m->table.total, where, sizeof where)) { /* alike on every rank */
        if (e->rank == 0)
            fprintf(stderr, "griffin %s: non-finite %s at step %lld %s; the step is refused on all %d rank(s) before the "
                    "update, the last checkpoint is intact (lower optim.lr?)\n", e->def->name,
                    isfinite(loss_sum) ? "gradient" : "loss", (long long)e->step + 1, where, e->world);
        return -1;
    }
    zero_update(&e->zs, m->params, m->grads, &e->ac, lr, (long)(e->step * p->updates + u + 1),
                clip_scale(*norm, e->cfg->optim.grad_clip));
    UpdateInfo ui = {u, loss_sum, *norm};
    if (e->def->after_update) e->def->after_update(st, e, &ui);
    return 0;
}

/* one step of the loop; 0, or the exit code that ends the run */
static int step(Engine *e, void *st) {
    const TrainSection *ts = &e->cfg->train;
    double t0 = now_seconds();
    StepPlan p = {1, ts->grad_accum, 0};
    e->def->plan(st, e, &p);
    float lr = lr_at(&e->sched, e->step);
    double norm = 0.0;
    for (int u = 0; u < p.updates; u++)
        if (update(e, st, &p, u, lr, &norm)) return 4;
    e->step++;
    e->tokens += p.tokens;
    StepInfo si = {.step = e->step, .total = e->total, .lr = lr, .norm = norm, .seconds = now_seconds() - t0};
    si.eta = (now_seconds() - e->t_start) / (double)(e->step - e->step0) * (double)(e->total - e->step);
    si.log = ts->log_every > 0 && (e->step % ts->log_every == 0 || e->step == e->total);
    e->def->end_step(st, e, &si);
    return 0;
}

static int run_loop(Engine *e, void *st) {
    const TrainSection *ts = &e->cfg->train;
    for (;;) {
        int64_t s = e->step;
        int eval_due = ts->eval_every > 0 ? s % ts->eval_every == 0 || s == e->total : s == e->total;
        if (e->def->evaluate && eval_due) e->def->evaluate(st, e);
        if (s > e->step0 && (s == e->total || (ts->checkpoint_every > 0 && s % ts->checkpoint_every == 0)))
            if (save(e, st)) return 3;
        if (s >= e->total) {
            if (e->def->finish) e->def->finish(st, e);
            return 0;
        }
        int rc = step(e, st);
        if (rc) return rc;
    }
}

/* the memory plan against what this machine has: refused before anything is written when it
 * does not fit (the ranks of one machine share it: OMPI_COMM_WORLD_LOCAL_SIZE of them) */
static int check_memory(Engine *e) {
    MemPlan p;
    plan_compute(e->cfg, e->def->name, e->world, &p);
    double avail = plan_available();
    const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    int here = local && atoi(local) > 0 ? atoi(local) : e->world;
    e->plan_bytes = p.total;
    if (!(avail > 0) || p.total * here <= avail) return 0;
    if (e->rank == 0) {
        fprintf(stderr, "griffin %s: this run needs %.1f MB per rank (%d on this machine), %.1f MB are available: refused "
                "before allocating anything\n", e->def->name, p.total / 1e6, here, avail / 1e6);
        plan_print(stderr, &p, avail, e->world, e->def->name);
        plan_advice(stderr, e->cfg, e->def->name, e->world);
    }
    return -1;
}

static int usage(const StageDef *def, int argc) {
    printf("usage: griffin %s CONFIG.ini [--section.key=value ...]\n%s\n", def->name, def->usage ? def->usage : "");
    train_config_usage(stdout);
    return argc < 2 ? 2 : 0;
}

int engine_main(const StageDef *def, int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) return usage(def, argc);
    Engine e = {.def = def};
    e.cfg = load_config(def, &argc, &argv);
    if (!e.cfg) return 2;
    e.rank = dist_rank(), e.world = dist_size();
    e.total = e.cfg->train.steps;
    if (check_memory(&e)) {
        free(e.cfg);
        dist_finalize();
        return 2;
    }
    open_run(&e);
    nonfinite_fault_from_env(&e.fault);
    if (e.fault.what)
        run_say(&e.out, "fault injection (GRIFFIN_FAULT_NONFINITE): %s on rank %d at step %lld\n",
                e.fault.what == NF_GRAD ? "a NaN gradient" : "an Inf weight", e.fault.rank, (long long)e.fault.step);
    void *st = def->setup(&e);
    set_up_optimizer(&e);
    run_say(&e.out, "memory plan: %.1f MB per rank (griffin plan prints the table)\n", e.plan_bytes / 1e6);
    resume_or_init(&e, st);
    e.step0 = e.step;
    e.t_start = now_seconds();
    int status = run_loop(&e, st);
    def->teardown(st);
    free(e.tok_bytes);
    free(e.base);
    free(e.base_of);
    zero_free(&e.zs);
    trainable_free(&e.set);
    griffin_free(e.m);
    run_out_close(&e.out);
    free(e.cfg);
    dist_finalize();
    return status;
}
