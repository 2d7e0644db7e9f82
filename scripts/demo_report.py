#!/usr/bin/env python3
"""Helpers of scripts/demo.sh.

  demo_report.py prompts DATA_DIR   five held-out chat prompts (one per line) from the data
  demo_report.py report RUN_DIR [DATA_DIR]  report.md of a demo run: a table per stage, evaluations,
                                    the same prompts answered by each model, the plots
  demo_report.py rlhfplot RLHF_DIR OUT.png   reward and KL per RLHF iteration
  demo_report.py dpoplot DPO_DIR OUT.png     implicit-reward accuracy and margin per DPO step"""
import json
import os
import re
import sys


def prompts(data):
    """five held-out chat prompts, one line each: two WordNet words (plain lower-case words, evenly
    spaced through the file, so not just the alphabet's start), then one each from the FOLDOC,
    FAQ and man-page sets (the first short one), topping up from WordNet when a set is missing"""
    def questions(name):
        path = os.path.join(data, "jsonl", f"{name}.heldout.jsonl")
        if not os.path.exists(path):
            return []
        qs = []
        for line in open(path):
            msgs = json.loads(line)["messages"]
            q = next(m["content"] for m in msgs if m["role"] == "user").replace("\n", " ").strip()
            if len(q) < 160:
                qs.append(q)
        return qs
    words = [q for q in questions("wordnet_sft") if re.search(r'"[a-z]+"', q)]
    spaced = [words[(2 * i + 1) * len(words) // 8] for i in range(4)] if len(words) >= 4 else words
    out = spaced[:2]
    for name in ("foldoc_sft", "faq_sft", "man_sft"):
        qs = questions(name)
        if qs:
            out.append(qs[0])
    out += [q for q in spaced[2:] if q not in out]
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


def jsonl(path):
    rows = []
    if os.path.exists(path):
        for line in open(path):
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return rows


def plot_panels(out, panels, xlabel):
    """one row of panels, each (title, [(xs, ys, style, label), ...], baseline or None)"""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.2), squeeze=False)
    for a, (title, series, baseline) in zip(ax[0], panels):
        for xs, ys, style, label in series:
            a.plot(xs, ys, style, lw=1, label=label)
        if baseline is not None:
            a.axhline(baseline, color="grey", lw=0.8, ls="--")
        a.set_title(title)
        a.set_xlabel(xlabel)
        a.grid(alpha=0.3)
        a.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


def curves(rows, flag):
    """{step: row} of the metrics rows that carry key flag (the last row of a step wins)"""
    return {r["step"]: r for r in rows if flag in r}


def series(pts, key, style, label):
    xs = sorted(pts)
    return xs, [pts[x][key] for x in xs], style, label


def rlhfplot(run, out):
    rows = jsonl(os.path.join(run, "metrics.jsonl"))
    it, ev = curves(rows, "rm_score"), curves(rows, "val_rm_score")
    plot_panels(out, [
        ("reward per RLHF iteration", [series(it, "rm_score", "-", "rollouts: reward-model score"),
                                       series(it, "reward", "-", "rollouts: reward (score - beta KL)"),
                                       series(ev, "val_rm_score", "o-", "held-out prompts: score")], None),
        ("KL to the reference (nats per reply)", [series(it, "kl", "-", "rollouts"),
                                                  series(ev, "val_kl", "o-", "held-out prompts")], None)], "iteration")


def dpoplot(run, out):
    rows = jsonl(os.path.join(run, "metrics.jsonl"))
    it, ev = curves(rows, "reward_accuracy"), curves(rows, "val_accuracy")
    plot_panels(out, [
        ("implicit-reward accuracy per DPO step", [series(it, "reward_accuracy", "-", "training batch"),
                                                   series(ev, "val_accuracy", "o-", "held-out pairs")], 0.5),
        ("implicit-reward margin (beta h) per DPO step", [series(it, "reward_margin", "-", "training batch"),
                                                          series(ev, "val_margin", "o-", "held-out pairs")], 0.0)],
        "step")


