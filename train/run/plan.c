/* The memory plan (see plan.h). */
#include "train/run/plan.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/check.h"
#include "model/griffin.h"
#include "optim/dist.h"
#include "optim/trainable.h"
#include "train/ckpt/checkpoint.h"

#define RUNTIME_BYTES (46.0 * 1024 * 1024) /* libraries, MPI, OpenBLAS and HDF5 buffers (measured: lic, tiny, small) */

static void row(MemPlan *p, const char *what, double bytes) {
    if (p->n >= 16 || bytes <= 0) return;
    p->what[p->n] = what;
    p->bytes[p->n++] = bytes;
    p->total += bytes;
}

/* a frozen inference copy of the model (reference, reward model): weights and an arena for B x T */
static double frozen_model(const GriffinConfig *c, size_t P, int B, int T) {
    return 4.0 * (double)P + (double)griffin_arena_bytes(c, B, T, GRIFFIN_INFERENCE | GRIFFIN_CHUNKED_LOSS);
}

/* the fixed-size decode state of B sequences (recurrent state and conv taps, attention rings) */
static double decode_bytes(const GriffinConfig *c, int B) {
    double s = 0, K = (double)c->width / c->num_heads;
    for (int l = 0; l < c->depth; l++)
        s += c->block_types[l] == BLOCK_RECURRENT ? 4.0 * c->lru_width : 2.0 * c->window * K;
    return 4.0 * B * (s + 12.0 * c->width + c->vocab_size);
}

/* each corpus caches up to train.data_cache_mb of decompressed tokens, and never more than the
 * corpus holds (about 3x its compressed file; external corpora are memory-mapped) */
static double corpus_caches(const TrainConfig *cfg) {
    double cap = (double)cfg->train.data_cache_mb * 1024 * 1024, sum = 0;
    for (int i = 0; i < cfg->n_data + cfg->n_valid; i++) {
        const char *path = i < cfg->n_data ? cfg->data[i].path : cfg->valid[i - cfg->n_data].path;
        struct stat st;
        double have = stat(path, &st) == 0 ? 3.0 * (double)st.st_size : cap;
        sum += have < cap ? have : cap;
    }
    return sum;
}

void plan_compute(const TrainConfig *cfg, const char *stage, int ranks, MemPlan *p) {
    memset(p, 0, sizeof *p);
    const TrainSection *ts = &cfg->train;
    GriffinConfig c = cfg->griffin;
    if (!strcmp(stage, "reward")) c.reward_head = 1;
    config_finalize(&c);
    ParamTable pt;
    param_table_build(&pt, &c);
    size_t P = pt.total, n = P, writer = ckpt_writer_bytes(&pt, &pt, ranks > 1);
    TrainableSet set;
    char err[512];
    if (!trainable_build(&set, &pt, ts->freeze, ts->trainable, err, sizeof err)) {
        n = set.n;
        writer = ckpt_writer_bytes(&pt, set.all ? &pt : &set.mt, ranks > 1);
        trainable_free(&set);
    }
    int B = ts->batch_size, T = ts->seq_len, rec = ts->recompute ? GRIFFIN_RECOMPUTE | GRIFFIN_CHUNKED_LOSS : 0;
    if (!strcmp(stage, "reward")) B *= 2, rec |= GRIFFIN_CHUNKED_LOSS;
    if (!strcmp(stage, "rlhf")) B = B * cfg->rlhf.samples_per_prompt / ts->grad_accum;
    if (!strcmp(stage, "dpo")) B *= 2;
    row(p, "parameters (fp32)", 4.0 * (double)P);
    row(p, n < P ? "gradients (the trainable tensors')" : "gradients", 4.0 * (double)n);
    row(p, "AdamW moments (this rank's shard)", 8.0 * (double)n / ranks + (n < P && ranks > 1 ? 4.0 * n : 0));
    row(p, "MPI reduce-scatter buffers", (double)dist_reduce_scatter_bytes(n, ranks));
    row(p, ts->recompute ? "activations (recompute)" : "activations", (double)griffin_arena_bytes(&c, B, T, rec));
    if (!strcmp(stage, "rlhf")) {
        if (!(c.lora_rank > 0 && !cfg->rlhf.reference[0])) /* else the policy with its adapters off (a plain init) */
            row(p, "reference model", frozen_model(&c, P, B, T));
        GriffinConfig rc = c;
        rc.reward_head = 1;
        row(p, "reward model", frozen_model(&rc, P, B, T));
        int S = ts->batch_size * cfg->rlhf.samples_per_prompt;
        row(p, "decode states (rollouts, evaluation)", decode_bytes(&c, S) + decode_bytes(&c, ts->batch_size) +
                                                          decode_bytes(&c, S));
    }
    if (!strcmp(stage, "dpo") && !cfg->dpo.precompute_ref) row(p, "reference model", frozen_model(&c, P, B, T));
    if (!strcmp(stage, "reward")) row(p, "hidden-state gradient", 4.0 * B * T * c.width);
    row(p, "corpus chunk caches", corpus_caches(cfg));
    /* rank 0 streams a checkpoint to disk from the buffers above, fetching the other ranks'
     * moments a piece at a time: only the writer's bounded buffers are extra */
    row(p, "checkpoint writer (rank 0, while saving)", (double)writer);
    row(p, "runtime (libraries, buffers)", RUNTIME_BYTES);
    param_table_free(&pt);
}

/* a "Key:  N kB" line of /proc/meminfo, in bytes (0 if absent) */
static double meminfo(const char *key) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    double v = 0;
    size_t k = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, k) && line[k] == ':') v = atof(line + k + 1) * 1024.0;
    fclose(f);
    return v;
}

