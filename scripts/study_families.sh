#!/usr/bin/env bash
# Does it learn like the paper? Griffin, Hawk and an MQA Transformer with global attention
# (Griffin paper, De et al. 2024, §3 and §6) at two sizes of equal parameter count (±5%), trained
# on the same real-data mixture for the same tokens with the same seed, optimizer and schedule;
# then held-out loss and bits per byte per data group, and loss by position on sequences 2×, 4×
# and 8× the training length (length extrapolation) for the larger size.
#   scripts/study_families.sh [--out DIR]   full study on data/prepared/full (about 50 minutes on 2 idle cores)
#   scripts/study_families.sh --quick       tiny models on data/prepared/small (1-2 minutes; every step, little meaning)
#   --plan                                   print the runs, parameter counts and time estimate, train nothing
# Writes DIR/report.md (tables), DIR/curves.png (learning curves), DIR/length.png (loss by position).
# Rerunnable: finished runs and evaluations are skipped, an interrupted run resumes from its checkpoint.
# GRIFFIN_BIN=path/to/griffin picks the binary (default build/griffin, built by scripts/setup.sh if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0 plan=0 OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --plan) plan=1 ;;
    --out) OUT=${2:?--out needs a folder}; shift ;;
    --out=*) OUT=${1#--out=} ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "study: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

# The runs: size family width depth heads mlp_width window est_s_per_step
# est_s_per_step: one training step (fwd+bwd+AdamW) on 2 idle cores, estimated from the CPU time
# per step measured with `griffin bench train` (see README, "Does it learn like the paper?").
# mlp_width differs by family so that the parameter counts match griffin's (the script prints
# them and refuses a run more than 5% off). The transformer's window is 8 x seq_len, the longest
# evaluation length, so it attends globally at every length evaluated; griffin keeps its local
# window (half the training length, as the paper's 1024 for 2048).
if [ $quick = 1 ]; then
  DATA=data/prepared/small CFG=configs/study/quick.ini OUT=${OUT:-runs/study-quick} PREP_ARGS=(--small)
  T=64
  RUNS=("S griffin 32 3 2 96 32 0.02"     "S hawk 32 3 2 88 32 0.02"     "S transformer 32 3 2 104 512 0.02"
        "M griffin 64 3 2 192 32 0.04"    "M hawk 64 3 2 184 32 0.04"    "M transformer 64 3 2 208 512 0.04")
  HELDOUT=(prose:gcide technical:pydoc code:pystdlib)  # the [data] valid.* groups of the config
  LONG=(pydoc pystdlib)                                # held-out corpora with documents > 8 x seq_len
  EVAL_DOCS=100 LONG_DOCS=4 EVAL_BATCH=4
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}  # tiny models: one thread is as fast, and robust under load
else
  DATA=data/prepared/full CFG=configs/study/study.ini OUT=${OUT:-runs/study} PREP_ARGS=()
  T=256
  RUNS=("S griffin 128 6 2 384 128 0.67"  "S hawk 128 6 2 368 128 0.64"  "S transformer 128 6 2 416 2048 0.79"
        "M griffin 256 8 4 768 128 1.66"  "M hawk 256 8 4 744 128 1.64"  "M transformer 256 8 4 832 2048 1.95")
  HELDOUT=(prose:gcide technical:pydoc code:kernelc)
  LONG=(kernelc pydoc linuxdoc)
  EVAL_DOCS=256 LONG_DOCS=16 EVAL_BATCH=8
fi
LONG_SIZE=M
STEPS=$(sed -n '/^\[stage.1\]/,/^\[/s/^steps *= *\([0-9]*\).*/\1/p' "$CFG")
BATCH=$(sed -n 's/^batch_size *= *\([0-9]*\).*/\1/p' "$CFG")
BIN=${GRIFFIN_BIN:-build/griffin}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

