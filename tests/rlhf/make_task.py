#!/usr/bin/env python3
"""The constructed preference task of the RLHF tests, where the preferred property is
objective: a reply that names the colour "gold" is preferred.

Writes JSONL into OUT: sft.jsonl (chat: "Give me 3 colors." -> "red blue pink." ; about one
reply in five names gold), pref.train.jsonl / pref.heldout.jsonl (chosen = a reply with gold in
it, rejected = the same reply without), prompts.train.jsonl / prompts.heldout.jsonl, and
all.txt (every text, for the tokenizer). Deterministic.

usage: make_task.py OUT"""
import json, os, random, sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
COLORS = ["red", "blue", "green", "black", "white", "brown", "pink", "gray", "orange", "purple"]
MARK = "gold"
ASK = ["Give me {n} colors.", "Name {n} colors.", "List {n} colors, please.", "Which {n} colors do you like?"]


def prompt(r):
    return r.choice(ASK).format(n=r.randint(2, 4))


def reply(r, n, gold=False):
    words = [r.choice(COLORS) for _ in range(n)]
    if gold:
        words[r.randrange(n)] = MARK
    return " ".join(words) + "."


def write(name, rows):
    with open(os.path.join(out, name), "w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


r = random.Random(7)
texts = []
sft = []
for _ in range(3000):
    p = prompt(r)
    n = int(next(ch for ch in p if ch.isdigit()))
    a = reply(r, n, gold=r.random() < 0.2)
    sft.append({"messages": [{"role": "user", "content": p}, {"role": "model", "content": a}]})
    texts += [p, a]
write("sft.jsonl", sft)


def pairs(count, seed):
    q = random.Random(seed)
    rows = []
    for _ in range(count):
        p = prompt(q)
        n = q.randint(2, 4)
        base = reply(q, n)
        words = base[:-1].split()
        words[q.randrange(n)] = MARK
        rows.append({"prompt": p, "chosen": " ".join(words) + ".", "rejected": base})
    return rows


write("pref.train.jsonl", pairs(2000, 11))
write("pref.heldout.jsonl", pairs(200, 12))
write("prompts.train.jsonl", [{"prompt": prompt(r)} for _ in range(500)])
write("prompts.heldout.jsonl", [{"prompt": prompt(random.Random(1000 + i))} for i in range(64)])
with open(os.path.join(out, "all.txt"), "w") as f:
    f.write("\n".join(texts + [MARK + "."] * 50) + "\n")
