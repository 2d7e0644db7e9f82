#!/usr/bin/python3
"""Independent check of `griffin eval --tasks` scores against the float64 PyTorch reference.

usage: task_check.py EXPORT_DIR TASKS.jsonl PER_EXAMPLE.jsonl TOKENIZER.model EVAL_LOG [--tol 1e-5]

EXPORT_DIR is `griffin export --format hf --dtype fp32` of the checkpoint that was evaluated;
its tensors are mapped back to the official names (hf_check.to_official) and run through
griffin_ref.forward. The requests are rebuilt here from the task file alone, following
lm-evaluation-harness: continuation = target_delimiter + choice (partial scoring: each context
with the one continuation); trailing whitespace of the context moves to the continuation;
whole = encode(context + continuation), ctx = encode(context), continuation tokens =
whole[len(ctx):]; the sequence is <bos> ctx cont and the score is the sum of the continuation
tokens' log-probabilities. Token ids come from SentencePiece's own command-line encoder
(spm_encode), not from griffin: a line of text at a time, so text with "\\n" is encoded piece by
piece around the "\\n" user symbol (id 6 in the project's tokenizers, which never merge across it).

Checked: every choice's score (|c - r| <= tol * max(1, |r|)), its greedy flag, the predictions
pred / pred_norm (score / characters) / pred_bytes (score / UTF-8 bytes), and the acc, acc_norm,
acc_bytes lines of the eval's log with their standard errors (sample standard deviation / sqrt(n),
as the harness's mean_stderr). Exit 0 all pass, 1 a mismatch.
"""

import argparse
import json
import math
import os
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import griffin_ref  # noqa: E402
import hf_check  # noqa: E402

BOS, NEWLINE = 2, 6


def spm_encode_all(model, texts):
    """ids of every text (one spm_encode run; texts split at "\\n")"""
    lines, spans = [], []
    for t in texts:
        parts = t.split("\n")
        spans.append((len(lines), len(parts)))
        lines += parts
    out = subprocess.run(["spm_encode", "--model=" + model, "--output_format=id"], input="\n".join(lines) + "\n",
                         capture_output=True, text=True, check=True).stdout.split("\n")
    ids = [[int(x) for x in line.split()] for line in out[:len(lines)]]
    result = []
    for start, n in spans:
        seq = []
        for k in range(n):
            if k:
                seq.append(NEWLINE)
            seq += ids[start + k]
        result.append(seq)
    return result


def requests(ex):
    """(context, continuation, choice text for the lengths) per choice, as the harness builds them"""
    delim = ex.get("target_delimiter", ex.get("_delim", " "))
    if "contexts" in ex:
        return [(c, delim + ex["continuation"], ex["continuation"]) for c in ex["contexts"]]
    return [(ex["context"], delim + ch, ch) for ch in ex["choices"]]


def split_pair(ctx, cont):
    n = len(ctx) - len(ctx.rstrip())
    if n:
        cont = ctx[-n:] + cont
        ctx = ctx[:-n]
    return ctx, ctx + cont


def load_examples(path):
    header, exs = {}, []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            o = json.loads(line)
            if "task" in o:
                header = o
                continue
            if "target_delimiter" not in o and "target_delimiter" in header:
                o["_delim"] = header["target_delimiter"]
            exs.append(o)
    return exs


def ref_scores(cfg, params, exs, model):
    """[[(score, greedy)] per choice] per example"""
    texts = []
    for ex in exs:
        for ctx, cont, _ in requests(ex):
            c, whole = split_pair(ctx, cont)
            texts += [c, whole]
    ids = spm_encode_all(model, texts)
    out, k = [], 0
    for ex in exs:
        row = []
        for _ in requests(ex):
            c, whole = ids[k], ids[k + 1]
            k += 2
            cont = whole[len(c):]
            seq = [BOS] + c + cont
            T = len(seq)
            with torch.no_grad():
                lg = griffin_ref.forward(cfg, params, torch.tensor([seq]), torch.arange(T)[None])[0]
                lp = torch.log_softmax(lg, dim=-1)
            s, greedy = 0.0, True
            for t in range(len(c), T - 1):   # position t predicts seq[t + 1], a continuation token
                s += float(lp[t, seq[t + 1]])
                greedy &= int(torch.argmax(lp[t])) == seq[t + 1]
            row.append((s, greedy))
        out.append(row)
    return out


