/* Direct preference optimisation: the DPO family of losses on preference pairs, as a
 * forward/backward pair in the style of model/ (backward ACCUMULATES, +=).
 *
 * Legend (rlhf.h) plus: a batch of M pairs is 2M sequences, chosen ones [0, M) and rejected
 * ones [M, 2M) (the row layout of rm_pack_pair). Per sequence s:
 *   lp_s = Σ_{reply tokens} log π(y_t | …)      (the policy; reply = the model turn and its
 *   lq_s = Σ_{reply tokens} log π_ref(y_t | …)   closing <end_of_turn>)
 *   n_s  = its reply tokens (> 0)
 * For pair m (c = m, r = M + m), with β > 0 and ε the label smoothing:
 *   h  = (lp_c − lq_c) − (lp_r − lq_r)                      log-ratio difference
 *   h̄  = (lp_c − lq_c)/n_c − (lp_r − lq_r)/n_r             the same per reply token
 *   sigmoid (Rafailov et al. 2023; ε: cDPO)  ℓ = −(1−ε) log σ(βh) − ε log σ(−βh)
 *   robust  (Chowdhury et al. 2024)          ℓ = [−(1−ε) log σ(βh) + ε log σ(−βh)] / (1−2ε)
 *   ipo     (Azar et al. 2023)               ℓ = (h̄ − 1/(2β))²
 *   hinge   (SLiC, Zhao et al. 2023)         ℓ = max(0, 1 − βh)
 *   simpo   (Meng et al. 2024, no reference) ℓ = −(1−ε) log σ(z) − ε log σ(−z),
 *                                             z = β (lp_c/n_c − lp_r/n_r) − γ
 *   plus, for every kind, the NLL of the chosen reply per token (RPO, Pang et al. 2024):
 *                                             ℓ += λ · (−lp_c / n_c)
 * Implicit rewards (the metrics): ρ_s = β (lp_s − lq_s); simpo: ρ_s = β lp_s / n_s.
 * Since lp_s = −Σ_t nll_t, the model's gradient is the weighted NLL backward with the row
 * weight −∂L/∂lp_s on every reply token of sequence s. */
#ifndef GRIFFIN_DPO_H
#define GRIFFIN_DPO_H

typedef enum { DPO_SIGMOID = 0, DPO_ROBUST = 1, DPO_IPO = 2, DPO_HINGE = 3, DPO_SIMPO = 4 } DpoKind;

typedef struct {
    DpoKind kind;
    double beta;      /* > 0 */
    double eps;       /* label smoothing ε in [0, 0.5) (sigmoid, robust, simpo) */
    double gamma;     /* simpo's target margin γ */
    double sft;       /* λ: weight of the chosen reply's per-token NLL */
} DpoLoss;

/* "sigmoid|robust|ipo|hinge|simpo" in DpoKind order (the config's choices) */
#define DPO_KIND_NAMES "sigmoid|robust|ipo|hinge|simpo"
/* 1 if the kind reads the reference's log-probabilities (all but simpo) */
int dpo_uses_reference(DpoKind kind);

/* Σ_m ℓ_m over M pairs.   lp, lq [2M] summed log-probabilities (lq unread by simpo; may be
 * NULL then), n [2M] reply tokens */
double dpo_loss_forward(const DpoLoss *L, const double *lp, const double *lq, const int *n, int M);
/* forward: loss = scale · Σ_m ℓ_m(lp_c, lp_r)  ⇒  dlp [2M] += scale · ∂ℓ_m/∂lp_{c,r}:
 *   sigmoid, robust, hinge: ∂ℓ/∂lp_c = ℓ'(h), ∂ℓ/∂lp_r = −ℓ'(h), with
 *     sigmoid ℓ'(h) = β [−(1−ε) σ(−βh) + ε σ(βh)];  robust ℓ'(h) = −β [(1−ε) σ(−βh) + ε σ(βh)] / (1−2ε);
 *     hinge ℓ'(h) = −β where 1 − βh > 0, else 0;
 *   ipo: ∂ℓ/∂lp_c = 2 (h̄ − 1/(2β)) / n_c,  ∂ℓ/∂lp_r = −2 (h̄ − 1/(2β)) / n_r;
 *   simpo: ℓ'(z) = −(1−ε) σ(−z) + ε σ(z), ∂ℓ/∂lp_c = ℓ'(z) β / n_c, ∂ℓ/∂lp_r = −ℓ'(z) β / n_r;
 *   the NLL term adds −λ / n_c to ∂ℓ/∂lp_c. */
void dpo_loss_backward(double *dlp, const DpoLoss *L, const double *lp, const double *lq, const int *n, double scale,
                       int M);
/* implicit rewards ρ [2M] (see above) */
void dpo_rewards(double *rho, const DpoLoss *L, const double *lp, const double *lq, const int *n, int M);

#endif
