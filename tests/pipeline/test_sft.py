#!/usr/bin/env python3
"""Instruction tuning end to end on the small real data of `scripts/prepare_data.sh --small`:
a tiny model pretrained with configs/tiny.ini, then tuned with configs/tiny_sft.ini on the
WordNet chat set. Before tuning, greedy answers to held-out prompts do not close their turn
(<end_of_turn> within 128 tokens in at most 50% of them); after, they do in at least 90%, and
the held-out loss on the model's turns falls.

usage: test_sft.py GRIFFIN_BIN PROJECT_ROOT PREPARED_DIR WORK_DIR"""
import json, os, re, shutil, subprocess, sys

BIN, ROOT, PREP, WORK = (os.path.abspath(a) for a in sys.argv[1:5])
ENV = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"))


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def config(name, **train):
    """copy configs/NAME with the data paths pointing at PREP and [train] keys replaced"""
    text = open(os.path.join(ROOT, "configs", name)).read().replace("data/prepared/small/", PREP.rstrip("/") + "/")
    for k, v in train.items():
        text = re.sub(rf"(?m)^{k} = .*$", f"{k} = {v}", text)
    path = os.path.join(WORK, name)
    open(path, "w").write(text)
    return path


def run(*cmd):
    p = subprocess.run([BIN, *cmd], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        print(p.stdout)
        fail(f"griffin {' '.join(cmd)} exited {p.returncode}")
    return p.stdout


def ended(ckpt):
    out = run("eval", "--checkpoint", ckpt, "--chat-prompts", os.path.join(PREP, "wordnet_sft.heldout.h5"),
              "--max-new-tokens", "128")
    return float(re.search(r"ended_with_end_of_turn: ([0-9.]+)", out).group(1))


shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
pre, sft = os.path.join(WORK, "pre"), os.path.join(WORK, "sft")
run("pretrain", config("tiny.ini", out_dir=pre, resume="none"))
base = os.path.join(pre, "ckpt-80.h5")
e0 = ended(base)
run("sft", config("tiny_sft.ini", out_dir=sft, init=base, resume="none"))
e1 = ended(os.path.join(sft, "ckpt-300.h5"))
vals = [json.loads(l) for l in open(os.path.join(sft, "metrics.jsonl")) if '"group":"wordnet"' in l]
v0, v1 = vals[0]["val_loss"], vals[-1]["val_loss"]
print(f"held-out answers closing their turn: {e0:.2%} before SFT, {e1:.2%} after")
print(f"held-out loss on model turns (wordnet): {v0:.4f} -> {v1:.4f}")
if e0 > 0.5:
    fail("the untuned model already closes its turns")
if e1 < 0.9:
    fail("fewer than 90% of tuned answers close their turn")
if not v1 < v0:
    fail("held-out loss did not fall")
print("ok")
