/* The memory plan: the bytes a training command will hold on one rank, computed from the
 * config before anything large is allocated, against what this process may use.
 *
 * Rows: parameters (fp32), gradients (the whole table), the AdamW moments of the trainable
 * set on this rank (ZeRO-1: a 1/ranks shard, plus one packing buffer when some tensors are
 * frozen and ranks > 1), MPI's temporary buffers of the reduce-scatter (ranks > 1), activations for batch_size x seq_len (as train.recompute sets them;
 * the logits one chunk at a time when it is on), the other models a stage holds (rlhf's
 * reference and reward model, dpo's reference unless precomputed), decode states (rlhf),
 * the corpora's chunk caches, the checkpoint writer's bounded buffers on rank 0 (it streams
 * from the buffers above: train/ckpt/checkpoint.h), and the runtime (libraries, MPI, OpenBLAS
 * buffers: a fixed estimate). Available: MemAvailable of /proc/meminfo, or the cgroup limit (memory.max) minus
 * what the cgroup already uses, whichever is smaller.
 *
 * The engine refuses a run whose plan exceeds what is available, before writing anything, with
 * the table and the settings that would fit; `griffin plan CONFIG [--ranks N] [--stage S]`
 * prints the same table without running. */
#ifndef GRIFFIN_PLAN_H
#define GRIFFIN_PLAN_H

#include <stddef.h>
#include <stdio.h>

#include "train/config/config.h"

typedef struct {
    const char *what[16];
    double bytes[16];
    int n;
    double total;
} MemPlan;

/* stage: pretrain, sft, reward, rlhf or dpo; ranks: the MPI ranks of the run */
void plan_compute(const TrainConfig *cfg, const char *stage, int ranks, MemPlan *p);
/* bytes this process may still allocate (0 when unknown) */
double plan_available(void);
/* the table, the total and (if avail > 0) what is available */
void plan_print(FILE *f, const MemPlan *p, double avail, int ranks, const char *stage);
/* one line per setting that would lower the plan (recompute, smaller batches, more ranks, freezing) */
void plan_advice(FILE *f, const TrainConfig *cfg, const char *stage, int ranks);
/* griffin plan */
int cmd_plan(int argc, char **argv);

#endif