def shortcut_baselines(data):
    """accuracy of three rules that need no model on the held-out preference pairs (ties count 1/2):
    the longer reply wins; the reply sharing more words with the prompt wins; the reply holding more
    4-letter stems of the asked word wins ("alligator" → "leather made from alligator's hide")"""
    path = os.path.join(data or "", "jsonl", "preference.heldout.jsonl")
    if not data or not os.path.exists(path):
        return {}
    rows = [json.loads(l) for l in open(path) if l.strip()]
    words = lambda s: set(re.findall(r"[a-z]+", s.lower()))
    def acc(f):
        s = sum(1.0 if f(r, "chosen") > f(r, "rejected") else 0.5 if f(r, "chosen") == f(r, "rejected") else 0.0
                for r in rows)
        return s / max(len(rows), 1)
    def stems(r, k):  # 4-letter word stems of the asked word (the quoted part of the prompt) found in the reply
        asked = re.search(r'"(.*)"', r["prompt"])
        own = {w[:4] for w in re.findall(r"[a-z]+", (asked.group(1) if asked else "").lower()) if len(w) >= 4}
        return len(own & {w[:4] for w in re.findall(r"[a-z]+", r[k].lower()) if len(w) >= 4})
    return {"longer reply wins": acc(lambda r, k: len(r[k])),
            "more words shared with the prompt wins": acc(lambda r, k: len(words(r["prompt"]) & words(r[k]))),
            "more 4-letter stems of the asked word wins": acc(stems)}


def reward_rlhf_tables(run, data=None):
    out = []
    rows = jsonl(os.path.join(run, "reward", "metrics.jsonl"))
    vals = [r for r in rows if "val_accuracy" in r]
    if vals:
        out += ["## Reward model", "",
                "| step | held-out loss | held-out accuracy |", "|---:|---:|---:|"]
        out += [f"| {r['step']} | {r['val_loss']:.4f} | {r['val_accuracy']:.3f} |" for r in vals]
        base = shortcut_baselines(data)
        if base:
            out += ["", "Shortcut baselines on the same held-out pairs: " +
                    ", ".join(f"{k} {v:.3f}" for k, v in base.items()) + ", chance 0.500.", ""]
    ev_path = os.path.join(run, "eval_reward.txt")
    if os.path.exists(ev_path):
        out += ["`griffin eval --preferences`: " + ", ".join(l.strip() for l in open(ev_path)
                                                           if l.startswith(("pairs", "accuracy", "margin"))), ""]
    rows = jsonl(os.path.join(run, "rlhf", "metrics.jsonl"))
    ev = [r for r in rows if "val_rm_score" in r]
    if ev:
        a, b = ev[0], ev[-1]
        out += ["## RLHF", "", f"| held-out prompts | iteration {a['step']} | iteration {b['step']} |", "|---|---:|---:|"]
        for k, name in (("val_rm_score", "mean reward-model score"), ("val_reward", "reward (score - beta KL)"),
                        ("val_kl", "KL to the reference"), ("val_ended_fraction", "answers closed"),
                        ("val_response_length", "mean reply tokens")):
            out.append(f"| {name} | {a[k]:.4f} | {b[k]:.4f} |")
        it = [r for r in rows if "logprob_max_diff" in r]
        if it:
            out += ["", f"Sampler vs trainer log-probabilities: max difference "
                        f"{max(r['logprob_max_diff'] for r in it):.1e}."]
        out += ["", "![reward and KL](rlhf.png)", ""]
    out += dpo_table(run)
    return out


