#!/usr/bin/env python3
"""End to end: `scripts/demo.sh --quick` (tiny model, small real data) runs every stage and
leaves what a person reads: each stage's checkpoint, report.md and the plots; the losses fell
(held-out losses of pretraining, SFT and the reward model); instruction tuning taught the model to
close its turn (greedy answers to held-out prompts end with <end_of_turn> within 128 tokens in
at least 90% of them after SFT, at most 50% before); RLHF raised the held-out reward-model
score with KL to the reference under 10 nats per reply, and the log-probabilities recorded
while sampling equal the trainer's to 1e-3; DPO on the same preference pairs raised the held-out
implicit-reward accuracy above one half (0.5 at step 0: the reference is the SFT model), and
`griffin eval` reports it, and the reward model's score of every tuned policy's greedy answers,
in the report's comparison table. It runs with `--seeds 2`: the stages after pretraining again
with seed 2 in RUN/seed2/, and the report's table over seeds gives mean ± spread and one verdict
per stage.

usage: test_demo.py PROJECT_ROOT PREPARED_SMALL_DIR RUN_DIR
The small data the data tests prepared is reused (linked as data/prepared/small when that is
missing), so the test downloads nothing itself."""
import glob, json, os, shutil, subprocess, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smalldata import link_small_data  # noqa: E402

ROOT, PREP, RUN = (os.path.abspath(a) for a in sys.argv[1:4])


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def rows(stage):
    out = []
    for line in open(os.path.join(RUN, stage, "metrics.jsonl")):
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    return out


link_small_data(ROOT, PREP)
shutil.rmtree(RUN, ignore_errors=True)
env = dict(os.environ, GRIFFIN_DEMO_RUN=RUN)
p = subprocess.run([os.path.join(ROOT, "scripts", "demo.sh"), "--quick", "--seeds", "2"], env=env, stdout=subprocess.PIPE,
                   stderr=subprocess.STDOUT, text=True)
if p.returncode != 0:
    print(p.stdout[-6000:])
    fail(f"demo.sh --quick exited {p.returncode}")

for stage in ("pretrain", "sft", "reward", "rlhf", "dpo"):
    if not glob.glob(os.path.join(RUN, stage, "ckpt-*.h5")):
        fail(f"no {stage} checkpoint")
for f in ("report.md", "loss.png", "rlhf.png", "dpo.png", "samples_base.txt", "samples_sft.txt", "samples_rlhf.txt",
          "samples_dpo.txt"):
    if not os.path.getsize(os.path.join(RUN, f)):
        fail(f"{f} is empty")

def val(stage, key="val_loss", group=None):
    v = [r for r in rows(stage) if key in r and (group is None or r.get("group") == group)]
    return v[0][key], v[-1][key]

pre = val("pretrain", group="valid")
sft = val("sft", group="wordnet")
rm = val("reward")  # held-out Bradley-Terry loss: ln 2 at step 0 (zero-initialised head)
rl = val("rlhf", key="val_rm_score")
print(f"pretraining held-out loss {pre[0]:.4f} -> {pre[1]:.4f}; SFT held-out loss {sft[0]:.4f} -> {sft[1]:.4f}; "
      f"reward-model held-out loss {rm[0]:.4f} -> {rm[1]:.4f}; RLHF held-out RM score {rl[0]:+.4f} -> {rl[1]:+.4f}")
if not (pre[1] < pre[0] and sft[1] < sft[0]):
    fail("a held-out loss did not fall")
if not rm[1] < rm[0]:
    fail("the reward-model held-out loss did not fall")
if not rl[1] > rl[0]:
    fail("RLHF did not raise the held-out reward-model score")
kl = val("rlhf", key="val_kl")[1]
dlogp = max(r["logprob_max_diff"] for r in rows("rlhf") if "logprob_max_diff" in r)


def ended(model):
    for line in open(os.path.join(RUN, f"eval_{model}.txt")):
        if line.startswith("ended_with_end_of_turn:"):
            return float(line.split()[1])
    fail(f"eval_{model}.txt has no ended_with_end_of_turn")


e_base, e_sft = ended("base"), ended("sft")
print(f"held-out answers closing their turn: base {e_base:.0%}, SFT {e_sft:.0%}; RLHF held-out KL {kl:.2f}; "
      f"max |log p sampler - trainer| {dlogp:.1e}")
if e_base > 0.5 or e_sft < 0.9:
    fail("instruction tuning did not teach the model to close its turn")
if kl > 10:
    fail("RLHF KL to the reference above 10 nats per reply")
if dlogp > 1e-3:
    fail("sampler and trainer log-probabilities disagree")
for model in ("base", "sft", "rlhf", "dpo", "sft_chat", "rlhf_chat", "dpo_chat"):  # the prepared tasks (griffin eval --tasks)
    text = open(os.path.join(RUN, f"tasks_{model}.txt")).read()
    for name in ("wordnet_gloss", "foldoc_term", "wordnet_word"):
        if f"task: {name}" not in text:
            fail(f"tasks_{model}.txt has no {name}")
    if text.count("acc_norm:") != 2 or text.count("exact_match:") != 1:
        fail(f"tasks_{model}.txt lacks acc_norm or exact_match lines")
report = open(os.path.join(RUN, "report.md")).read()
if "## Evaluation tasks" not in report:
    fail("report.md has no table of the evaluation tasks")

dpo = val("dpo", key="val_accuracy")


def field(path, key):
    for line in open(os.path.join(RUN, path)):
        if line.startswith(key + ":"):
            return float(line.split()[1])
    fail(f"{path} has no {key}")


implicit = {m: field(f"eval_{m}.txt", "implicit_reward_accuracy") for m in ("sft", "rlhf", "dpo")}
scores = {m: field(f"answers_{m}.txt", "rm_score") for m in ("sft", "rlhf", "dpo")}
print(f"DPO held-out implicit-reward accuracy {dpo[0]:.3f} -> {dpo[1]:.3f}; eval --reference: " +
      ", ".join(f"{m} {v:.3f}" for m, v in implicit.items()) + "; RM score of greedy answers: " +
      ", ".join(f"{m} {v:+.3f}" for m, v in scores.items()))
if dpo[0] != 0.5 or not dpo[1] > 0.5:
    fail("DPO did not raise the held-out implicit-reward accuracy above 0.5 (from 0.5 at step 0)")
if implicit["sft"] != 0.5 or field("answers_sft.txt", "log_ratio_to_reference") != 0:
    fail("the SFT model against itself should tie every pair and have log-ratio 0")
if not implicit["dpo"] > 0.5:
    fail("griffin eval --reference does not see DPO's gain")
for stage in ("sft", "reward", "rlhf", "dpo"):
    if not glob.glob(os.path.join(RUN, "seed2", stage, "ckpt-*.h5")):
        fail(f"no seed-2 {stage} checkpoint")
seed_rows = [l for l in report.splitlines() if l.startswith("| reward model: held-out pair accuracy |")]
if not seed_rows or seed_rows[0].count("±") != 1:
    fail("report.md's table over seeds lacks the reward model's mean ± spread")
for stage in ("SFT", "Reward model", "RLHF", "DPO"):
    if f"- **{stage}** " not in report:
        fail(f"report.md has no verdict sentence for {stage}")
for h in ("## DPO", "## SFT, RLHF and DPO compared", "reward-model score of greedy answers", "## Over seeds"):
    if h not in report:
        fail(f"report.md lacks {h}")
print("ok")
