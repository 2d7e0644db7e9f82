#!/usr/bin/env bash
# griffin.c against PyTorch on the same training step.
#
#   scripts/bench_vs_pytorch.sh [CONFIG.ini|tiny|small|2b] [--threads N] [--rounds R]
#                               [--batch B] [--seq T] [--steps N] [--warmup N] [--family F]
#                               [--out DIR] [--griffin PATH] [--official REPO]
#
# The same model (a config .ini's [model] and [train] batch_size/seq_len, or a `griffin
# bench` preset; default: the preset "small", B=8, T=256, as `griffin bench train` without
# arguments) is trained on random tokens by `griffin bench train` and by
# tests/ref/bench_torch.py (PyTorch float32: forward + soft-capped cross-entropy + backward +
# AdamW), with the same thread count (OMP_NUM_THREADS, torch.set_num_threads), the same
# batch, the same warm-up and number of timed steps. The two alternate — griffin, torch,
# griffin, torch, … for R rounds — so that machine noise hits both; each run reports its
# median step, and the summary takes the median over rounds per side.
#
# --official REPO adds a third side: the official RecurrentGemma PyTorch model
# (recurrentgemma.torch.Griffin) of a checkout of github.com/google-deepmind/recurrentgemma,
# which this project does not ship (bench_torch.py --official; same config, tokens, AdamW).
#
# Writes DIR/runs.csv (one row per run), DIR/summary.json, and the per-run JSON files;
# DIR defaults to runs/bench_vs_pytorch/<config>-<threads>t. GRIFFIN (env) or --griffin
# names the binary (default build/griffin); PYTHON the interpreter with torch
# (default /usr/bin/python3, Debian's python3-torch).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

CONFIG=small THREADS="$(nproc)" ROUNDS=3 STEPS=5 WARMUP=1 BATCH="" SEQ="" FAMILY="" OUT="" OFFICIAL=""
GRIFFIN="${GRIFFIN:-$ROOT/build/griffin}"
PYTHON="${PYTHON:-/usr/bin/python3}"

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; }
need() { [[ $# -ge 2 && -n "$2" ]] || { echo "bench_vs_pytorch: $1 needs a value" >&2; exit 2; }; }
seen_config=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --threads) need "$@"; THREADS="$2"; shift 2 ;;
        --rounds) need "$@"; ROUNDS="$2"; shift 2 ;;
        --steps) need "$@"; STEPS="$2"; shift 2 ;;
        --warmup) need "$@"; WARMUP="$2"; shift 2 ;;
        --batch) need "$@"; BATCH="$2"; shift 2 ;;
        --seq) need "$@"; SEQ="$2"; shift 2 ;;
        --family) need "$@"; FAMILY="$2"; shift 2 ;;
        --out) need "$@"; OUT="$2"; shift 2 ;;
        --griffin) need "$@"; GRIFFIN="$2"; shift 2 ;;
        --official) need "$@"; [[ -f "$2/recurrentgemma/torch/griffin.py" ]] || { echo "bench_vs_pytorch: --official $2 is not a checkout of google-deepmind/recurrentgemma (no recurrentgemma/torch/griffin.py)" >&2; exit 2; }
                    OFFICIAL="$(cd "$2" && pwd)"; shift 2 ;;
        -*) echo "bench_vs_pytorch: unknown option $1 (see --help)" >&2; exit 2 ;;
        *) [[ $seen_config == 0 ]] || { echo "bench_vs_pytorch: more than one CONFIG" >&2; exit 2; }
           CONFIG="$1"; seen_config=1; shift ;;
    esac
