/* DPO-family losses (see dpo.h). References: Rafailov et al. 2023 (DPO), Mitchell 2023 (cDPO:
 * label smoothing), Chowdhury et al. 2024 (robust DPO), Azar et al. 2023 (IPO), Zhao et al.
 * 2023 (SLiC hinge), Meng et al. 2024 (SimPO), Pang et al. 2024 (RPO: the NLL term), as TRL's
 * DPOTrainer.dpo_loss implements them. Pitfalls: IPO and SimPO take log-probabilities
 * averaged per reply token, the others summed; robust *adds* ε log σ(−βh) (cDPO subtracts
 * it) and divides by 1 − 2ε; hinge's gradient is 0 past the margin. */
#include "dpo.h"

#include <math.h>
#include <stddef.h>

#include "rlhf.h"

int dpo_uses_reference(DpoKind kind) { return kind != DPO_SIMPO; }

/* −(1−ε) log σ(z) − ε log σ(−z) and its derivative in z */
static double smoothed_nll(double z, double eps) { return (1 - eps) * rlhf_softplus(-z) + eps * rlhf_softplus(z); }
static double smoothed_nll_dz(double z, double eps) { return -(1 - eps) * rlhf_sigmoid(-z) + eps * rlhf_sigmoid(z); }

/* the pair's loss ℓ (without the NLL term) and dℓ/dlp_c, dℓ/dlp_r */
static double pair_loss(const DpoLoss *L, double pc, double pr, double qc, double qr, int nc, int nr, double *dc,
                        double *dr) {
    double b = L->beta, e = L->eps, h = (pc - qc) - (pr - qr), g;
    switch (L->kind) {
    case DPO_SIGMOID:
        g = b * smoothed_nll_dz(b * h, e);
        *dc = g, *dr = -g;
        return smoothed_nll(b * h, e);
    case DPO_ROBUST:
        g = -b * ((1 - e) * rlhf_sigmoid(-b * h) + e * rlhf_sigmoid(b * h)) / (1 - 2 * e);
        *dc = g, *dr = -g;
        return ((1 - e) * rlhf_softplus(-b * h) - e * rlhf_softplus(b * h)) / (1 - 2 * e);
    case DPO_IPO: {
        double u = (pc - qc) / nc - (pr - qr) / nr - 1 / (2 * b);
        *dc = 2 * u / nc, *dr = -2 * u / nr;
        return u * u;
    }
    case DPO_HINGE:
        g = 1 - b * h > 0 ? -b : 0.0;
        *dc = g, *dr = -g;
        return 1 - b * h > 0 ? 1 - b * h : 0.0;
    case DPO_SIMPO: {
        double z = b * (pc / nc - pr / nr) - L->gamma;
        g = smoothed_nll_dz(z, e);
        *dc = g * b / nc, *dr = -g * b / nr;
        return smoothed_nll(z, e);
    }
    }
    *dc = *dr = 0;
    return 0;
}

double dpo_loss_forward(const DpoLoss *L, const double *lp, const double *lq, const int *n, int M) {
    /* lp, lq, n [2M]: chosen [0, M), rejected [M, 2M) */
    int ref = dpo_uses_reference(L->kind);
    double total = 0, dc, dr;
    for (int m = 0; m < M; m++) {
        double qc = ref ? lq[m] : 0, qr = ref ? lq[M + m] : 0;
        total += pair_loss(L, lp[m], lp[M + m], qc, qr, n[m], n[M + m], &dc, &dr);
        total += L->sft * (-lp[m] / n[m]);
    }
    return total;
}

void dpo_loss_backward(double *dlp, const DpoLoss *L, const double *lp, const double *lq, const int *n, double scale,
                       int M) {
    /* forward: loss = scale · Σ_m [ℓ_m(lp_c, lp_r) + λ (−lp_c / n_c)] */
    int ref = dpo_uses_reference(L->kind);
    double dc, dr;
    for (int m = 0; m < M; m++) {
        double qc = ref ? lq[m] : 0, qr = ref ? lq[M + m] : 0;
        pair_loss(L, lp[m], lp[M + m], qc, qr, n[m], n[M + m], &dc, &dr);
        dlp[m] += scale * (dc - L->sft / n[m]);
        dlp[M + m] += scale * dr;
    }
}

void dpo_rewards(double *rho, const DpoLoss *L, const double *lp, const double *lq, const int *n, int M) {
    /* ρ_s = β (lp_s − lq_s);  simpo: β lp_s / n_s */
    for (int s = 0; s < 2 * M; s++)
        rho[s] = L->kind == DPO_SIMPO ? L->beta * lp[s] / n[s] : L->beta * (lp[s] - lq[s]);
}