def first_argmax(v):
    return int(np.argmax(np.array(v)))


def mean_stderr(xs):
    n = len(xs)
    if n < 2:
        return 0.0
    mu = sum(xs) / n
    return math.sqrt(sum((x - mu) ** 2 for x in xs) / (n - 1) / n)


def log_metrics(path):
    m = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.partition(": ")
            if k in ("acc", "acc_norm", "acc_bytes"):
                parts = v.replace("(", " ").replace(")", " ").split()
                m[k] = (float(parts[0]), float(parts[2]))
    return m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("export_dir")
    ap.add_argument("tasks")
    ap.add_argument("per_example")
    ap.add_argument("tokenizer")
    ap.add_argument("eval_log")
    ap.add_argument("--tol", type=float, default=1e-5)
    a = ap.parse_args()
    with open(os.path.join(a.export_dir, "config.json")) as f:
        hcfg = json.load(f)
    w = hf_check.read_weights(a.export_dir)
    w.pop("lm_head.weight", None)
    cfg, params = hf_check.ref_config(hcfg), hf_check.to_official(hcfg, w)
    exs = load_examples(a.tasks)
    with open(a.per_example) as f:
        ours = [json.loads(line) for line in f if line.strip()]
    if len(ours) != len(exs):
        print("FAIL %d per-example lines for %d examples" % (len(ours), len(exs)))
        return 1
    ref = ref_scores(cfg, params, exs, a.tokenizer)
    worst, bad, acc = 0.0, 0, {"acc": [], "acc_norm": [], "acc_bytes": []}
    for ex, o, r in zip(exs, ours, ref):
        rs = [s for s, _ in r]
        for j, (s, g) in enumerate(r):
            c = o["scores"][j]
            err = abs(c - s) / max(1.0, abs(s))
            worst = max(worst, err)
            if err > a.tol or bool(o["greedy"][j]) != g:
                print("FAIL example %d choice %d: ours %.9g greedy %s, reference %.9g greedy %s"
                      % (o["example"], j, c, o["greedy"][j], s, g))
                bad += 1
        chars = [len(t) for _, _, t in requests(ex)]
        nbytes = [len(t.encode("utf-8")) for _, _, t in requests(ex)]
        pred = (first_argmax(rs), first_argmax([s / n for s, n in zip(rs, chars)]),
                first_argmax([s / n for s, n in zip(rs, nbytes)]))
        if pred != (o["pred"], o["pred_norm"], o["pred_bytes"]):
            print("FAIL example %d: predictions %s, reference %s" % (o["example"], (o["pred"], o["pred_norm"], o["pred_bytes"]), pred))
            bad += 1
        for k, p in zip(("acc", "acc_norm", "acc_bytes"), pred):
            acc[k].append(1.0 if p == ex["label"] else 0.0)
    logged = log_metrics(a.eval_log)
    for k, xs in acc.items():
        want = (sum(xs) / len(xs), mean_stderr(xs))
        got = logged.get(k)
        if got is None or abs(got[0] - want[0]) > 6e-5 or abs(got[1] - want[1]) > 6e-5:
            print("FAIL %s: log says %s, reference %.4f (stderr %.4f)" % (k, got, want[0], want[1]))
            bad += 1
    n_req = sum(len(r) for r in ref)
    print("%d examples, %d choices: worst score difference %.3g (relative to max(1, |score|), tol %g); "
          "acc %.4f acc_norm %.4f acc_bytes %.4f as the reference" % (len(exs), n_req, worst, a.tol,
          sum(acc["acc"]) / len(exs), sum(acc["acc_norm"]) / len(exs), sum(acc["acc_bytes"]) / len(exs)))
    print("PASS" if bad == 0 else "FAIL")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
