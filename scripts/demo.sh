#!/usr/bin/env bash
# The main job: real data from Debian's archive → pretraining in two mixture stages →
# instruction tuning → reward model → RLHF, and DPO on the same preference pairs → evaluation
# and samples, in runs/demo-<date>/ with report.md and plots.
#   scripts/demo.sh            the demo model (configs/small.ini, sft.ini, reward.ini, rlhf.ini, dpo.ini) on the full data
#   scripts/demo.sh --quick    the tiny model on the small data, a few minutes
#   scripts/demo.sh --seeds 3  also runs SFT, reward model, RLHF and DPO with seeds 2 and 3 (train.seed = 2, 3;
#                              seed 1 is the configs' own), in RUN/seed<k>/, reusing the pretrained model, and
#                              the tuned model and reward model of seed 1; the report gives mean ± spread
# Stop it at any time and run it again: finished stages are skipped, an interrupted one resumes.
# GRIFFIN_DEMO_RUN=DIR picks the run folder; GRIFFIN_DEMO_RANKS=N trains on N MPI ranks.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0 seeds=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --seeds) [ $# -ge 2 ] || { echo "demo: --seeds wants a number" >&2; exit 2; }; seeds=$2; shift ;;
    --seeds=*) seeds=${1#--seeds=} ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "demo: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
case "$seeds" in ''|*[!0-9]*|0) echo "demo: --seeds wants a positive whole number" >&2; exit 2 ;; esac

scripts/setup.sh
if [ $quick = 1 ]; then
  DATA=data/prepared/small PRE=configs/tiny.ini SFT=configs/tiny_sft.ini PREP_ARGS=(--small)
  REW=configs/tiny_reward.ini RL=configs/tiny_rlhf.ini DPOC=configs/tiny_dpo.ini TASK_LIMIT=()
  RUN=${GRIFFIN_DEMO_RUN:-runs/demo-$(date +%F)-quick}
else
  DATA=data/prepared/full PRE=configs/small.ini SFT=configs/sft.ini PREP_ARGS=()
  REW=configs/reward.ini RL=configs/rlhf.ini DPOC=configs/dpo.ini
  TASK_LIMIT=(--limit 200)   # the first 200 examples of each task (the full data has 4,438 / 295 / 3,667)
  RUN=${GRIFFIN_DEMO_RUN:-runs/demo-$(date +%F)}
fi
[ -f "$DATA/SUMMARY.md" ] || scripts/prepare_data.sh "${PREP_ARGS[@]}"
mkdir -p "$RUN"
echo "demo: run folder $RUN"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
RANKS=${GRIFFIN_DEMO_RANKS:-1}
griffin() {
  if [ "$RANKS" -gt 1 ]; then
    mpirun -np "$RANKS" --oversubscribe --bind-to none build/griffin "$@" --train.threads=1
  else
    build/griffin "$@"
  fi
}
newest() { ls "$1"/ckpt-*.h5 2>/dev/null | sed 's/.*ckpt-\([0-9]*\)\.h5/\1 &/' | sort -n | tail -1 | cut -d' ' -f2; }

# a training stage into DIR, skipped when DIR/DONE says it finished, else resumed from its newest checkpoint
stage() {  # DIR TITLE COMMAND CONFIG [OVERRIDES...]
  local dir=$1 title=$2
  shift 2
  if [ ! -f "$dir/DONE" ]; then
    echo "== $title =="
    griffin "$@" --train.out_dir="$dir" --train.resume=auto
    touch "$dir/DONE"
  fi
}
# the stages after pretraining, into OUT/<stage>; SEED (optional) overrides train.seed
sft_stage() {  # OUT [SEED]
  stage "$1/sft" "instruction tuning ($SFT) from $BASE${2:+, seed $2}" sft "$SFT" --train.init="$BASE" ${2:+--train.seed=$2}
}
reward_stage() {
  stage "$1/reward" "reward model ($REW) from $TUNED${2:+, seed $2}" reward "$REW" --train.init="$TUNED" \
    --data.pairs="$DATA/preference.train.h5" --data.valid="$DATA/preference.heldout.h5" ${2:+--train.seed=$2}
}
rlhf_stage() {
  stage "$1/rlhf" "RLHF ($RL)${2:+, seed $2}" rlhf "$RL" --train.init="$TUNED" --rlhf.reward_model="$RM" \
    --rlhf.prompts="$DATA/prompts.train.h5" --rlhf.valid_prompts="$DATA/preference.heldout.h5" ${2:+--train.seed=$2}
}
dpo_stage() {
  stage "$1/dpo" "DPO ($DPOC) from $TUNED${2:+, seed $2}" dpo "$DPOC" --train.init="$TUNED" \
    --data.pairs="$DATA/preference.train.h5" --data.valid="$DATA/preference.heldout.h5" ${2:+--train.seed=$2}
}

# 1. pretraining: a broad mixture, then a smaller higher-quality one
stage "$RUN/pretrain" "pretraining ($PRE)" pretrain "$PRE" --train.init=
BASE=$(newest "$RUN/pretrain")

# 2. instruction tuning from the pretrained weights
sft_stage "$RUN"
TUNED=$(newest "$RUN/sft")

# 3. reward model (Bradley-Terry on preference pairs) from the tuned weights
reward_stage "$RUN"
RM=$(newest "$RUN/reward")
build/griffin eval --checkpoint "$RM" --preferences "$DATA/preference.heldout.h5" > "$RUN/eval_reward.txt"

# 4. RLHF: the tuned policy against the reward model under a KL penalty to the tuned model
rlhf_stage "$RUN"
POLICY=$(newest "$RUN/rlhf")

# 5. DPO: the tuned policy directly on the reward model's preference pairs, against the tuned model
dpo_stage "$RUN"
DPO=$(newest "$RUN/dpo")

