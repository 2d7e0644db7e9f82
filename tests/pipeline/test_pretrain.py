#!/usr/bin/env python3
"""Training-loop tests of `griffin pretrain` on the licence corpora (tests/pipeline/).

usage: test_pretrain.py GRIFFIN_BIN WORK_DIR TEST
  learns        the loss on held-out text falls by a stated margin
  resume        a run killed (SIGKILL) at a random moment after a checkpoint, then resumed,
                gives bitwise the per-step losses and final parameters of the uninterrupted run
  resume2       the same on 2 MPI ranks
  ranks         2 ranks x batch B/2 and 1 rank x 2 micro-batches of B/2 match 1 rank x B
                (loss to 1e-5 relative over every step)
  mixture       realised token shares within 2% of the weights; the stage switch happens at
                the configured step and survives a resume
  recompute     train.recompute = true (activation checkpointing) gives bitwise the per-step
                losses, gradient norms and final parameters of the run that keeps every activation
  freeze        train.freeze = embedder.*: the embedding is left to train.init (an adapter
                checkpoint: params/ holds the trainable tensors, the base is named), the others
                move, the checkpoints hold no moments for it, the start-up line counts it frozen;
                killed (SIGKILL) at random moments and resumed, the run repeats the uninterrupted
                one bitwise
  plan          `griffin plan`: the table, its total within 20% of the peak RSS of a short run;
                a run whose plan exceeds the machine is refused in well under a second, nothing
                written (exit 2)
  score         `griffin eval --per-document`: documents scored with an 8-token parallel pass
                and then decode steps carrying the fixed-size state have the NLL of one
                parallel pass over the whole document (1e-5)
  formats       gnu.h5 exported with `griffin export-corpus` as Megatron and llm.c files, and
                the Megatron .bin read as a nanoGPT file: pretraining on each gives bitwise the
                losses, gradient norms, held-out losses and final parameters of the HDF5 run
                (1 and 2 ranks); an llm.c run resumed from a checkpoint equals the uninterrupted one;
                a Megatron validation corpus gets its byte counts by decoding (cached beside the
                run) and the HDF5 one's bits per byte
"""
import json, os, random, re, shutil, signal, subprocess, sys, time

