#!/usr/bin/env python3
"""Runs one libFuzzer harness for a bounded time (ctest label "fuzz").

usage: run.py FUZZER SECONDS WORK_DIR SEED_DIR [extra libFuzzer flags]

1. Replays every input of SEED_DIR (tests/fuzz/<name>/: seeds and regression inputs): any
   finding there fails the test.
2. Fuzzes for SECONDS in fork mode (-fork=1, crashes do not end the run) from SEED_DIR into
   WORK_DIR (build tree); findings are saved there as crash-* / leak-* / timeout-* / oom-*.
3. Replays each finding to classify it: if the faulting frame is inside a third-party library
   (libhdf5: HDF5 1.10 reads some damaged files past its own buffers) it is reported as
   third-party and kept, but does not fail the test; any other finding fails it.

Sanitizer settings: leaks of the third-party libraries suppressed (tests/lsan.supp); a malloc
that cannot be satisfied returns NULL as in production (the reader must then refuse) instead
of being reported; -rss_limit_mb bounds the memory actually used; -timeout catches hangs.
"""
import glob, os, re, shutil, subprocess, sys

fuzzer, seconds, work, seeds = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
extra = sys.argv[5:] + os.environ.get("FUZZ_EXTRA", "").split()
here = os.path.dirname(os.path.abspath(__file__))
env = dict(os.environ)
env.setdefault("ASAN_OPTIONS", "allocator_may_return_null=1:detect_leaks=1")
env.setdefault("LSAN_OPTIONS", f"suppressions={here}/../lsan.supp:print_suppressions=0")
env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
if "-detect_leaks=0" in extra:  # libFuzzer's flag covers the runs; LeakSanitizer's check at exit too
    env["ASAN_OPTIONS"] = env["ASAN_OPTIONS"].replace("detect_leaks=1", "detect_leaks=0")
limits = ["-timeout=5", "-rss_limit_mb=2048", "-malloc_limit_mb=1000000", "-max_len=262144"]
THIRD_PARTY = ("libhdf5",)
name = os.path.basename(fuzzer)
os.makedirs(work, exist_ok=True)
# the harnesses' scratch files (a crashing input leaves its file behind) stay in the build tree
scratch = work + ".tmp"
shutil.rmtree(scratch, ignore_errors=True)
os.makedirs(scratch)
env["TMPDIR"] = scratch
for old in glob.glob(os.path.join(work, "*-*")):
    if re.match(r"(crash|leak|timeout|oom|slow-unit)-", os.path.basename(old)):
        os.remove(old)


SKIP = ("__interceptor_", "__asan", "__sanitizer", "__lsan", "__ubsan", "fuzzer::", "malloc", "calloc",
        "realloc", "free", "memcpy", "memmove", "memset", "strlen", "operator new", "__restore_rt",
        # the sanitizers' interceptors of libc's string functions (in the harness binary): the caller decides
        "strdup", "strndup", "strcpy", "strncpy", "strcat", "strcmp", "strncmp", "memcmp", "strchr", "strrchr")


def faulting_module(report):
    """where the first stack of the report leaves the sanitizer, libFuzzer and libc: a source
    file of ours, or a library's (module+offset)"""
    seen = False
    for line in report.split("ERROR:", 1)[-1].splitlines():
        m = re.match(r"\s+#\d+ 0x[0-9a-f]+ (?:in (\S+) )?(.*)$", line)
        if not m:
            if seen:
                break
            continue
        seen = True
        func, rest = m.group(1) or "", m.group(2)
        if func.startswith(SKIP) or any(x in rest for x in ("libc.so", "sysdeps/", "compiler-rt", "libsanitizer")):
            continue
        return rest.strip()
    return ""


def replay(path):
    """reruns one input with the harness's own flags (FUZZ_EXTRA: fuzz_corpus runs without leak
    detection, so a replay must too); an out-of-memory one with a 1 s timeout, whose report shows where the
    memory is being taken (the out-of-memory report shows only libFuzzer's own allocations)"""
    lim = limits
    if os.path.basename(path).startswith("oom-"):
        lim = ["-timeout=1", "-rss_limit_mb=4000", "-malloc_limit_mb=1000000"]
    p = subprocess.run([fuzzer, *lim, *extra, path], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, errors="replace")
    return p.returncode, p.stdout


# 1. the seeds and regression inputs
inputs = sorted(glob.glob(os.path.join(seeds, "*")))
p = subprocess.run([fuzzer, *limits, "-runs=0", *extra, seeds], env=env, stdout=subprocess.PIPE,
                   stderr=subprocess.STDOUT, text=True, errors="replace")
if p.returncode != 0:
    print(p.stdout[-6000:])
    print(f"{name}: a seed or regression input of {seeds} fails")
    sys.exit(1)
print(f"{name}: {len(inputs)} seed/regression inputs replayed clean")

# 2. fuzz
log = work + ".log"
with open(log, "w") as f:
    p = subprocess.run([fuzzer, f"-max_total_time={seconds}", "-fork=1", "-ignore_crashes=1", "-ignore_ooms=1",
                        "-ignore_timeouts=1", *limits, f"-artifact_prefix={work}/", *extra, work, seeds],
                       env=env, stdout=f, stderr=subprocess.STDOUT, text=True)
text = open(log, errors="replace").read()
stats = re.findall(r"#(\d+): cov: (\d+) ft: (\d+) corp: (\d+)", text)
if stats:
    n, cov, ft, corp = stats[-1]
    print(f"{name}: {n} executions in {seconds}s, coverage {cov} edges / {ft} features, corpus {corp} inputs")

# 3. classify the findings
findings = sorted(f for f in glob.glob(os.path.join(work, "*")) if re.match(r"(crash|leak|timeout|oom)-", os.path.basename(f)))
ours = []
for f in findings:
    rc, report = replay(f)
    mod = faulting_module(report)
    kind = re.search(r"ERROR: (\w+): ([\w-]+)", report)
    what = f"{kind.group(1)} {kind.group(2)}" if kind else f"exit {rc}"
    if rc == 0:
        print(f"{name}: {os.path.basename(f)} does not reproduce (flaky; kept)")
    elif any(t in mod for t in THIRD_PARTY):
        lib = os.path.basename(mod.split()[0].strip("()")).split("+")[0]
        print(f"{name}: third-party finding in {lib} ({what}): {f}")
    else:
        ours.append(f)
        print(report[-8000:])
        print(f"{name}: FINDING ({what}, in {mod or 'our code'}): {f}")
if p.returncode != 0 and not findings:
    print(text[-4000:])
    print(f"{name}: libFuzzer exited {p.returncode} without a finding")
    sys.exit(1)
if ours:
    print(f"{name}: {len(ours)} finding(s); fix them, then copy the inputs to {seeds}/ as regressions")
    sys.exit(1)
print(f"{name}: ok")
