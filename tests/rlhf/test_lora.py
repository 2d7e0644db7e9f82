#!/usr/bin/env python3
"""LoRA adapters ([lora] rank/alpha/targets) in every stage on the constructed task prepared by
test_task.py (its work folder):
- sft from a short base run: with adapters the loss falls (reported beside full SFT at the
  same steps); every base tensor stays bitwise the init's, only the adapters move and have
  moments; the start-up line says the adapters start at B = 0; resume is bitwise;
- its checkpoints are adapter checkpoints (params/ = the adapters, with their moments, and the
  base's path + CRC-32), much smaller than the full ones of the same run
  (train.full_checkpoints), and sample / eval / export --merge from them equal those from the
  full ones bitwise; a missing base (and --base), a changed base (a flipped byte, another
  model) are refused in one line naming both files, nothing written;
- sample and eval take the adapter checkpoint (merged at load); export refuses it without
  --merge; with --merge, import of the export evaluates to the same loss;
- reward (adapters + the head), rlhf (policy = base + adapters, rollouts from a merged copy)
  and dpo run with adapters and leave the base untouched; reward and dpo learn;
- bad [lora] settings are refused in one line naming the key, nothing written.

usage: test_lora.py GRIFFIN_BIN TASK_WORK_DIR"""
import glob, json, os, re, shutil, struct, subprocess, sys

import numpy as np

