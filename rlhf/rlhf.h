/* Preference-learning kernels (docs/design.md: rlhf/), forward/backward pairs in the style of
 * model/: plain loops over flat arrays, outputs first, backward ACCUMULATES (+=).
 *
 * Legend (model/config.h) plus: M pairs or sequences, N = B*T rows of the model, G groups
 * (prompts) of k samples each, S = G*k sequences.
 *
 * Reward model (InstructGPT / Llama-2 style): r = w · h[last] + b, h the final-norm output
 * [N,D] of the backbone and `last` the row of the <end_of_turn> closing the model turn;
 * Bradley-Terry loss  −log σ(r_chosen − r_rejected − margin).
 *
 * RLHF (RLOO, Ahmadian et al. 2024, with a PPO clipped ratio): per response token t
 *   log p_t (policy), log q_t (frozen reference), k1_t = log p_t − log q_t,
 *   k3_t = q_t/p_t − 1 − log(q_t/p_t) (Schulman's unbiased, non-negative estimator);
 *   KL_i = Σ_t k_t, reward_i = score_i − β·KL_i (− eos_penalty if not closed);
 *   A_i = R_i − mean_{j≠i} R_j over the k samples of a prompt (RLOO, optionally whitened), or
 *   A_i = (R_i − mean_j R_j) / (std_j R_j + 1e-4) (GRPO, rlhf.advantage = grpo);
 *   loss = −Σ_t min(ρ_t A, clip(ρ_t, 1−ε, 1+ε) A) / n,  ρ_t = exp(log p_t − log p_old,t).
 * Because log p_t = −nll_t, the gradient is the weighted NLL backward of the model:
 *   ∂loss/∂nll_t = ρ_t A / n where the unclipped term is the minimum (else 0). */
#ifndef GRIFFIN_RLHF_H
#define GRIFFIN_RLHF_H

#include <stddef.h>

/* r [M] = w · hidden[rows[m]] + b.   hidden [N,D], rows [M] row indices, w [D], b [1] */
void reward_head_forward(float *r, const float *hidden, const int *rows, const float *w, const float *b, int M, int D);
/* forward: r_m = w · h[rows_m] + b  ⇒  dh[rows_m] += dr_m w;  dw += dr_m h[rows_m];  db += dr_m
 * dhidden [N,D] (only the rows listed are touched), dw [D], db [1], dr [M] */
void reward_head_backward(float *dhidden, float *dw, float *db, const float *dr, const float *hidden,
                          const int *rows, const float *w, int M, int D);

/* log(1 + e^x) and σ(z) = 1/(1 + e^−z) without overflow (−log σ(z) = softplus(−z)) */
double rlhf_softplus(double x);
double rlhf_sigmoid(double z);

/* Bradley-Terry with margin over M pairs: returns Σ_m −log σ(rc_m − rr_m − margin) (double);
 * *correct (if not NULL) = number of pairs with rc > rr. */
double bt_loss_forward(const float *rc, const float *rr, float margin, int M, int *correct);
/* forward: ℓ_m = −log σ(z_m), z_m = rc_m − rr_m − margin, loss = scale · Σ ℓ_m
 *   ⇒ drc_m += −scale σ(−z_m);  drr_m += scale σ(−z_m) */
void bt_loss_backward(float *drc, float *drr, const float *rc, const float *rr, float margin, float scale, int M);

typedef enum { RLHF_KL_K1 = 0, RLHF_KL_K3 = 1 } RlhfKl;
/* per-token KL estimates kl [n] from logp (policy) and logq (reference) [n] */
void kl_forward(float *kl, const float *logp, const float *logq, RlhfKl kind, size_t n);
/* d kl_t / d logp_t:  k1: 1;  k3: 1 − q/p   (dlogp += dkl ⊙ that) */
void kl_backward(float *dlogp, const float *dkl, const float *logp, const float *logq, RlhfKl kind, size_t n);

/* Leave-one-out advantages: adv [G*k] from rewards [G*k], groups of k consecutive samples:
 * A_i = R_i − (Σ_{j in group} R_j − R_i)/(k−1). whiten: then (A − mean)/(std + 1e-8) over
 * all G*k (a single rank's batch; see rloo_whiten for the distributed version). */
void rloo_advantages(float *adv, const float *rewards, int G, int k, int whiten);
/* GRPO's group-normalised advantages (Shao et al. 2024, DeepSeekMath): adv [G*k] from
 * rewards [G*k], groups of k consecutive samples, each with its own statistics:
 * A_i = (R_i − mean_g) / (std_g + 1e-4), std_g the sample standard deviation of the group
 * (k − 1 in the denominator, as TRL's GRPOTrainer). */
void grpo_advantages(float *adv, const float *rewards, int G, int k);
/* adv ← (adv − mean)/(std + 1e-8) with the mean and (population) std given */
void rloo_whiten(float *adv, size_t n, double mean, double std);

/* Clipped policy loss over n tokens: logp [n] current policy, logp_old [n] at sampling time,
 * adv [n] the advantage of each token's sequence, mask [n] (0 = not a response token).
 * Returns Σ_t mask_t · −min(ρ_t A_t, clip(ρ_t) A_t) (double). *clipped (if not NULL) gets
 * the number of masked-in tokens whose gradient is cut by the clip. */
double policy_loss_forward(const float *logp, const float *logp_old, const float *adv, const unsigned char *mask,
                           float clip, size_t n, size_t *clipped);
/* forward: ℓ_t = −min(ρ_t A_t, clip(ρ_t, 1−ε, 1+ε) A_t), ρ_t = exp(logp_t − logp_old_t),
 *          loss = scale · Σ_t mask_t ℓ_t
 * The minimum is the clipped term exactly when A > 0 and ρ > 1+ε, or A < 0 and ρ < 1−ε; then
 * the gradient is 0, else ∂ℓ_t/∂logp_t = −ρ_t A_t. Writes (not accumulates, since it is a
 * row weight for griffin_backward_weighted) w_t = ∂loss/∂nll_t = scale · mask_t · ρ_t A_t
 * (or 0 where clipped), nll_t = −logp_t. */
void policy_loss_weights(float *w, const float *logp, const float *logp_old, const float *adv, const unsigned char *mask,
                         float clip, float scale, size_t n);

/* Entropy of a softmax row from logits z [V] and their log-sum-exp: H = lse − Σ p_i z_i */
double softmax_entropy(const float *z, float lse, int V);

#endif
