#!/usr/bin/env python3
"""Reward model and RLHF end to end on the constructed task of make_task.py, where the
preferred property is objective: a reply naming the colour "gold" is preferred.

  1. tokenizer (spm_train on the generated text), corpora (griffin tokenize);
  2. griffin sft: a tiny chat model (configs in this folder) answers "Give me 3 colors." with
     colours and closes its turn; about one reply in five names gold;
  3. griffin reward from the SFT checkpoint: held-out accuracy >= 95% (metrics.jsonl
     val_accuracy and griffin eval --preferences agree);
  4. griffin rlhf (policy and reference = the SFT model, 20 iterations of 8 prompts x 4
     samples): the held-out mean reward-model score rises by >= RISE while the held-out KL
     (k1, summed over the response) stays <= KL_MAX; sampler and trainer log-probabilities
     agree within 1e-3; metrics carry every key of the issue;
  5. resume: 10 iterations, then resumed to 20, give bitwise the same metrics as 20 in one go;
  6. k3 + whitening run a few iterations (the options work); so does rlhf.advantage = grpo;
  7. PPO minibatches (rlhf.minibatches = 4, one micro-batch each): the held-out score rises by
     >= RISE within 10 iterations, KL within the bound; a minibatch count that does not divide
     train.grad_accum is refused naming both keys;
  8. train.recompute (activation checkpointing; the sampler's prefill recomputes each layer):
     the first 4 iterations are bitwise those of the run in 4.

usage: test_task.py GRIFFIN_BIN PROJECT_ROOT WORK_DIR"""
import json, os, re, shutil, subprocess, sys

