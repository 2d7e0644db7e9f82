/* The RLHF batch and its PPO update (see ppo.h). */
#include "rlhf/ppo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "common/sys.h"
#include "rlhf/logprobs.h"
#include "rlhf/reward_model.h"
#include "rlhf/rollout.h"

void ppo_batch_init(PpoBatch *b, const PpoParams *p, GriffinModel *pol, GriffinModel *smp, GriffinModel *ref,
                    GriffinModel *rm, int G, int k, int Sm) {
    memset(b, 0, sizeof *b);
    b->p = *p;
    b->G = G, b->k = k, b->S = G * k, b->T = p->seq_len, b->Sm = Sm;
    b->pol = pol, b->smp = smp, b->ref = ref, b->rm = rm;
    b->ps = k > 1 ? decode_create(smp, G) : NULL;
    b->st = decode_create(smp, b->S);
    generation_alloc(&b->ro, b->S, p->max_new, 1);
    b->prompts = mallocCheck(sizeof(int *) * (size_t)G);
    b->plen = mallocCheck(sizeof(int) * (size_t)G);
    b->streams = mallocCheck(sizeof(uint64_t) * (size_t)b->S);
    size_t n = (size_t)b->S * b->T;
    b->tok = mallocCheck(sizeof(int) * n), b->tgt = mallocCheck(sizeof(int) * n), b->pos = mallocCheck(sizeof(int) * n);
    b->rows = mallocCheck(sizeof(int) * (size_t)b->S);
    b->mrows = mallocCheck(sizeof(int) * (size_t)Sm);
    b->mask = mallocCheck(n);
    float **f[] = {&b->logp_old, &b->logq, &b->logp_s, &b->logp, &b->kl, &b->w, &b->adv_tok};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) *f[i] = callocCheck(n, sizeof(float));
    float **g[] = {&b->score, &b->reward, &b->klsum, &b->adv};
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++) *g[i] = callocCheck((size_t)b->S, sizeof(float));
}

void ppo_batch_free(PpoBatch *b) {
    decode_free(b->ps);
    decode_free(b->st);
    generation_free(&b->ro);
    void *p[] = {b->prompts, b->plen, b->streams, b->tok, b->tgt, b->pos, b->rows, b->mrows, b->mask, b->logp_old, b->logq,
                 b->logp_s, b->logp, b->kl, b->w, b->adv_tok, b->score, b->reward, b->klsum, b->adv};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) free(p[i]);
}

int ppo_ended(const PpoBatch *b, int i) { return b->ro.stopped[i] && b->ro.last[i] == b->p.eot; }

/* rows [S, Tb]: prompt ++ reply; row t predicts t+1; reply token j sits at P + j; the mask
 * marks the rows whose target is a reply token */
static void pack(PpoBatch *b) {
    int S = b->S, k = b->k, Tb = 1;
    for (int i = 0; i < S; i++) {
        int n = b->plen[i / k] + b->ro.len[i];
        CHECK(n <= b->T, "rlhf: prompt + response (%d) exceeds train.seq_len (%d)", n, b->T);
        Tb = n > Tb ? n : Tb;
    }
    b->Tb = Tb;
    for (int i = 0; i < S; i++) {
        const int *p = b->prompts[i / k];
        int P = b->plen[i / k], L = b->ro.len[i];
        const int *r = b->ro.tokens + (size_t)i * b->ro.max_new;
        for (int t = 0; t < Tb; t++) {
            size_t x = (size_t)i * Tb + t;
            int cur = t < P ? p[t] : t < P + L ? r[t - P] : 0;
            int nxt = t + 1 < P ? p[t + 1] : t + 1 < P + L ? r[t + 1 - P] : 0;
            b->tok[x] = cur;
            b->pos[x] = t;
            b->tgt[x] = nxt;
            b->mask[x] = t >= P - 1 && t < P + L - 1;
            b->logp_s[x] = b->mask[x] ? b->ro.logp[(size_t)i * b->ro.max_new + (t - P + 1)] : 0.0f;
        }
        b->rows[i] = i * Tb + P + L - 1;
    }
}

/* reward model (last reply token), reference and policy, micro-batch by micro-batch. With one
 * micro-batch the policy's forward is the last one, so its activations serve the first
 * epoch's backward. */
