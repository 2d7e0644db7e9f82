#!/usr/bin/env python3
"""Renders the metrics.jsonl of one or more runs as PNG curves: training loss per step and
held-out loss per validation group, one panel per run (e.g. per stage of the demo).

usage: scripts/plot_metrics.py OUT.png RUN_DIR[:LABEL] [RUN_DIR[:LABEL] ...]"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load(run):
    train, evals = {}, {}
    path = os.path.join(run, "metrics.jsonl")
    for line in open(path):
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by an interrupted run
        if "loss" in r and "step" in r:
            train[r["step"]] = r["loss"]  # the last line of a step wins (resumed runs)
        elif "val_loss" in r:
            evals.setdefault(r.get("group", "valid"), {})[r["step"]] = r["val_loss"]
    return train, evals


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out, runs = sys.argv[1], sys.argv[2:]
    fig, axes = plt.subplots(1, len(runs), figsize=(6 * len(runs), 4.2), squeeze=False)
    for ax, spec in zip(axes[0], runs):
        run, _, label = spec.partition(":")
        train, evals = load(run)
        if train:
            xs = sorted(train)
            ax.plot(xs, [train[x] for x in xs], lw=1, alpha=0.8, label="train")
        for group, pts in sorted(evals.items()):
            xs = sorted(pts)
            ax.plot(xs, [pts[x] for x in xs], "o-", lw=1.5, label=f"held-out: {group}")
        ax.set_title(label or os.path.basename(run.rstrip("/")))
        ax.set_xlabel("step")
        ax.set_ylabel("loss (nats/token)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