BIN, WORK, TEST = sys.argv[1], sys.argv[2], sys.argv[3]
CFG = os.path.join(WORK, "lic.ini")
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMP_NUM_THREADS="1")
MPI = ["mpirun", "-np", "2", "--oversubscribe", "--bind-to", "none"]


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def run(out, *overrides, ranks=1, check=True):
    cmd = ([*MPI] if ranks > 1 else []) + [BIN, "pretrain", CFG, f"--train.out_dir={out}", *overrides]
    p = subprocess.run(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if check and p.returncode != 0:
        print(p.stdout)
        fail(f"{' '.join(cmd)} exited {p.returncode}")
    return p.stdout


def metrics(out):
    """last line per step of the training lines, eval lines and stage reports"""
    train, evals, shares = {}, {}, {}
    with open(os.path.join(WORK, out, "metrics.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            if "loss" in r:
                train[r["step"]] = r
            elif "val_loss" in r:
                evals[r["step"]] = r
            elif "shares" in r:
                shares[r["stage_done"]] = r
    return train, evals, shares


def fresh(out):
    shutil.rmtree(os.path.join(WORK, out), ignore_errors=True)
    return out


def params_equal(a, b):
    p = subprocess.run(["h5diff", os.path.join(WORK, a), os.path.join(WORK, b), "/params", "/params"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return p.returncode == 0


def test_learns():
    out = fresh("learns")
    run(out, "--train.steps=200", "--stage.1.steps=150", "--stage.2.steps=50", "--train.eval_every=200",
        "--optim.lr=1e-2", "--optim.min_lr=1e-3", "--train.checkpoint_every=0")
    train, evals, _ = metrics(out)
    first, last = evals[0]["val_loss"], evals[200]["val_loss"]
    print(f"held-out loss {first:.4f} -> {last:.4f} after 200 steps "
          f"(train {train[1]['loss']:.4f} -> {train[200]['loss']:.4f})")
    if not last < first - 1.0:
        fail("held-out loss fell by less than 1.0 nat")


def test_resume(ranks):
    extra = ["--train.batch_size=2"] if ranks == 2 else []
    steps = ["--train.steps=40", "--stage.1.steps=25", "--stage.2.steps=15", "--train.checkpoint_every=4",
             "--train.seq_len=64"]
    ref = fresh(f"resume{ranks}_ref")
    run(ref, *steps, *extra, ranks=ranks)
    out = fresh(f"resume{ranks}_killed")
    random.seed(ranks)
    kills = 0
    for attempt in range(3):  # kill it up to three times, each at a random moment
        cmd = ([*MPI] if ranks > 1 else []) + [BIN, "pretrain", CFG, f"--train.out_dir={out}", *steps, *extra]
        p = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        time.sleep(random.uniform(0.05, 0.4))
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            kills += 1
        p.wait()
    run(out, *steps, *extra, ranks=ranks)  # finishes from the newest valid checkpoint
    a, _, _ = metrics(ref)
    b, _, _ = metrics(out)
    diff = [s for s in a if s not in b or a[s]["loss"] != b[s]["loss"] or a[s]["grad_norm"] != b[s]["grad_norm"]]
    print(f"{ranks} rank(s): killed {kills} time(s); {len(a)} steps compared, {len(diff)} differ")
    if diff:
        s = diff[0]
        fail(f"step {s}: {a[s]['loss']!r} vs {b.get(s, {}).get('loss')!r}")
    if kills == 0:
        fail("the run finished before it could be killed (make it longer)")
    if not params_equal(f"{ref}/ckpt-40.h5", f"{out}/ckpt-40.h5"):
        fail("final parameters differ")
    print("final parameters bitwise identical")


def test_ranks():
    one = fresh("ranks_1x4")
    two = fresh("ranks_2x2")
    acc = fresh("ranks_accum")
    common = ["--train.steps=10", "--stage.1.steps=6", "--stage.2.steps=4", "--train.checkpoint_every=0"]
    run(one, *common, "--train.batch_size=4")
    run(two, *common, "--train.batch_size=2", ranks=2)
    run(acc, *common, "--train.batch_size=2", "--train.grad_accum=2")
    a, _, _ = metrics(one)
    for name in (two, acc):
        b, _, _ = metrics(name)
        worst = max(abs(a[s]["loss"] - b[s]["loss"]) / abs(a[s]["loss"]) for s in a)
        print(f"{name}: max relative loss difference to 1 rank x 4 over {len(a)} steps: {worst:.2e}")
        if worst > 1e-5:
            fail(f"{name} differs by {worst:.2e}")


def test_mixture():
    out = fresh("mixture")
    steps = ["--train.steps=140", "--stage.1.steps=100", "--stage.2.steps=40", "--train.checkpoint_every=30"]
    run(out, *steps, "--train.steps=60")  # stops inside stage 1 (at step 60) ...
    run(out, *steps)  # ... and resumes through the stage switch
    train, _, shares = metrics(out)
    s1 = shares[1]["shares"]
    print(f"stage 1 shares {s1}, stage 2 shares {shares[2]['shares']}")
    if abs(s1.get("gnu", 0) - 0.75) > 0.02 or abs(s1.get("other", 0) - 0.25) > 0.02:
        fail("stage 1 shares are not within 2% of gnu:3, other:1")
    if abs(shares[2]["shares"].get("other", 0) - 1.0) > 1e-9:
        fail("stage 2 used a corpus outside its mix")
    if shares[1]["step"] != 100 or train[100]["stage"] != 1 or train[101]["stage"] != 2:
        fail("the stage switch is not at step 100")
    print("stage switch at step 100, after a resume at step 60")


def test_recompute():
    common = ["--train.steps=12", "--stage.1.steps=8", "--stage.2.steps=4", "--train.checkpoint_every=12",
              "--train.eval_every=6"]
    keep, rec = fresh("recompute_off"), fresh("recompute_on")
    run(keep, *common)
    run(rec, *common, "--train.recompute=true")
    a, ea, _ = metrics(keep)
    b, eb, _ = metrics(rec)
    diff = [s for s in a if s not in b or a[s]["loss"] != b[s]["loss"] or a[s]["grad_norm"] != b[s]["grad_norm"]]
    diff += [s for s in ea if s not in eb or ea[s]["val_loss"] != eb[s]["val_loss"]]
    print(f"recompute on vs off: {len(a)} steps and {len(ea)} evaluations compared, {len(diff)} differ")
    if diff or len(a) != 12:
        fail(f"train.recompute changes the run (steps {diff})")
    if not params_equal(f"{keep}/ckpt-12.h5", f"{rec}/ckpt-12.h5"):
        fail("final parameters differ with train.recompute")
    print("final parameters bitwise identical")


def tensor_equal(a, b, name):
    p = subprocess.run(["h5diff", os.path.join(WORK, a), os.path.join(WORK, b), f"/params/{name}", f"/params/{name}"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return p.returncode == 0


def test_freeze():
    base = fresh("freeze_base")
    run(base, "--train.steps=4", "--stage.1.steps=4", "--stage.2.steps=4", "--train.checkpoint_every=4",
        "--optim.warmup_steps=2")
    init = f"{base}/ckpt-4.h5"
    steps = ["--train.steps=30", "--stage.1.steps=20", "--stage.2.steps=10", "--train.checkpoint_every=3",
             f"--train.init={os.path.join(WORK, init)}", "--train.freeze=embedder.*"]
    ref = fresh("freeze_ref")
    log = run(ref, *steps)
    line = [l for l in log.splitlines() if l.startswith("trainable:")]
    print(line[0] if line else "no trainable: line")
    if not line or not re.search(r"; frozen \d+ in 1; ", line[0]):
        fail("the start-up line does not count the frozen embedding")
    final = f"{ref}/ckpt-30.h5"
    stored = subprocess.run(["h5ls", os.path.join(WORK, final) + "/params"], stdout=subprocess.PIPE, text=True).stdout
    described = subprocess.run([BIN, "inspect", os.path.join(WORK, final)], stdout=subprocess.PIPE, text=True).stdout
    if "embedder" in stored or f"base: {os.path.join(WORK, init)} " not in described:
        fail("the frozen embedding should be left to the base (an adapter checkpoint over train.init)")
    if tensor_equal(init, final, "blocks.0.mlp_block.ffw_down.weight"):
        fail("a trainable tensor did not move")
    names = subprocess.run(["h5ls", os.path.join(WORK, final) + "/adam_m"], stdout=subprocess.PIPE, text=True).stdout
    if "embedder" in names or "final_norm.scale" not in names:
        fail("the checkpoint's moments are not those of the trainable set:\n" + names)
    print("embedding left to the base (an adapter checkpoint over train.init), other tensors moved, no moments for it")
    out = fresh("freeze_killed")
    random.seed(7)
    kills = 0
    for attempt in range(3):
        cmd = [BIN, "pretrain", CFG, f"--train.out_dir={out}", *steps]
        p = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(random.uniform(0.1, 0.5))
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            kills += 1
        p.wait()
    run(out, *steps)
    a, _, _ = metrics(ref)
    b, _, _ = metrics(out)
    diff = [s for s in a if s not in b or a[s]["loss"] != b[s]["loss"] or a[s]["grad_norm"] != b[s]["grad_norm"]]
    print(f"killed {kills} time(s); {len(a)} steps compared, {len(diff)} differ")
    if diff or kills == 0 or not params_equal(final, f"{out}/ckpt-30.h5"):
        fail("a frozen run resumed after kill -9 differs from the uninterrupted one (or was never killed)")
    print("resumed after kill -9: losses, gradient norms and final parameters bitwise identical")


def test_plan():
    p = subprocess.run([BIN, "plan", CFG], env=ENV, stdout=subprocess.PIPE, text=True)
    total = [float(l.split()[-2]) for l in p.stdout.splitlines() if l.strip().startswith("total")]
    out = fresh("plan_run")
    t = subprocess.run(["/usr/bin/time", "-f", "%M", BIN, "pretrain", CFG, f"--train.out_dir={out}", "--train.steps=6",
                        "--stage.1.steps=3", "--stage.2.steps=3", "--optim.warmup_steps=2"], env=ENV,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    rss = float(t.stderr.strip().splitlines()[-1]) * 1024 / 1e6
    print(p.stdout.strip())
    print(f"plan {total[0] if total else 0:.1f} MB, measured peak RSS {rss:.1f} MB")
    if p.returncode != 0 or not total or abs(total[0] - rss) > 0.2 * rss:
        fail("the memory plan is not within 20% of the measured peak RSS")
    out = fresh("plan_huge")
    t0 = time.time()
    r = subprocess.run([BIN, "pretrain", CFG, f"--train.out_dir={out}", "--train.batch_size=1000000"], env=ENV,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    dt = time.time() - t0
    print(f"a run that cannot fit: exit {r.returncode} in {dt:.2f} s: {r.stderr.splitlines()[0] if r.stderr else ''}")
    if r.returncode != 2 or "refused before allocating" not in r.stderr or os.path.exists(os.path.join(WORK, out)) \
            or dt > 5:
        fail("a run whose plan exceeds the machine must be refused at once, nothing written")


def test_score():
    out = fresh("score")
    run(out, "--train.steps=8", "--stage.1.steps=4", "--stage.2.steps=4", "--train.checkpoint_every=0",
        "--optim.warmup_steps=2")
    ckpt = os.path.join(WORK, out, "ckpt-8.h5")
    res = {}
    for L in (8, 1024):
        path = os.path.join(WORK, out, f"doc{L}.jsonl")
        p = subprocess.run([BIN, "eval", "--checkpoint", ckpt, "--corpus", os.path.join(WORK, "valid.h5"),
                            "--per-document", path, "--max-length", str(L), "--max-docs", "6"],
                           env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if p.returncode != 0:
            print(p.stdout)
            fail("griffin eval --per-document failed")
        res[L] = [json.loads(l) for l in open(path)]
    worst = max(abs(a["nll"] - b["nll"]) / abs(b["nll"]) for a, b in zip(res[8], res[1024]))
    longest = max(r["tokens"] for r in res[8])
    print(f"{len(res[8])} documents up to {longest} tokens: chunked (8) vs one pass: max relative NLL difference {worst:.2e}")
    if worst > 1e-5 or longest <= 8:
        fail("chunked scoring differs from one pass")
    # griffin sample reads the config's [sample] section: the same text as the same flags
    flags = subprocess.run([BIN, "sample", "--checkpoint", ckpt, "--prompt", "The licence", "--max-new-tokens", "12",
                            "--temperature", "0.7", "--seed", "5"], env=ENV, stdout=subprocess.PIPE, text=True).stdout
    conf = subprocess.run([BIN, "sample", "--config", CFG, f"--sample.checkpoint={ckpt}", "--sample.prompt=The licence",
                           "--sample.max_tokens=12", "--sample.temperature=0.7", "--sample.seed=5"], env=ENV,
                          stdout=subprocess.PIPE, text=True).stdout
    print(f"sample with flags / with [sample] keys: {flags.strip()[-60:]!r} / {conf.strip()[-60:]!r}")
    if not flags.strip() or flags != conf:
        fail("griffin sample --config [sample] differs from the same settings given as flags")


def export(fmt, out, *extra):
    p = subprocess.run([BIN, "export-corpus", "--format", fmt, "--input", os.path.join(WORK, "gnu.h5"), "--output",
                        os.path.join(WORK, out), *extra], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    if p.returncode != 0:
        print(p.stdout)
        fail(f"export-corpus --format {fmt} failed")
    return p.stdout


def same_run(a, b, what):
    (ta, ea, _), (tb, eb, _) = metrics(a), metrics(b)
    diff = [s for s in ta if s not in tb or ta[s]["loss"] != tb[s]["loss"] or ta[s]["grad_norm"] != tb[s]["grad_norm"]]
    diff += [s for s in ea if s not in eb or ea[s]["val_loss"] != eb[s]["val_loss"]]
    if diff:
        fail(f"{what}: step {diff[0]} differs from the HDF5 run")
    if not params_equal(f"{a}/ckpt-20.h5", f"{b}/ckpt-20.h5"):
        fail(f"{what}: final parameters differ from the HDF5 run")
    print(f"{what}: {len(ta)} steps and {len(ea)} evaluations bitwise equal to the HDF5 run, same final parameters")


def test_formats():
    out = export("megatron", "fmt_mega")
    print(out.strip())
    out = export("llmc", "fmt_llmc", "--shard-tokens", "20000")
    print(out.strip())
    bos = int(out.split("data.NAME.eot = ")[1].split()[0])
    idx = open(os.path.join(WORK, "fmt_mega.idx"), "rb").read()
    first_len = int.from_bytes(idx[34:38], "little")
    eos = int.from_bytes(open(os.path.join(WORK, "fmt_mega.bin"), "rb").read()[2 * first_len - 2:2 * first_len], "little")
    steps = ["--train.steps=20", "--stage.1.steps=12", "--stage.2.steps=8", "--train.checkpoint_every=4",
             "--train.eval_every=10", "--train.keep_checkpoints=10"]
    specs = [("megatron", ["--data.gnu=megatron:fmt_mega", "--data.gnu.tokenizer=tok.model"]),
             ("llm.c", ["--data.gnu=llmc:fmt_llmc_*.bin", f"--data.gnu.eot={bos}", "--train.data_cache_mb=1"]),
             ("nanoGPT", ["--data.gnu=nanogpt:fmt_mega.bin", f"--data.gnu.eot={eos}"])]
    for spec, o in (("megatron:fmt_mega", []), ("llmc:fmt_llmc_*.bin", ["--eot", str(bos)]),
                    ("nanogpt:fmt_mega.bin", ["--eot", str(eos)])):
        for verify in ([], ["--verify"]):
            p = subprocess.run([BIN, "inspect", *verify, spec, "--tokenizer", "tok.model", *o], cwd=WORK, env=ENV,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if p.returncode != 0 or ("documents: 244" not in p.stdout and "OK: " not in p.stdout):
                fail(f"griffin inspect {' '.join(verify)} {spec}: {p.stdout}")
        print(p.stdout.strip())
    ref = fresh("fmt_ref")
    run(ref, *steps)
    for name, o in specs:
        run(fresh(f"fmt_{name}"), *steps, *o)
        same_run(ref, f"fmt_{name}", name)
    # an external validation corpus: its byte counts are decoded once and cached beside the run,
    # and its bits per byte equals the HDF5 one's (the ids decode back to the text)
    p = subprocess.run([BIN, "export-corpus", "--format", "megatron", "--input", os.path.join(WORK, "valid.h5"),
                        "--output", os.path.join(WORK, "fmt_valid")], env=ENV, stdout=subprocess.PIPE, text=True)
    if p.returncode != 0:
        fail("export-corpus of valid.h5 failed")
    vo = fresh("fmt_valid_run")
    run(vo, *steps, "--data.valid=megatron:fmt_valid")
    (_, ea, _), (_, eb, _) = metrics(ref), metrics(vo)
    if any(ea[s]["val_loss"] != eb[s]["val_loss"] or ea[s]["val_bpb"] != eb[s]["val_bpb"] for s in ea):
        fail(f"external validation corpus: {[(ea[s], eb.get(s)) for s in ea]}")
    cached = [f for f in os.listdir(os.path.join(WORK, vo)) if f.startswith("doc_bytes-")]
    if len(cached) != 1:
        fail(f"no byte counts cached beside the run: {os.listdir(os.path.join(WORK, vo))}")
    print(f"megatron validation corpus: held-out loss and bits per byte {eb[20]['val_bpb']:.6f} equal the HDF5 "
          f"one's; byte counts cached as {cached[0]}")
    ref2 = fresh("fmt_ref2")
    run(ref2, *steps, "--train.batch_size=2", ranks=2)
    run(fresh("fmt_mega2"), *steps, "--train.batch_size=2", *specs[0][1], ranks=2)
    same_run(ref2, "fmt_mega2", "megatron, 2 ranks")
    res = fresh("fmt_resume")  # resume the llm.c run from its step-8 checkpoint
    os.makedirs(os.path.join(WORK, res))
    shutil.copy(os.path.join(WORK, "fmt_llm.c", "ckpt-8.h5"), os.path.join(WORK, res))
    run(res, *steps, *specs[1][1], "--train.resume=auto")
    (ta, _, _), (tb, _, _) = metrics("fmt_llm.c"), metrics(res)
    if any(ta[s]["loss"] != tb[s]["loss"] for s in tb) or min(tb) != 9:
        fail("the resumed llm.c run differs")
    if not params_equal("fmt_llm.c/ckpt-20.h5", f"{res}/ckpt-20.h5"):
        fail("the resumed llm.c run ends with other parameters")
    print(f"llm.c resumed at step 9: steps 9..20 bitwise equal, same final parameters")


if TEST == "learns":
    test_learns()
elif TEST == "resume":
    test_resume(1)
elif TEST == "resume2":
    test_resume(2)
elif TEST == "ranks":
    test_ranks()
elif TEST == "mixture":
    test_mixture()
elif TEST == "recompute":
    test_recompute()
elif TEST == "freeze":
    test_freeze()
elif TEST == "plan":
    test_plan()
elif TEST == "score":
    test_score()
elif TEST == "formats":
    test_formats()
else:
    fail(f"unknown test {TEST}")
print("ok")