static void score(PpoBatch *b) {
    int Tb = b->Tb, Sm = b->Sm;
    b->entropy = 0;
    b->maxdiff = 0;
    for (int s0 = 0; s0 < b->S; s0 += Sm) {
        size_t o = (size_t)s0 * Tb;
        for (int i = 0; i < Sm; i++) b->mrows[i] = b->rows[s0 + i] - (int)o;
        rm_score(b->rm, b->score + s0, b->tok + o, b->pos + o, b->mrows, Sm, Tb);
        if (b->ref == b->pol) griffin_set_adapters(b->pol, 0); /* the reference: the policy's base */
        forward_logprobs(b->ref, b->logq + o, b->tok + o, b->tgt + o, b->pos + o, b->mask + o, Sm, Tb, NULL, NULL, NULL);
        if (b->ref == b->pol) griffin_set_adapters(b->pol, 1);
        forward_logprobs(b->pol, b->logp_old + o, b->tok + o, b->tgt + o, b->pos + o, b->mask + o, Sm, Tb, &b->entropy,
                         &b->maxdiff, b->logp_s + o);
    }
}

/* reward_i = score_i − β·Σ_t kl_t − eos_penalty (reply not closed) */
static void shape_rewards(PpoBatch *b) {
    int Tb = b->Tb;
    kl_forward(b->kl, b->logp_old, b->logq, b->p.kl, (size_t)b->S * Tb);
    for (int i = 0; i < b->S; i++) {
        double s = 0;
        for (int t = 0; t < Tb; t++) s += b->mask[(size_t)i * Tb + t] ? (double)b->kl[(size_t)i * Tb + t] : 0.0;
        b->klsum[i] = (float)s;
        b->reward[i] = b->score[i] - b->p.beta * b->klsum[i] - (ppo_ended(b, i) ? 0.0f : b->p.eos_penalty);
    }
}

void ppo_rollout(PpoBatch *b, uint64_t seed) {
    double t0 = now_seconds();
    int stops[2] = {b->p.eot, b->p.eos};
    rollout_sample(b->smp, b->ps, b->st, b->prompts, b->plen, b->G, b->k, b->p.max_new, &b->p.sp, stops, 2, seed,
                   b->streams, &b->ro);
    pack(b);
    double t1 = now_seconds();
    b->sample_s = t1 - t0;
    score(b);
    shape_rewards(b);
    b->score_s = now_seconds() - t1;
}

void ppo_advantages(PpoBatch *b, int grpo, double sums[2]) {
    if (grpo) grpo_advantages(b->adv, b->reward, b->G, b->k);
    else rloo_advantages(b->adv, b->reward, b->G, b->k, 0);
    for (int i = 0; i < b->S; i++) sums[0] += (double)b->adv[i], sums[1] += (double)b->adv[i] * (double)b->adv[i];
}

void ppo_advantages_finish(PpoBatch *b, int whiten, const double sums[2], double n, int nmb, double *ntok) {
    if (whiten) {
        double mean = sums[0] / n, var = sums[1] / n - mean * mean;
        rloo_whiten(b->adv, (size_t)b->S, mean, sqrt(var > 0 ? var : 0));
    }
    int Tb = b->Tb, Smb = b->S / nmb;
    for (size_t x = 0; x < (size_t)b->S * Tb; x++) b->adv_tok[x] = b->adv[x / (size_t)Tb];
    for (int j = 0; j < nmb; j++) {
        ntok[j] = 0;
        for (size_t x = (size_t)j * Smb * Tb; x < (size_t)(j + 1) * Smb * Tb; x++) ntok[j] += b->mask[x];
    }
}

double ppo_micro_step(PpoBatch *b, int s0, int reuse, float scale, size_t *clipped) {
    int Tb = b->Tb, Sm = b->Sm;
    float clip = b->p.clip;
    size_t o = (size_t)s0 * Tb, nm = (size_t)Sm * Tb, c = 0;
    if (!reuse)
        forward_logprobs(b->pol, b->logp + o, b->tok + o, b->tgt + o, b->pos + o, b->mask + o, Sm, Tb, NULL, NULL, NULL);
    else memcpy(b->logp + o, b->logp_old + o, nm * sizeof(float));
    double l = policy_loss_forward(b->logp + o, b->logp_old + o, b->adv_tok + o, b->mask + o, clip, nm, &c);
    *clipped += c;
    policy_loss_weights(b->w + o, b->logp + o, b->logp_old + o, b->adv_tok + o, b->mask + o, clip, scale, nm);
    griffin_backward_weighted(b->pol, b->w + o);
    return l;
}
