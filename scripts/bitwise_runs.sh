#!/usr/bin/env bash
# Fixed short runs of every training stage, for proving that a refactor changed nothing:
#   scripts/bitwise_runs.sh GRIFFIN_BINARY OUT_DIR        records the runs into OUT_DIR
#   scripts/bitwise_runs.sh --compare DIR_A DIR_B         says whether two records are bitwise equal
# The runs (tiny configs on `scripts/prepare_data.sh --small`, fixed seeds): pretrain across two
# mixture stages (1 rank, 2 ranks, 2 micro-batches), sft (also with frozen tensors), reward and rlhf (1 and 2 ranks; rlhf also
# with 2 micro-batches and 2 PPO minibatches). A record keeps each run's metrics.jsonl without the
# wall-clock fields (ms, tokens/s, both MFUs, sample/score/update ms) and its final checkpoint;
# --compare diffs the metrics and h5diffs the checkpoints' parameters and Adam moments (exact).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

strip_metrics() { # wall-clock fields differ from run to run
  sed -E 's/"(ms|tokens_per_s|mfu|mfu_fma|sample_ms|score_ms|update_ms)":[-0-9.e+]+,?//g; s/,}/}/g' "$1"
}

if [ "${1:-}" = --compare ]; then
  a=$2 b=$3 bad=0
  for run in $(cd "$a" && ls -d */ | tr -d /); do
    differ=0 # this run's; bad: any run's
    if ! diff -q "$a/$run/metrics.txt" "$b/$run/metrics.txt" >/dev/null; then
      echo "DIFFER: $run metrics"; { diff "$a/$run/metrics.txt" "$b/$run/metrics.txt" || true; } | head -5; differ=1
    fi
    ca=$(ls "$a/$run"/ckpt-*.h5 | sort -V | tail -1) cb=$(ls "$b/$run"/ckpt-*.h5 | sort -V | tail -1)
    for g in params adam_m adam_v; do
      if ! h5diff -q "$ca" "$cb" /$g /$g; then echo "DIFFER: $run /$g ($ca vs $cb)"; differ=1; fi
    done
    [ $differ = 0 ] && echo "same: $run ($(wc -l < "$a/$run/metrics.txt") metric lines, $(basename "$ca"))"
    [ $differ = 0 ] || bad=1
  done
  [ $bad = 0 ] && echo "bitwise the same: every run" || { echo "NOT the same"; exit 1; }
  exit 0
fi

bin=$(realpath "$1") out=$(realpath -m "$2")
d=data/prepared/small
[ -f $d/tokenizer.model ] || { echo "bitwise_runs: $d missing (run scripts/prepare_data.sh --small)" >&2; exit 2; }
rm -rf "$out"; mkdir -p "$out"
mpi() { local n=$1; shift; if [ "$n" = 1 ]; then "$bin" "$@"; else mpirun -np "$n" --oversubscribe "$bin" "$@"; fi; }
run() { # name ranks command config overrides...
  local name=$1 n=$2 cmd=$3 cfg=$4; shift 4
  mpi "$n" "$cmd" "$cfg" --train.out_dir="$out/$name" --train.resume=none "$@" > "$out/$name.log" 2>&1 \
    || { echo "bitwise_runs: $name failed (see $out/$name.log)" >&2; exit 1; }
  strip_metrics "$out/$name/metrics.jsonl" > "$out/$name/metrics.txt"
  echo "recorded $name"
}
pre=(--stage.1.steps=12 --stage.2.steps=8 --train.eval_every=10 --train.checkpoint_every=10)
run pretrain1 1 pretrain configs/tiny.ini "${pre[@]}"
run pretrain2 2 pretrain configs/tiny.ini "${pre[@]}" --train.batch_size=2
run pretrain_accum 1 pretrain configs/tiny.ini "${pre[@]}" --train.batch_size=2 --train.grad_accum=2
sft=(--train.init="$out/pretrain1/ckpt-20.h5" --train.steps=12 --stage.1.steps=12 --train.eval_every=6
     --train.checkpoint_every=6 --train.log_every=1)
run sft1 1 sft configs/tiny_sft.ini "${sft[@]}"
run sft2 2 sft configs/tiny_sft.ini "${sft[@]}" --train.batch_size=4
run sft_frozen1 1 sft configs/tiny_sft.ini "${sft[@]}" --train.freeze='embedder.*,blocks.0.*'
run sft_frozen2 2 sft configs/tiny_sft.ini "${sft[@]}" --train.batch_size=4 --train.freeze='embedder.*,blocks.0.*'
rw=(--train.init="$out/sft1/ckpt-12.h5" --train.steps=12 --train.eval_every=6 --train.checkpoint_every=6
    --train.log_every=1)
run reward1 1 reward configs/tiny_reward.ini "${rw[@]}"
run reward2 2 reward configs/tiny_reward.ini "${rw[@]}" --train.batch_size=4
rl=(--train.init="$out/sft1/ckpt-12.h5" --rlhf.reward_model="$out/reward1/ckpt-12.h5" --train.steps=4
    --train.eval_every=2 --train.checkpoint_every=2 --rlhf.valid_samples=8)
run rlhf1 1 rlhf configs/tiny_rlhf.ini "${rl[@]}"
run rlhf2 2 rlhf configs/tiny_rlhf.ini "${rl[@]}" --train.batch_size=2
run rlhf_mb 1 rlhf configs/tiny_rlhf.ini "${rl[@]}" --train.grad_accum=4 --rlhf.minibatches=2
echo "bitwise_runs: recorded in $out"
