/* KL estimators, leave-one-out and GRPO advantages, the clipped policy loss and entropy (see rlhf.h).
 * References: J. Schulman, "Approximating KL divergence" (k1, k3); Ahmadian et al. 2024,
 * "Back to basics: REINFORCE style optimization for RLHF" (RLOO); Schulman et al. 2017 (PPO
 * clipped ratio). Pitfalls: the KL in the reward is a constant for the update (no gradient
 * through it); the clip zeroes the gradient only on the side where it binds (A > 0, ρ > 1+ε or
 * A < 0, ρ < 1−ε), so the minimum, not the clipped ratio, decides. */
#include "rlhf.h"

#include <math.h>

void kl_forward(float *kl, const float *logp, const float *logq, RlhfKl kind, size_t n) {
    /* kl, logp, logq [n] */
    for (size_t i = 0; i < n; i++) {
        double d = (double)logq[i] - (double)logp[i]; /* log(q/p) */
        kl[i] = kind == RLHF_KL_K1 ? (float)-d : (float)(expm1(d) - d);
    }
}

void kl_backward(float *dlogp, const float *dkl, const float *logp, const float *logq, RlhfKl kind, size_t n) {
    /* forward: k1 = logp − logq;  k3 = e^{logq−logp} − 1 − (logq − logp)
     *   dk1/dlogp = 1;  dk3/dlogp = −e^{logq−logp} + 1 */
    for (size_t i = 0; i < n; i++) {
        double g = kind == RLHF_KL_K1 ? 1.0 : -expm1((double)logq[i] - (double)logp[i]);
        dlogp[i] += (float)((double)dkl[i] * g);
    }
}

void rloo_advantages(float *adv, const float *rewards, int G, int k, int whiten) {
    /* adv, rewards [G*k] */
    for (int g = 0; g < G; g++) {
        const float *r = rewards + (size_t)g * k;
        double sum = 0.0;
        for (int i = 0; i < k; i++) sum += (double)r[i];
        for (int i = 0; i < k; i++) adv[(size_t)g * k + i] = (float)((double)r[i] - (sum - (double)r[i]) / (k - 1));
    }
    if (!whiten) return;
    size_t n = (size_t)G * k;
    double mean = 0.0, var = 0.0;
    for (size_t i = 0; i < n; i++) mean += (double)adv[i];
    mean /= (double)n;
    for (size_t i = 0; i < n; i++) var += ((double)adv[i] - mean) * ((double)adv[i] - mean);
    rloo_whiten(adv, n, mean, sqrt(var / (double)n));
}

void grpo_advantages(float *adv, const float *rewards, int G, int k) {
    /* adv, rewards [G*k]: A_i = (R_i − mean) / (std + 1e-4) within each group of k */
    for (int g = 0; g < G; g++) {
        const float *r = rewards + (size_t)g * k;
        double mean = 0.0, var = 0.0;
        for (int i = 0; i < k; i++) mean += (double)r[i];
        mean /= k;
        for (int i = 0; i < k; i++) var += ((double)r[i] - mean) * ((double)r[i] - mean);
        double std = sqrt(var / (k - 1));
        for (int i = 0; i < k; i++) adv[(size_t)g * k + i] = (float)(((double)r[i] - mean) / (std + 1e-4));
    }
}

void rloo_whiten(float *adv, size_t n, double mean, double std) {
    for (size_t i = 0; i < n; i++) adv[i] = (float)(((double)adv[i] - mean) / (std + 1e-8));
}

/* 1 when the clipped term is the minimum and cuts the gradient */
static int clip_binds(double ratio, double a, double eps) {
    return (a > 0 && ratio > 1.0 + eps) || (a < 0 && ratio < 1.0 - eps);
}

double policy_loss_forward(const float *logp, const float *logp_old, const float *adv, const unsigned char *mask,
                           float clip, size_t n, size_t *clipped) {
    double total = 0.0, eps = clip;
    size_t nc = 0;
    for (size_t t = 0; t < n; t++) {
        if (mask && !mask[t]) continue;
        double ratio = exp((double)logp[t] - (double)logp_old[t]), a = adv[t];
        double rc = ratio < 1.0 - eps ? 1.0 - eps : ratio > 1.0 + eps ? 1.0 + eps : ratio;
        double u = ratio * a, c = rc * a;
        total += -(u < c ? u : c);
        nc += clip_binds(ratio, a, eps);
    }
    if (clipped) *clipped = nc;
    return total;
}

void policy_loss_weights(float *w, const float *logp, const float *logp_old, const float *adv, const unsigned char *mask,
                         float clip, float scale, size_t n) {
    /* forward: ℓ_t = −min(ρ_t A_t, clip(ρ_t) A_t);  ∂ℓ/∂logp = −ρA (unclipped) ⇒ ∂ℓ/∂nll = ρA */
    for (size_t t = 0; t < n; t++) {
        w[t] = 0.0f;
        if (mask && !mask[t]) continue;
        double ratio = exp((double)logp[t] - (double)logp_old[t]), a = adv[t];
        if (clip_binds(ratio, a, clip)) continue;
        w[t] = (float)((double)scale * ratio * a);
    }
}

double softmax_entropy(const float *z, float lse, int V) {
    double s = 0.0;
    for (int i = 0; i < V; i++) {
        double p = exp((double)z[i] - (double)lse);
        s += p * (double)z[i];
    }
    return (double)lse - s;
}