done
for v in THREADS ROUNDS STEPS; do
    [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || { echo "bench_vs_pytorch: --${v,,} must be a positive integer" >&2; exit 2; }
done
[[ -x "$GRIFFIN" ]] || { echo "bench_vs_pytorch: no griffin binary at $GRIFFIN (build it, or pass --griffin PATH)" >&2; exit 2; }
"$PYTHON" -c "import torch" 2>/dev/null || { echo "bench_vs_pytorch: $PYTHON cannot import torch (apt-get install python3-torch, or set PYTHON)" >&2; exit 2; }

# the model argument, the same for both sides
case "$CONFIG" in
    tiny|small|2b) MODEL_ARGS=(--preset "$CONFIG"); NAME="$CONFIG" ;;
    *) [[ -f "$CONFIG" ]] || { echo "bench_vs_pytorch: no config file $CONFIG" >&2; exit 2; }
       CONFIG="$(cd "$(dirname "$CONFIG")" && pwd)/$(basename "$CONFIG")"
       MODEL_ARGS=("$CONFIG"); NAME="$(basename "$CONFIG" .ini)" ;;
esac
COMMON=(--threads "$THREADS" --steps "$STEPS" --warmup "$WARMUP")
[[ -z "$BATCH" ]] || COMMON+=(--batch "$BATCH")
[[ -z "$SEQ" ]] || COMMON+=(--seq "$SEQ")
[[ -z "$FAMILY" ]] || COMMON+=(--family "$FAMILY")
# float32 on both sides: a config's train.precision = bf16 must not switch griffin's GEMMs
GRIFFIN_ARGS=()
if "$GRIFFIN" bench train --help 2>/dev/null | grep -q -- --precision; then GRIFFIN_ARGS=(--precision fp32); fi
OUT="${OUT:-$ROOT/runs/bench_vs_pytorch/$NAME-${THREADS}t}"
mkdir -p "$OUT"
rm -f "$OUT"/griffin-*.json "$OUT"/torch-*.json "$OUT"/official-*.json

export OMP_NUM_THREADS="$THREADS" OPENBLAS_NUM_THREADS="$THREADS"
echo "bench_vs_pytorch: $NAME, $THREADS threads, $ROUNDS round(s) × (griffin, torch${OFFICIAL:+, official}), $STEPS timed steps after $WARMUP warm-up each"
for ((r = 1; r <= ROUNDS; r++)); do
    "$GRIFFIN" bench train "${MODEL_ARGS[@]}" "${COMMON[@]}" ${GRIFFIN_ARGS[@]+"${GRIFFIN_ARGS[@]}"} --json "$OUT/griffin-$r.json" > "$OUT/griffin-$r.log"
    "$PYTHON" "$ROOT/tests/ref/bench_torch.py" "${MODEL_ARGS[@]}" "${COMMON[@]}" --json "$OUT/torch-$r.json" > "$OUT/torch-$r.log"
    if [[ -n "$OFFICIAL" ]]; then
        "$PYTHON" "$ROOT/tests/ref/bench_torch.py" "${MODEL_ARGS[@]}" "${COMMON[@]}" --official "$OFFICIAL" \
            --json "$OUT/official-$r.json" > "$OUT/official-$r.log" 2>&1
    fi
    "$PYTHON" - "$OUT" "$r" <<'EOF'
import json, os, sys
out, r = sys.argv[1], sys.argv[2]
line = "  round %s:" % r
for side in ("griffin", "torch", "official"):
    path = "%s/%s-%s.json" % (out, side, r)
    if os.path.exists(path):
        d = json.load(open(path))
        line += "   %s %9.1f tokens/s (%8.1f ms/step)" % (side, d["tokens_per_s"], d["step_ms"])
print(line)
EOF
done

"$PYTHON" - "$OUT" "$ROUNDS" "$NAME" <<'EOF'
import csv, json, statistics, sys
out, rounds, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
import os
runs = {"griffin": [], "torch": []}
if os.path.exists("%s/official-1.json" % out):
    runs["official"] = []
for r in range(1, rounds + 1):
    for side in runs:
        d = json.load(open("%s/%s-%d.json" % (out, side, r)))
        d["round"] = r
        runs[side].append(d)
g0, t0 = runs["griffin"][0], runs["torch"][0]
for other in runs:
    for key in ("parameters", "batch", "seq", "threads"):
        if g0[key] != runs[other][0][key]:
            sys.exit("bench_vs_pytorch: the sides differ in %s: griffin %s, %s %s"
                     % (key, g0[key], other, runs[other][0][key]))
