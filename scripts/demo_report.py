#!/usr/bin/env python3
"""Helpers of scripts/demo.sh.

  demo_report.py prompts DATA_DIR   five held-out chat prompts (one per line) from the data
  demo_report.py report RUN_DIR     report.md of a demo run: a table per stage, evaluations,
                                    the same prompts answered by each model, the plots"""
import json
import os
import re
import sys


def prompts(data):
    out = []
    for name in ("wordnet_sft", "faq_sft", "foldoc_sft", "man_sft"):
        path = os.path.join(data, "jsonl", f"{name}.heldout.jsonl")
        if not os.path.exists(path):
            continue
        for line in open(path):
            msgs = json.loads(line)["messages"]
            q = next(m["content"] for m in msgs if m["role"] == "user").replace("\n", " ").strip()
            if len(q) < 200:
                out.append(q)
            if len(out) >= (3 if name == "wordnet_sft" else 5):
                break
        if len(out) >= 5:
            break
    print("\n".join(out[:5]))


def metrics(run):
    train, evals, shares = {}, {}, {}
    path = os.path.join(run, "metrics.jsonl")
    if not os.path.exists(path):
        return train, evals, shares
    for line in open(path):
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "loss" in r and "step" in r:
            train[r["step"]] = r
        elif "val_loss" in r:
            evals.setdefault(r.get("group", "valid"), {})[r["step"]] = r
        elif "shares" in r:
            shares[r["stage_done"]] = r["shares"]
    return train, evals, shares


def stage_table(title, run):
    train, evals, shares = metrics(run)
    if not train:
        return f"## {title}\n\n(no metrics)\n"
    steps = sorted(train)
    first, last = train[steps[0]], train[steps[-1]]
    tps = [train[s].get("tokens_per_s", 0) for s in steps[len(steps) // 2:]]
    lines = [f"## {title}", "", "| | first | last |", "|---|---:|---:|",
             f"| training loss (step {steps[0]} / {steps[-1]}) | {first['loss']:.4f} | {last['loss']:.4f} |"]
    for g, pts in sorted(evals.items()):
        s0, s1 = min(pts), max(pts)
        lines.append(f"| held-out loss, {g} (step {s0} / {s1}) | {pts[s0]['val_loss']:.4f} | {pts[s1]['val_loss']:.4f} |")
        lines.append(f"| held-out bits per byte, {g} | {pts[s0]['val_bpb']:.4f} | {pts[s1]['val_bpb']:.4f} |")
    lines.append("")
    lines.append(f"Throughput: {sorted(tps)[len(tps) // 2]:.0f} tokens/s (median of the second half); "
                 f"{last.get('tokens', 0):,} tokens trained.")
    for st, sh in sorted(shares.items()):
        lines.append(f"Stage {st} realised token shares: " + ", ".join(f"{k} {v:.1%}" for k, v in sh.items()) + ".")
    return "\n".join(lines) + "\n"


def parse_eval(path):
    """list of dicts, one per block of `griffin eval` output"""
    blocks, cur = [], {}
    for line in open(path):
        m = re.match(r"(\w+): (.*)", line.strip())
        if not m:
            continue
        k, v = m.groups()
        if k in ("corpus", "chat_prompts") and cur.get("kind"):
            blocks.append(cur)
            cur = {}
        if k in ("corpus", "chat_prompts"):
            cur["kind"] = k
            cur["name"] = os.path.basename(v)
        cur[k] = v
    if cur.get("kind"):
        blocks.append(cur)
    return blocks


def report(run):
    out = [f"# griffin.c demo: {os.path.basename(os.path.abspath(run))}", ""]
    out.append(stage_table("Pretraining (two mixture stages)", os.path.join(run, "pretrain")))
    out.append(stage_table("Instruction tuning", os.path.join(run, "sft")))
    evals = {m: parse_eval(os.path.join(run, f"eval_{m}.txt")) for m in ("base", "sft")
             if os.path.exists(os.path.join(run, f"eval_{m}.txt"))}
    if evals:
        out += ["## Held-out evaluation", "",
                "Each document from its first token; bits per byte from the corpora's UTF-8 byte counts "
                "(chat corpora: the model's turns only).", "",
                "| corpus | " + " | ".join(f"{m} loss | {m} bits/byte" for m in evals) + " |",
                "|---|" + "---:|---:|" * len(evals)]
        names = [b["name"] for b in next(iter(evals.values())) if b["kind"] == "corpus"]
        for n in names:
            row = [n]
            for m, blocks in evals.items():
                b = next((b for b in blocks if b.get("name") == n and b["kind"] == "corpus"), {})
                row += [b.get("loss", "-"), b.get("bits_per_byte", "-")]
            out.append("| " + " | ".join(row) + " |")
        out.append("")
        for m, blocks in evals.items():
            for b in blocks:
                if b["kind"] == "chat_prompts":
                    out.append(f"- {m}: {float(b['ended_with_end_of_turn']):.0%} of {b['prompts']} held-out chat "
                               f"prompts answered with a closing `<end_of_turn>` (mean {b['mean_answer_tokens']} tokens)")
        out.append("")
    prompts_path = os.path.join(run, "prompts.txt")
    if os.path.exists(prompts_path):
        qs = [l.rstrip("\n") for l in open(prompts_path) if l.strip()]
        answers = {}
        for m in ("base", "sft", "rlhf"):
            p = os.path.join(run, f"samples_{m}.txt")
            if os.path.exists(p):
                parts = re.split(r"^=== prompt \d+, sample \d+ ===\n", open(p).read(), flags=re.M)
                answers[m] = [a.strip() for a in parts if a.strip()]
        out += ["## The same held-out prompts, answered greedily", ""]
        for i, q in enumerate(qs):
            out.append(f"**{q}**")
            out.append("")
            for m, a in answers.items():
                text = a[i] if i < len(a) else "(none)"
                out.append(f"- *{m}*: {text}")
            out.append("")
    out += ["## Plots", "", "![loss curves](loss.png)", ""]
    print("\n".join(out))


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("prompts", "report"):
        sys.exit(__doc__)
    (prompts if sys.argv[1] == "prompts" else report)(sys.argv[2])
