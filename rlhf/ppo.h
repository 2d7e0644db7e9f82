/* One RLHF iteration's batch and the PPO update on it (the maths in rlhf.h):
 *   ppo_rollout   sample k replies per prompt with the fixed-size state (log-probabilities
 *                 recorded), pack prompt ++ reply rows, score them with the reward model, the
 *                 reference and the policy (log p_old; entropy; agreement with the sampler),
 *                 and shape the reward: score − β·KL − eos_penalty when the reply is not
 *                 closed by <end_of_turn>;
 *   ppo_advantages  leave-one-out advantages within each prompt's k samples, optionally
 *                 whitened with the batch statistics the caller gathered over ranks
 *                 (ppo_advantage_sums), spread over each reply's tokens;
 *   ppo_micro_step  one micro-batch of one update: the policy's log-probabilities (the
 *                 rollout's own forward reused when it is still in place), the clipped policy
 *                 loss and its backward into the policy's gradients.
 * The caller (train/run/rlhf.c, on the step engine) runs rlhf.epochs x rlhf.minibatches
 * updates of micro-batches of Sm sequences; the models hold activations for Sm x T only. */
#ifndef GRIFFIN_PPO_H
#define GRIFFIN_PPO_H

#include <stddef.h>
#include <stdint.h>

#include "model/decode.h"
#include "model/griffin.h"
#include "model/sampler.h"
#include "rlhf/rlhf.h"

typedef struct {
    int seq_len, max_new;
    SamplerParams sp;
    int eot, eos;             /* <end_of_turn> closes a reply; both stop sampling */
    float beta, eos_penalty, clip;
    RlhfKl kl;
} PpoParams;

/* Everything one rollout batch needs, allocated once for S = G·k sequences of T tokens. */
typedef struct {
    PpoParams p;
    int G, k, S, T, Sm;
    GriffinModel *pol, *ref, *rm;
    GriffinModel *smp;           /* the rollouts' sampler: pol, or a narrow-weight copy the caller refreshes */
    DecodeState *ps, *st;        /* prompt state [G], sequence state [S] */
    Generation ro;               /* the sampled replies and their log-probabilities */
    const int **prompts;         /* [G] borrowed, set by the caller */
    int *plen;                   /* [G] set by the caller */
    uint64_t *streams;           /* [S] RNG streams, set by the caller */
    int *tok, *tgt, *pos, *rows; /* [S·T] x3, rows [S]: the last reply token of each sequence */
    int *mrows;                  /* [Sm]: rows of one micro-batch */
    uint8_t *mask;               /* [S·T] reply tokens */
    float *logp_old, *logq, *logp_s, *logp, *kl, *w, *adv_tok; /* [S·T] */
    float *score, *reward, *klsum, *adv; /* [S] */
    int Tb;                      /* columns used by the current batch */
    double entropy, maxdiff;     /* local sums / max */
    double sample_s, score_s;    /* seconds of the last ppo_rollout: sampling, scoring passes */
} PpoBatch;

/* smp: the model the rollouts sample with (pol itself, or a copy of pol's weights in a
 * narrow format for faster decoding; the importance ratio still uses pol's own log p_old) */
void ppo_batch_init(PpoBatch *b, const PpoParams *p, GriffinModel *pol, GriffinModel *smp, GriffinModel *ref,
                    GriffinModel *rm, int G, int k, int Sm);
void ppo_batch_free(PpoBatch *b);
/* sample, pack, score and shape the rewards of the batch (prompts, plen, streams set) */
void ppo_rollout(PpoBatch *b, uint64_t seed);
/* 1 when sequence i's reply was closed by <end_of_turn> */
int ppo_ended(const PpoBatch *b, int i);

/* leave-one-out (or, grpo set, group-normalised) advantages into b->adv; sums[2] += Σ adv,
 * Σ adv² of this rank (for whitening over ranks: add them over ranks, then
 * ppo_advantages_finish) */
void ppo_advantages(PpoBatch *b, int grpo, double sums[2]);
/* whiten with the global sums of n sequences (whiten = 0: leave as is), then per-token
 * advantages; ntok[j] = reply tokens of minibatch j (nmb minibatches) of this rank */
void ppo_advantages_finish(PpoBatch *b, int whiten, const double sums[2], double n, int nmb, double *ntok);

/* micro-batch of Sm sequences from s0 of one update: log p (recomputed unless reuse, when the
 * rollout's policy forward of exactly these rows is still in place), the clipped loss with
 * weights scale per token, backward into the policy's gradients. Returns this rank's loss sum;
 * *clipped += tokens cut by the clip. */
double ppo_micro_step(PpoBatch *b, int s0, int reuse, float scale, size_t *clipped);

#endif
