#!/usr/bin/env bash
# Trains the project's SentencePiece tokenizer with Debian's spm_train.
#   scripts/data/train_tokenizer.sh INPUT.txt OUT_PREFIX [VOCAB_SIZE] [extra spm_train flags]
# writes OUT_PREFIX.model and OUT_PREFIX.vocab. BPE, byte fallback, identity normalisation
# (no NFKC, whitespace kept), digits split, "\n" and tab as user-defined pieces, no dummy prefix.
# Fixed ids: <pad>=0 <eos>=1 <bos>=2 <unk>=3 <start_of_turn>=4 <end_of_turn>=5, then "\n"=6, "\t"=7.
set -euo pipefail
input=$1 prefix=$2 vocab=${3:-8000}
shift $(( $# < 3 ? $# : 3 ))
command -v spm_train >/dev/null || { echo "train_tokenizer: spm_train missing (apt-get install sentencepiece, or scripts/setup.sh)" >&2; exit 1; }
spm_train --input="$input" --model_prefix="$prefix" --vocab_size="$vocab" \
  --model_type=bpe --byte_fallback=true --character_coverage=0.9995 \
  --normalization_rule_name=identity --remove_extra_whitespaces=false --add_dummy_prefix=false \
  --split_digits=true --allow_whitespace_only_pieces=true --max_sentence_length=16384 \
  --pad_id=0 --eos_id=1 --bos_id=2 --unk_id=3 \
  --pad_piece='<pad>' --eos_piece='<eos>' --bos_piece='<bos>' --unk_piece='<unk>' \
  --control_symbols='<start_of_turn>,<end_of_turn>' \
  --user_defined_symbols=$'\n,\t' \
  --num_threads="$(nproc)" --minloglevel=1 "$@"
