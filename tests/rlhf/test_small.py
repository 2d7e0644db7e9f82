#!/usr/bin/env python3
"""Reward model and RLHF on the small real data of `scripts/prepare_data.sh --small`, starting
from the tiny SFT model that the sft_end_of_turn test leaves behind (configs/tiny_sft.ini):
  - griffin reward (configs/tiny_reward.ini) on the WordNet preference pairs (chosen = the
    right gloss, rejected = another word's gloss): the training loss falls below log 2 and
    griffin eval --preferences reproduces the run's held-out accuracy (reported, not
    required: a 0.7 M-parameter model knows few glosses; the word-overlap baseline is 0.64);
  - griffin rlhf (configs/tiny_rlhf.ini) against it: the held-out mean reward-model score rises
    within 20 iterations while the held-out KL stays under KL_MAX, and sampler and trainer agree.

usage: test_small.py GRIFFIN_BIN PROJECT_ROOT PREPARED_DIR SFT_CKPT WORK_DIR"""
import json, math, os, re, shutil, subprocess, sys

BIN, ROOT, PREP, SFT, WORK = (os.path.abspath(a) for a in sys.argv[1:6])
ENV = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
KL_MAX, ITERS, RM_STEPS = 15.0, 20, 150


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def run(*cmd):
    p = subprocess.run([BIN, *cmd], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        print(p.stdout[-4000:])
        fail(f"griffin {' '.join(cmd)} exited {p.returncode}")
    return p.stdout


def config(name, **keys):
    text = open(os.path.join(ROOT, "configs", name)).read().replace("data/prepared/small/", PREP.rstrip("/") + "/")
    for k, v in keys.items():
        text = re.sub(rf"(?m)^{k} = .*$", f"{k} = {v}", text)
    path = os.path.join(WORK, name)
    open(path, "w").write(text)
    return path


def metrics(d):
    return [json.loads(l) for l in open(os.path.join(d, "metrics.jsonl"))]


if not os.path.exists(SFT):
    fail(f"{SFT} is missing (run the sft_end_of_turn test first)")
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
rm_dir, rl_dir = os.path.join(WORK, "rm"), os.path.join(WORK, "rlhf")
run("reward", config("tiny_reward.ini", out_dir=rm_dir, init=SFT, resume="none", steps=RM_STEPS, eval_every=50,
                     checkpoint_every=RM_STEPS))
ms = metrics(rm_dir)
steps = [m for m in ms if "accuracy" in m]
vals = [m for m in ms if "val_accuracy" in m]
rm_ckpt = os.path.join(rm_dir, f"ckpt-{RM_STEPS}.h5")
out = run("eval", "--checkpoint", rm_ckpt, "--preferences", os.path.join(PREP, "preference.heldout.h5"))
acc = float(re.search(r"accuracy: ([0-9.]+)", out).group(1))
first = sum(m["loss"] for m in steps[:3]) / 3
last = sum(m["loss"] for m in steps[-3:]) / 3
print(f"reward model: training loss {first:.4f} -> {last:.4f}; held-out accuracy by step: "
      + ", ".join(f"{m['step']}: {m['val_accuracy']:.3f}" for m in vals) + f"; griffin eval: {acc:.4f}")
if not last < math.log(2) - 0.01:
    fail("reward-model training loss did not fall below log 2")
if abs(acc - vals[-1]["val_accuracy"]) > 1e-4:  # eval prints 4 decimals
    fail("griffin eval --preferences disagrees with val_accuracy")

run("rlhf", config("tiny_rlhf.ini", out_dir=rl_dir, init=SFT, resume="none", steps=ITERS, eval_every=ITERS,
                   checkpoint_every=ITERS, reward_model=rm_ckpt))
ms = metrics(rl_dir)
ev = [m for m in ms if "val_rm_score" in m]
it = [m for m in ms if "reward" in m]
s0, s1 = ev[0]["val_rm_score"], ev[-1]["val_rm_score"]
maxdiff = max(m["logprob_max_diff"] for m in it)
print(f"rlhf: held-out mean RM score {s0:+.4f} -> {s1:+.4f} in {ITERS} iterations; held-out KL {ev[-1]['val_kl']:.3f} "
      f"(bound {KL_MAX}); ended {ev[0]['val_ended_fraction']:.3f} -> {ev[-1]['val_ended_fraction']:.3f}; "
      f"length {ev[0]['val_response_length']:.1f} -> {ev[-1]['val_response_length']:.1f}; "
      f"max |log p sampler - trainer| {maxdiff:.2e}")
if not s1 > s0:
    fail("RLHF did not raise the held-out reward-model score")
if ev[-1]["val_kl"] > KL_MAX:
    fail("KL to the reference exceeds the bound")
if maxdiff > 1e-3:
    fail("sampler and trainer log-probabilities disagree")
print("ok")
