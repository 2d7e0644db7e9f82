#!/usr/bin/env bash
# Builds small real-text corpora for the training-loop tests from the licence texts every
# Debian system ships (/usr/share/common-licenses, package base-files): a tokenizer trained
# with the project's flags, corpora `gnu` (GPL/LGPL/GFDL texts) and `other` (the rest), and a
# validation corpus (every 10th document). Usage: make_corpora.sh GRIFFIN_BIN OUT_DIR
set -euo pipefail
bin=$1 out=$2
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
/usr/bin/python3 - "$out" <<'PY'
import glob, json, os, sys
out = sys.argv[1]
files = {"gnu": [], "other": []}
for f in sorted(glob.glob("/usr/share/common-licenses/*")):
    if os.path.islink(f) or not os.path.isfile(f):
        continue
    name = os.path.basename(f)
    files["gnu" if name.startswith(("GPL", "LGPL", "GFDL")) else "other"].append(f)
docs = {"gnu": [], "other": [], "valid": []}
n = 0
for group, fs in files.items():
    for f in fs:
        paras = [p.strip() for p in open(f, encoding="utf-8", errors="replace").read().split("\n\n") if p.strip()]
        for i in range(0, len(paras), 2):
            text = "\n\n".join(paras[i:i + 2])
            docs["valid" if n % 10 == 9 else group].append(text)
            n += 1
with open(os.path.join(out, "all.txt"), "w") as t:
    for group in docs:
        for d in docs[group]:
            t.write(d + "\n")
for group, ds in docs.items():
    with open(os.path.join(out, group + ".jsonl"), "w") as j:
        for d in ds:
            j.write(json.dumps({"text": d}) + "\n")
PY
"$here/../../scripts/data/train_tokenizer.sh" "$out/all.txt" "$out/tok" 1024 >/dev/null
for c in gnu other valid; do
  "$bin" tokenize --kind text --tokenizer "$out/tok.model" --input "$out/$c.jsonl" --output "$out/$c.h5" --quiet
done
