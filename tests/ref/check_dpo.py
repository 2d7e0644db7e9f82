#!/usr/bin/python3
"""The DPO-family losses of rlhf/dpo.c against an independent float64 PyTorch computation.

usage: check_dpo.py DUMP.json   (written by `test_dpo --dump DUMP.json`)

Each case gives per-sequence summed log-probabilities of the policy (logp) and the reference
(logp_ref) and reply-token counts (tokens) for M pairs: chosen sequences [0, M), rejected
[M, 2M). The losses are written here from the published definitions (as TRL's
DPOTrainer.dpo_loss states them), summed over pairs, and their gradients in logp taken by
autograd; both are compared with the C values. Exit status 0 when every case agrees.
"""
import json
import sys

import torch
import torch.nn.functional as F


def loss(case, lp):
    m = case["pairs"]
    lq = torch.tensor(case["logp_ref"], dtype=torch.float64)
    n = torch.tensor(case["tokens"], dtype=torch.float64)
    beta, eps, gamma, lam = case["beta"], case["label_smoothing"], case["gamma"], case["sft_weight"]
    pc, pr, qc, qr, nc, nr = lp[:m], lp[m:], lq[:m], lq[m:], n[:m], n[m:]
    logits = (pc - pr) - (qc - qr)  # pi log-ratio minus reference log-ratio
    kind = case["loss"]
    if kind == "sigmoid":
        per = -F.logsigmoid(beta * logits) * (1 - eps) - F.logsigmoid(-beta * logits) * eps
    elif kind == "robust":
        per = (-F.logsigmoid(beta * logits) * (1 - eps) + F.logsigmoid(-beta * logits) * eps) / (1 - 2 * eps)
    elif kind == "ipo":
        avg = (pc / nc - pr / nr) - (qc / nc - qr / nr)
        per = (avg - 1 / (2 * beta)) ** 2
    elif kind == "hinge":
        per = torch.relu(1 - beta * logits)
    elif kind == "simpo":
        z = beta * (pc / nc - pr / nr) - gamma
        per = -F.logsigmoid(z) * (1 - eps) - F.logsigmoid(-z) * eps
    else:
        raise ValueError(kind)
    nll = -pc / nc
    return (per + lam * nll).sum()


def main():
    dump = json.load(open(sys.argv[1]))
    bad = 0
    for case in dump["cases"]:
        case["pairs"] = dump["pairs"]
        lp = torch.tensor(case["logp"], dtype=torch.float64, requires_grad=True)
        value = loss(case, lp)
        value.backward()
        dv = abs(value.item() - case["value"]) / (1e-12 + abs(value.item()))
        dg = (lp.grad - torch.tensor(case["grad"], dtype=torch.float64)).abs().max().item()
        dg /= 1e-12 + lp.grad.abs().max().item()
        ok = dv < 1e-12 and dg < 1e-12
        bad += not ok
        print(f"{case['loss']:8s} beta {case['beta']:.2f} eps {case['label_smoothing']:.2f} gamma {case['gamma']:.1f} "
              f"sft {case['sft_weight']:.1f}: loss C {case['value']:+.12f} torch {value.item():+.12f} "
              f"(rel {dv:.1e}), grad rel {dg:.1e} {'ok' if ok else 'FAIL'}")
    print("all DPO losses agree with PyTorch" if not bad else f"FAILED: {bad} case(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