# 6. evaluation and samples of the models on held-out data
echo "== evaluation =="
heldout=()
for c in gcide pydoc kernelc manpages; do
  [ -f "$DATA/$c.heldout.h5" ] && heldout+=(--corpus "$DATA/$c.heldout.h5")
done
MODELS=(base:"$BASE" sft:"$TUNED" rlhf:"$POLICY" dpo:"$DPO")
for m in "${MODELS[@]}"; do
  name=${m%%:*} ckpt=${m#*:}
  ref=(); [ "$name" = base ] || ref=(--reference "$TUNED")   # DPO's implicit reward against the SFT model
  build/griffin eval --checkpoint "$ckpt" "${heldout[@]}" --max-docs 200 > "$RUN/eval_$name.txt"
  build/griffin eval --checkpoint "$ckpt" --corpus "$DATA/wordnet_sft.heldout.h5" --max-docs 300 >> "$RUN/eval_$name.txt"
  build/griffin eval --checkpoint "$ckpt" --chat-prompts "$DATA/wordnet_sft.heldout.h5" --max-docs 100 \
    --max-new-tokens 128 >> "$RUN/eval_$name.txt"
  build/griffin eval --checkpoint "$ckpt" --preferences "$DATA/preference.heldout.h5" --max-length 128 --batch 16 \
    "${ref[@]}" >> "$RUN/eval_$name.txt"
done
# the reward model's score of each tuned policy's greedy answers to the held-out pairs' prompts
for m in sft:"$TUNED" rlhf:"$POLICY" dpo:"$DPO"; do
  name=${m%%:*} ckpt=${m#*:}
  build/griffin eval --checkpoint "$ckpt" --reward-model "$RM" --prompts "$DATA/preference.heldout.h5" \
    --reference "$TUNED" --max-docs 128 --max-new-tokens 48 --batch 16 > "$RUN/answers_$name.txt"
done
# the prepared evaluation tasks (griffin eval --tasks): plain prompts for every model, and in the
# chat template for the instruction-tuned ones
tasks="$DATA/tasks/wordnet_gloss.jsonl,$DATA/tasks/foldoc_term.jsonl,$DATA/tasks/wordnet_word.jsonl"
if [ -f "$DATA/tasks/wordnet_gloss.jsonl" ]; then
  for m in "${MODELS[@]}"; do
    name=${m%%:*} ckpt=${m#*:}
    build/griffin eval --checkpoint "$ckpt" --tasks "$tasks" --batch 16 "${TASK_LIMIT[@]}" > "$RUN/tasks_$name.txt"
    [ "$name" = base ] || build/griffin eval --checkpoint "$ckpt" --tasks "$tasks" --batch 16 --chat "${TASK_LIMIT[@]}" \
      > "$RUN/tasks_${name}_chat.txt"
  done
fi

# 7. seeds 2..N of the stages after pretraining (--seeds N), each in RUN/seed<k>/ with train.seed = k:
# SFT from the same pretrained model; reward model, RLHF and DPO from the seed-1 tuned model, RLHF
# against the seed-1 reward model (one scale for every seed's score); the evaluations the report
# averages over seeds
seed_eval() {  # OUT NAME CKPT: the gold WordNet loss; SFT: the closing share; RLHF, DPO: own preference accuracy
  build/griffin eval --checkpoint "$3" --corpus "$DATA/wordnet_sft.heldout.h5" --max-docs 300 > "$1/eval_$2.txt"
  if [ "$2" = sft ]; then
    build/griffin eval --checkpoint "$3" --chat-prompts "$DATA/wordnet_sft.heldout.h5" --max-docs 100 \
      --max-new-tokens 128 >> "$1/eval_$2.txt"
  else
    build/griffin eval --checkpoint "$3" --preferences "$DATA/preference.heldout.h5" --max-length 128 --batch 16 \
      >> "$1/eval_$2.txt"
  fi
}
for k in $(seq 2 "$seeds"); do
  S="$RUN/seed$k"
  mkdir -p "$S"
  sft_stage "$S" "$k"
  reward_stage "$S" "$k"
  rlhf_stage "$S" "$k"
  dpo_stage "$S" "$k"
  seed_eval "$S" sft "$(newest "$S/sft")"
  for m in rlhf dpo; do
    seed_eval "$S" $m "$(newest "$S/$m")"
    build/griffin eval --checkpoint "$(newest "$S/$m")" --reward-model "$RM" --prompts "$DATA/preference.heldout.h5" \
      --reference "$TUNED" --max-docs 128 --max-new-tokens 48 --batch 16 > "$S/answers_$m.txt"
  done
done

/usr/bin/python3 scripts/demo_report.py prompts "$DATA" > "$RUN/prompts.txt"
for m in "${MODELS[@]}"; do
  name=${m%%:*} ckpt=${m#*:}
  build/griffin sample --checkpoint "$ckpt" --prompt-file "$RUN/prompts.txt" --chat --temperature 0 \
    --max-new-tokens 80 > "$RUN/samples_$name.txt"
done
/usr/bin/python3 scripts/plot_metrics.py "$RUN/loss.png" "$RUN/pretrain:pretraining" "$RUN/sft:instruction tuning" \
  "$RUN/reward:reward model" "$RUN/dpo:DPO"
/usr/bin/python3 scripts/demo_report.py rlhfplot "$RUN/rlhf" "$RUN/rlhf.png"
/usr/bin/python3 scripts/demo_report.py dpoplot "$RUN/dpo" "$RUN/dpo.png"
/usr/bin/python3 scripts/demo_report.py report "$RUN" "$DATA" > "$RUN/report.md"
echo "== done: $RUN/report.md =="
cat "$RUN/report.md"
