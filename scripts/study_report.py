#!/usr/bin/env python3
"""The plan and the report of scripts/study_families.sh (Griffin vs Hawk vs Transformer).

  study_report.py plan --steps N --batch B --seq T [--vocab V] [--data DIR --heldout C1 C2 ..]
                  [--eval-docs N --long-docs N --long-corpora N]
                  -- "SIZE FAMILY WIDTH DEPTH HEADS MLP WINDOW EST_S_PER_STEP" ...
      prints the runs with their parameter counts (from the shapes of model/params.c), refuses a
      family more than 5% off griffin's count at the same size, and estimates the time.
  study_report.py report OUT --seq T --long-size SIZE --groups NAME:CORPUS ... -- RUN ...
      reads OUT/<size>-<family>/{log.txt,metrics.jsonl,seconds,eval.txt,long8.txt,long2.txt},
      prints report.md (markdown) and writes OUT/curves.png and OUT/length.png."""
import json
import math
import os
import re
import sys

FAMILIES = ("griffin", "hawk", "transformer")
COLOURS = {"griffin": "tab:blue", "hawk": "tab:green", "transformer": "tab:red"}


def parse_run(spec):
    f = spec.split()
    if len(f) != 8:
        sys.exit(f"study_report: bad run spec '{spec}' (size family width depth heads mlp window s_per_step)")
    return dict(size=f[0], family=f[1], width=int(f[2]), depth=int(f[3]), heads=int(f[4]), mlp=int(f[5]),
                window=int(f[6]), est=float(f[7]))


def param_count(r, vocab):
    """Parameters of a language model, as model/params.c lays them out (lru_width = width)."""
    D, E, F, H, L = r["width"], r["width"], r["mlp"], r["heads"], r["depth"]
    K = D // H
    n = vocab * D + D  # embedding (tied unembedding), final norm
    for layer in range(L):
        attention = r["family"] == "transformer" or (r["family"] == "griffin" and layer % 3 == 2)
        n += 2 * D  # the two pre-norms
        n += 3 * D * F + 2 * F + D  # gated MLP: up [2, D, F] + bias, down [D, F] + bias
        if attention:
            n += 2 * D * D + 2 * K * D + D  # q, final (+bias); MQA: one key and one value head
        else:
            n += 3 * D * E + D + 10 * E + 2 * E * E // H  # linear_x/y/out, conv, a_param, gates
    return n


def split_args(argv):
    if "--" not in argv:
        sys.exit("study_report: the run specs follow --")
    i = argv.index("--")
    return argv[:i], argv[i + 1:]


def options(args, names):
    out, key = {}, None
    for a in args:
        if a.startswith("--"):
            key = a[2:]
            out[key] = []
        elif key is None:
            out.setdefault("_", []).append(a)
        else:
            out[key].append(a)
    for n in names:
        if n not in out:
            sys.exit(f"study_report: --{n} is required")
    return out


def one(opts, k, default=None, cast=str):
    v = opts.get(k)
    return cast(v[0]) if v else default


def fmt_params(n):
    return f"{n / 1e6:.2f} M"


def check_match(runs, vocab):
    """Parameter count per run and its deviation from griffin's at the same size."""
    ref = {r["size"]: param_count(r, vocab) for r in runs if r["family"] == "griffin"}
    rows = []
    for r in runs:
        n = param_count(r, vocab)
        dev = n / ref[r["size"]] - 1 if r["size"] in ref else 0.0
        rows.append((r, n, dev))
    return rows