BIN, WORK = (os.path.abspath(a) for a in sys.argv[1:3])
ENV = dict(os.environ, OMP_NUM_THREADS="1")
SFT = f"{WORK}/sft/ckpt-150.h5"
LORA = ["--lora.rank=4", "--lora.alpha=8"]


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def run(*cmd, ok=True):
    p = subprocess.run([BIN, *cmd], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if ok and p.returncode != 0:
        print(p.stdout[-4000:])
        fail(f"{' '.join(cmd)} exited {p.returncode}")
    return p


def names(path, group):
    out = subprocess.run(["h5ls", f"{path}/{group}"], stdout=subprocess.PIPE, text=True).stdout
    return {l.split()[0] for l in out.splitlines() if l.strip()}


def same(a, b, name):
    return subprocess.run(["h5diff", a, b, f"/params/{name}", f"/params/{name}"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


def metrics(d, key="loss"):
    return [json.loads(l) for l in open(f"{d}/metrics.jsonl") if f'"{key}"' in l]


def fresh(d):
    if os.path.isfile(d):
        os.remove(d)
    shutil.rmtree(d, ignore_errors=True)
    return d


def value(out, key):
    m = re.search(rf"^\s*{key}:\s*([-0-9.eE+]+)", out, re.M)
    if not m:
        fail(f"no {key}: in\n{out[-2000:]}")
    return float(m.group(1))


def read_st(path):
    """{name: float64 array} of a safetensors file (F32)"""
    blob = open(path, "rb").read()
    (n,) = struct.unpack("<Q", blob[:8])
    head = json.loads(blob[8:8 + n])
    return {k: np.frombuffer(blob[8 + n + e["data_offsets"][0]:8 + n + e["data_offsets"][1]], "<f4").astype(np.float64)
            .reshape(e["shape"]) for k, e in head.items() if k != "__metadata__"}


def check_adapted(what, init, final, log, full=None):
    """an adapter checkpoint: params/ holds the trainable set only (the adapters, a reward head),
    with moments, and names init as its base; with `full` (the same run with
    train.full_checkpoints): there the base tensors are bitwise the init's"""
    tensors, base = names(final, "params"), names(init, "params")
    adapters = {n for n in tensors if ".lora_" in n}
    if not adapters or not adapters.isdisjoint(base):
        fail(f"{what}: expected adapter tensors beyond the init's ({len(adapters)})")
    moments = names(final, "adam_m")
    if not moments or moments != tensors or not moments <= adapters | {"reward_head.weight", "reward_head.bias"}:
        fail(f"{what}: params/ {len(tensors)} tensors, moments {len(moments)}: expected the trainable set in both")
    if f"base: {init} " not in run("inspect", final).stdout:
        fail(f"{what}: {final} does not name {init} as its base")
    if full:
        changed = [n for n in names(full, "params") & base if not same(init, full, n)]
        if changed:
            fail(f"{what}: frozen base tensors changed: {changed[:3]}")
    text = open(log).read()
    line = [l for l in text.splitlines() if l.startswith("trainable:")]
    print(f"{what}: an adapter checkpoint of {len(tensors)} tensors over its base{', bitwise the init' if full else ''}"
          f"; {line[0] if line else ''}")


# 1. a short base run, then 60 steps of SFT with adapters and without
base_dir = fresh(f"{WORK}/lora_base")
run("sft", f"{WORK}/task_sft.ini", f"--train.out_dir={base_dir}", "--train.steps=20", "--stage.1.steps=20",
    "--train.checkpoint_every=20")
BASE = f"{base_dir}/ckpt-20.h5"
common = [f"--train.init={BASE}", "--train.steps=60", "--stage.1.steps=60", "--train.checkpoint_every=30",
          "--optim.warmup_steps=5", "--train.log_every=5", "--optim.schedule=constant"]  # constant: a run stopped at 30 has the same schedule
lo = fresh(f"{WORK}/lora_sft")
run("sft", f"{WORK}/task_sft.ini", f"--train.out_dir={lo}", *common, *LORA, "--optim.lr=2e-2")
lofull = fresh(f"{WORK}/lora_sft_fullckpt")  # the same run, every tensor in its checkpoints
run("sft", f"{WORK}/task_sft.ini", f"--train.out_dir={lofull}", *common, *LORA, "--optim.lr=2e-2",
    "--train.full_checkpoints=true")
full = fresh(f"{WORK}/lora_sft_full")
run("sft", f"{WORK}/task_sft.ini", f"--train.out_dir={full}", *common)
log = open(f"{lo}/log.txt").read()
if "the LoRA adapters start at B = 0" not in log:
    fail("sft with adapters: the start-up log does not say the adapters start at B = 0")
check_adapted("sft", BASE, f"{lo}/ckpt-60.h5", f"{lo}/log.txt", full=f"{lofull}/ckpt-60.h5")
la, lf = metrics(lo), metrics(full)
first, last_lora, last_full = la[0]["loss"], sum(m["loss"] for m in la[-3:]) / 3, sum(m["loss"] for m in lf[-3:]) / 3
print(f"sft from the 20-step base: loss {first:.4f} -> LoRA r4 {last_lora:.4f}, full {last_full:.4f} (60 steps)")
if not last_lora < first - 0.05:
    fail("LoRA sft did not lower the loss")

# resume: 30 steps, then on to 60, bitwise the uninterrupted run
half = fresh(f"{WORK}/lora_sft_resumed")
run("sft", f"{WORK}/task_sft.ini", f"--train.out_dir={half}", *common, *LORA, "--optim.lr=2e-2", "--train.steps=30")
run("sft", f"{WORK}/task_sft.ini", f"--train.out_dir={half}", *common, *LORA, "--optim.lr=2e-2", "--train.resume=auto")
strip = lambda ms: [{k: v for k, v in m.items() if k not in ("ms", "tokens_per_s") and not k.startswith("mfu")}
                    for m in ms]
if strip(metrics(half)) != strip(la) or subprocess.run(["h5diff", f"{lo}/ckpt-60.h5", f"{half}/ckpt-60.h5", "/params",
                                                        "/params"], stdout=subprocess.DEVNULL).returncode:
    fail("LoRA sft resumed at step 30 differs from the uninterrupted run")
print("sft with adapters: resumed at step 30, bitwise as the uninterrupted run")

# adapter checkpoints against full ones of the same run: smaller, the same run, the same model
CK, CKF = f"{lo}/ckpt-60.h5", f"{lofull}/ckpt-60.h5"
size, size_full = os.path.getsize(CK), os.path.getsize(CKF)
frozen = int(re.search(r"frozen (\d+) in", open(f"{lo}/log.txt").read()).group(1))
print(f"adapter checkpoint {size} bytes, the full checkpoint of the same run {size_full} bytes "
      f"({size_full / size:.1f}x; both hold the config and the tokenizer), the base {os.path.getsize(BASE)} bytes")
if not size < size_full - 4 * frozen:  # at least the frozen tensors' floats less
    fail("the adapter checkpoint is not smaller than the full one by the frozen tensors")
if strip(metrics(lofull)) != strip(la) or any(
        subprocess.run(["h5diff", CK, CKF, f"/{g}", f"/{g}"], stdout=subprocess.DEVNULL).returncode for g in ("adam_m", "adam_v")):
    fail("train.full_checkpoints changed the run (metrics or moments)")
for n in names(CK, "params"):
    if not same(CK, CKF, n):
        fail(f"params/{n} differs between the adapter and the full checkpoint")
v = run("inspect", "--verify", CK).stdout.strip()
print(v[:60] + " ... " + v[-90:])
if not v.startswith("OK:") or "adapter checkpoint" not in v:
    fail("inspect --verify of the adapter checkpoint")
smp = ["--prompt", "Give me 3 colors.", "--chat", "--temperature", "0", "--max-new-tokens", "12"]
ev = ["--corpus", f"{WORK}/sft.h5", "--max-docs", "64"]
outs = {}
for c in (CK, CKF):
    outs[c] = (run("sample", "--checkpoint", c, *smp).stdout, value(run("eval", "--checkpoint", c, *ev).stdout, "loss"))
    x = fresh(f"{WORK}/lora_cmp_{len(outs)}")
    run("export", "--checkpoint", c, "--format", "hf", "--merge", "--out", x)
    outs[c] += (open(f"{x}/model.safetensors", "rb").read(),)
if outs[CK] != outs[CKF]:
    fail("sample / eval / export --merge from the adapter checkpoint differ from the full checkpoint's")
print(f"sample, eval (loss {outs[CK][1]:.6f}) and export --merge (model.safetensors {len(outs[CK][2])} bytes) from "
      "the adapter checkpoint: bitwise those of the full checkpoint")
# the base moved: refused naming it; --base reads it from the new place
moved = f"{WORK}/lora_base_moved.h5"
os.rename(BASE, moved)
try:
    for cmd in (["sample", "--checkpoint", CK, *smp], ["eval", "--checkpoint", CK, *ev]):
        p = run(*cmd, ok=False)
        lines = [l for l in p.stdout.splitlines() if l.strip() and "ERROR" not in l]
        if p.returncode == 0 or BASE not in p.stdout or "cannot open" not in p.stdout:
            fail(f"{cmd[0]} with its base missing: exit {p.returncode}: {p.stdout[-500:]}")
    print(f"the base missing: {lines[-1]}")
    if run("sample", "--checkpoint", CK, *smp, "--base", moved).stdout != outs[CK][0]:
        fail("sample --base from the moved base differs")
finally:
    os.rename(moved, BASE)
# a changed base: one byte flipped, or another model; refused in one line, nothing written
blob = bytearray(open(BASE, "rb").read())
other = f"{WORK}/lora_base_other.h5"
for what in ("flipped", "other"):
    if what == "flipped":
        b2 = bytearray(blob)
        b2[len(b2) // 2] ^= 0x10
        open(other, "wb").write(b2)
    else:
        shutil.copy(CKF, other)
    x = fresh(f"{WORK}/lora_refused")
    for cmd in (["export", "--checkpoint", CK, "--format", "hf", "--merge", "--out", x, "--base", other],
                ["sample", "--checkpoint", CK, *smp, "--base", other],
                ["sft", f"{WORK}/task_sft.ini", f"--train.out_dir={x}", *common, *LORA, f"--train.resume={CK}"]):
        if cmd[0] == "sft":  # a resume whose base changed under it: the recorded path now holds `other`
            os.rename(BASE, BASE + ".keep")
            shutil.copy(other, BASE)
        try:
            p = run(*cmd, ok=False)
        finally:
            if cmd[0] == "sft":
                os.replace(BASE + ".keep", BASE)
        lines = [l for l in p.stdout.splitlines() if l.strip()]
        if cmd[0] == "sft":  # after the start-up table (which names train.init): the refusal
            lines = [l for l in lines if l.startswith("griffin")]
        want = "CRC-32" if what == "flipped" else "not the file it was trained from"
        base_named = other if cmd[0] != "sft" else BASE
        if p.returncode == 0 or len([l for l in lines if base_named in l]) != 1 or want not in p.stdout or \
                CK not in p.stdout or (os.path.exists(x) and os.listdir(x) and cmd[0] != "sft") or \
                glob.glob(f"{x}/ckpt-*.h5"):
            fail(f"{cmd[0]} over a base {what}: exit {p.returncode}, wanted one line naming {CK} and {base_named}: "
                 f"{p.stdout[-800:]}")
        print(f"{cmd[0]}, base {what}: exit {p.returncode}: {[l for l in lines if base_named in l][0][:160]}")
os.remove(other)

# dropout: learns, and a resumed run draws the same masks (bitwise)
dr, drh = fresh(f"{WORK}/lora_sft_dropout"), fresh(f"{WORK}/lora_sft_dropout_resumed")
run("sft", f"{WORK}/task_sft.ini", f"--train.out_dir={dr}", *common, *LORA, "--optim.lr=2e-2", "--lora.dropout=0.1")
run("sft", f"{WORK}/task_sft.ini", f"--train.out_dir={drh}", *common, *LORA, "--optim.lr=2e-2", "--lora.dropout=0.1",
    "--train.steps=30")
run("sft", f"{WORK}/task_sft.ini", f"--train.out_dir={drh}", *common, *LORA, "--optim.lr=2e-2", "--lora.dropout=0.1",
    "--train.resume=auto")
ld = metrics(dr)
if strip(metrics(drh)) != strip(ld) or ld == la:
    fail("LoRA sft with dropout: resumed differs from uninterrupted (or dropout changed nothing)")
print(f"sft with lora.dropout 0.1: loss {ld[0]['loss']:.4f} -> {sum(m['loss'] for m in ld[-3:]) / 3:.4f}; "
      "resumed at step 30 bitwise")
p = run("rlhf", f"{WORK}/task_rlhf.ini", f"--train.out_dir={WORK}/lora_rlhf_dropout", *LORA, "--lora.dropout=0.1", ok=False)
if p.returncode == 0 or "lora.dropout" not in p.stdout:
    fail("rlhf must refuse lora.dropout > 0")

# 2. sample, eval, export
out = run("sample", "--checkpoint", CK, "--prompt", "Give me 3 colors.", "--chat", "--temperature", "0",
          "--max-new-tokens", "12").stdout
print("sample from the adapter checkpoint:", out.strip().splitlines()[-1][:80])
loss_lora = value(run("eval", "--checkpoint", CK, "--corpus", f"{WORK}/sft.h5", "--max-docs", "64").stdout, "loss")
fresh(f"{WORK}/lora_export")
p = run("export", "--checkpoint", CK, "--format", "official", "--out", f"{WORK}/lora_export", ok=False)
lines = [l for l in p.stdout.splitlines() if l.strip()]
if p.returncode == 0 or len(lines) != 1 or "--merge" not in lines[0] or os.path.exists(f"{WORK}/lora_export/config.json"):
    fail(f"export of an adapter checkpoint without --merge must be refused in one line: {p.stdout}")
run("export", "--checkpoint", CK, "--format", "official", "--out", f"{WORK}/lora_export", "--merge")
run("import", "--from", f"{WORK}/lora_export", "--out", f"{WORK}/lora_merged.h5")
loss_merged = value(run("eval", "--checkpoint", f"{WORK}/lora_merged.h5", "--corpus", f"{WORK}/sft.h5", "--max-docs",
                        "64").stdout, "loss")
print(f"eval: adapter checkpoint loss {loss_lora:.6f}, export --merge + import {loss_merged:.6f}")
if abs(loss_lora - loss_merged) > 1e-5 * max(1.0, abs(loss_lora)):
    fail("the merged export evaluates differently from the adapter checkpoint")

# PEFT: the adapters alone under HF module names; the HF base plus s·B·A is the merged HF export
peft, hb, hm = fresh(f"{WORK}/lora_peft"), fresh(f"{WORK}/lora_base_hf"), fresh(f"{WORK}/lora_merged_hf")
run("export", "--checkpoint", CK, "--format", "peft", "--out", peft)
run("export", "--checkpoint", BASE, "--format", "hf", "--out", hb)
run("export", "--checkpoint", CK, "--format", "hf", "--merge", "--out", hm)
pc = json.load(open(f"{peft}/adapter_config.json"))
ad, W, M = read_st(f"{peft}/adapter_model.safetensors"), read_st(f"{hb}/model.safetensors"), read_st(f"{hm}/model.safetensors")
s = pc["lora_alpha"] / pc["r"]
modules = sorted(k[len("base_model.model."):-len(".lora_A.weight")] for k in ad if k.endswith(".lora_A.weight"))
if pc["peft_type"] != "LORA" or pc["r"] != 4 or len(ad) != 2 * len(modules) or not modules:
    fail(f"adapter_config.json / adapter_model.safetensors: {pc}, {len(ad)} tensors")
worst = 0.0
for mod in modules:
    a, b = ad[f"base_model.model.{mod}.lora_A.weight"], ad[f"base_model.model.{mod}.lora_B.weight"]
    w = W[f"{mod}.weight"]
    if a.shape != (4, w.shape[1]) or b.shape != (w.shape[0], 4):
        fail(f"PEFT {mod}: lora_A {a.shape}, lora_B {b.shape} for a weight {w.shape}")
    worst = max(worst, np.abs(w + s * b @ a - M[f"{mod}.weight"]).max() / max(1e-6, np.abs(M[f"{mod}.weight"]).max()))
others = [k for k in M if k[:-len(".weight")] not in modules and not np.array_equal(M[k], W[k])]
print(f"peft export: {len(modules)} modules (e.g. {modules[0]}); HF base + (alpha/r)·B·A vs the merged HF export: "
      f"{worst:.2e} relative; {len(others)} other tensors differ")
if worst > 1e-5 or others or len(modules) != 6 * 2 + 7:  # 2 recurrent layers, 1 attention layer (ffw_up: 2 modules)
    fail("the PEFT adapter on the HF base is not the merged model")
run("import", "--from", peft, "--base", BASE, "--out", f"{WORK}/lora_peft.h5")
loss_peft = value(run("eval", "--checkpoint", f"{WORK}/lora_peft.h5", "--corpus", f"{WORK}/sft.h5", "--max-docs",
                      "64").stdout, "loss")
print(f"import of the PEFT adapter onto its base: loss {loss_peft:.6f} (the adapter checkpoint's {loss_lora:.6f})")
if loss_peft != loss_lora:
    fail("the imported PEFT adapter evaluates differently from the adapter checkpoint")
pc["use_dora"] = True
bad = fresh(f"{WORK}/lora_peft_bad")
os.makedirs(bad)
shutil.copy(f"{peft}/adapter_model.safetensors", bad)
json.dump(pc, open(f"{bad}/adapter_config.json", "w"))
p = run("import", "--from", bad, "--base", BASE, "--out", f"{WORK}/lora_peft_bad.h5", ok=False)
lines = [l for l in p.stdout.splitlines() if l.strip()]
print(f"a DoRA adapter: exit {p.returncode}: {lines[0] if lines else ''}")
if p.returncode == 0 or len(lines) != 1 or "use_dora" not in lines[0] or os.path.exists(f"{WORK}/lora_peft_bad.h5"):
    fail("an adapter this model cannot hold must be refused in one line naming the key, nothing written")

# 3. reward model: adapters + the head from the (plain) SFT checkpoint
rm = fresh(f"{WORK}/lora_rm")
run("reward", f"{WORK}/task_reward.ini", f"--train.out_dir={rm}", *LORA, "--optim.lr=1e-2")
check_adapted("reward", SFT, f"{rm}/ckpt-80.h5", f"{rm}/log.txt")
acc = value(run("eval", "--checkpoint", f"{rm}/ckpt-80.h5", "--preferences", f"{WORK}/pref.heldout.h5").stdout, "accuracy")
print(f"reward model with adapters: held-out accuracy {acc:.3f}")
if acc < 0.8:
    fail("the reward model with adapters did not learn (held-out accuracy < 0.8)")

# 4. rlhf: the policy is the SFT model + adapters; rollouts from a merged copy
rl = fresh(f"{WORK}/lora_rlhf")
run("rlhf", f"{WORK}/task_rlhf.ini", f"--train.out_dir={rl}", "--train.steps=4", "--train.checkpoint_every=4",
    "--train.eval_every=2", *LORA)
check_adapted("rlhf", SFT, f"{rl}/ckpt-4.h5", f"{rl}/log.txt")
ms = metrics(rl, "rm_score")
if not ms or any(m["kl"] != m["kl"] for m in ms):
    fail("rlhf with adapters: no finite rm_score / kl")
print(f"rlhf with adapters: {len(ms)} iterations, kl {ms[-1]['kl']:.4f}, reward {ms[-1]['reward']:.4f}")
if "reference: the policy with its LoRA adapters off" not in open(f"{rl}/log.txt").read():
    fail("rlhf with fresh adapters should use the policy with its adapters off as the reference")
# the same run with the reference as a separate copy (another path): bitwise the same
shutil.copy(SFT, f"{WORK}/lora_ref_copy.h5")
rl2 = fresh(f"{WORK}/lora_rlhf_refcopy")
run("rlhf", f"{WORK}/task_rlhf.ini", f"--train.out_dir={rl2}", "--train.steps=4", "--train.checkpoint_every=4",
    "--train.eval_every=2", f"--rlhf.reference={WORK}/lora_ref_copy.h5", *LORA)
timing = ("ms", "tokens_per_s", "sample_ms", "score_ms", "update_ms")
clean = lambda ms: [{k: v for k, v in m.items() if k not in timing and not k.startswith("mfu")} for m in ms]
if clean(metrics(rl2, "rm_score")) != clean(ms):
    fail("rlhf: the shared reference (adapters off) differs from a separate reference copy")
print("rlhf: the policy with adapters off as the reference = a separate copy of the base, bitwise")
rl3 = fresh(f"{WORK}/lora_rlhf_bf16")
run("rlhf", f"{WORK}/task_rlhf.ini", f"--train.out_dir={rl3}", "--train.steps=2", "--train.eval_every=0", *LORA,
    "--rlhf.sampler_weights=bf16")
m3 = metrics(rl3, "kl")
print(f"rlhf with adapters and a bf16 sampler (base bf16, adapters fp32): {len(m3)} iterations, kl {m3[-1]['kl']:.4f}")

# rlhf from adapter checkpoints: the policy the adapter SFT checkpoint (its adapters continue, and
# it is the reference), the reward model the adapter reward checkpoint; the run's checkpoints
# chain: their base is the SFT adapter checkpoint, whose base is the base run's
rc = fresh(f"{WORK}/lora_rlhf_chain")
run("rlhf", f"{WORK}/task_rlhf.ini", f"--train.out_dir={rc}", "--train.steps=2", "--train.checkpoint_every=2",
    "--train.eval_every=0", f"--rlhf.policy={CK}", f"--rlhf.reward_model={rm}/ckpt-80.h5", *LORA)
chain = f"{rc}/ckpt-2.h5"
if f"base: {CK} " not in run("inspect", chain).stdout or not run("inspect", "--verify", chain).stdout.startswith("OK:"):
    fail(f"rlhf from an adapter checkpoint: {chain} is not a verified adapter checkpoint over {CK}")
run("sample", "--checkpoint", chain, "--prompt", "Give me 3 colors.", "--chat", "--max-new-tokens", "4")
print(f"rlhf with policy and reward model adapter checkpoints: {os.path.getsize(chain)} bytes over {CK} over {BASE}")

# 5. dpo with adapters
dp = fresh(f"{WORK}/lora_dpo")
DPO_CFG = f"{WORK}/task_dpo_lora.ini"
with open(DPO_CFG, "w") as f:
    f.write(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "task_dpo.ini")).read().replace("TASK/", WORK + "/"))
run("dpo", DPO_CFG, f"--train.out_dir={dp}", "--train.steps=30", "--train.checkpoint_every=30", *LORA,
    "--optim.lr=1e-2")
check_adapted("dpo", SFT, f"{dp}/ckpt-30.h5", f"{dp}/log.txt")
vals = metrics(dp, "val_accuracy")
first_dpo = metrics(dp, "reward_accuracy")[0]["reward_accuracy"]
print(f"dpo with adapters: held-out implicit-reward accuracy {vals[-1]['val_accuracy'] if vals else 'missing'} after 30 "
      f"steps (first step's batch {first_dpo:.3f})")
if not vals or vals[-1]["val_accuracy"] < 0.8:
    fail("dpo with adapters did not learn (held-out implicit-reward accuracy < 0.8)")

# 6. bad settings: one line naming the key, nothing written
for bad, key in (("--lora.rank=99", "lora.rank"), ("--lora.targets=proj_z", "lora.targets")):
    d = fresh(f"{WORK}/lora_bad")
    p = run("sft", f"{WORK}/task_sft.ini", f"--train.out_dir={d}", f"--train.init={BASE}", bad, ok=False)
    lines = [l for l in p.stdout.splitlines() if l.strip()]
    print(f"{bad}: exit {p.returncode}: {lines[0] if lines else ''}")
    if p.returncode == 0 or len(lines) != 1 or key not in lines[0] or os.path.exists(d):
        fail(f"{bad} must be refused in one line naming {key}, nothing written")
print("test_lora: all passed")
