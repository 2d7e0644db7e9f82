#!/usr/bin/env python3
"""griffin dpo on the constructed task prepared by test_task.py (its work folder: the SFT model
sft/ckpt-150.h5, pref.train.h5, pref.heldout.h5), where the reply naming gold is preferred:

  1. dpo.loss = sigmoid from the SFT model (reference = the SFT model): at step 0 h = 0 exactly
     (val_loss = log 2, val_accuracy = 0.5), and within 30 steps the held-out implicit-reward
     accuracy reaches >= ACC_MIN; metrics carry every key; griffin eval --preferences
     --reference reports the same accuracy for the checkpoint (and 0.5 for the SFT model);
  2. dpo.precompute_ref = false (reference in memory, scored per batch) gives bitwise the same
     metrics and parameters as the precomputed reference;
  3. resume: 15 steps, then resumed to 30, bitwise the uninterrupted run (metrics, h5diff of the
     parameters); the reference cache of the run folder is reused;
  4. 2 ranks x 8 pairs = 1 rank x 16 = 1 rank x 2 micro-batches of 8, within float round-off;
  5. robust, ipo, hinge, simpo (+ label smoothing, sft_weight) run and lower their loss;
  5b. pairs with identical replies or longer than seq_len are counted and skipped;
  6. bad configs (unknown dpo.loss, dpo.beta = 0, a chat corpus, a missing reference, label
     smoothing with ipo, a reference trained with another tokenizer) are refused in one line naming
     the key, exit code 2, nothing written.

usage: test_dpo.py GRIFFIN_BIN TASK_WORK_DIR"""
import json, math, os, re, shutil, subprocess, sys

BIN, WORK = (os.path.abspath(a) for a in sys.argv[1:3])
HERE = os.path.dirname(os.path.abspath(__file__))
ENV = dict(os.environ, OMP_NUM_THREADS="1")
MPI = ["mpirun", "-np", "2", "--oversubscribe", "--bind-to", "none"]
if os.geteuid() == 0:
    MPI.insert(1, "--allow-run-as-root")
ACC_MIN, STEPS = 0.95, 30
KEYS = ("loss", "reward_accuracy", "reward_margin", "rewards_chosen", "rewards_rejected", "logp_chosen",
        "logp_rejected", "grad_norm")