def cmd_plan(argv):
    args, specs = split_args(argv)
    o = options(args, ["steps", "batch", "seq"])
    steps, B, T = one(o, "steps", cast=int), one(o, "batch", cast=int), one(o, "seq", cast=int)
    vocab = one(o, "vocab", 8192, int)
    long_docs, long_corpora = one(o, "long-docs", 16, int), one(o, "long-corpora", 3, int)
    eval_docs = one(o, "eval-docs", 400, int)
    runs = [parse_run(s) for s in specs]
    tokens = steps * B * T
    print(f"study plan: {len(runs)} runs, each {steps} steps x {B} x {T} = {tokens:,} tokens, same data mixture, "
          f"seed, optimizer and schedule")
    print(f"{'size':<5}{'family':<13}{'width':>6}{'depth':>6}{'heads':>6}{'mlp':>6}{'window':>7}"
          f"{'parameters':>12}{'vs griffin':>11}{'est. min':>9}")
    # documents per held-out corpus, from the data's SUMMARY.md (evaluation batches hold B documents)
    ndocs = {}
    summary = os.path.join(one(o, "data", ""), "SUMMARY.md")
    if os.path.exists(summary):
        for line in open(summary):
            m = re.match(r"\| (\S+)\.heldout \| text \| (\d+) \|", line)
            if m:
                ndocs[m.group(1)] = int(m.group(2))
    batches = sum(math.ceil(min(eval_docs, ndocs.get(c, eval_docs)) / B) for c in o.get("heldout", ["?"] * 3))
    total, bad = 0.0, []
    for r, n, dev in check_match(runs, vocab):
        # training; one evaluation forward of B x T costs about half a step (measured); held-out
        # evaluation, the in-training evaluations (every 100 steps, 3 groups x 4 batches) and, for
        # the larger size, the long passes (8x and 2x; the transformer's global attention over up
        # to 8T keys makes its pass about 2.4x dearer per token, measured)
        train_s = steps * r["est"]
        fwd = 0.5 * r["est"]
        ev = batches * fwd + (steps // 100 + 2) * 3 * 4 * fwd
        if r["size"] == runs[-1]["size"]:
            ev += long_corpora * long_docs * 10 * T / (B * T) * fwd * (2.4 if r["family"] == "transformer" else 1.0)
        total += train_s + ev
        print(f"{r['size']:<5}{r['family']:<13}{r['width']:>6}{r['depth']:>6}{r['heads']:>6}{r['mlp']:>6}"
              f"{r['window']:>7}{n:>12,}{dev:>+10.2%}{(train_s + ev) / 60:>9.1f}")
        if abs(dev) > 0.05:
            bad.append(f"{r['size']} {r['family']}")
    print(f"estimated time on 2 idle cores: about {total / 60:.0f} min (per-step times measured with "
          f"`griffin bench train`; a loaded machine takes longer)")
    if bad:
        sys.exit(f"study: parameter counts differ by more than 5% from griffin's: {', '.join(bad)}")


# ---- report ------------------------------------------------------------------------------

def read_metrics(run):
    train, evals = {}, {}
    path = os.path.join(run, "metrics.jsonl")
    if not os.path.exists(path):
        return train, evals
    for line in open(path):
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "loss" in r and "step" in r and "tokens" in r:
            train[r["step"]] = (r["tokens"], r["loss"])
        elif "val_loss" in r:
            evals.setdefault(r.get("group", "valid"), {})[r["step"]] = (r["val_loss"], r.get("val_bpb"))
    return train, evals


def read_params(run):
    try:
        for line in open(os.path.join(run, "log.txt")):
            m = re.search(r"model: \S+, (\d+) parameters", line)
            if m:
                return int(m.group(1))
    except OSError:
        pass
    return None


def read_eval(path):
    """griffin eval output: {corpus: {key: value, 'buckets': [(lo, hi, loss, n)]}}"""
    out, cur = {}, None
    if not os.path.exists(path):
        return out
    for line in open(path):
        m = re.match(r"corpus: (.*)", line)
        if m:
            cur = out.setdefault(os.path.basename(m.group(1).strip()), {"buckets": []})
            continue
        if cur is None:
            continue
        m = re.match(r"\s+\[(\d+), (\d+)\): (\S+)\s+(\S+)", line)
        if m:
            cur["buckets"].append((int(m.group(1)), int(m.group(2)), float(m.group(3)), float(m.group(4))))
            continue
        m = re.match(r"(\w+): (\S+)$", line.strip())
        if m:
            try:
                cur[m.group(1)] = float(m.group(2))
            except ValueError:
                pass
    return out


def corpus_name(fname):
    return fname.split(".")[0]


def pooled(buckets_by_corpus):
    """Buckets summed over corpora (weighted by targets)."""
    acc = {}
    for buckets in buckets_by_corpus:
        for lo, hi, loss, n in buckets:
            a = acc.setdefault((lo, hi), [0.0, 0.0])
            a[0] += loss * n
            a[1] += n
    return [(lo, hi, s / n, n) for (lo, hi), (s, n) in sorted(acc.items()) if n > 0]


def mean_between(buckets, lo, hi):
    s = n = 0.0
    for a, b, loss, k in buckets:
        if a >= lo and b <= hi:
            s += loss * k
            n += k
    return s / n if n else float("nan")


def cell(x, digits=3):
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def cmd_report(argv):
    args, specs = split_args(argv)
    o = options(args, ["seq", "groups"])
    out = o["_"][0]
    T = one(o, "seq", cast=int)
    long_size = one(o, "long-size", "M")
    groups = [g.split(":", 1) for g in o["groups"]]
    runs = [parse_run(s) for s in specs]
    sizes = []
    for r in runs:
        if r["size"] not in sizes:
            sizes.append(r["size"])
        r["dir"] = os.path.join(out, f"{r['size']}-{r['family']}")
        r["train"], r["evals"] = read_metrics(r["dir"])
        r["params"] = read_params(r["dir"])
        r["eval"] = read_eval(os.path.join(r["dir"], "eval.txt"))
        r["long8"] = read_eval(os.path.join(r["dir"], "long8.txt"))
        r["long2"] = read_eval(os.path.join(r["dir"], "long2.txt"))
        try:
            r["seconds"] = sum(int(x) for x in open(os.path.join(r["dir"], "seconds")).read().split())
        except OSError:
            r["seconds"] = None
    ref = {r["size"]: r["params"] for r in runs if r["family"] == "griffin"}

    p = print
    p("# Griffin vs Hawk vs Transformer at equal parameter counts\n")
    first = runs[0]
    steps = max(first["train"]) if first["train"] else 0
    tokens = first["train"][steps][0] if first["train"] else 0
    p(f"Made by `scripts/study_families.sh` into `{out}`. Every run: the config "
      f"`{one(o, 'config', '?')}` on `{one(o, 'data', '?')}`, {steps} steps, {tokens:,} training tokens "
      f"(sequences of {T}), the same seed, data order, optimizer and schedule; only `[model]` differs. "
      f"Held-out: each document from its first token up to {T} tokens (`griffin eval`); "
      f"loss in nats per token, bits per byte (bpb) from the documents' UTF-8 bytes, so it does not "
      f"depend on the tokenizer. Lower is better.\n")
    head = "| size | family | parameters | vs griffin | train min | final train loss |"
    sep = "|---|---|---:|---:|---:|---:|"
    for name, corpus in groups:
        head += f" {name} ({corpus}) loss / bpb |"
        sep += "---:|"
    head += " mean bpb |"
    sep += "---:|"
    p(head)
    p(sep)
    for r in runs:
        tr = [r["train"][s][1] for s in sorted(r["train"])]
        final = sum(tr[-5:]) / len(tr[-5:]) if tr else None
        dev = (r["params"] / ref[r["size"]] - 1) if r["params"] and ref.get(r["size"]) else None
        row = (f"| {r['size']} | {r['family']} | {fmt_params(r['params']) if r['params'] else '—'} | "
               f"{'—' if dev is None else f'{dev:+.1%}'} | "
               f"{'—' if r['seconds'] is None else cell(r['seconds'] / 60, 1)} | {cell(final)} |")
        bpbs = []
        for name, corpus in groups:
            e = next((v for k, v in r["eval"].items() if corpus_name(k) == corpus), None)
            if e and "loss" in e:
                row += f" {e['loss']:.3f} / {e['bits_per_byte']:.3f} |"
                bpbs.append(e["bits_per_byte"])
            else:
                row += " — |"
        row += f" {sum(bpbs) / len(bpbs):.3f} |" if bpbs else " — |"
        p(row)
    p("\n(final train loss: mean of the last five logged steps.) Learning curves: `curves.png`.\n")

    longs = [r for r in runs if r["size"] == long_size and r["long8"]]
    if longs:
        L = 8 * T
        p(f"## Length extrapolation (size {long_size}, trained on sequences of {T})\n")
        docs = {corpus_name(k): int(v.get("documents", 0)) for k, v in longs[0]["long8"].items()}
        p(f"Held-out documents longer than {L} tokens ("
          + ", ".join(f"{c}: {n}" for c, n in docs.items())
          + f"), each scored from its first token to {L} in one pass, mean loss per position range "
          f"(nats per token). Because the models are causal, the first {2 * T} and {4 * T} positions of "
          f"that pass are exactly the sequences of 2x and 4x the training length; the columns "
          f"\"sequence of N\" average all positions of such a sequence. The transformer's window is "
          f"{next((r['window'] for r in longs if r['family'] == 'transformer'), '?')} (global attention at "
          f"every length here); griffin's is {next((r['window'] for r in longs if r['family'] == 'griffin'), '?')}.\n")
        p(f"| family | corpus | [0, {T}) | [{T}, {2 * T}) | [{2 * T}, {4 * T}) | [{4 * T}, {L}) | "
          f"sequence of {2 * T} | sequence of {4 * T} | sequence of {L} |")
        p("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        worst = 0.0
        for r in longs:
            items = [(corpus_name(k), v["buckets"]) for k, v in r["long8"].items()]
            items.append(("all", pooled([b for _, b in items])))
            for name, b in items:
                p(f"| {r['family']} | {name} | {cell(mean_between(b, 0, T))} | {cell(mean_between(b, T, 2 * T))} | "
                  f"{cell(mean_between(b, 2 * T, 4 * T))} | {cell(mean_between(b, 4 * T, L))} | "
                  f"{cell(mean_between(b, 0, 2 * T))} | {cell(mean_between(b, 0, 4 * T))} | "
                  f"{cell(mean_between(b, 0, L))} |")
            for k, v in r["long2"].items():
                b8 = {(lo, hi): loss for lo, hi, loss, _ in r["long8"].get(k, {}).get("buckets", [])}
                for lo, hi, loss, _ in v["buckets"]:
                    if (lo, hi) in b8:
                        worst = max(worst, abs(b8[(lo, hi)] - loss))
        p(f"\nCheck: a separate pass of {2 * T} tokens gives the same per-position losses as the first {2 * T} "
          f"positions of the {L}-token pass (largest difference {worst:.1e}, float round-off). "
          f"Curves: `length.png`.\n")
    plot_curves(out, runs, sizes, T)
    if longs:
        plot_length(out, longs, T)


def plot_curves(out, runs, sizes, T):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, len(sizes), figsize=(6 * len(sizes), 7.5), squeeze=False, sharex="col")
    for j, size in enumerate(sizes):
        for r in (r for r in runs if r["size"] == size):
            label = f"{r['family']} ({fmt_params(r['params'])})" if r["params"] else r["family"]
            c = COLOURS.get(r["family"])
            steps = sorted(r["train"])
            if not steps:
                continue
            per_step = r["train"][steps[-1]][0] / steps[-1]
            xs = [r["train"][s][0] for s in steps]
            ys = [r["train"][s][1] for s in steps]
            axes[0][j].plot(xs, ys, lw=1.2, color=c, label=label)
            pts = {}
            for g, vals in r["evals"].items():
                for s, (loss, _) in vals.items():
                    pts.setdefault(s, []).append(loss)
            vs = sorted(s for s in pts if len(pts[s]) == len(r["evals"]))
            axes[1][j].plot([s * per_step for s in vs], [sum(pts[s]) / len(pts[s]) for s in vs], "o-", color=c,
                            label=label)
        axes[0][j].set_title(f"size {size}: training loss")
        axes[1][j].set_title(f"size {size}: held-out loss (mean of the groups)")
        axes[1][j].set_xlabel("training tokens")
        for i in range(2):
            axes[i][j].set_ylabel("loss (nats/token)")
            axes[i][j].grid(alpha=0.3)
            axes[i][j].legend(fontsize=8)
        lows = [r["train"][s][1] for r in runs if r["size"] == size for s in r["train"]]
        if lows:  # the first steps' losses (~9) would flatten the interesting part
            lo = min(lows)
            axes[0][j].set_ylim(lo - 0.2, lo + 3.5)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "curves.png"), dpi=110)


def plot_length(out, longs, T):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = [corpus_name(k) for k in longs[0]["long8"]] + ["all"]
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.8), squeeze=False)
    for ax, name in zip(axes[0], names):
        for r in longs:
            items = {corpus_name(k): v["buckets"] for k, v in r["long8"].items()}
            b = pooled(list(items.values())) if name == "all" else items.get(name, [])
            ax.plot([(lo + hi) / 2 for lo, hi, _, _ in b], [loss for _, _, loss, _ in b], "-", lw=1.5,
                    color=COLOURS.get(r["family"]), label=r["family"])
        for m in (1, 2, 4):
            ax.axvline(m * T, color="grey", lw=0.8, ls="--" if m == 1 else ":",
                       label="training length" if m == 1 else None)
        ax.set_title(f"{name} (trained on {T})")
        ax.set_xlabel("token position")
        ax.set_ylabel("loss (nats/token)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "length.png"), dpi=110)


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("plan", "report"):
        sys.exit(__doc__)
    (cmd_plan if sys.argv[1] == "plan" else cmd_report)(sys.argv[2:])


if __name__ == "__main__":
    main()
