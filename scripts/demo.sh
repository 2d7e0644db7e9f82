#!/usr/bin/env bash
# The main job: real data from Debian's archive → pretraining in two mixture stages →
# instruction tuning → reward model → RLHF, and DPO on the same preference pairs → evaluation
# and samples, in runs/demo-<date>/ with report.md and plots.
#   scripts/demo.sh            the demo model (configs/small.ini, sft.ini, reward.ini, rlhf.ini, dpo.ini) on the full data
#   scripts/demo.sh --quick    the tiny model on the small data, a few minutes
# Stop it at any time and run it again: finished stages are skipped, an interrupted one resumes.
# GRIFFIN_DEMO_RUN=DIR picks the run folder; GRIFFIN_DEMO_RANKS=N trains on N MPI ranks.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
for a in "$@"; do
  case "$a" in
    --quick) quick=1 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "demo: unknown argument $a" >&2; exit 2 ;;
  esac
done

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

# 1. pretraining: a broad mixture, then a smaller higher-quality one
if [ ! -f "$RUN/pretrain/DONE" ]; then
  echo "== pretraining ($PRE) =="
  griffin pretrain "$PRE" --train.out_dir="$RUN/pretrain" --train.resume=auto --train.init=
  touch "$RUN/pretrain/DONE"
fi
BASE=$(newest "$RUN/pretrain")

# 2. instruction tuning from the pretrained weights
if [ ! -f "$RUN/sft/DONE" ]; then
  echo "== instruction tuning ($SFT) from $BASE =="
  griffin sft "$SFT" --train.out_dir="$RUN/sft" --train.resume=auto --train.init="$BASE"
  touch "$RUN/sft/DONE"
fi
TUNED=$(newest "$RUN/sft")

# 3. reward model (Bradley-Terry on preference pairs) from the tuned weights
if [ ! -f "$RUN/reward/DONE" ]; then
  echo "== reward model ($REW) from $TUNED =="
  griffin reward "$REW" --train.out_dir="$RUN/reward" --train.resume=auto --train.init="$TUNED" \
    --data.pairs="$DATA/preference.train.h5" --data.valid="$DATA/preference.heldout.h5"
  touch "$RUN/reward/DONE"
fi
RM=$(newest "$RUN/reward")
build/griffin eval --checkpoint "$RM" --preferences "$DATA/preference.heldout.h5" > "$RUN/eval_reward.txt"

# 4. RLHF: the tuned policy against the reward model under a KL penalty to the tuned model
if [ ! -f "$RUN/rlhf/DONE" ]; then
  echo "== RLHF ($RL) =="
  griffin rlhf "$RL" --train.out_dir="$RUN/rlhf" --train.resume=auto --train.init="$TUNED" \
    --rlhf.reward_model="$RM" --rlhf.prompts="$DATA/prompts.train.h5" \
    --rlhf.valid_prompts="$DATA/preference.heldout.h5"
  touch "$RUN/rlhf/DONE"
fi
POLICY=$(newest "$RUN/rlhf")

# 5. DPO: the tuned policy directly on the reward model's preference pairs, against the tuned model
if [ ! -f "$RUN/dpo/DONE" ]; then
  echo "== DPO ($DPOC) from $TUNED =="
  griffin dpo "$DPOC" --train.out_dir="$RUN/dpo" --train.resume=auto --train.init="$TUNED" \
    --data.pairs="$DATA/preference.train.h5" --data.valid="$DATA/preference.heldout.h5"
  touch "$RUN/dpo/DONE"
fi
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
