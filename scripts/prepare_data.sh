#!/usr/bin/env bash
# Prepares griffin.c's real data from Debian's archive (see docs/data.md and data/corpus.h):
#   1. apt-get download the source packages into data/cache/debs, unpack with dpkg-deb -x
#   2. extract documents (scripts/data/prepare.py, Python standard library), apply the held-out
#      rule, write JSONL per source and split
#   3. train the SentencePiece tokenizer (scripts/data/train_tokenizer.sh) on the train splits
#   4. `griffin tokenize` every JSONL file into a corpus .h5
#   5. check the held-out rule and write SUMMARY.md (documents and tokens per source and split)
#   The evaluation tasks of `griffin eval --tasks` (scripts/data/tasksrc.py) go to OUT/tasks/.
#
# usage: scripts/prepare_data.sh [--small] [--out DIR] [--vocab N] [--sources a,b,...]
#   --small    a few-MB subset (7 text sources, sampled; chat/preference/prompts) for tests and
#              the quick demo, into data/prepared/small (default: everything into data/prepared/full)
# Environment: BUILD_DIR (default build) holds the griffin binary; it is built if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT_DIR=$PWD
start=$(date +%s)

small=0; out=""; vocab=8000; sources=""
while [ $# -gt 0 ]; do
  case "$1" in
    --small) small=1 ;;
    --out) out=$2; shift ;;
    --out=*) out=${1#--out=} ;;
    --vocab) vocab=$2; shift ;;
    --vocab=*) vocab=${1#--vocab=} ;;
    --sources) sources=$2; shift ;;
    --sources=*) sources=${1#--sources=} ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "prepare_data: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$out" ]; then out=data/prepared/$([ $small = 1 ] && echo small || echo full); fi
PY=/usr/bin/python3
CACHE=${GRIFFIN_DATA_CACHE:-data/cache}
BUILD_DIR=${BUILD_DIR:-build}

PKGS_SMALL=(dict-gcide dict-foldoc fortunes fortunes-min wordnet-base manpages manpages-dev python3.11-doc
            perl-doc libpython3.11-minimal libpython3.11-stdlib)
PKGS_FULL=("${PKGS_SMALL[@]}" debian-handbook debian-faq linux-doc-6.1 postgresql-doc-15 python-django-doc
           linux-source-6.1)
if [ $small = 1 ]; then pkgs=("${PKGS_SMALL[@]}"); else pkgs=("${PKGS_FULL[@]}"); fi

for tool in spm_train man pod2text dpkg-deb apt-get $PY; do
  command -v "$tool" >/dev/null || { echo "prepare_data: $tool missing; run scripts/setup.sh" >&2; exit 1; }
done

# ---- 1. download and unpack
mkdir -p "$CACHE/debs" "$CACHE/root"
# one preparer at a time fills the shared cache (parallel ctest runs, a demo beside a test)
exec 9>"$CACHE/.lock"
flock 9
missing=()
for p in "${pkgs[@]}"; do
  ls "$CACHE/debs/${p}_"*.deb >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "prepare_data: downloading ${missing[*]}"
  if ! (cd "$CACHE/debs" && apt-get download -qq "${missing[@]}" 2>/dev/null); then
    apt-get update -qq >/dev/null 2>&1 || true   # stale or missing package lists
    (cd "$CACHE/debs" && apt-get download -qq "${missing[@]}")
  fi
fi
for p in "${pkgs[@]}"; do
  deb=$(ls -t "$CACHE/debs/${p}_"*.deb | head -1)
  ver=$(dpkg-deb -f "$deb" Version)
  stamp="$CACHE/root/$p/.unpacked-$ver"
  if [ ! -f "$stamp" ]; then
    rm -rf "${CACHE:?}/root/$p"
    mkdir -p "$CACHE/root/$p"
    dpkg-deb -x "$deb" "$CACHE/root/$p"
    touch "$stamp"
  fi
done
flock -u 9

mkdir -p "$out"
inputs="$out/inputs.tsv"
printf 'package\tversion\tsha256\tbytes\n' > "$inputs"
for p in "${pkgs[@]}"; do
  deb=$(ls -t "$CACHE/debs/${p}_"*.deb | head -1)
  printf '%s\t%s\t%s\t%s\n' "$p" "$(dpkg-deb -f "$deb" Version)" "$(sha256sum "$deb" | cut -d' ' -f1)" \
    "$(stat -c %s "$deb")" >> "$inputs"
done

# ---- 2. extract
rm -rf "$out/jsonl"
extra=()
[ $small = 1 ] && extra+=(--small)
[ -n "$sources" ] && extra+=(--sources "$sources")
$PY scripts/data/prepare.py --root "$CACHE/root" --out "$out" "${extra[@]}"

# ---- 3. tokenizer (trained on train splits only)
t_tok=$(date +%s)
# relative names: spm_train stores its arguments in the model, and the model's bytes (and so the
# checksum corpora record) should not depend on where the data was prepared
(cd "$out" && "$ROOT_DIR/scripts/data/train_tokenizer.sh" tokenizer_train.txt tokenizer "$vocab" \
  --input_sentence_size=2000000 --shuffle_input_sentence=true > tokenizer.log 2>&1) || true
[ -f "$out/tokenizer.model" ] || { echo "prepare_data: tokenizer training failed" >&2; exit 1; }
echo "prepare_data: tokenizer ($vocab pieces) in $(( $(date +%s) - t_tok )) s"
rm -f "$out/tokenizer_train.txt"

# ---- 4. tokenize
GRIFFIN=$BUILD_DIR/griffin
if ! "$GRIFFIN" tokenize --help >/dev/null 2>&1; then
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD_DIR" -j"$(nproc)" --target griffin
fi
notes="inputs (Debian package, version, sha256 of the .deb):"
while IFS=$'\t' read -r p v s b; do
  [ "$p" = package ] || notes+=$'\n'"$p $v sha256=$s"
done < "$inputs"
for f in "$out"/jsonl/*.jsonl; do
  base=$(basename "$f" .jsonl)         # <name>.<split>
  name=${base%.*}
  case "$name" in
    *_sft|sft_mix) kind=chat ;;
    preference) kind=preference ;;
    prompts) kind=prompt ;;
    *) kind=text ;;
  esac
  "$GRIFFIN" tokenize --kind "$kind" --tokenizer "$out/tokenizer.model" --input "$f" \
    --output "$out/$base.h5" --note "$notes" --quiet
done

# ---- 5. check and summarise
$PY scripts/data/check_heldout.py "$out/jsonl" --root "$CACHE/root"
{
  echo "# Prepared data ($([ $small = 1 ] && echo small || echo full))"
  echo
  echo "Made by scripts/prepare_data.sh on $(date -u +%Y-%m-%d) in $(( $(date +%s) - start )) s;"
  echo "tokenizer: tokenizer.model ($vocab pieces, crc32 $($PY -c "import zlib,sys;print('%08x'%zlib.crc32(open(sys.argv[1],'rb').read()))" "$out/tokenizer.model"))."
  echo "Inputs: inputs.tsv (Debian package versions and sha256). <name>.train.h5 is trained on;"
  echo "<name>.heldout.h5 never is (held-out rule of docs/data.md). MB: UTF-8 text behind the tokens"
  echo "(chat: the model turns only; preference and prompt: the prompts). Extraction: extract.json."
  echo
  echo "| corpus | kind | documents | tokens | MB (UTF-8) |"
  echo "|---|---|---:|---:|---:|"
  for h in "$out"/*.h5; do
    "$GRIFFIN" inspect "$h" | awk -v n="$(basename "$h" .h5)" '
      /^kind:/ {k=$2} /^documents:/ {d=$2} /^tokens:/ {t=$2} /^bytes:/ {b=$2}
      END {printf "| %s | %s | %d | %d | %.2f |\n", n, k, d, t, b/1e6}'
  done
  echo
  echo "Evaluation tasks (griffin eval --tasks tasks/NAME.jsonl; held-out words only; few-shot pools"
  echo "from training words in tasks/NAME.fewshot.jsonl):"
  echo
  echo "| task | kind | examples | chance |"
  echo "|---|---|---:|---:|"
  $PY -c "
import json, sys
for name, (n, chance, kind) in sorted(json.load(open(sys.argv[1]))['tasks'].items()):
    print('| %s | %s | %d | %s |' % (name, kind, n, '%.2f' % chance if chance else '-'))" "$out/extract.json"
} > "$out/SUMMARY.md"
cat "$out/SUMMARY.md"
echo "prepare_data: done in $(( $(date +%s) - start )) s -> $out"
