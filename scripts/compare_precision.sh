#!/usr/bin/env bash
# Trains one config twice, fp32 and bf16 matrix products (train.precision), from the same seed
# and data, and compares the per-step training losses (issue #8: within 1% on tiny and small).
#
#   scripts/compare_precision.sh [CONFIG] [STEPS] [--section.key=value ...]
#   scripts/compare_precision.sh configs/tiny.ini 200
#   scripts/compare_precision.sh configs/small.ini 200 --train.threads=2
#
# bf16 where the CPU has avx512_bf16; elsewhere bf16-emulated (the same rounding and sums by
# portable C, slower), said in one line. PRECISION=bf16-emulated forces the emulation.
# Runs go to $OUT (runs/precision-<config>/{fp32,bf16}/); prints the loss every 20 steps, the
# largest and mean relative difference, and exits 1 when the largest exceeds TOL (0.01).
set -euo pipefail
cd "$(dirname "$0")/.."

CONFIG=${1:-configs/tiny.ini}
STEPS=${2:-200}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] && shift
BIN=${GRIFFIN:-build/griffin}
TOL=${TOL:-0.01}
NAME=$(basename "$CONFIG" .ini)
OUT=${OUT:-runs/precision-$NAME}
PREC=${PRECISION:-bf16}
if [ "$PREC" = bf16 ] && ! grep -qw avx512_bf16 /proc/cpuinfo; then
  echo "compare_precision: this CPU has no avx512_bf16; comparing against bf16-emulated"
  PREC=bf16-emulated
fi
[ -x "$BIN" ] || { echo "compare_precision: $BIN not built (scripts/setup.sh)"; exit 2; }

mkdir -p "$OUT"
for p in fp32 "$PREC"; do
  rm -rf "${OUT:?}/$p"
  start=$(date +%s)
  "$BIN" pretrain "$CONFIG" --train.steps="$STEPS" --train.precision="$p" --train.out_dir="$OUT/$p" \
    --train.resume=none --train.log_every=1 --train.eval_every=0 --train.checkpoint_every=0 "$@" \
    > "$OUT/$p.log" 2>&1 || { echo "compare_precision: the $p run failed, see $OUT/$p.log"; exit 2; }
  echo "compare_precision: $NAME $p: $STEPS steps in $(( $(date +%s) - start )) s ($OUT/$p.log)"
done

python3 - "$OUT/fp32/metrics.jsonl" "$OUT/$PREC/metrics.jsonl" "$PREC" "$TOL" <<'EOF'
import json, sys

def losses(path):
    out = {}
    for line in open(path):
        r = json.loads(line)
        if "loss" in r and "step" in r:
            out[r["step"]] = r["loss"]
    return out

a, b, name, tol = losses(sys.argv[1]), losses(sys.argv[2]), sys.argv[3], float(sys.argv[4])
steps = sorted(set(a) & set(b))
if not steps:
    sys.exit("compare_precision: no common logged steps")
rel = {s: abs(b[s] - a[s]) / abs(a[s]) for s in steps}
print(f"{'step':>6} {'fp32':>10} {name:>14} {'rel diff':>9}")
for s in steps:
    if s % 20 == 0 or s == steps[0] or s == steps[-1]:
        print(f"{s:6d} {a[s]:10.4f} {b[s]:14.4f} {100 * rel[s]:8.3f}%")
worst = max(steps, key=lambda s: rel[s])
mean = sum(rel.values()) / len(rel)
ok = rel[worst] <= tol
print(f"max relative difference {100 * rel[worst]:.3f}% (step {worst}), mean {100 * mean:.3f}% over "
      f"{len(steps)} steps: {'within' if ok else 'OUTSIDE'} {100 * tol:g}%")
sys.exit(0 if ok else 1)
EOF