static double read_number(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char buf[64] = "";
    double v = fgets(buf, sizeof buf, f) && strncmp(buf, "max", 3) ? atof(buf) : 0;
    fclose(f);
    return v;
}

double plan_available(void) {
    double avail = meminfo("MemAvailable");
    double limit = read_number("/sys/fs/cgroup/memory.max"), used = read_number("/sys/fs/cgroup/memory.current");
    if (limit > 0 && (avail == 0 || limit - used < avail)) avail = limit - used;
    return avail > 0 ? avail : 0;
}

void plan_print(FILE *f, const MemPlan *p, double avail, int ranks, const char *stage) {
    fprintf(f, "memory plan (%s, per rank, %d rank(s)):\n", stage, ranks);
    for (int i = 0; i < p->n; i++) fprintf(f, "  %-38s %10.1f MB\n", p->what[i], p->bytes[i] / 1e6);
    fprintf(f, "  %-38s %10.1f MB\n", "total", p->total / 1e6);
    if (avail > 0) fprintf(f, "  %-38s %10.1f MB%s\n", "available to this process", avail / 1e6,
                           ranks > 1 ? " (shared by the ranks of this machine)" : "");
}

void plan_advice(FILE *f, const TrainConfig *cfg, const char *stage, int ranks) {
    const TrainSection *ts = &cfg->train;
    MemPlan a, b;
    TrainConfig *t = malloc(sizeof *t);
    CHECK(t, "out of memory");
    fprintf(f, "settings that would need less:\n");
    if (!ts->recompute) {
        *t = *cfg, t->train.recompute = 1;
        plan_compute(t, stage, ranks, &a);
        fprintf(f, "  --train.recompute=true                  %10.1f MB\n", a.total / 1e6);
    }
    if (ts->batch_size > 1) {
        *t = *cfg, t->train.batch_size = (ts->batch_size + 1) / 2, t->train.grad_accum = ts->grad_accum * 2;
        plan_compute(t, stage, ranks, &a);
        fprintf(f, "  --train.batch_size=%d --train.grad_accum=%d %7.1f MB\n", t->train.batch_size,
                t->train.grad_accum, a.total / 1e6);
    }
    plan_compute(cfg, stage, ranks * 8, &b);
    fprintf(f, "  mpirun -np %d (ZeRO-1 shards the moments) %7.1f MB per rank\n", ranks * 8, b.total / 1e6);
    *t = *cfg;
    snprintf(t->train.trainable, sizeof t->train.trainable, "blocks.*.mlp_block.ffw_down.*");
    plan_compute(t, stage, ranks, &a);
    fprintf(f, "  a small trainable set (e.g. --train.trainable='blocks.*.mlp_block.ffw_down.*') %.1f MB\n",
            a.total / 1e6);
    if (!cfg->griffin.lora_rank) {
        *t = *cfg;
        t->griffin.lora_rank = 16, t->griffin.lora_alpha = 32, t->griffin.lora_targets = LORA_ALL;
        snprintf(t->train.trainable, sizeof t->train.trainable, "*.lora_A.weight,*.lora_B.weight%s",
                 !strcmp(stage, "reward") ? ",reward_head.*" : "");
        if (!config_finalize(&t->griffin)) {
            plan_compute(t, stage, ranks, &a);
            fprintf(f, "  LoRA adapters, the base frozen (--lora.rank=16 --lora.alpha=32) %.1f MB\n", a.total / 1e6);
        }
    }
    free(t);
}

int cmd_plan(int argc, char **argv) {
    const char *config = NULL, *stage = NULL;
    int ranks = 1;
    char *over[64];
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: griffin plan CONFIG.ini [--ranks N] [--stage pretrain|sft|reward|rlhf|dpo] [--section.key=value ...]\n"
                   "  the memory a run of CONFIG needs per rank, computed without allocating it, and what is available\n");
            return 0;
        }
        if (!strcmp(argv[i], "--ranks") && i + 1 < argc) ranks = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--stage") && i + 1 < argc) stage = argv[++i];
        else if (!strncmp(argv[i], "--", 2) && n < 64) over[n++] = argv[i];
        else if (!config) config = argv[i];
        else REQUIRE(0, "plan: unexpected argument %s (see --help)", argv[i]);
    }
    REQUIRE(config, "plan: give a config (griffin plan CONFIG.ini [--ranks N])");
    REQUIRE(ranks >= 1, "plan: --ranks must be >= 1");
    TrainConfig *cfg = callocCheck(1, sizeof *cfg);
    char err[2048];
    REQUIRE(train_config_load(cfg, config, n, over, err, sizeof err) == 0, "plan: %s", err);
    if (!stage) stage = cfg->griffin.reward_head ? "reward" : cfg->rlhf.prompts[0] ? "rlhf" : "pretrain";
    REQUIRE(!strcmp(stage, "pretrain") || !strcmp(stage, "sft") || !strcmp(stage, "reward") || !strcmp(stage, "rlhf") ||
            !strcmp(stage, "dpo"), "plan: --stage %s: choose pretrain, sft, reward, rlhf or dpo", stage);
    MemPlan p;
    plan_compute(cfg, stage, ranks, &p);
    double avail = plan_available();
    plan_print(stdout, &p, avail, ranks, stage);
    if (avail > 0 && p.total * (ranks > 1 ? ranks : 1) > avail) {
        printf("does not fit: %.1f MB needed%s, %.1f MB available\n", p.total * ranks / 1e6,
               ranks > 1 ? " by the ranks on one machine" : "", avail / 1e6);
        plan_advice(stdout, cfg, stage, ranks);
    } else if (avail > 0) {
        printf("fits\n");
    }
    free(cfg);
    return 0;
}
