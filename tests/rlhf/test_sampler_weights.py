#!/usr/bin/env python3
"""rlhf.sampler_weights = bf16 on the constructed task prepared by test_task.py (its work
folder): the rollouts sample from a bf16 copy of the policy, refreshed every iteration, while
the importance ratio uses the trainer's recomputed fp32 log-probabilities.
- fp32 (the default) and bf16 both run 20 iterations (the task's config);
- the logged sampler-vs-trainer log-probability difference is round-off with fp32 (< 1e-3,
  as test_task.py requires) and larger but bounded with bf16 (< 1): the sampler's
  distribution is no longer exactly the trainer's;
- with bf16 the held-out reward-model score still rises by >= RISE (test_task.py's bar) and
  the held-out KL stays <= KL_MAX.
Prints iteration and sampling time of both runs.

usage: test_sampler_weights.py GRIFFIN_BIN TASK_WORK_DIR"""
import json, os, shutil, subprocess, sys

BIN, WORK = (os.path.abspath(a) for a in sys.argv[1:3])
ENV = dict(os.environ, OMP_NUM_THREADS="1")
RISE, KL_MAX = 2.0, 6.0


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


res = {}
for fmt in ("fp32", "bf16"):
    out = f"{WORK}/rlhf_sampler_{fmt}"
    shutil.rmtree(out, ignore_errors=True)
    p = subprocess.run([BIN, "rlhf", f"{WORK}/task_rlhf.ini", f"--train.out_dir={out}", f"--rlhf.sampler_weights={fmt}"],
                       env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        print(p.stdout[-4000:])
        fail(f"rlhf with rlhf.sampler_weights = {fmt} exited {p.returncode}")
    ms = [json.loads(l) for l in open(os.path.join(out, "metrics.jsonl"))]
    it = [m for m in ms if "rm_score" in m]
    ev = [m for m in ms if "val_rm_score" in m]
    diff = max(m["logprob_max_diff"] for m in it)
    mean = lambda k: sum(m[k] for m in it) / len(it)
    res[fmt] = (diff, ev[0]["val_rm_score"], ev[-1]["val_rm_score"], ev[-1]["val_kl"])
    print(f"sampler {fmt}: {len(it)} iterations, mean {mean('ms'):.0f} ms per iteration ({mean('sample_ms'):.0f} ms "
          f"sampling), sampler-vs-trainer max |log p difference| {diff:.2e}, held-out RM score "
          f"{res[fmt][1]:+.3f} -> {res[fmt][2]:+.3f}, held-out KL {res[fmt][3]:.3f}")
d32, d16 = res["fp32"][0], res["bf16"][0]
if not d32 < 1e-3:
    fail(f"fp32 sampler and trainer disagree by {d32:.2e}")
if not (d16 > d32 and d16 < 1.0):
    fail(f"bf16 sampler: log-probability difference {d16:.2e} not in ({d32:.2e}, 1)")
if res["bf16"][2] - res["bf16"][1] < RISE or res["bf16"][3] > KL_MAX:
    fail("rlhf with a bf16 sampler does not raise the held-out score within the KL bound")
print("ok")
