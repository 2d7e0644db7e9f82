#!/usr/bin/env python3
"""Fault injection tests of `griffin pretrain` / `griffin tokenize` on the licence corpora of
tests/pipeline/ (ctest label "faults"). Each test prints what it tried, how many times, and
what the program did; it exits non-zero on the first broken promise.

usage: test_faults.py GRIFFIN_BIN WORK_DIR TEST MAKE_BAD_CORPORA_BIN POISON_CKPT_BIN
  kill       SIGKILL at 20 random moments, half of them the instant a checkpoint's temporary
             file appears (mid-write); the resumed run's per-step losses, grad norms and final
             parameters are bitwise those of the uninterrupted run; no temporary file is ever
             taken for a checkpoint and no checkpoint is ever found damaged
  adapterkill  the same, 8 kills, for a LoRA run from a base checkpoint: its checkpoints are
             adapter checkpoints (the adapters, their moments, the base named by path + CRC-32)
  corrupt    a flipped byte (5 places) or a truncation (2 lengths) in the newest checkpoint is
             reported naming the file, the previous one is used, and the run ends bitwise as
             the uninterrupted one
  diskfull   a checkpoint write that hits the file-size limit (RLIMIT_FSIZE) or a full disk
             (a small tmpfs; skipped if mounting is not permitted) fails cleanly: one clear
             line, exit status 3, the previous checkpoint kept and loadable, no temporary file
  jsonl      a malformed JSONL line (plain and .gz) and a truncated .gz are reported as
             file:line and leave no output file
  corpora    a token id >= vocab, an empty document, zero documents, a chat corpus where text
             is needed, another tokenizer: refused at open with the file named
  rankdeath  one of 2 MPI ranks killed mid-run: the job ends within 30 s with a message, and
             the surviving rank's process is gone too
  nonfinite  a NaN weight (in a checkpoint with valid checksums) on 2 ranks, a NaN gradient on
             rank 1 only, an Inf weight on rank 0 only (GRIFFIN_FAULT_NONFINITE): the step is
             refused on every rank before the update, with a message naming the step and exactly
             the rank(s) where the value appeared; no checkpoint is written and the earlier ones
             stay intact
  verify     `griffin inspect --verify` on a checkpoint and a corpus: intact files pass; a NaN
             weight and bad corpora (valid checksums) fail naming the dataset or document; ~55
             flipped bytes spread over each file, 9 truncations and appended bytes each fail
             with one line naming the file and never crash (no signal, exit 1..127); plain
             `griffin inspect` (the loaders) on every damaged file does not crash either; the
             files of tests/fuzz/hdf5_known (older format, no whole-file checksum, HDF5 1.10
             crashes on some) are refused by --verify without a signal too
"""
import glob, gzip, json, os, random, re, resource, shutil, signal, subprocess, sys, time

BIN, WORK, TEST = sys.argv[1], sys.argv[2], sys.argv[3]
MAKE_BAD = sys.argv[4] if len(sys.argv) > 4 else None
POISON = sys.argv[5] if len(sys.argv) > 5 else None
CFG = os.path.join(WORK, "lic.ini")
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMP_NUM_THREADS="1")
MPI = ["mpirun", "-np", "2", "--oversubscribe", "--bind-to", "none"]
# a short run with frequent checkpoints (steps, stages and checkpoint interval)
RUN = ["--train.steps=20", "--stage.1.steps=12", "--stage.2.steps=8", "--train.checkpoint_every=5",
       "--train.eval_every=10", "--train.keep_checkpoints=3"]


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def d(name):
    return os.path.join(WORK, "faults", name)


def fresh(name):
    shutil.rmtree(d(name), ignore_errors=True)
    os.makedirs(os.path.dirname(d(name)), exist_ok=True)
    return d(name)


def pretrain_cmd(out, *overrides, ranks=1):
    return ([*MPI] if ranks > 1 else []) + [BIN, "pretrain", CFG, f"--train.out_dir={out}", *overrides]


