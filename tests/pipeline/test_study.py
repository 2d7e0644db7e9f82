#!/usr/bin/env python3
"""`scripts/study_families.sh --quick` (griffin, hawk and transformer at two tiny sizes on the
small real data) runs every step of the family study: six trainings, held-out evaluation,
loss by position beyond the training length, the report and both plots. Checks that
report.md has the six rows with parameter counts within 5% of griffin's at the same size, a
held-out loss for every group, the length-extrapolation table for the three families of the
larger size, and non-empty curves.png and length.png; then that a second invocation skips
everything (rerunnable).

usage: test_study.py PROJECT_ROOT PREPARED_SMALL_DIR OUT_DIR GRIFFIN_BIN
The small data the data tests prepared is reused (linked as data/prepared/small when that is
missing), so the test downloads nothing itself."""
import os, re, shutil, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smalldata import link_small_data  # noqa: E402

ROOT, PREP, OUT, BIN = (os.path.abspath(a) for a in sys.argv[1:5])


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


link_small_data(ROOT, PREP)
shutil.rmtree(OUT, ignore_errors=True)
env = dict(os.environ, GRIFFIN_BIN=BIN)
cmd = [os.path.join(ROOT, "scripts", "study_families.sh"), "--quick", "--out", OUT]
t0 = time.time()
p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
took = time.time() - t0
if p.returncode != 0:
    print(p.stdout[-6000:])
    fail(f"study_families.sh --quick exited {p.returncode}")

report = open(os.path.join(OUT, "report.md")).read()
print(report)
rows = [l for l in report.splitlines() if re.match(r"\| [SM] \| (griffin|hawk|transformer) \|", l)]
if len(rows) != 6:
    fail(f"report.md has {len(rows)} rows in the main table, expected 6")
for r in rows:
    cells = [c.strip() for c in r.strip("|").split("|")]
    dev = cells[3]
    if dev == "—" or abs(float(dev.rstrip("%"))) > 5:
        fail(f"parameter count off by {dev}: {r}")
    if "—" in cells[6:]:
        fail(f"a held-out number is missing: {r}")
long_rows = [l for l in report.splitlines() if re.match(r"\| (griffin|hawk|transformer) \| all \|", l)]
if len(long_rows) != 3:
    fail(f"the length-extrapolation table has {len(long_rows)} pooled rows, expected 3")
m = re.search(r"largest difference (\S+),", report)
if not m or float(m.group(1)) > 1e-3:
    fail("the 2x pass disagrees with the prefix of the 8x pass")
for f in ("curves.png", "length.png"):
    path = os.path.join(OUT, f)
    if not os.path.exists(path) or os.path.getsize(path) < 1000:
        fail(f"{f} missing or empty")

t1 = time.time()
p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
if p.returncode != 0 or "== S griffin" in p.stdout:
    print(p.stdout[-3000:])
    fail("a second run did not skip the finished runs")
print(f"study --quick took {took:.0f} s; the rerun {time.time() - t1:.0f} s; ok")
