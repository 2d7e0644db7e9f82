#!/usr/bin/env python3
"""Draws the CSV of `griffin bench sample` as a PNG: generation throughput and state/cache
memory against generation length (Griffin vs a global-attention MQA Transformer, per batch
size), and prefill throughput against prompt length.

usage: scripts/plot_bench.py bench_sample.csv [out.png]"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    src = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else src.rsplit(".", 1)[0] + ".png"
    rows = list(csv.DictReader(open(src)))
    if not rows:
        sys.exit(f"{src}: no rows")
    fig, ax = plt.subplots(1, 3, figsize=(16, 4.6))
    decode = [r for r in rows if r["kind"] == "decode"]
    for fam in sorted({r["family"] for r in decode}):
        for b in sorted({int(r["batch"]) for r in decode}):
            sel = [r for r in decode if r["family"] == fam and int(r["batch"]) == b]
            x = [int(r["length"]) for r in sel]
            style = "-o" if fam == "griffin" else "--s"
            ax[0].plot(x, [float(r["tokens_per_s"]) for r in sel], style, label=f"{fam}, batch {b}")
            ax[1].plot(x, [float(r["state_bytes"]) / 1e6 for r in sel], style, label=f"{fam}, batch {b}")
    pre = [r for r in rows if r["kind"] == "prefill"]
    for fam in sorted({r["family"] for r in pre}):
        sel = [r for r in pre if r["family"] == fam]
        ax[2].plot([int(r["length"]) for r in sel], [float(r["tokens_per_s"]) for r in sel],
                   "-o" if fam == "griffin" else "--s", label=fam)
    titles = ["generation throughput", "state / KV-cache memory", "prefill throughput"]
    ylabels = ["tokens/s (all sequences)", "MB", "prompt tokens/s"]
    xlabels = ["tokens generated after the prompt", "tokens generated after the prompt", "prompt length"]
    for a, t, yl, xl in zip(ax, titles, ylabels, xlabels):
        a.set_xscale("log", base=2)
        a.set_title(t)
        a.set_xlabel(xl)
        a.set_ylabel(yl)
        a.grid(alpha=0.3)
        a.legend(fontsize=8)
    ax[1].set_yscale("log")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
