#!/usr/bin/env python3
"""train.freeze / train.trainable in the sft, reward and rlhf stages, on the constructed task
prepared by test_task.py (its work folder): after training, every frozen tensor is bitwise the
init checkpoint's, the trainable ones moved, the checkpoint holds moments for the trainable set
only, and the start-up line counts what is frozen; checkpoints are adapter checkpoints (the
trainable set over the init) unless train.full_checkpoints. rlhf also on 2 ranks (ZeRO-1 over the
trainable set), resumed at iteration 2 bitwise as the uninterrupted run. A pattern that matches
no tensor is refused before anything is written.

usage: test_freeze.py GRIFFIN_BIN TASK_WORK_DIR"""
import json, os, re, shutil, subprocess, sys

BIN, WORK = (os.path.abspath(a) for a in sys.argv[1:3])
ENV = dict(os.environ, OMP_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
MPI = ["mpirun", "-np", "2", "--oversubscribe", "--bind-to", "none"]
SFT = f"{WORK}/sft/ckpt-150.h5"


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def run(cmd, ranks=1, ok=True):
    p = subprocess.run((MPI if ranks > 1 else []) + [BIN, *cmd], env=ENV, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if ok and p.returncode != 0:
        print(p.stdout[-4000:])
        fail(f"{' '.join(cmd)} on {ranks} rank(s) exited {p.returncode}")
    return p


def names(path, group):
    out = subprocess.run(["h5ls", f"{path}/{group}"], stdout=subprocess.PIPE, text=True).stdout
    return {l.split()[0] for l in out.splitlines() if l.strip()}


def same(a, b, name):
    return subprocess.run(["h5diff", a, b, f"/params/{name}", f"/params/{name}"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


def check(what, init, final, frozen_re, log, full):
    """full (train.full_checkpoints): final holds every tensor, the frozen ones bitwise the
    init's; else an adapter checkpoint: params/ holds the trainable set, the frozen ones are
    left to init, its base"""
    init_names = names(init, "params")
    tensors = names(final, "params") | (set() if full else init_names)
    frozen = {n for n in tensors if re.fullmatch(frozen_re, n)}
    trainable = tensors - frozen
    if not frozen or not trainable:
        fail(f"{what}: the pattern {frozen_re} should split the tensors")
    if not full and (names(final, "params") != trainable or f"base: {init} " not in run(["inspect", final]).stdout):
        fail(f"{what}: {final} is not an adapter checkpoint of the trainable set over {init}")
    changed = [n for n in frozen if full and n in init_names and not same(init, final, n)]
    moved = [n for n in trainable if n in init_names and not same(init, final, n)]
    moments = names(final, "adam_m")
    line = [l for l in open(log).read().splitlines() if l.startswith("trainable:")]
    print(f"{what}: {len(frozen)} frozen tensors, {len(trainable)} trainable; {line[0] if line else 'no trainable: line'}")
    if changed:
        fail(f"{what}: frozen tensors changed: {changed[:3]}")
    if not moved:
        fail(f"{what}: no trainable tensor moved")
    if moments != trainable:
        fail(f"{what}: moments stored for {sorted(moments ^ trainable)[:3]} (should be the trainable set only)")
    if not line or f" in {len(frozen)}; " not in line[0]:
        fail(f"{what}: the start-up line does not count {len(frozen)} frozen tensors")


def metrics(d):
    return [json.loads(l) for l in open(f"{d}/metrics.jsonl") if '"rm_score"' in l]


def fresh(d):
    shutil.rmtree(d, ignore_errors=True)
    return d


out = fresh(f"{WORK}/freeze_sft")
run(["sft", f"{WORK}/task_sft.ini", f"--train.out_dir={out}", f"--train.init={SFT}", "--train.steps=6",
     "--stage.1.steps=6", "--train.checkpoint_every=6", "--optim.warmup_steps=2", "--train.freeze=embedder.*, blocks.0.*",
     "--train.full_checkpoints=true"])
check("sft", SFT, f"{out}/ckpt-6.h5", r"embedder\..*|blocks\.0\..*", f"{out}/log.txt", True)

out = fresh(f"{WORK}/freeze_rm")
run(["reward", f"{WORK}/task_reward.ini", f"--train.out_dir={out}", "--train.steps=6", "--train.checkpoint_every=6",
     "--train.trainable=reward_head.*,final_norm.*,blocks.2.*"])
check("reward (head, final norm, last block)", SFT, f"{out}/ckpt-6.h5",
      r"(?!reward_head|final_norm|blocks\.2\.).*", f"{out}/log.txt", False)

for ranks, B in ((1, 8), (2, 4)):
    out = fresh(f"{WORK}/freeze_rl{ranks}")
    run(["rlhf", f"{WORK}/task_rlhf.ini", f"--train.out_dir={out}", "--train.steps=4", f"--train.batch_size={B}",
         "--train.checkpoint_every=2", "--train.eval_every=2", "--train.freeze=embedder.*,blocks.*.mlp_block.*"], ranks)
    check(f"rlhf, {ranks} rank(s)", SFT, f"{out}/ckpt-4.h5", r"embedder\..*|blocks\.\d+\.mlp_block\..*", f"{out}/log.txt",
          False)
keys = ("reward", "rm_score", "kl", "loss", "grad_norm")
a, b = metrics(f"{WORK}/freeze_rl1"), metrics(f"{WORK}/freeze_rl2")
# kl is a mean of differences of log-probabilities of size ~1: near zero, its round-off is
# relative to those, so its floor is 1e-2 (1e-3 for the others)
worst = max(abs(x[k] - y[k]) / ((1e-2 if k == "kl" else 1e-3) + abs(x[k])) for x, y in zip(a, b) for k in keys)
print(f"rlhf frozen: 1 rank vs 2 ranks, worst relative difference {worst:.2e}")
if len(a) != len(b) or worst > 2e-4:
    fail("rlhf with frozen tensors: 2 ranks differ from 1")
out = fresh(f"{WORK}/freeze_rl2_resumed")
for steps, resume in ((2, "none"), (4, "auto")):
    run(["rlhf", f"{WORK}/task_rlhf.ini", f"--train.out_dir={out}", f"--train.steps={steps}", "--train.batch_size=4",
         "--train.checkpoint_every=2", "--train.eval_every=2", f"--train.resume={resume}",
         "--train.freeze=embedder.*,blocks.*.mlp_block.*"], 2)
c = metrics(out)
if [[x[k] for k in keys] for x in b] != [[x[k] for k in keys] for x in c]:
    fail("rlhf with frozen tensors on 2 ranks, resumed at iteration 2, differs from the uninterrupted run")
print("rlhf frozen on 2 ranks: resumed at iteration 2, bitwise as the uninterrupted run")

out = fresh(f"{WORK}/freeze_typo")
p = run(["sft", f"{WORK}/task_sft.ini", f"--train.out_dir={out}", f"--train.init={SFT}", "--optim.warmup_steps=2", "--train.freeze=embeder.*"],
        ok=False)
lines = [l for l in p.stdout.splitlines() if l.strip()]
print(f"a typo: exit {p.returncode}: {lines[0] if lines else ''}")
if p.returncode != 2 or len(lines) != 1 or "'embeder.*'" not in lines[0] or os.path.exists(out):
    fail("a freeze pattern that matches nothing must be refused in one line, nothing written")
out = fresh(f"{WORK}/missing_corpus")
for ranks in (1, 2):
    p = run(["sft", f"{WORK}/task_sft.ini", f"--train.out_dir={out}", f"--train.init={SFT}", "--data.chat=/nonexistent.h5"],
            ranks, ok=False)
    lines = [l for l in p.stdout.splitlines() if l.strip() and not l.startswith(("---", " ", "Primary", "a non-zero",
             "mpirun", "the job", "  "))]
    print(f"a missing corpus on {ranks} rank(s): exit {p.returncode}: {lines[0] if lines else ''}")
    if p.returncode != 2 or len(lines) != 1 or "data.chat = /nonexistent.h5" not in lines[0] or ".c:" in lines[0] \
            or os.path.exists(out):
        fail("a missing corpus must be refused in one line in words (no source location), nothing written")
print("ok")