if abs(g0["mflop_per_token"] - t0["mflop_per_token"]) > 1e-3 * g0["mflop_per_token"]:
    print("warning: FLOPs/token differ: griffin %.3f, torch %.3f MFLOP" % (g0["mflop_per_token"], t0["mflop_per_token"]))

# MFU of both sides against the same peak: the OpenBLAS sgemm rate griffin measured in that
# round (both link the same libopenblas); own_peak_gflops is each side's own matmul probe.
with open(out + "/runs.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["round", "side", "tokens_per_s", "step_ms", "forward_ms", "gflops", "mfu",
                "sgemm_peak_gflops", "own_peak_gflops"])
    for r in range(rounds):
        peak_r = runs["griffin"][r]["sgemm_peak_gflops"]
        for side in runs:
            d = runs[side][r]
            w.writerow([d["round"], side] + ["%.6g" % x for x in (
                d["tokens_per_s"], d["step_ms"], d["forward_ms"], d["gflops"], d["gflops"] / peak_r,
                peak_r, d["sgemm_peak_gflops"])])

med = lambda side, key: statistics.median(d[key] for d in runs[side])
flop = g0["mflop_per_token"] * 1e6
peak = med("griffin", "sgemm_peak_gflops")     # OpenBLAS sgemm, measured by griffin in each run
fma = med("griffin", "fma_peak_gflops")        # the FMA loops' peak, measured by griffin in each run
side = {}
for s in runs:
    tps = med(s, "tokens_per_s")
    side[s] = dict(tokens_per_s=tps, step_ms=med(s, "step_ms"), forward_ms=med(s, "forward_ms"),
                   tokens_per_s_runs=[d["tokens_per_s"] for d in runs[s]],
                   gflops=tps * flop / 1e9, mfu=tps * flop / 1e9 / peak, mfu_fma=tps * flop / 1e9 / fma,
                   own_matmul_peak_gflops=med(s, "sgemm_peak_gflops"))
ratio = side["griffin"]["tokens_per_s"] / side["torch"]["tokens_per_s"]
summary = dict(model=name, family=g0["family"], parameters=g0["parameters"], batch=g0["batch"], seq=g0["seq"],
               threads=g0["threads"], rounds=rounds, steps_per_run=t0["steps"], warmup=t0["warmup"],
               torch_version=t0["torch_version"], mflop_per_token=g0["mflop_per_token"],
               sgemm_peak_gflops=peak, fma_peak_gflops=fma, griffin=side["griffin"], torch=side["torch"],
               speedup_griffin_over_torch=ratio)
if "official" in side:
    summary["official"] = side["official"]
    summary["speedup_griffin_over_official"] = side["griffin"]["tokens_per_s"] / side["official"]["tokens_per_s"]
with open(out + "/summary.json", "w") as f:
    json.dump(summary, f, indent=1)
    f.write("\n")
print()
print("model      %s %s, %.1f M parameters, B=%d T=%d, %d threads, %.1f MFLOP/token"
      % (name, g0["family"], g0["parameters"] / 1e6, g0["batch"], g0["seq"], g0["threads"], g0["mflop_per_token"]))
print("median of %d round(s) tokens/s   step (ms)   GFLOP/s   MFU (vs sgemm %.1f / FMA peak %.1f GFLOP/s)"
      % (rounds, peak, fma))
labels = {"griffin": "griffin.c", "torch": "PyTorch %s" % t0["torch_version"],
          "official": "official RecurrentGemma"}
for s in side:
    label, d = labels[s], side[s]
    print("  %-24s %10.1f %11.1f %9.1f   %5.1f%% / %5.1f%%" % (label, d["tokens_per_s"], d["step_ms"], d["gflops"],
                                                          100 * d["mfu"], 100 * d["mfu_fma"]))
print("ratio      griffin.c / PyTorch = %.2f× tokens/s" % ratio)
if "official" in side:
    print("ratio      griffin.c / official RecurrentGemma PyTorch = %.2f× tokens/s"
          % summary["speedup_griffin_over_official"])
print("wrote      %s/summary.json, %s/runs.csv" % (out, out))
EOF