def run(cmd, check=True, **kw):
    p = subprocess.run(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if check and p.returncode != 0:
        print(p.stdout, p.stderr)
        fail(f"{' '.join(cmd)} exited {p.returncode}")
    return p


def metrics(out):
    """last line per step of the training lines"""
    train = {}
    with open(os.path.join(out, "metrics.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            if "loss" in r:
                train[r["step"]] = r
    return train


def same_losses(a, b, steps):
    for s in steps:
        if s not in a or s not in b or a[s]["loss"] != b[s]["loss"] or a[s]["grad_norm"] != b[s]["grad_norm"]:
            return f"step {s}: {a.get(s, {}).get('loss')!r} vs {b.get(s, {}).get('loss')!r}"
    return None


def params_equal(a, b):
    p = subprocess.run(["h5diff", a, b, "/params", "/params"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return p.returncode == 0


def verifies(path):
    """`griffin inspect` on a checkpoint reports its checksum status"""
    p = run([BIN, "inspect", path], check=False)
    return p.returncode == 0 and "damaged" not in (p.stdout + p.stderr).lower()


def tmp_files(out):
    return glob.glob(os.path.join(out, "*.tmp"))


def reference(steps_args, name="ref"):
    ref = fresh(name)
    run(pretrain_cmd(ref, *steps_args))
    return ref


# ---- kill ---------------------------------------------------------------------------------
def kill_many(out, args, want):
    """SIGKILLs the run `want` times (half the instant a checkpoint's temporary file appears),
    then lets it finish; returns (kills, mid_write, tmp_left, stderr of every attempt, final run)"""
    t0 = time.time()
    run(pretrain_cmd(fresh(os.path.basename(out) + "_start"), *args, "--train.steps=1", "--optim.warmup_steps=0"))
    t_start = time.time() - t0  # start-up, one step, one checkpoint
    t0 = time.time()
    ref = reference(args, os.path.basename(out) + "_ref")
    t_ref = time.time() - t0
    fresh(os.path.basename(out))
    random.seed(20)
    kills = mid_write = tmp_left = 0
    logs = []
    for attempt in range(3 * want):
        if kills == want:
            break
        p = subprocess.Popen(pretrain_cmd(out, *args), env=ENV, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
        during_write = False
        # at most about 8% of the run per attempt, so that 20 kills fit in one run even when
        # the poller misses a checkpoint's temporary file (a loaded machine: CI runs two tests
        # at once and the tiny model writes a checkpoint in well under a millisecond)
        budget = t_start + 0.08 * (t_ref - t_start)
        if attempt % 2 == 0:  # the moment a checkpoint's temporary file exists
            skip = random.randint(0, 2)
            seen = set()
            deadline = time.time() + budget
            while p.poll() is None and time.time() < deadline:
                t = tmp_files(out)
                new = [x for x in t if x not in seen]
                if new:
                    if skip == 0:
                        os.killpg(p.pid, signal.SIGKILL)
                        during_write = True
                        break
                    skip -= 1
                    seen.update(new)
                time.sleep(0.0005)
        else:  # anywhere: start-up, a step, an eval, a checkpoint
            time.sleep(random.uniform(0.0, budget))
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            kills += 1
            mid_write += during_write
        elif during_write:
            kills += 1
            mid_write += 1
        _, err = p.communicate()
        logs.append(err)
        tmp_left += bool(tmp_files(out))
        if p.returncode == 0:
            break  # it finished before it could be killed
    final = run(pretrain_cmd(out, *args))
    return ref, kills, mid_write, tmp_left, "".join(logs) + final.stderr, final


def check_killed(ref, out, last, want, kills, mid_write, tmp_left, errs, final):
    """the resumed run is bitwise the uninterrupted one, nothing damaged, no temporary file"""
    if "damaged" in errs:
        fail("a checkpoint was found damaged after a kill:\n" + errs)
    if "resumed from" not in final.stdout:
        fail("the final run did not resume from a checkpoint")
    resumed = [l for l in final.stdout.splitlines() if "resumed from" in l][0]
    if ".tmp" in resumed:
        fail("resumed from a temporary file: " + resumed)
    a, b = metrics(ref), metrics(out)
    diff = same_losses(a, b, sorted(a))
    print(f"killed {kills} times ({mid_write} while a checkpoint was being written; a temporary file was "
          f"left behind {tmp_left} times); final run: {resumed.strip()}")
    if kills < want:
        fail(f"only {kills} kills (the run finished too early)")
    if diff:
        fail(diff)
    if not params_equal(os.path.join(ref, last), os.path.join(out, last)):
        fail("final parameters differ")
    if tmp_files(out):
        fail(f"temporary files left after a clean finish: {tmp_files(out)}")
    print(f"{len(a)} steps: losses, grad norms and final parameters bitwise equal to the uninterrupted run")


def test_kill():
    args = ["--train.steps=200", "--stage.1.steps=130", "--stage.2.steps=70", "--train.checkpoint_every=2",
            "--train.keep_checkpoints=2", "--train.eval_every=0"]
    out = d("kill")
    ref, *rest = kill_many(out, args, 20)
    check_killed(ref, out, "ckpt-200.h5", 20, *rest)


def test_adapterkill():
    """kill -9 a LoRA run whose checkpoints are adapter checkpoints (the base is a file)"""
    base = fresh("adapter_base")
    run(pretrain_cmd(base, "--train.steps=10", "--stage.1.steps=6", "--stage.2.steps=4", "--optim.warmup_steps=0"))
    args = ["--train.steps=100", "--stage.1.steps=60", "--stage.2.steps=40", "--train.checkpoint_every=2",
            "--train.keep_checkpoints=2", "--train.eval_every=0", f"--train.init={base}/ckpt-10.h5",
            "--lora.rank=4", "--lora.alpha=8"]
    out = d("adapterkill")
    ref, *rest = kill_many(out, args, 8)
    last = os.path.join(out, "ckpt-100.h5")
    if f"base: {base}/ckpt-10.h5" not in run([BIN, "inspect", last]).stdout:
        fail(f"{last} is not an adapter checkpoint over {base}/ckpt-10.h5")
    check_killed(ref, out, "ckpt-100.h5", 8, *rest)




# ---- corrupt ------------------------------------------------------------------------------
def test_corrupt():
    ref = reference(RUN, "corrupt_ref")
    newest = "ckpt-20.h5"
    size = os.path.getsize(os.path.join(ref, newest))
    random.seed(5)
    trials = [("flip", random.randrange(size)) for _ in range(5)] + [("truncate", size // 2), ("truncate", size - 1)]
    a = metrics(ref)
    for kind, pos in trials:
        out = fresh("corrupt")
        shutil.copytree(ref, out)
        path = os.path.join(out, newest)
        with open(path, "r+b") as f:
            if kind == "flip":
                f.seek(pos)
                b = f.read(1)
                f.seek(pos)
                f.write(bytes([b[0] ^ 0x10]))
            else:
                f.truncate(pos)
        p = run(pretrain_cmd(out, *RUN))
        what = f"{kind} at byte {pos} of {size}"
        line = [l for l in p.stderr.splitlines() if "damaged" in l]
        if not line or newest not in line[0]:
            print(p.stdout, p.stderr)
            fail(f"{what}: not reported as damaged")
        if f"resumed from {os.path.join(out, 'ckpt-15.h5')} at step 15" not in p.stdout:
            print(p.stdout)
            fail(f"{what}: did not resume from the previous checkpoint")
        b_ = metrics(out)
        diff = same_losses(a, b_, range(16, 21))
        if diff:
            fail(f"{what}: {diff}")
        if not params_equal(os.path.join(ref, newest), path):
            fail(f"{what}: final parameters differ")
        print(f"{what}: {line[0].strip()}")
    print(f"{len(trials)} damaged checkpoints detected; each run resumed from step 15 and ended bitwise as the "
          "uninterrupted run")


# ---- diskfull -----------------------------------------------------------------------------
def check_clean_failure(p, out, step, kept, what):
    lines = [l for l in p.stderr.splitlines() if "checkpoint at step" in l]
    if p.returncode != 3 or not lines or f"step {step} failed" not in lines[0] or "previous checkpoint is kept" not in lines[0]:
        print(p.stdout, p.stderr)
        fail(f"{what}: expected exit 3 and one line on the failed checkpoint at step {step}")
    if tmp_files(out):
        fail(f"{what}: temporary file left: {tmp_files(out)}")
    if os.path.exists(os.path.join(out, f"ckpt-{step}.h5")):
        fail(f"{what}: a checkpoint at step {step} appeared")
    if kept and not verifies(os.path.join(out, kept)):
        fail(f"{what}: the previous checkpoint {kept} does not verify")
    print(f"{what}: exit {p.returncode}: {lines[0].strip()}")


# PMIx (under MPI_Init) keeps its data store in shared-memory files, which the limit would
# break; its in-memory store keeps the limit on our files alone
FSIZE_ENV = dict(ENV, PMIX_MCA_gds="hash")


def limit_fsize(n):
    def f():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (n, n))
    return f


def test_diskfull():
    ref = reference(RUN, "full_ref")
    size = os.path.getsize(os.path.join(ref, "ckpt-20.h5"))
    # 1. file-size limit: the run goes on from ckpt-20 to step 25, whose checkpoint cannot be written
    out = fresh("full_fsize")
    shutil.copytree(ref, out)
    more = [*RUN, "--train.steps=30", "--stage.2.steps=18"]
    p = subprocess.run(pretrain_cmd(out, *more), env=FSIZE_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, preexec_fn=limit_fsize(size // 2))
    check_clean_failure(p, out, 25, "ckpt-20.h5", f"RLIMIT_FSIZE {size // 2} bytes")
    p = run(pretrain_cmd(out, *more))  # room again: goes on from ckpt-20
    if f"resumed from {os.path.join(out, 'ckpt-20.h5')}" not in p.stdout:
        fail("after the failed write the run did not resume from ckpt-20")
    # 2. a full disk: a tmpfs that holds two checkpoints and the logs, not a third
    mnt = fresh("full_tmpfs")
    os.makedirs(mnt)
    cap = int(size * 2.5) + 256 * 1024
    m = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={cap}", "tmpfs", mnt],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if m.returncode != 0:
        print(f"tmpfs: skipped (mount not permitted here: {m.stdout.strip()})")
        return
    try:
        out = os.path.join(mnt, "run")
        p = run(pretrain_cmd(out, *RUN), check=False)
        have = sorted(os.path.basename(x) for x in glob.glob(os.path.join(out, "ckpt-*.h5")))
        step = 5 * (len(have) + 1)
        check_clean_failure(p, out, step, have[-1] if have else None, f"tmpfs of {cap} bytes (disk full)")
        if not have:
            fail("the tmpfs held no checkpoint at all (make it larger)")
        # the kept checkpoint carries on on a roomier disk, bitwise as the uninterrupted run
        moved = fresh("full_moved")
        shutil.copytree(out, moved)
    finally:
        subprocess.run(["umount", mnt])
    p = run(pretrain_cmd(moved, *RUN))
    diff = same_losses(metrics(ref), metrics(moved), range(1, 21))
    if diff:
        fail(f"after the disk-full stop and a resume elsewhere: {diff}")
    print(f"resumed from {have[-1]} on another disk: 20 steps bitwise as the uninterrupted run")


# ---- jsonl --------------------------------------------------------------------------------
def test_jsonl():
    out = fresh("jsonl")
    os.makedirs(out)
    good = [json.dumps({"text": f"document number {i} of the test"}) for i in range(6)]
    bad = good[:3] + ['{"text": "no closing brace"'] + good[3:]
    cases = []
    p = os.path.join(out, "bad.jsonl")
    open(p, "w").write("\n".join(bad) + "\n")
    cases.append((p, f"{p}:4:"))
    pg = os.path.join(out, "bad.jsonl.gz")
    with gzip.open(pg, "wt") as f:
        f.write("\n".join(bad) + "\n")
    cases.append((pg, f"{pg}:4:"))
    pe = os.path.join(out, "empty_text.jsonl")
    open(pe, "w").write("\n".join(good[:2] + [json.dumps({"text": ""})] + good[2:]) + "\n")
    cases.append((pe, f"{pe}:3:"))
    pt = os.path.join(out, "truncated.jsonl.gz")
    big = "\n".join(json.dumps({"text": f"line {i} " * 20}) for i in range(2000)) + "\n"
    blob = gzip.compress(big.encode())
    open(pt, "wb").write(blob[: len(blob) // 2])
    cases.append((pt, f"{pt}:"))
    tok = os.path.join(WORK, "tok.model")
    for path, want in cases:
        o = os.path.join(out, "out.h5")
        r = run([BIN, "tokenize", "--kind", "text", "--tokenizer", tok, "--input", path, "--output", o, "--quiet"],
                check=False)
        msg = [l for l in r.stderr.splitlines() if want in l]
        if r.returncode == 0 or not msg:
            print(r.stdout, r.stderr)
            fail(f"{path}: expected a refusal naming {want}")
        left = glob.glob(o + "*")
        if left:
            fail(f"{path}: output left behind: {left}")
        print(f"{os.path.basename(path)}: exit {r.returncode}: {msg[0].strip()}; no output left")


# ---- corpora ------------------------------------------------------------------------------
def test_corpora():
    out = fresh("corpora")
    os.makedirs(out)
    run([MAKE_BAD, os.path.join(WORK, "gnu.h5"), out])
    chat = os.path.join(out, "chat.jsonl")
    with open(chat, "w") as f:
        for i in range(3):
            f.write(json.dumps({"messages": [{"role": "user", "content": f"question {i}"},
                                             {"role": "model", "content": f"answer {i}"}]}) + "\n")
    run([BIN, "tokenize", "--kind", "chat", "--tokenizer", os.path.join(WORK, "tok.model"), "--input", chat,
         "--output", os.path.join(out, "chat.h5"), "--quiet"])
    cases = ["id_over_vocab.h5", "empty_doc.h5", "zero_docs.h5", "other_tok.h5", "chat.h5"]
    for name in cases:
        path = os.path.join(out, name)
        t0 = time.time()
        p = run(pretrain_cmd(fresh("corpora_run"), "--train.steps=2", "--stage.1.steps=1", "--stage.2.steps=1",
                             "--train.checkpoint_every=0", "--train.eval_every=0", "--optim.warmup_steps=0",
                             f"--data.gnu={path}"),
                check=False, timeout=120)
        lines = [l for l in (p.stdout + p.stderr).splitlines() if path in l and "config" not in l.lower()
                 and "data.gnu" not in l]
        if p.returncode == 0 or not lines or "step      1" in p.stdout or '"loss"' in p.stdout:
            print(p.stdout[-2000:], p.stderr)
            fail(f"{name}: not refused at open with the file named")
        print(f"{name}: refused in {time.time() - t0:.1f}s: {lines[0].strip()}")

    # an id >= vocab in a chunk first read mid-run: stage 2 trains on id_late.h5, whose bad id is
    # in its last chunk; the run stops before the update of that step, earlier checkpoints intact
    late = os.path.join(out, "id_late.h5")
    o = fresh("corpora_late")
    p = run(pretrain_cmd(o, "--train.steps=60", "--stage.1.steps=3", "--stage.2.steps=57", "--train.checkpoint_every=1",
                         "--train.keep_checkpoints=100", "--train.eval_every=0", "--optim.warmup_steps=0",
                         f"--data.late={late}", "--stage.2.mix=late:1"), check=False, timeout=300)
    lines = [l for l in (p.stdout + p.stderr).splitlines() if "outside the vocabulary" in l]
    done = sorted(metrics(o))
    ckpts = sorted(int(re.search(r"ckpt-(\d+)\.h5$", c).group(1)) for c in glob.glob(os.path.join(o, "ckpt-*.h5")))
    if p.returncode == 0 or len(lines) != 1 or late not in lines[0] or "document" not in lines[0]:
        print(p.stdout[-2000:], p.stderr[-2000:])
        fail("id_late.h5: the bad id was not refused in one line naming the file and the document")
    if not done or done[-1] < 3 or ckpts != done:
        fail(f"id_late.h5: steps {done} trained, checkpoints {ckpts}: expected every finished step checkpointed")
    for c in ckpts:
        v = run([BIN, "inspect", "--verify", os.path.join(o, f"ckpt-{c}.h5")], check=False)
        if v.returncode != 0:
            fail(f"id_late.h5: checkpoint {c} damaged: {v.stderr}")
    print(f"id_late.h5: opened, trained steps 1..{done[-1]}, stopped at step {done[-1] + 1} before its update: "
          f"{lines[0].strip()}; checkpoints 1..{ckpts[-1]} verify")


def children(pid):
    """pids whose parent is pid (from /proc, no procps needed)"""
    out = []
    for e in os.listdir("/proc"):
        if e.isdigit():
            try:
                stat = open(f"/proc/{e}/stat").read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(e)
    return sorted(out, key=int)


def exe_name(pid):
    try:
        return os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        return ""


def alive(pid):
    """a running (not zombie) process"""
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


# ---- rankdeath ----------------------------------------------------------------------------
def test_rankdeath():
    out = fresh("rankdeath")
    args = ["--train.steps=100000", "--stage.1.steps=50000", "--stage.2.steps=50000",
            "--train.checkpoint_every=0", "--train.eval_every=0", "--train.batch_size=2"]
    p = subprocess.Popen(pretrain_cmd(out, *args, ranks=2), env=ENV, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline and not (os.path.exists(os.path.join(out, "metrics.jsonl"))
                                          and os.path.getsize(os.path.join(out, "metrics.jsonl")) > 0):
        time.sleep(0.1)
    ranks = [k for k in children(p.pid) if exe_name(k) == os.path.basename(BIN)]
    if len(ranks) != 2:
        os.killpg(p.pid, signal.SIGKILL)
        fail(f"expected 2 rank processes under mpirun, found {ranks}")
    victim, survivor = ranks[-1], ranks[0]
    t0 = time.time()
    os.kill(int(victim), signal.SIGKILL)
    try:
        output, _ = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        fail("the job still runs 30 s after a rank died")
    dt = time.time() - t0
    msg = [l for l in output.splitlines() if "signal 9" in l or "Killed" in l or "exited on signal" in l]
    if p.returncode == 0 or not msg:
        print(output[-3000:])
        fail("no non-zero exit with a message after a rank died")
    if alive(survivor):
        os.kill(int(survivor), signal.SIGKILL)
        fail(f"the surviving rank {survivor} still runs after mpirun ended")
    print(f"rank process {victim} killed: the job ended in {dt:.1f}s with exit {p.returncode}, the surviving rank "
          f"{survivor} is gone: {msg[0].strip()}")


# ---- nonfinite ----------------------------------------------------------------------------
def refused(p, step, ranks, world=2):
    """the one line of a refused step; it must name the step and exactly these ranks"""
    msg = [l for l in p.stderr.splitlines() if "non-finite" in l]
    named = set()
    if msg:
        m = re.search(r" on ranks? (.*?); ", msg[0])
        named = {int(r) for r in re.findall(r"(?:^|, )(\d+) \(", m.group(1))} if m else set()
    if p.returncode in (0,) or p.returncode < 0 or p.returncode >= 128 or not msg or f"step {step} " not in msg[0] \
            or named != set(ranks) or f"all {world} rank(s)" not in msg[0]:
        print(p.stdout[-3000:], p.stderr[-3000:])
        fail(f"expected step {step} refused on all ranks naming rank(s) {sorted(ranks)}, got exit {p.returncode}")
    return msg[0].strip()


def test_nonfinite():
    out = fresh("nonfinite")
    base = [*RUN, "--train.batch_size=2"]
    run(pretrain_cmd(out, *base, "--train.steps=10", "--stage.1.steps=5", "--stage.2.steps=5", ranks=2))
    before = sorted(os.path.basename(c) for c in glob.glob(os.path.join(out, "ckpt-*.h5")))
    cases = []
    # 1. a NaN weight in a checkpoint (valid checksums): every rank loads it, every rank sees it
    bad_dir = fresh("nonfinite_poison")
    bad = run([POISON, CFG, os.path.join(out, "ckpt-10.h5"), bad_dir]).stdout.strip()
    cases.append(("NaN weight from the checkpoint on both ranks", [f"--train.resume={bad}"], {}, 11, [0, 1]))
    # 2./3. one rank only, through the fault-injection hook: a NaN gradient on rank 1 at step 12,
    # an Inf weight on rank 0 at step 11 (the run resumes from ckpt-10)
    cases.append(("NaN gradient on rank 1", [], {"GRIFFIN_FAULT_NONFINITE": "grad:1:12"}, 12, [1]))
    cases.append(("Inf weight on rank 0", [], {"GRIFFIN_FAULT_NONFINITE": "weight:0:11"}, 11, [0]))
    for what, extra, env, step, ranks in cases:
        work = fresh("nonfinite_run")
        shutil.copytree(out, work)
        cmd = pretrain_cmd(work, *base, *extra, ranks=2)
        if env:
            cmd = cmd[:len(MPI)] + ["-x", "GRIFFIN_FAULT_NONFINITE"] + cmd[len(MPI):]
        p = subprocess.run(cmd, env=dict(ENV, **env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=300)
        line = refused(p, step, ranks)
        done = open(os.path.join(work, "metrics.jsonl")).read()
        if f'"step":{step},' in done:
            fail(f"{what}: step {step} was logged as done")
        if step > 11 and '"step":11,' not in done:
            fail(f"{what}: step 11 (before the fault) was not done")
        after = sorted(os.path.basename(c) for c in glob.glob(os.path.join(work, "ckpt-*.h5")))
        if after != before:
            fail(f"{what}: checkpoints changed: {before} -> {after}")
        for c in after:
            if not verifies(os.path.join(work, c)):
                fail(f"{what}: {c} does not verify after the stop")
        print(f"{what}: exit {p.returncode}: {line}; checkpoints unchanged, all verify")


# ---- verify -------------------------------------------------------------------------------
CLASSES = [("whole-file CRC-32 mismatch", "whole-file CRC-32 mismatch"), ("damaged header", "damaged header"),
           ("not an HDF5 file", "not an HDF5 file"), ("truncated", "truncated"),
           ("extra bytes at the end", "extra bytes"), ("empty file", "empty file")]


def damaged_variants(data, seed):
    """(label, bytes): ~55 single-byte flips spread over the file (one in each fiftieth, plus
    the checksum header, the HDF5 signature and superblock), 9 truncations, appended bytes"""
    size = len(data)
    rnd = random.Random(seed)
    pos = {0, 17, 22, 27, 33, 40, 512, 520, 560}
    pos |= {i * size // 50 + rnd.randrange(max(1, size // 50)) for i in range(50)}
    out = []
    for k, p in enumerate(sorted(x for x in pos if x < size)):
        b = bytearray(data)
        b[p] ^= 1 << (k % 8)
        out.append((f"bit {k % 8} of byte {p} flipped", bytes(b)))
    for n in sorted({0, 8, 300, 512, 1024, size // 4, size // 2, size - 512, size - 1}):
        out.append((f"truncated to {n} bytes", data[:n]))
    out.append(("16 bytes appended", data + b"\0" * 16))
    return out


def test_verify():
    out = fresh("verify")
    os.makedirs(out)
    run(pretrain_cmd(os.path.join(out, "run"), "--train.steps=2", "--stage.1.steps=1", "--stage.2.steps=1",
                     "--train.checkpoint_every=0", "--train.eval_every=0", "--optim.warmup_steps=0"))
    ckpt, corpus = os.path.join(out, "run", "ckpt-2.h5"), os.path.join(WORK, "gnu.h5")
    for f in (ckpt, corpus):
        p = run([BIN, "inspect", "--verify", f], check=False)
        if p.returncode != 0 or not p.stdout.startswith("OK: " + f):
            print(p.stdout, p.stderr)
            fail(f"the intact {f} does not verify")
        print(p.stdout.strip())

    def refuse(path, want, what, cwd=None):
        p = run([BIN, "inspect", "--verify", path], check=False, timeout=120, cwd=cwd)
        line = (p.stderr.strip().splitlines() or [""])[-1]
        if p.returncode == 0 or p.returncode < 0 or p.returncode >= 128 or "OK:" in p.stdout or path not in line \
                or any(w not in line for w in want):
            print(p.stdout, p.stderr)
            fail(f"{what}: expected exit 1..127 and one line naming {path} and {want}, got exit {p.returncode}")
        return p.returncode, line

    # the numbers or the contents are wrong, the checksums right
    bad = run([POISON, CFG, ckpt, os.path.join(out, "poison")]).stdout.strip()
    print("NaN weight:", refuse(bad, ["params/", "not finite"], "NaN weight")[1])
    run([MAKE_BAD, corpus, out])
    for name, want in [("id_over_vocab.h5", ["token", "vocab"]), ("empty_doc.h5", ["document 1", "empty"]),
                       ("zero_docs.h5", ["no documents"])]:
        print(f"{name}:", refuse(os.path.join(out, name), want, name)[1])

    # files from before the whole-file checksum go to HDF5 unguarded: the ones that crash HDF5
    # 1.10 (found by tests/fuzz) are reported as damaged, not with a signal
    # (in place, named from the project root; whether HDF5 actually crashes on them depends on
    # the memory layout, even on the path and the environment: from a shell it does)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    known = sorted(os.path.relpath(k, root) for k in glob.glob(os.path.join(root, "tests", "fuzz", "hdf5_known", "*.h5")))
    if not known:
        fail("tests/fuzz/hdf5_known/*.h5 not found")
    for k in known:
        print(f"older file {k}:", refuse(k, [], k, cwd=root)[1])

    # damaged bytes
    total = 0
    for label, src in (("checkpoint", ckpt), ("corpus", corpus)):
        data = open(src, "rb").read()
        variants = damaged_variants(data, 10 if label == "checkpoint" else 11)
        path = os.path.join(out, f"damaged-{label}.h5")
        seen = {}
        for what, blob in variants:
            with open(path, "wb") as f:
                f.write(blob)
            rc, line = refuse(path, [], f"{label}, {what}")
            cls = next((c for c, key in CLASSES if key in line), None)
            if cls is None:
                fail(f"{label}, {what}: unexpected message: {line}")
            seen.setdefault(cls, []).append(rc)
            # the loaders (checkpoint reader / corpus_open) refuse it too, without a crash
            p = run([BIN, "inspect", path], check=False, timeout=120)
            if p.returncode == 0 or p.returncode < 0 or p.returncode >= 128 or path not in p.stderr:
                print(p.stdout[-2000:], p.stderr[-2000:])
                fail(f"{label}, {what}: plain inspect exited {p.returncode}")
        total += len(variants)
        print(f"{label} ({len(data)} bytes): {len(variants)} damaged variants, every one refused without a crash:")
        for cls, rcs in sorted(seen.items(), key=lambda kv: -len(kv[1])):
            print(f"  {len(rcs):3d} x exit {sorted(set(rcs))}: {cls}")
    print(f"{total} damaged files: all refused with one line naming the file, none crashed")


TESTS = {"kill": test_kill, "adapterkill": test_adapterkill, "corrupt": test_corrupt, "diskfull": test_diskfull, "jsonl": test_jsonl,
         "corpora": test_corpora, "rankdeath": test_rankdeath, "nonfinite": test_nonfinite,
         "verify": test_verify}
if TEST not in TESTS:
    fail(f"unknown test {TEST}")
TESTS[TEST]()
print("ok")
