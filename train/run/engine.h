/* The step engine: the one training loop every stage runs on (docs/design.md).
 *
 * The engine owns what every stage shares: MPI and the config, the output folder and its
 * logs, the trainable set (train.freeze / train.trainable) and the ZeRO-1 AdamW state over
 * it, resume (weights, moments, step, data cursor, tokenizer identity checked in one place)
 * or initialisation, adapter checkpoints (the frozen tensors a stage's init read from a file
 * are left to that file: engine_set_base), the loop itself, the non-finite check, clipping,
 * the learning-rate schedule, the evaluation and checkpoint cadence, keep-last-K, fault
 * injection and the exit codes. A stage (one file in train/run/) supplies a StageDef: its checks, its models and data,
 * its data cursor, the loss + backward of one micro-batch, its evaluation and its metrics.
 *
 * One run, on every rank:
 *   check → open the run → setup → trainable set, ZeRO shard → resume or init → broadcast
 *   loop {
 *     evaluate            (train.eval_every, and at the end; 0 = only at the end)
 *     save a checkpoint   (train.checkpoint_every, and at the end; keep train.keep_checkpoints)
 *     plan                the stage's batch for this step: U updates of M micro-batches
 *     U times: zero grads; M micro-steps (forward + backward, gradients accumulate);
 *              reduce-scatter; non-finite check on every rank; clip; AdamW on the shard;
 *              all-gather; after_update
 *     end_step            the stage's metrics and log line
 *   }
 * Exit codes: 0 done, 2 a bad config (nothing written), 3 a checkpoint could not be saved
 * (the previous one kept), 4 a non-finite loss or gradient (the step refused on every rank
 * before the update, the checkpoints intact). */
#ifndef GRIFFIN_ENGINE_H
#define GRIFFIN_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "model/griffin.h"
#include "optim/adamw.h"
#include "optim/schedule.h"
#include "optim/trainable.h"
#include "optim/zero.h"
#include "train/ckpt/checkpoint.h"
#include "train/config/config.h"
#include "train/run/runlog.h"
#include "train/run/step_check.h"

typedef struct Engine Engine;

/* What one step does: `updates` optimizer updates (RLHF: epochs x minibatches), each of
 * `micro` micro-batches; `tokens` it trains on over all ranks (counted in checkpoints). */
typedef struct {
    int updates, micro;
    int64_t tokens;
} StepPlan;

typedef struct {
    int u;            /* 0-based update of the step */
    double loss_sum;  /* Σ over ranks of what the micro-steps returned */
    double norm;      /* global norm of the trainable gradients, before clipping */
} UpdateInfo;

typedef struct {
    int64_t step, total;  /* steps done (this one included), train.steps */
    float lr;
    double norm;          /* of the step's last update */
    double seconds, eta;  /* this step; the rest of the run */
    int log;              /* a log line is due (train.log_every, and the last step) */
} StepInfo;

typedef struct {
    const char *name;   /* the command: "pretrain" */
    const char *usage;  /* --help text before the key table */
    /* the stage's own key checks, before anything is written: 0, or -1 with a message */
    int (*check)(const TrainConfig *cfg, char *err, size_t errlen);
    /* data, models, buffers: sets e->m (the model trained) and e->tok_bytes / tok_len (the
     * tokenizer stored in checkpoints and compared on resume); returns the stage's state */
    void *(*setup)(Engine *e);
    void (*teardown)(void *st);
    /* a fresh run's weights (train.init); NULL: the model's own initialisation */
    void (*init)(void *st, Engine *e);
    /* the data cursor, the same on every rank: *values points at the stage's n values, which
     * the engine saves (after calling cursor) and, on resume, overwrites with the checkpoint's
     * (its length checked) before calling resumed (may be NULL) */
    size_t (*cursor)(void *st, uint64_t **values);
    void (*resumed)(void *st, Engine *e);
    /* held-out evaluation and its log lines (NULL: none) */
    void (*evaluate)(void *st, Engine *e);
    /* the step's batch: fills the plan (defaults 1 update of train.grad_accum micro-batches) */
    void (*plan)(void *st, Engine *e, StepPlan *p);
    /* micro-batch a of update u: forward, backward into e->m->grads (accumulating, scaled as
     * the stage's loss wants); returns this rank's loss sum for the update's UpdateInfo */
    double (*micro_step)(void *st, Engine *e, int u, int a);
    void (*after_update)(void *st, Engine *e, const UpdateInfo *ui); /* may be NULL */
    /* every step on every rank (collectives allowed): metrics, the log line when si->log */
    void (*end_step)(void *st, Engine *e, const StepInfo *si);
    /* once, when the run has reached train.steps (may be NULL) */
    void (*finish)(void *st, Engine *e);
} StageDef;

struct Engine {
    const StageDef *def;
    TrainConfig *cfg;
    RunOut out;
    int rank, world;
    GriffinModel *m;          /* the trained model (set by setup) */
    char *tok_bytes;          /* tokenizer model bytes (set by setup; may be NULL), freed by the engine */
    size_t tok_len;
    TrainableSet set;
    ZeroShard zs;
    AdamWConfig ac;
    LrSchedule sched;
    int64_t step, step0, total, tokens;
    int resumed;              /* the run continues a checkpoint */
    NonfiniteFault fault;
    double t_start;
    double plan_bytes;        /* the memory plan's total (train/run/plan.h) */
    /* adapter checkpoints (train/ckpt/checkpoint.h): the file the frozen tensors marked in
     * base_of are bitwise copies of (engine_set_base, or the adapter checkpoint resumed);
     * base == NULL: full checkpoints */
    char *base;
    uint8_t *base_of;         /* [m->table.count] */
    uint32_t base_crc;
    uint64_t base_size;
};

/* The whole command: argv = [command, config.ini, --section.key=value ...]. Returns the exit
 * code (0 with --help). */
int engine_main(const StageDef *def, int argc, char **argv);

/* train.precision for every matrix product of this process, saying in the log what runs */
void engine_apply_precision(Engine *e);
/* A file a key names must be readable (an empty path is not checked): else -1 with the message
 * "KEY = PATH: why" in err (the checks before anything is written), or, from
 * engine_require_file, that line and exit 2 (REQUIRE). */
int engine_unreadable(const char *key, const char *path, char *err, size_t errlen);
void engine_require_file(const char *key, const char *path);
/* A stage's init loaded the first n tensors of e->m bitwise from the checkpoint path: the
 * checkpoints of the run leave those that stay frozen to that file (adapter checkpoints),
 * unless train.full_checkpoints or n == 0. Records the file's size and CRC-32 (cheap: its
 * header), dying with one line if it cannot be read. */
void engine_set_base(Engine *e, const char *path, int n);
/* Reads the tokenizer bytes of model.tokenizer into e->tok_bytes (if set). */
void engine_read_tokenizer(Engine *e);
/* Dies with "NAME: what was trained with another tokenizer than model.tokenizer" unless the
 * checkpoint's stored tokenizer (if any) equals e->tok_bytes (if any). */
void engine_check_tokenizer(const Engine *e, const CkptLoaded *ld, const char *what);
/* the rule of that check: 1 if either tokenizer is absent (len 0) or their bytes are equal */
int engine_tokenizers_agree(const void *a, size_t alen, const void *b, size_t blen);

#endif