VKEYS = ("val_loss", "val_accuracy", "val_margin", "val_rewards_chosen", "val_rewards_rejected")


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def run(*args, ranks=1, expect=0):
    p = subprocess.run((MPI if ranks > 1 else []) + [BIN, "dpo", CFG, *args], env=ENV, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if (p.returncode == 0) != (expect == 0) or (expect and p.returncode != expect):
        print(p.stdout[-4000:])
        fail(f"griffin dpo {' '.join(args)} on {ranks} rank(s) exited {p.returncode}, expected {expect}")
    return p.stdout


def metrics(d, key):
    return {m["step"]: m for m in map(json.loads, open(os.path.join(d, "metrics.jsonl"))) if key in m}


def h5same(a, b):
    return subprocess.run(["h5diff", "-q", a, b, "/params", "/params"]).returncode == 0


def close(a, b, keys, what, tol=2e-4):
    worst = max(abs(a[s][k] - b[s][k]) / (1e-3 + abs(a[s][k])) for s in a for k in keys)
    print(f"{what}: {len(a)} steps, worst relative difference {worst:.2e} (tolerance {tol})")
    if sorted(a) != sorted(b) or worst > tol:
        fail(f"{what} differ")


text = open(os.path.join(HERE, "task_dpo.ini")).read().replace("TASK/", WORK + "/")
CFG = os.path.join(WORK, "task_dpo.ini")
open(CFG, "w").write(text)
for d in ("dpo", "dpo_mem", "dpo_half", "dpo_r1", "dpo_r2", "dpo_a2", "dpo_bad"):
    shutil.rmtree(os.path.join(WORK, d), ignore_errors=True)

# 1. learning
run()
ev, st = metrics(f"{WORK}/dpo", "val_loss"), metrics(f"{WORK}/dpo", "reward_accuracy")
for k in KEYS:
    if k not in st[STEPS]:
        fail(f"dpo metrics lack {k}")
a0, a1 = ev[0]["val_accuracy"], ev[STEPS]["val_accuracy"]
print(f"dpo sigmoid: held-out implicit-reward accuracy {a0:.4f} at step 0 -> {a1:.4f} at step {STEPS} "
      f"(need >= {ACC_MIN}); val_loss {ev[0]['val_loss']:.6f} -> {ev[STEPS]['val_loss']:.4f}, "
      f"val_margin {ev[STEPS]['val_margin']:.4f}")
if abs(ev[0]["val_loss"] - math.log(2)) > 1e-12 or a0 != 0.5 or ev[0]["val_margin"] != 0:
    fail("step 0 (policy = reference) is not h = 0 exactly (val_loss log 2, accuracy 0.5, margin 0)")
if a1 < ACC_MIN:
    fail("DPO did not raise the held-out implicit-reward accuracy enough")

# griffin eval --preferences --reference: the same held-out implicit-reward accuracy for any policy
def implicit(ckpt):
    p = subprocess.run([BIN, "eval", "--checkpoint", ckpt, "--preferences", f"{WORK}/pref.heldout.h5", "--reference",
                        f"{WORK}/sft/ckpt-150.h5", "--batch", "16"], env=ENV, stdout=subprocess.PIPE, text=True, check=True)
    return float(re.search(r"implicit_reward_accuracy: ([0-9.]+)", p.stdout).group(1))


e_sft, e_dpo = implicit(f"{WORK}/sft/ckpt-150.h5"), implicit(f"{WORK}/dpo/ckpt-30.h5")
print(f"griffin eval --reference: implicit-reward accuracy SFT {e_sft:.4f}, DPO {e_dpo:.4f}")
if e_sft != 0.5 or abs(e_dpo - a1) > 1e-4:
    fail("griffin eval --preferences --reference disagrees with the run's val_accuracy")

# 2. the reference in memory = precomputed, bitwise
run(f"--train.out_dir={WORK}/dpo_mem", "--dpo.precompute_ref=false")
m = metrics(f"{WORK}/dpo_mem", "reward_accuracy")
if any(st[s][k] != m[s][k] for s in st for k in KEYS) or metrics(f"{WORK}/dpo_mem", "val_loss") != ev:
    fail("dpo.precompute_ref = false differs from the precomputed reference")
if not h5same(f"{WORK}/dpo/ckpt-30.h5", f"{WORK}/dpo_mem/ckpt-30.h5"):
    fail("dpo.precompute_ref = false: parameters differ from the precomputed run")
print("reference in memory: metrics and parameters bitwise those of the precomputed reference")

# 3. resume
run(f"--train.out_dir={WORK}/dpo_half", "--train.steps=15")
out = run(f"--train.out_dir={WORK}/dpo_half", "--train.resume=auto")
if "resumed from" not in out or "(reused)" not in out:
    fail("the second half did not resume, or did not reuse the reference cache")
h = metrics(f"{WORK}/dpo_half", "reward_accuracy")
if sorted(h) != sorted(st) or any(st[s][k] != h[s][k] for s in st for k in KEYS):
    fail("resumed run differs from the uninterrupted one")
if not h5same(f"{WORK}/dpo/ckpt-30.h5", f"{WORK}/dpo_half/ckpt-30.h5"):
    fail("resumed run: parameters differ")
print("resume: 15 + resumed 15 steps bitwise the 30 in one go (metrics, parameters); reference cache reused")

# 3b. another reference gets its own cache file (the key is the reference's checksum), and h != 0
run(f"--train.out_dir={WORK}/dpo_half", "--train.resume=none", "--train.steps=5", "--train.eval_every=5",
    f"--dpo.reference={WORK}/dpo/ckpt-15.h5")
caches = sorted(f for f in os.listdir(f"{WORK}/dpo_half") if f.startswith("ref-logps-"))
e5 = metrics(f"{WORK}/dpo_half", "val_loss")
if len(caches) != 2 or e5[0]["val_margin"] == 0:
    fail(f"dpo.reference = another checkpoint: expected a second cache file and h != 0, got {caches}")
print(f"another reference: its own cache file ({caches[0]} beside {caches[1]}), step-0 val_margin {e5[0]['val_margin']:+.4f}")

# 4. ranks and micro-batches
short = ["--train.steps=10", "--train.eval_every=5", "--train.checkpoint_every=10"]
run(f"--train.out_dir={WORK}/dpo_r1", *short)
run(f"--train.out_dir={WORK}/dpo_r2", "--train.batch_size=8", *short, ranks=2)
run(f"--train.out_dir={WORK}/dpo_a2", "--train.batch_size=8", "--train.grad_accum=2", *short)
for other, what in (("dpo_r2", "1 rank x 16 vs 2 ranks x 8"), ("dpo_a2", "1 micro-batch vs 2")):
    close(metrics(f"{WORK}/dpo_r1", "loss"), metrics(f"{WORK}/{other}", "loss"), KEYS, what)
    close(metrics(f"{WORK}/dpo_r1", "val_loss"), metrics(f"{WORK}/{other}", "val_loss"), VKEYS, what + " (eval)")

# 5. the other losses
for extra in (["--dpo.loss=robust", "--dpo.label_smoothing=0.1"], ["--dpo.loss=ipo"], ["--dpo.loss=hinge"],
              ["--dpo.loss=simpo", "--dpo.beta=2", "--dpo.gamma=0.5"], ["--dpo.sft_weight=0.5", "--dpo.label_smoothing=0.1"]):
    d = f"{WORK}/dpo_{extra[0].split('=')[1]}"
    shutil.rmtree(d, ignore_errors=True)
    run(f"--train.out_dir={d}", "--train.steps=10", "--train.eval_every=10", *extra)
    e = metrics(d, "val_loss")
    print(f"{' '.join(extra)}: val_loss {e[0]['val_loss']:.4f} -> {e[10]['val_loss']:.4f}, "
          f"val_accuracy {e[0]['val_accuracy']:.3f} -> {e[10]['val_accuracy']:.3f}")
    if not e[10]["val_loss"] < e[0]["val_loss"]:
        fail(f"{' '.join(extra)} did not lower the held-out loss")

# 5b. pairs with identical replies and pairs longer than seq_len are counted and skipped
rows = [json.loads(l) for l in open(f"{WORK}/pref.train.jsonl")][:40]
for r in rows[:3]:
    r["rejected"] = r["chosen"]
rows[3]["chosen"] = " ".join(["gold"] * 60) + "."
with open(f"{WORK}/pref.odd.jsonl", "w") as f:
    f.writelines(json.dumps(r) + "\n" for r in rows)
subprocess.run([BIN, "tokenize", "--kind", "preference", "--tokenizer", f"{WORK}/tok.model", "--input",
                f"{WORK}/pref.odd.jsonl", "--output", f"{WORK}/pref.odd.h5", "--quiet"], env=ENV, check=True)
shutil.rmtree(f"{WORK}/dpo_odd", ignore_errors=True)
out = run(f"--train.out_dir={WORK}/dpo_odd", f"--data.pairs={WORK}/pref.odd.h5", "--train.steps=2", "--train.eval_every=0",
          "--optim.warmup_steps=0")
if "pairs: 36 for training" not in out or "1 + 0 longer than seq_len 48, 3 + 0 with identical replies" not in out:
    fail("3 pairs with identical replies and 1 too long were not counted and skipped: " +
         [l for l in out.splitlines() if l.startswith("pairs:")][0])
print("skipped and counted: 3 pairs with identical replies, 1 longer than seq_len (36 of 40 train)")

# 6. refused configs
bad = f"{WORK}/dpo_bad"
for args, want in ((["--dpo.loss=kto"], "dpo.loss"), (["--dpo.beta=0"], "dpo.beta"),
                   ([f"--data.pairs={WORK}/sft.h5"], "data.pairs"), ([f"--dpo.reference={WORK}/none.h5"], "dpo.reference"),
                   (["--dpo.loss=ipo", "--dpo.label_smoothing=0.1"], "dpo.label_smoothing")):
    out = run(f"--train.out_dir={bad}", *args, expect=2).strip()
    if len(out.splitlines()) != 1 or want not in out or os.path.exists(bad):
        fail(f"{' '.join(args)}: not refused in one line naming {want} with nothing written: {out!r}")
    print(f"refused: {out}")

# 6b. a reference trained with another tokenizer: refused before anything is written. The SFT
# weights go out and back in with a tokenizer trained on half the text (same vocabulary limit).
with open(f"{WORK}/all.txt") as f:
    lines = f.readlines()
with open(f"{WORK}/half.txt", "w") as f:
    f.writelines(lines[::2])
subprocess.run([os.path.join(HERE, "../../scripts/data/train_tokenizer.sh"), f"{WORK}/half.txt", f"{WORK}/tok_other",
                "400", "--hard_vocab_limit=false"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
shutil.rmtree(f"{WORK}/sft_export", ignore_errors=True)
subprocess.run([BIN, "export", "--checkpoint", f"{WORK}/sft/ckpt-150.h5", "--format", "official", "--dtype", "fp32", "--out",
                f"{WORK}/sft_export"], env=ENV, check=True, stdout=subprocess.DEVNULL)
subprocess.run([BIN, "import", "--from", f"{WORK}/sft_export", "--tokenizer", f"{WORK}/tok_other.model", "--out",
                f"{WORK}/sft_other_tok.h5"], env=ENV, check=True, stdout=subprocess.DEVNULL)
out = run(f"--train.out_dir={bad}", f"--dpo.reference={WORK}/sft_other_tok.h5", expect=2).strip()
if len(out.splitlines()) != 1 or "another tokenizer" not in out or os.path.exists(bad):
    fail(f"a reference with another tokenizer: not refused in one line with nothing written: {out!r}")
print(f"refused: {out}")
print("ok")
