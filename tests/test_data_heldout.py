#!/usr/bin/python3
"""The held-out rule of docs/data.md (scripts/data/heldout.py) and its checker
(scripts/data/check_heldout.py): fixed bucket values, norm(), and a planted violation caught."""
import hashlib
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(HERE, "..", "scripts", "data")
sys.path.insert(0, SCRIPTS)
import heldout  # noqa: E402

failures = 0


def expect(cond, msg):
    global failures
    if not cond:
        print("FAIL:", msg)
        failures += 1


def spec_bucket(key):  # the formula exactly as docs/data.md writes it
    return int.from_bytes(hashlib.sha256(("slm-heldout-v1:" + key).encode()).digest()[:8], "big") % 10000


for key, want in [("word:apple", 8838), ("word:bank", 7760), ("doc:kernelc:mm/slab.c", 8780),
                  ("doc:manpages:unlink.2", 6770)]:
    expect(heldout.bucket(key) == want == spec_bucket(key), "bucket(%r) = %d" % (key, heldout.bucket(key)))
for word, want in [("Café_au-lait", "cafe au lait"), ("Rock-n-Roll!", "rock n roll"), ("o'clock", "o'clock")]:
    expect(heldout.norm(word) == want, "norm(%r) = %r" % (word, heldout.norm(word)))
expect(heldout.word_heldout("2-hitter") and heldout.word_heldout("2 Hitter"), "2-hitter is held out (any spelling)")
expect(not heldout.word_heldout("apple"), "apple is not held out")
n = sum(heldout.word_heldout("w%d" % i) for i in range(20000))
expect(500 <= n <= 700, "about 3%% of words held out, got %d / 20000" % n)
n = sum(heldout.doc_heldout("pydoc", "d%d" % i) for i in range(20000))
expect(850 <= n <= 1150, "about 5%% of pydoc held out, got %d / 20000" % n)
expect(heldout.doc_heldout("man_sft", "x.1") == heldout.doc_heldout("manpages", "x.1"), "man_sft shares manpages keys")

# the checker passes a clean split and catches planted violations
with tempfile.TemporaryDirectory() as d:
    def write(name, recs):
        with open(os.path.join(d, name), "w") as f:
            for r in recs:
                f.write(json.dumps(r) + "\n")

    def check():
        return subprocess.run([sys.executable, os.path.join(SCRIPTS, "check_heldout.py"), d],
                              capture_output=True, text=True)
    write("gcide.train.jsonl", [{"source": "gcide", "id": "apple", "text": "Apple, n. A fruit."}])
    write("gcide.heldout.jsonl", [{"source": "gcide", "id": "2-hitter", "text": "a game"}])
    r = check()
    expect(r.returncode == 0, "clean split refused: " + r.stdout)
    write("wordnet_sft.train.jsonl", [{"source": "wordnet_sft", "id": "2_hitter", "messages": [
        {"role": "user", "content": "q"}, {"role": "model", "content": "a"}]}])
    r = check()
    expect(r.returncode != 0 and "2_hitter" in r.stdout, "held-out word in a train file not caught: " + r.stdout)
    os.remove(os.path.join(d, "wordnet_sft.train.jsonl"))
    write("pydoc.heldout.jsonl", [{"source": "pydoc", "id": "library/os", "text": "x"}])
    r = check()
    expect(r.returncode != 0 and "library/os" in r.stdout, "non-held-out doc in a heldout file not caught")

if failures:
    print("test_data_heldout: %d failures" % failures)
    sys.exit(1)
print("test_data_heldout: ok")
