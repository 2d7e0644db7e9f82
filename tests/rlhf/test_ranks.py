#!/usr/bin/env python3
"""Reward-model and RLHF steps on 2 MPI ranks (half the batch each) against 1 rank with the
whole batch, on the constructed task prepared by test_task.py (its work folder): the same
pairs, prompts and samples, so the metrics agree within float round-off. The same holds for
1 rank running the batch in micro-batches (train.grad_accum = 4). On 2 ranks a run resumed
mid-way repeats the uninterrupted one bitwise (ZeRO-1 moments gathered and re-sharded).

usage: test_ranks.py GRIFFIN_BIN TASK_WORK_DIR"""
import json, os, shutil, subprocess, sys

BIN, WORK = (os.path.abspath(a) for a in sys.argv[1:3])
ENV = dict(os.environ, OMP_NUM_THREADS="1")
MPI = ["mpirun", "-np", "2", "--oversubscribe", "--bind-to", "none"]
if os.geteuid() == 0:
    MPI.insert(1, "--allow-run-as-root")


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def run(cmd, ranks):
    p = subprocess.run((MPI if ranks > 1 else []) + [BIN, *cmd], env=ENV, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        print(p.stdout[-4000:])
        fail(f"{' '.join(cmd)} on {ranks} rank(s) exited {p.returncode}")


def metrics(d, key):
    return {m["step"]: m for m in map(json.loads, open(os.path.join(d, "metrics.jsonl"))) if key in m}


def compare(a, b, keys, what, tol=2e-4, label="1 rank vs 2 ranks"):
    worst = 0.0
    for s in a:
        for k in keys:
            worst = max(worst, abs(a[s][k] - b[s][k]) / (1e-3 + abs(a[s][k])))
    print(f"{what}: {label}, {len(a)} steps, worst relative difference {worst:.2e} (tolerance {tol})")
    if len(a) != len(b) or worst > tol:
        fail(f"{what} differs: {label}")


for ranks, B in ((1, 16), (2, 8)):
    run(["reward", f"{WORK}/task_reward.ini", f"--train.out_dir={WORK}/rm_r{ranks}", "--train.steps=10", "--train.log_every=1",
         f"--train.batch_size={B}", "--train.eval_every=5"], ranks)
    run(["rlhf", f"{WORK}/task_rlhf.ini", f"--train.out_dir={WORK}/rl_r{ranks}", "--train.steps=4",
         f"--train.batch_size={B // 2}", "--train.eval_every=2"], ranks)
run(["reward", f"{WORK}/task_reward.ini", f"--train.out_dir={WORK}/rm_a4", "--train.steps=10", "--train.log_every=1",
     "--train.batch_size=4", "--train.grad_accum=4", "--train.eval_every=5"], 1)
run(["rlhf", f"{WORK}/task_rlhf.ini", f"--train.out_dir={WORK}/rl_a4", "--train.steps=4", "--train.batch_size=8",
     "--train.grad_accum=4", "--train.eval_every=2"], 1)
compare(metrics(f"{WORK}/rm_r1", "accuracy"), metrics(f"{WORK}/rm_r2", "accuracy"), ("loss", "accuracy", "margin"), "reward")
compare(metrics(f"{WORK}/rm_r1", "val_loss"), metrics(f"{WORK}/rm_r2", "val_loss"), ("val_loss", "val_accuracy"), "reward eval")
compare(metrics(f"{WORK}/rl_r1", "rm_score"), metrics(f"{WORK}/rl_r2", "rm_score"),
        ("reward", "rm_score", "kl", "entropy", "loss"), "rlhf")
compare(metrics(f"{WORK}/rl_r1", "val_rm_score"), metrics(f"{WORK}/rl_r2", "val_rm_score"), ("val_rm_score", "val_kl"),
        "rlhf eval")
# ZeRO-1 on 2 ranks: each holds a shard of the Adam moments; a run resumed at iteration 2 must
# repeat the uninterrupted one bitwise (the moments gathered into the checkpoint, then re-sharded)
shutil.rmtree(f"{WORK}/rl_r2_resumed", ignore_errors=True)
for steps, resume in ((2, "none"), (4, "auto")):
    run(["rlhf", f"{WORK}/task_rlhf.ini", f"--train.out_dir={WORK}/rl_r2_resumed", f"--train.steps={steps}",
         "--train.batch_size=4", "--train.eval_every=2", "--train.checkpoint_every=2", f"--train.resume={resume}"], 2)
if "resumed from" not in open(f"{WORK}/rl_r2_resumed/log.txt").read():
    fail("rlhf on 2 ranks did not resume from its iteration-2 checkpoint")
a, b = metrics(f"{WORK}/rl_r2", "rm_score"), metrics(f"{WORK}/rl_r2_resumed", "rm_score")
keys = ("reward", "rm_score", "kl", "entropy", "loss", "grad_norm")
if sorted(a) != sorted(b) or any(a[s][k] != b[s][k] for s in a for k in keys):
    fail("rlhf on 2 ranks resumed at iteration 2 differs from the uninterrupted run")
print(f"rlhf on 2 ranks: resumed at iteration 2, iterations 1..{max(a)} bitwise as the uninterrupted run")
if "trained in 4 micro-batches of 8" not in open(f"{WORK}/rl_a4/log.txt").read():
    fail("rlhf with train.grad_accum = 4 does not say it trains in 4 micro-batches of 8 sequences")
compare(metrics(f"{WORK}/rm_r1", "accuracy"), metrics(f"{WORK}/rm_a4", "accuracy"), ("loss", "accuracy", "margin"),
        "reward, 4 micro-batches", label="1 micro-batch vs 4")
compare(metrics(f"{WORK}/rm_r1", "val_loss"), metrics(f"{WORK}/rm_a4", "val_loss"), ("val_loss", "val_accuracy"),
        "reward eval, 4 micro-batches", label="1 micro-batch vs 4")
compare(metrics(f"{WORK}/rl_r1", "rm_score"), metrics(f"{WORK}/rl_a4", "rm_score"),
        ("reward", "rm_score", "kl", "entropy", "loss"), "rlhf, 4 micro-batches", label="1 micro-batch vs 4")
compare(metrics(f"{WORK}/rl_r1", "val_rm_score"), metrics(f"{WORK}/rl_a4", "val_rm_score"), ("val_rm_score", "val_kl"),
        "rlhf eval, 4 micro-batches", label="1 micro-batch vs 4")
print("ok")