BIN, ROOT, WORK = (os.path.abspath(a) for a in sys.argv[1:4])
HERE = os.path.dirname(os.path.abspath(__file__))
ENV = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
ACC_MIN, RISE, KL_MAX, ITERS = 0.95, 2.0, 6.0, 20


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def run(*cmd, exe=None):
    p = subprocess.run([exe or BIN, *cmd], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        print(p.stdout[-4000:])
        fail(f"{' '.join([exe or 'griffin', *cmd])} exited {p.returncode}")
    return p.stdout


def config(name):
    text = open(os.path.join(HERE, name)).read().replace("TASK/", WORK + "/")
    path = os.path.join(WORK, name)
    open(path, "w").write(text)
    return path


def metrics(run_dir):
    return [json.loads(l) for l in open(os.path.join(run_dir, "metrics.jsonl"))]


shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
subprocess.run([sys.executable, os.path.join(HERE, "make_task.py"), WORK], check=True)
subprocess.run([os.path.join(ROOT, "scripts/data/train_tokenizer.sh"), f"{WORK}/all.txt", f"{WORK}/tok", "400",
                "--hard_vocab_limit=false"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
for kind, src, dst in [("chat", "sft.jsonl", "sft.h5"), ("preference", "pref.train.jsonl", "pref.train.h5"),
                       ("preference", "pref.heldout.jsonl", "pref.heldout.h5"), ("prompt", "prompts.train.jsonl", "prompts.train.h5"),
                       ("prompt", "prompts.heldout.jsonl", "prompts.heldout.h5")]:
    run("tokenize", "--kind", kind, "--tokenizer", f"{WORK}/tok.model", "--input", f"{WORK}/{src}", "--output",
        f"{WORK}/{dst}", "--quiet")

# 2. SFT
run("sft", config("task_sft.ini"))

# 3. reward model
run("reward", config("task_reward.ini"))
vals = [m for m in metrics(f"{WORK}/rm") if "val_accuracy" in m]
steps = [m for m in metrics(f"{WORK}/rm") if "accuracy" in m]
for k in ("loss", "accuracy", "margin"):
    if k not in steps[-1]:
        fail(f"reward metrics lack {k}")
acc = vals[-1]["val_accuracy"]
out = run("eval", "--checkpoint", f"{WORK}/rm/ckpt-80.h5", "--preferences", f"{WORK}/pref.heldout.h5")
acc_eval = float(re.search(r"accuracy: ([0-9.]+)", out).group(1))
print(f"reward model: held-out accuracy {vals[0]['val_accuracy']:.4f} at step 0 -> {acc:.4f} "
      f"(griffin eval: {acc_eval:.4f}), val_loss {vals[0]['val_loss']:.4f} -> {vals[-1]['val_loss']:.4f}")
if acc < ACC_MIN:
    fail(f"reward-model held-out accuracy {acc:.4f} < {ACC_MIN}")
if abs(acc_eval - acc) > 1e-4:  # eval prints 4 decimals
    fail("griffin eval --preferences disagrees with the training run's val_accuracy")

# 4. RLHF
cfg = config("task_rlhf.ini")
run("rlhf", cfg)
ms = metrics(f"{WORK}/rlhf")
ev = [m for m in ms if "val_rm_score" in m]
it = [m for m in ms if "reward" in m]
for k in ("reward", "rm_score", "kl", "entropy", "response_length", "ended_fraction", "clip_fraction", "logprob_max_diff"):
    if k not in it[-1]:
        fail(f"rlhf metrics lack {k}")
s0, s1, kl1 = ev[0]["val_rm_score"], ev[-1]["val_rm_score"], ev[-1]["val_kl"]
maxdiff = max(m["logprob_max_diff"] for m in it)
print(f"rlhf: held-out mean RM score {s0:+.4f} -> {s1:+.4f} in {ITERS} iterations (rise {s1 - s0:+.4f}, need >= {RISE}); "
      f"held-out KL {ev[0]['val_kl']:.4f} -> {kl1:.4f} (bound {KL_MAX}); ended {ev[0]['val_ended_fraction']:.3f} -> "
      f"{ev[-1]['val_ended_fraction']:.3f}; training KL at iteration 1 {it[0]['kl']:.6f}; "
      f"max |log p sampler - log p trainer| = {maxdiff:.2e}")
if it[0]["kl"] != 0.0:
    fail("KL at the first iteration (policy = reference) is not 0")
if s1 - s0 < RISE:
    fail("RLHF did not raise the held-out reward-model score enough")
if kl1 > KL_MAX:
    fail("KL to the reference exceeds the bound")
if maxdiff > 1e-3:
    fail("sampler and trainer log-probabilities disagree")

# 5. resume: 10 iterations, then on to 20
half = f"{WORK}/rlhf_half"
run("rlhf", cfg, f"--train.out_dir={half}", "--train.steps=10")
run("rlhf", cfg, f"--train.out_dir={half}", f"--train.steps={ITERS}", "--train.resume=auto")
a = {m["step"]: m for m in it}
b = {m["step"]: m for m in metrics(half) if "reward" in m}
keys = ("reward", "rm_score", "kl", "entropy", "loss", "grad_norm")
bad = [s for s in range(1, ITERS + 1) if any(a[s][k] != b[s][k] for k in keys)]
if bad:
    fail(f"resumed run differs from the uninterrupted one at iterations {bad}")
print("resume: iterations 1..20 identical (10 + resumed 10 vs 20)")

# 6. k3 estimator and whitened advantages
run("rlhf", cfg, f"--train.out_dir={WORK}/rlhf_k3", "--train.steps=3", "--rlhf.kl_estimator=k3", "--rlhf.whiten=true",
    "--train.eval_every=0", "--rlhf.valid_prompts=")
k3 = [m for m in metrics(f"{WORK}/rlhf_k3") if "reward" in m]
if len(k3) != 3 or k3[0]["kl_estimator"] != "k3" or k3[0]["kl"] != 0.0:
    fail("k3 run: expected 3 iterations with KL 0 at the first")

# 6b. GRPO advantages (rlhf.advantage = grpo) run; rloo (the default) is what every run above used
run("rlhf", cfg, f"--train.out_dir={WORK}/rlhf_grpo", "--train.steps=3", "--rlhf.advantage=grpo", "--train.eval_every=0",
    "--rlhf.valid_prompts=")
gr = [m for m in metrics(f"{WORK}/rlhf_grpo") if "reward" in m]
if len(gr) != 3 or gr[0]["kl"] != 0.0 or any(g["loss"] != g["loss"] for g in gr):
    fail("grpo run: expected 3 iterations with KL 0 at the first and finite losses")
if gr[0]["reward"] != it[0]["reward"]:
    fail("grpo run: its first rollout differs from the rloo run's (the advantages come after it)")
if gr[0]["loss"] == it[0]["loss"] and gr[0]["grad_norm"] == it[0]["grad_norm"]:
    fail("grpo run: the first update is the same as rloo's")
print(f"grpo: 3 iterations, first update loss {gr[0]['loss']:+.5f} (rloo {it[0]['loss']:+.5f})")

# 7. PPO minibatches: 4 updates per epoch, each on a quarter of the batch (4 micro-batches)
mb = f"{WORK}/rlhf_mb4"
run("rlhf", cfg, f"--train.out_dir={mb}", "--train.steps=10", "--rlhf.minibatches=4", "--train.grad_accum=4")
if "4 updates per epoch on minibatches of 8 sequences" not in open(f"{mb}/log.txt").read():
    fail("rlhf.minibatches = 4: the log does not say 4 updates per epoch")
ev4 = [m for m in metrics(mb) if "val_rm_score" in m]
m0, m1, mkl = ev4[0]["val_rm_score"], ev4[-1]["val_rm_score"], ev4[-1]["val_kl"]
print(f"rlhf, 4 minibatches: held-out mean RM score {m0:+.4f} -> {m1:+.4f} in 10 iterations, held-out KL {mkl:.4f}")
if m1 - m0 < RISE or mkl > KL_MAX:
    fail("RLHF with 4 minibatches did not raise the held-out score enough in 10 iterations, or its KL exceeds the bound")
bad = subprocess.run([BIN, "rlhf", cfg, f"--train.out_dir={WORK}/rlhf_mb3", "--rlhf.minibatches=3", "--train.grad_accum=4"], env=ENV,
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
if bad.returncode == 0 or "rlhf.minibatches (3) must divide train.grad_accum (4)" not in bad.stdout:
    fail("rlhf.minibatches = 3 with train.grad_accum = 4 was not refused with a message naming both keys")

# 8. activation checkpointing changes nothing
run("rlhf", cfg, f"--train.out_dir={WORK}/rlhf_recompute", "--train.steps=4", "--train.recompute=true")
r4 = {m["step"]: m for m in metrics(f"{WORK}/rlhf_recompute") if "reward" in m}
bad = [s for s in range(1, 5) if any(a[s][k] != r4[s][k] for k in keys)]
if len(r4) != 4 or bad:
    fail(f"rlhf with train.recompute differs from the run without at iterations {bad}")
print("recompute: iterations 1..4 identical to the run without it")
print("ok")
