#!/usr/bin/env python3
"""`--weights fp32|bf16|int8` of griffin sample and griffin eval on a model trained for a few
steps on the licence corpora (tests/pipeline/).

usage: test_weights.py GRIFFIN_BIN WORK_DIR POISON_CKPT_BIN
- eval's held-out loss with bf16 and int8 weights is within 0.5% / 3% of fp32's (a tiny
  model; the README reports the small model's numbers);
- eval --per-document with narrow weights: an 8-token parallel pass continued by decode steps
  (the narrow GEMV) gives the NLL of one parallel pass (the dequantised GEMM) to 1e-5;
- eval --compare-weights bf16,int8 reports the same losses, top-1 agreement >= 0.9 and the
  greedy agreement;
- griffin sample generates with each format;
- `--weights int4` is refused in one line listing the choices, by sample, eval and bench sample;
- a checkpoint with a NaN weight is refused by --weights int8, naming the tensor.
"""
import json, os, shutil, subprocess, sys

BIN, WORK, POISON = sys.argv[1], sys.argv[2], sys.argv[3]
CFG = os.path.join(WORK, "lic.ini")
ENV = dict(os.environ, OMP_NUM_THREADS="1")


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def run(*args, check=True):
    p = subprocess.run([BIN, *args], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if check and p.returncode != 0:
        print(p.stdout)
        fail(f"griffin {' '.join(args)} exited {p.returncode}")
    return p


def field(out, key):
    for line in out.splitlines():
        if line.startswith(key + ":"):
            return float(line.split()[1])
    fail(f"no {key}: in\n{out}")


out = os.path.join(WORK, "weights")
shutil.rmtree(out, ignore_errors=True)
p = subprocess.run([BIN, "pretrain", CFG, f"--train.out_dir={out}", "--train.steps=8", "--stage.1.steps=4",
                    "--stage.2.steps=4", "--train.checkpoint_every=0", "--optim.warmup_steps=2"],
                   env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
if p.returncode != 0:
    print(p.stdout)
    fail("pretrain failed")
ckpt = os.path.join(out, "ckpt-8.h5")
valid = os.path.join(WORK, "valid.h5")

loss, nll = {}, {}
for fmt in ("fp32", "bf16", "int8"):
    loss[fmt] = field(run("eval", "--checkpoint", ckpt, "--corpus", valid, "--max-docs", "16",
                          "--weights", fmt).stdout, "loss")
    for L in (8, 1024):
        path = os.path.join(out, f"doc_{fmt}_{L}.jsonl")
        run("eval", "--checkpoint", ckpt, "--corpus", valid, "--per-document", path, "--max-length", str(L),
            "--max-docs", "6", "--weights", fmt)
        nll[fmt, L] = [json.loads(l)["nll"] for l in open(path)]
    worst = max(abs(a - b) / abs(b) for a, b in zip(nll[fmt, 8], nll[fmt, 1024]))
    print(f"{fmt}: held-out loss {loss[fmt]:.6f} ({(loss[fmt] / loss['fp32'] - 1) * 100:+.3f}% vs fp32); "
          f"per-document 8-token prefill + decode vs one pass: max relative NLL difference {worst:.2e}")
    if worst > 1e-5:
        fail(f"{fmt}: decode with narrow weights differs from the parallel pass with the same weights")
if abs(loss["bf16"] / loss["fp32"] - 1) > 0.005 or abs(loss["int8"] / loss["fp32"] - 1) > 0.03:
    fail("narrow weights change the held-out loss too much")
if loss["bf16"] == loss["fp32"] or loss["int8"] == loss["fp32"]:
    fail("the narrow formats give fp32's loss exactly: were they applied?")

p = run("eval", "--checkpoint", ckpt, "--corpus", valid, "--max-docs", "16", "--compare-weights", "bf16,int8")
blocks = p.stdout.split("weights: ")[1:]
if len(blocks) != 2:
    fail(f"eval --compare-weights bf16,int8: expected two blocks, got\n{p.stdout}")
for name, blk in zip(("bf16", "int8"), blocks):
    agree, same = field(blk, "  top1_agreement"), field(blk, "  greedy_identical")
    lq = field(blk, "  loss")
    print(f"--compare-weights {name}: loss {lq:.6f}, top-1 agreement {agree:.4f}, greedy identical {same:.3f}")
    if abs(lq - loss[name]) > 1e-4 * loss[name] or not 0.9 <= agree <= 1.0 or not 0.0 <= same <= 1.0:
        fail(f"--compare-weights {name}: implausible numbers\n{blk}")

texts = {}
for fmt in ("fp32", "bf16", "int8"):
    texts[fmt] = run("sample", "--checkpoint", ckpt, "--prompt", "The licence", "--temperature", "0",
                     "--max-new-tokens", "24", "--weights", fmt).stdout
    print(f"{fmt} greedy: {texts[fmt].strip()[:70]!r}")
    if not texts[fmt].strip():
        fail(f"sample --weights {fmt} printed nothing")

for cmd in (["sample", "--checkpoint", ckpt, "--prompt", "x"], ["eval", "--checkpoint", ckpt, "--corpus", valid],
            ["bench", "sample"]):
    p = run(*cmd, "--weights", "int4", check=False)
    lines = p.stdout.strip().splitlines()
    if p.returncode == 0 or len(lines) != 1 or "fp32, bf16, int8" not in lines[0] or "int4" not in lines[0]:
        fail(f"griffin {cmd[0]} --weights int4: expected a one-line refusal listing the choices, got {p.stdout!r}")
print("--weights int4 refused in one line listing fp32, bf16, int8 (sample, eval, bench sample)")

bad = os.path.join(out, "poisoned")
os.makedirs(bad, exist_ok=True)
p = subprocess.run([POISON, CFG, ckpt, bad], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
if p.returncode != 0:
    print(p.stdout)
    fail("poison_ckpt failed")
poisoned = os.path.join(bad, "ckpt-8.h5")
p = run("sample", "--checkpoint", poisoned, "--prompt", "x", "--weights", "int8", check=False)
lines = p.stdout.strip().splitlines()
if p.returncode == 0 or len(lines) != 1 or "tensor " not in lines[0] or "int8" not in lines[0]:
    fail(f"a NaN weight with --weights int8: expected a one-line refusal naming the tensor, got {p.stdout!r}")
print("NaN weight refused:", lines[0].split(": ", 1)[1])
print("ok")