def dpo_table(run):
    rows = jsonl(os.path.join(run, "dpo", "metrics.jsonl"))
    ev = [r for r in rows if "val_accuracy" in r]
    train = {r["step"]: r for r in rows if "reward_accuracy" in r}
    if not ev:
        return []
    out = ["## DPO", "", "The SFT model tuned directly on the reward model's training pairs, against the SFT model "
           "as the frozen reference (no reward model, no sampling).", "",
           "| step | held-out loss | held-out implicit-reward accuracy | held-out margin (beta h) | pairs |",
           "|---:|---:|---:|---:|---:|"]
    out += [f"| {r['step']} | {r['val_loss']:.4f} | {r['val_accuracy']:.3f} | {r['val_margin']:.4f} | "
            f"{r.get('val_pairs', 0):.0f} |" for r in ev]
    steps = sorted(train)
    if steps:
        tps = sorted(train[s]["tokens_per_s"] for s in steps[len(steps) // 2:] if "tokens_per_s" in train[s])
        half = steps[len(steps) // 2:]
        mean = lambda k: sum(train[s][k] for s in half) / len(half)
        out += ["", f"Training batches, steps {half[0]}-{half[-1]} (mean): implicit-reward accuracy "
                    f"{mean('reward_accuracy'):.3f}, log-probability per reply token chosen {mean('logp_chosen'):.3f} / "
                    f"rejected {mean('logp_rejected'):.3f} (step {steps[0]}: {train[steps[0]]['logp_chosen']:.3f} / "
                    f"{train[steps[0]]['logp_rejected']:.3f})."]
        if tps:
            out.append(f"Throughput: {tps[len(tps) // 2]:.0f} tokens/s (row positions, padding included; median of "
                       "the second half).")
    out += ["", "![DPO accuracy and margin](dpo.png)", ""]
    return out


def policy_table(run):
    """SFT, RLHF and DPO on the same held-out pairs and prompts"""
    cols = []
    for m in ("sft", "rlhf", "dpo"):
        ev = os.path.join(run, f"eval_{m}.txt")
        pref = next((b for b in parse_eval(ev) if b["kind"] == "preferences"), {}) if os.path.exists(ev) else {}
        ans = os.path.join(run, f"answers_{m}.txt")
        a = dict(l.strip().split(": ", 1) for l in open(ans) if ": " in l) if os.path.exists(ans) else {}
        if pref or a:
            cols.append((m, pref, a))
    if not cols:
        return []
    pairs = next((p.get("pairs") for _, p, _ in cols if p.get("pairs")), "?")
    prompts = next((a.get("prompts") for _, _, a in cols if a.get("prompts")), "?")
    out = ["## SFT, RLHF and DPO compared", "",
           f"The same {pairs} held-out preference pairs (implicit reward against the SFT model, log-ratios summed "
           f"per reply) and the prompts of the first {prompts} of them answered greedily (at most "
           f"{next((a.get('max_new_tokens') for _, _, a in cols if a.get('max_new_tokens')), '?')} tokens), "
           "scored by the reward model as RLHF's held-out evaluation scores its samples.", "",
           "| | " + " | ".join(m.upper() for m, _, _ in cols) + " |", "|---|" + "---:|" * len(cols)]
    def row(name, f):
        out.append(f"| {name} | " + " | ".join(f(p, a) for _, p, a in cols) + " |")
    num = lambda d, k, fmt="{:.3f}": fmt.format(float(d[k])) if k in d else "-"
    row("held-out implicit-reward accuracy", lambda p, a: num(p, "implicit_reward_accuracy"))
    row("held-out implicit-reward margin (h, nats)", lambda p, a: num(p, "implicit_reward_margin"))
    row("own preference (mean log-prob per reply token)", lambda p, a: num(p, "policy_accuracy"))
    row("reward-model score of greedy answers", lambda p, a: a.get("rm_score", "-").replace(" (stderr ", " ± ").rstrip(")"))
    row("log-ratio to the SFT model of the greedy answer (nats)", lambda p, a: num(a, "log_ratio_to_reference"))
    row("answers closed with `<end_of_turn>`", lambda p, a: num(a, "ended_with_end_of_turn", "{:.0%}"))
    row("mean answer tokens", lambda p, a: num(a, "mean_answer_tokens", "{:.1f}"))
    return out + [""]


def parse_eval(path):
    """list of dicts, one per block of `griffin eval` output"""
    blocks, cur = [], {}
    for line in open(path):
        m = re.match(r"(\w+): (.*)", line.strip())
        if not m:
            continue
        k, v = m.groups()
        if k in ("corpus", "chat_prompts", "preferences") and cur.get("kind"):
            blocks.append(cur)
            cur = {}
        if k in ("corpus", "chat_prompts", "preferences"):
            cur["kind"] = k
            cur["name"] = os.path.basename(v)
        cur[k] = v
    if cur.get("kind"):
        blocks.append(cur)
    return blocks


def parse_tasks(path):
    """{task: {key: value}} from `griffin eval --tasks` output"""
    tasks, cur = {}, None
    for line in open(path):
        k, _, v = line.strip().partition(": ")
        if k == "task":
            cur = tasks.setdefault(v, {})
        elif cur is not None:
            cur[k] = v
    return tasks


def task_tables(run):
    runs = [(m, os.path.join(run, f"tasks_{m}.txt"))
            for m in ("base", "sft", "sft_chat", "rlhf", "rlhf_chat", "dpo", "dpo_chat")]
    runs = [(m, parse_tasks(p)) for m, p in runs if os.path.exists(p)]
    if not runs:
        return []
    out = ["## Evaluation tasks (griffin eval --tasks)", "",
           "Held-out words only (scripts/data/tasksrc.py); scored as lm-evaluation-harness scores them: "
           "acc (sum of the choice's log-probabilities), acc_norm (per character), exact_match for "
           "generation; ± one standard error. `_chat`: prompts in the chat template.", "",
           "| task | metric | chance | " + " | ".join(m for m, _ in runs) + " |",
           "|---|---|---:|" + "---:|" * len(runs)]
    for name, first in runs[0][1].items():
        gen = first.get("kind") == "generation"
        chance = "-" if gen else first.get("choices", "").split("chance ")[-1].rstrip(")")
        for metric in (("exact_match",) if gen else ("acc", "acc_norm")):
            row = [name, metric, chance]
            for _, t in runs:
                v = t.get(name, {}).get(metric, "-").replace(" (stderr ", " ± ").rstrip(")")
                row.append(v)
            out.append("| " + " | ".join(row) + " |")
    out += ["", "Examples per second (" + runs[0][0] + "): " + ", ".join(
        f"{n} {t['examples_per_s']}" for n, t in runs[0][1].items()), ""]
    return out


def seed_dirs(run):
    """[(k, folder)] of the seeds of a run: seed 1 is the run folder itself, seed k >= 2 RUN/seed<k>
    (scripts/demo.sh --seeds N)"""
    out = [(1, run)]
    for name in os.listdir(run):
        m = re.fullmatch(r"seed(\d+)", name)
        if m and os.path.isdir(os.path.join(run, name)):
            out.append((int(m.group(1)), os.path.join(run, name)))
    return sorted(out)


def eval_fields(path, kind, key, name=None):
    """one number of a `griffin eval` output file: key of the first block of that kind (and corpus name)"""
    if not os.path.exists(path):
        return None
    for b in parse_eval(path):
        if b["kind"] == kind and (name is None or b.get("name") == name) and key in b:
            return float(b[key].split()[0])
    return None


def answers_field(path, key):
    if not os.path.exists(path):
        return None
    for line in open(path):
        k, _, v = line.strip().partition(": ")
        if k == key:
            return float(v.split()[0])
    return None


def val_points(path, key):
    v = [r[key] for r in jsonl(path) if key in r]
    return (v[0], v[-1]) if v else (None, None)


def seed_figures(d):
    """the before/after figures of one seed's folder (None where a file is missing)"""
    gold = lambda m: eval_fields(os.path.join(d, f"eval_{m}.txt"), "corpus", "loss", "wordnet_sft.heldout.h5")
    closed = lambda m: eval_fields(os.path.join(d, f"eval_{m}.txt"), "chat_prompts", "ended_with_end_of_turn")
    pref = lambda m, k: eval_fields(os.path.join(d, f"eval_{m}.txt"), "preferences", k)
    ans = lambda m, k: answers_field(os.path.join(d, f"answers_{m}.txt"), k)
    rl0, rl1 = val_points(os.path.join(d, "rlhf", "metrics.jsonl"), "val_rm_score")
    f = {"sft gold loss": gold("sft"), "sft closed": closed("sft"),
         "rm accuracy": val_points(os.path.join(d, "reward", "metrics.jsonl"), "val_accuracy")[1],
         "rlhf val score before": rl0, "rlhf val score after": rl1,
         "rlhf val score rise": None if rl0 is None or rl1 is None else rl1 - rl0,
         "rlhf greedy score": ans("rlhf", "rm_score"), "rlhf own accuracy": pref("rlhf", "policy_accuracy"),
         "rlhf gold loss": gold("rlhf"), "rlhf greedy closed": ans("rlhf", "ended_with_end_of_turn"),
         "dpo accuracy": val_points(os.path.join(d, "dpo", "metrics.jsonl"), "val_accuracy")[1],
         "dpo own accuracy": pref("dpo", "policy_accuracy"), "dpo gold loss": gold("dpo"),
         "dpo greedy score": ans("dpo", "rm_score"), "dpo greedy closed": ans("dpo", "ended_with_end_of_turn")}
    return f


def mean_sd(xs):
    """mean, sample standard deviation (n - 1; None for one value) and count of the known values"""
    xs = [x for x in xs if x is not None]
    if not xs:
        return None, None, 0
    m = sum(xs) / len(xs)
    sd = (sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) ** 0.5 if len(xs) > 1 else None
    return m, sd, len(xs)


SEED_ROWS = [  # (figure key, label, format)
    ("sft gold loss", "SFT: held-out WordNet chat loss (gold replies)", "{:.3f}"),
    ("sft closed", "SFT: 100 held-out chat prompts closed within 128 tokens", "{:.0%}"),
    ("rm accuracy", "reward model: held-out pair accuracy", "{:.3f}"),
    ("rlhf val score before", "RLHF: held-out RM score, iteration 0 (one sample per prompt)", "{:+.4f}"),
    ("rlhf val score after", "RLHF: held-out RM score, last iteration", "{:+.4f}"),
    ("rlhf val score rise", "RLHF: rise of the held-out RM score", "{:+.4f}"),
    ("rlhf greedy score", "RLHF: RM score of greedy answers (SFT's in the comparison table)", "{:+.4f}"),
    ("rlhf own accuracy", "RLHF: own held-out preference accuracy (SFT's: see below)", "{:.3f}"),
    ("rlhf gold loss", "RLHF: held-out WordNet chat loss", "{:.3f}"),
    ("rlhf greedy closed", "RLHF: greedy answers to the pairs' prompts closed within 48 tokens", "{:.0%}"),
    ("dpo accuracy", "DPO: held-out implicit-reward accuracy", "{:.3f}"),
    ("dpo own accuracy", "DPO: own held-out preference accuracy", "{:.3f}"),
    ("dpo gold loss", "DPO: held-out WordNet chat loss", "{:.3f}"),
    ("dpo greedy score", "DPO: RM score of greedy answers", "{:+.4f}"),
    ("dpo greedy closed", "DPO: greedy answers to the pairs' prompts closed within 48 tokens", "{:.0%}"),
]


def verdicts(stats, base, sft, shortcuts):
    """one sentence per stage: did it do what it is for (the targets of the demo's preference stages)"""
    out = []
    def have(*ks):
        return all(stats.get(k, (None, None, 0))[0] is not None for k in ks)
    def sd(k):
        return stats[k][1] or 0.0
    def over(k):  # ", spread S over N seeds", or nothing for one seed
        return f" ± {sd(k):.4f} over {stats[k][2]} seeds" if stats[k][2] > 1 else " (one seed: no spread)"
    if have("sft gold loss", "sft closed") and base.get("gold") is not None:
        ok = stats["sft closed"][0] > (base.get("closed") or 0) and stats["sft gold loss"][0] < base["gold"]
        out.append(f"- **SFT** {'did' if ok else 'did not do'} what it is for: greedy answers close their turn "
                   f"{stats['sft closed'][0]:.0%} of the time (base {base.get('closed') or 0:.0%}; spread "
                   f"{sd('sft closed'):.0%} over {stats['sft closed'][2]} seeds) and the gold WordNet loss is "
                   f"{stats['sft gold loss'][0]:.3f}{over('sft gold loss')} (base {base['gold']:.3f}).")
    if have("rm accuracy"):
        best = max(shortcuts.values()) if shortcuts else 0.5
        m = stats["rm accuracy"][0]
        ok = m >= 0.65 and m - best > 3 * sd("rm accuracy")
        out.append(f"- **Reward model** {'learned' if ok else 'did not learn'} the preference well enough "
                   f"(target: held-out accuracy >= 0.65, clear of every shortcut): {m:.3f}{over('rm accuracy')}, "
                   f"against the best shortcut {best:.3f}.")
    if have("rlhf val score rise", "rlhf own accuracy", "rlhf gold loss") and sft.get("gold") is not None:
        rise, spread = stats["rlhf val score rise"][0], sd("rlhf val score rise")
        own_ok = sft.get("own") is None or stats["rlhf own accuracy"][0] >= sft["own"]
        gold = stats["rlhf gold loss"][0] / sft["gold"] - 1
        ok = rise > 3 * spread and rise > 0 and own_ok and gold <= 0.01 and stats["rlhf val score rise"][2] > 1
        out.append(f"- **RLHF** {'did' if ok else 'did not do'} what it is for (a held-out reward-model score rise "
                   f"over 3x its spread over seeds, own preference accuracy not falling, gold loss up <= 1%): rise "
                   f"{rise:+.4f}{over('rlhf val score rise')}" +
                   f", own accuracy {stats['rlhf own accuracy'][0]:.3f}" +
                   (f" (SFT {sft['own']:.3f})" if sft.get("own") is not None else "") +
                   f", gold loss {gold:+.1%} over SFT's.")
    if have("dpo accuracy"):
        m = stats["dpo accuracy"][0]
        closed = stats.get("dpo greedy closed", (None, None, 0))[0]
        ok = m >= 0.60 and (closed is None or sft.get("greedy closed") is None or closed >= sft["greedy closed"] / 2)
        out.append(f"- **DPO** {'did' if ok else 'did not do'} what it is for (held-out implicit-reward accuracy "
                   f">= 0.60 while still closing its turn): {m:.3f}{over('dpo accuracy')}" +
                   (f", greedy answers closed {closed:.0%} (SFT {sft['greedy closed']:.0%})"
                    if closed is not None and sft.get("greedy closed") is not None else "") + ".")
    return out


def seeds_section(run, data=None):
    seeds = seed_dirs(run)
    figs = [(k, seed_figures(d)) for k, d in seeds]
    stats = {key: mean_sd([f[key] for _, f in figs]) for key, _, _ in SEED_ROWS}
    base = {"gold": eval_fields(os.path.join(run, "eval_base.txt"), "corpus", "loss", "wordnet_sft.heldout.h5"),
            "closed": eval_fields(os.path.join(run, "eval_base.txt"), "chat_prompts", "ended_with_end_of_turn")}
    sft = {"gold": eval_fields(os.path.join(run, "eval_sft.txt"), "corpus", "loss", "wordnet_sft.heldout.h5"),
           "own": eval_fields(os.path.join(run, "eval_sft.txt"), "preferences", "policy_accuracy"),
           "greedy closed": answers_field(os.path.join(run, "answers_sft.txt"), "ended_with_end_of_turn")}
    fmt = lambda v, f: "-" if v is None else f.format(v)
    out = ["## Over seeds", "",
           f"{len(seeds)} seed(s) of the stages after pretraining (`scripts/demo.sh --seeds N`; seed 1 is this "
           "folder, seed k its `seed<k>/`, train.seed = k; every seed starts from the same pretrained model, "
           "the preference stages from seed 1's tuned model, RLHF against seed 1's reward model). Spread: the "
           "sample standard deviation over seeds.", "",
           "| figure | " + " | ".join(f"seed {k}" for k, _ in figs) + " | mean ± spread |",
           "|---|" + "---:|" * (len(figs) + 1)]
    for key, label, f in SEED_ROWS:
        vals = [fg[key] for _, fg in figs]
        if all(v is None for v in vals):
            continue
        m, sd, _ = stats[key]
        pct = "%" in f
        spread = "" if sd is None else " ± " + (f"{sd:.0%}" if pct else f"{sd:.4f}")
        out.append(f"| {label} | " + " | ".join(fmt(v, f) for v in vals) + f" | {fmt(m, f)}{spread} |")
    out += ["", f"Reference figures (one model each): base gold loss {fmt(base['gold'], '{:.3f}')}, base closing "
                f"share {fmt(base['closed'], '{:.0%}')}; seed-1 SFT own preference accuracy "
                f"{fmt(sft['own'], '{:.3f}')}, its greedy answers closed {fmt(sft['greedy closed'], '{:.0%}')}.", ""]
    out += verdicts(stats, base, sft, shortcut_baselines(data)) + [""]
    return out


def report(run, data=None):
    out = [f"# griffin.c demo: {os.path.basename(os.path.abspath(run))}", ""]
    out.append(stage_table("Pretraining (two mixture stages)", os.path.join(run, "pretrain")))
    out.append(stage_table("Instruction tuning", os.path.join(run, "sft")))
    out += reward_rlhf_tables(run, data)
    out += policy_table(run)
    out += seeds_section(run, data)
    evals = {m: parse_eval(os.path.join(run, f"eval_{m}.txt")) for m in ("base", "sft", "rlhf", "dpo")
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
                if b["kind"] == "preferences" and "policy_accuracy" in b:
                    out.append(f"- {m}: prefers the chosen reply of {float(b['policy_accuracy']):.1%} of {b['pairs']} "
                               f"held-out preference pairs by its own mean log-probability per token "
                               f"({float(b['policy_accuracy_total_logprob']):.1%} by total log-probability)")
        out.append("")
    out += task_tables(run)
    prompts_path = os.path.join(run, "prompts.txt")
    if os.path.exists(prompts_path):
        qs = [l.rstrip("\n") for l in open(prompts_path) if l.strip()]
        answers = {}
        for m in ("base", "sft", "rlhf", "dpo"):
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
    if len(sys.argv) == 4 and sys.argv[1] == "rlhfplot":
        rlhfplot(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "dpoplot":
        dpoplot(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "prompts":
        prompts(sys.argv[2])
    elif len(sys.argv) in (3, 4) and sys.argv[1] == "report":
        report(sys.argv[2], sys.argv[3] if len(sys.argv) == 4 else None)
    else:
        sys.exit(__doc__)
