/* Logit soft cap and masked cross-entropy (docs/architecture.md §3, §12).
 * Pitfall 2: the cap c·tanh(z/c) comes before softmax, loss and sampling, and its derivative
 * is part of backward. Pitfall 21: the loss is the mean over unmasked targets. */

#include "layers.h"
#include "vmath.h"

/* logits [n] in place: ℓ = cap · tanh(z / cap); cap == 0 leaves them unchanged */
void softcap_forward(float *logits, float cap, size_t n) {
    if (cap == 0.0f) return;
    vm_softcap(logits, cap, n);
}

/* forward: ℓ = c tanh(z/c)  ⇒  dz = dℓ (1 − (ℓ/c)²)   (in place on dlogits; from the capped ℓ) */
void softcap_backward(float *dlogits, const float *capped, float cap, size_t n) {
    if (cap == 0.0f) return;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float r = capped[i] / cap;
        dlogits[i] *= 1.0f - r * r;
    }
}

/* logits [N,V], targets [N], mask [N] (NULL = all 1) -> lse [N] saved;
 * returns Σ_{n: mask} (lse_n − logits[n, target_n]) in double */
double crossentropy_forward(float *lse, const float *logits, const int *targets, const uint8_t *mask,
                            int N, int V) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        lse[n] = vm_logsumexp(logits + (size_t)n * V, (size_t)V);
    }
    double total = 0.0; /* summed in row order: independent of the thread count */
    for (int n = 0; n < N; n++)
        if (!mask || mask[n]) total += (double)(lse[n] - logits[(size_t)n * V + targets[n]]);
    return total;
}

/* forward: loss = Σ_n weight_n · (lse_n − ℓ[n, target_n])
 *   dlogits[n, i] += weight_n · (softmax(ℓ_n)_i − [i == target_n])   (rows of weight 0 skipped) */
void crossentropy_backward(float *dlogits, const float *logits, const float *lse, const int *targets,
                           const float *weight, int N, int V) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        float w = weight[n];
        if (w == 0.0f) continue;
        const float *row = logits + (size_t)n * V;
        float *d = dlogits + (size_t)n * V;
        vm_add_scaled_exp(d, row, lse[n], w, (size_t)V);
        d[targets[n]] -= w;
    }
}
