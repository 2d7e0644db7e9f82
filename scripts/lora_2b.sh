#!/usr/bin/env bash
# LoRA fine-tuning at the RecurrentGemma-2B shape without the real weights, end to end:
#   scripts/lora_2b.sh [OUT=runs]
# 1. scripts/make_2b_shape.py writes an HF-layout bf16 folder with random weights (2.68 B
#    parameters, the released config.json fields, the small data's tokenizer);
# 2. griffin import turns it into a checkpoint; griffin plan prints the run's memory;
# 3. griffin sft configs/2b_lora_sft.ini trains rank-16 adapters on every linear (base frozen);
# 4. griffin sample answers from the adapter checkpoint (merged at load);
# 5. griffin export --merge writes the merged weights in the HF layout (bf16).
# Each step's wall time and peak resident memory (GNU time) go to OUT/lora_2b.tsv. Needs
# scripts/prepare_data.sh --small first, about 45 GB of disk and 16 GB of memory.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs}
bin=build/griffin
[ -x $bin ] || { echo "lora_2b: build first (scripts/setup.sh)" >&2; exit 2; }
[ -f data/prepared/small/wordnet_sft.train.h5 ] || { echo "lora_2b: run scripts/prepare_data.sh --small first" >&2; exit 2; }
command -v /usr/bin/time >/dev/null || { echo "lora_2b: needs GNU time (apt-get install time)" >&2; exit 2; }
mkdir -p "$out"
tsv=$out/lora_2b.tsv
printf 'step\tseconds\tpeak_rss_mb\n' > "$tsv"
step() { # name command...
  local name=$1; shift
  echo "== $name: $*"
  /usr/bin/time -f "%e %M" -o "$out/.time" "$@"
  read -r secs kb < "$out/.time"
  awk -v n="$name" -v s="$secs" -v k="$kb" 'BEGIN { printf "%s\t%s\t%.0f\n", n, s, k / 1024 }' >> "$tsv"
}
[ -f "$out/2b_shape_hf/model.safetensors.index.json" ] || step make /usr/bin/python3 scripts/make_2b_shape.py "$out/2b_shape_hf"
[ -f "$out/2b_shape.h5" ] || step import $bin import --from "$out/2b_shape_hf" --out "$out/2b_shape.h5"
cfg=(configs/2b_lora_sft.ini --train.init="$out/2b_shape.h5" --train.out_dir="$out/2b_lora_sft"
     --model.tokenizer="$out/2b_shape_hf/tokenizer.model")
$bin plan "${cfg[@]}" --stage sft
step sft $bin sft "${cfg[@]}"
ck=$(ls "$out"/2b_lora_sft/ckpt-*.h5 | sort -V | tail -1)
step sample $bin sample --checkpoint "$ck" --chat --prompt "What does the word 'ephemeral' mean?" --temperature 0 \
  --max-new-tokens 16
rm -rf "$out/2b_merged_hf"
step export $bin export --checkpoint "$ck" --format hf --dtype bf16 --merge --out "$out/2b_merged_hf"
echo "lora_2b: done; times and peak memory in $tsv"
column -t "$tsv"