# the plan: runs, parameter counts (computed from the shapes; checked against the training log)
plan_args=()
for r in "${RUNS[@]}"; do plan_args+=("$r"); done
hcorp=()
for g in "${HELDOUT[@]}"; do hcorp+=("${g#*:}"); done
$PY scripts/study_report.py plan --steps "$STEPS" --batch "$BATCH" --seq "$T" --long-docs "$LONG_DOCS" \
  --long-corpora "${#LONG[@]}" --eval-docs "$EVAL_DOCS" --data "$DATA" --heldout "${hcorp[@]}" -- "${plan_args[@]}"
[ $plan = 1 ] && exit 0
# absolute: a relative out_dir would resolve from the config's folder (configs/study/)
OUT=$(realpath -m "$OUT")

if [ ! -x "$BIN" ]; then scripts/setup.sh; fi
[ -f "$DATA/SUMMARY.md" ] || scripts/prepare_data.sh "${PREP_ARGS[@]}"
mkdir -p "$OUT"
echo "study: output folder $OUT"
newest() { ls "$1"/ckpt-*.h5 2>/dev/null | sed 's/.*ckpt-\([0-9]*\)\.h5/\1 &/' | sort -n | tail -1 | cut -d' ' -f2; }
# write $1 from the command that follows, only when it succeeds (an interrupted run leaves no file)
into() { local f=$1; shift; "$@" > "$f.tmp" && mv "$f.tmp" "$f"; }

heldout=()
for g in "${HELDOUT[@]}"; do heldout+=(--corpus "$DATA/${g#*:}.heldout.h5"); done
long=()
for c in "${LONG[@]}"; do long+=(--corpus "$DATA/$c.heldout.h5"); done

t_all=$SECONDS
for r in "${RUNS[@]}"; do
  read -r size fam width depth heads mlp window _ <<< "$r"
  run="$OUT/$size-$fam"
  if [ ! -f "$run/DONE" ]; then
    echo "== $size $fam: width $width depth $depth heads $heads mlp_width $mlp window $window, $STEPS steps =="
    t0=$SECONDS
    "$BIN" pretrain "$CFG" --train.out_dir="$run" --train.resume=auto --train.init= \
      --model.family="$fam" --model.width="$width" --model.lru_width="$width" --model.depth="$depth" \
      --model.heads="$heads" --model.mlp_width="$mlp" --model.window="$window"
    echo $((SECONDS - t0)) >> "$run/seconds"
    touch "$run/DONE"
  fi
  ckpt=$(newest "$run")
  # held-out loss and bits per byte per group, each document from its first token, up to seq_len
  [ -f "$run/eval.txt" ] || into "$run/eval.txt" "$BIN" eval --checkpoint "$ckpt" "${heldout[@]}" \
    --max-docs "$EVAL_DOCS" --batch "$EVAL_BATCH"
  # length extrapolation (larger size): the same long documents (> 8 x seq_len tokens) scored to
  # 8 x seq_len in one pass, loss per bucket of seq_len/4 positions; 2x and 4x are its prefixes
  # (causal models), which the 2 x seq_len pass checks
  if [ "$size" = "$LONG_SIZE" ]; then
    for mult in 8 2; do
      [ -f "$run/long$mult.txt" ] || into "$run/long$mult.txt" "$BIN" eval --checkpoint "$ckpt" "${long[@]}" \
        --max-length $((mult * T)) --bucket-width $((T / 4)) --min-length $((8 * T + 1)) --max-docs "$LONG_DOCS" \
        --batch 4
    done
  fi
done
echo "study: runs and evaluations took $(( (SECONDS - t_all) / 60 )) min $(( (SECONDS - t_all) % 60 )) s"

groups=()
for g in "${HELDOUT[@]}"; do groups+=("$g"); done
$PY scripts/study_report.py report "$OUT" --seq "$T" --long-size "$LONG_SIZE" --config "$CFG" --data "$DATA" \
  --groups "${groups[@]}" -- "${RUNS[@]}" > "$OUT/report.md.tmp"
mv "$OUT/report.md.tmp" "$OUT/report.md"
echo "== done: $OUT/report.md, $OUT/curves.png, $OUT/length.png =="
cat "$OUT/report.md"
