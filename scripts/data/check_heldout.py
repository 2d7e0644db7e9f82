#!/usr/bin/python3
"""Checks the held-out rule of docs/data.md on prepared JSONL files:
  - every record of a train file has a key that is not held out, every record of a heldout file
    one that is (word-keyed: gcide, foldoc, wordnet_sft, foldoc_sft, preference, prompts;
    document-keyed: the rest, man_sft sharing the manpages key);
  - no held-out headword or document id appears in any train file;
  - no held-out document text appears in a train file of the same source;
  - with --root: no train record quotes a held-out WordNet gloss of 8+ words.
usage: check_heldout.py JSONL_DIR [--root data/cache/root]   (exit 1 on a violation)"""
import argparse
import glob
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import heldout  # noqa: E402

WORD_KEYED = {"gcide", "foldoc", "wordnet_sft", "foldoc_sft", "preference", "prompts"}


def is_heldout(source, key):
    if source in WORD_KEYED:
        return heldout.word_heldout(key)
    return heldout.doc_heldout(source, base_id(key))


def base_id(key):
    """A document id without the chunk suffix prepare.py adds to long documents."""
    return re.sub(r"#chunk\d+$", "", key)


def text_of(rec):
    if "text" in rec:
        return rec["text"]
    if "messages" in rec:
        return "\n".join(m["content"] for m in rec["messages"] if m["role"] != "user")
    return "\n".join(rec.get(k, "") for k in ("chosen", "rejected"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("jsonl_dir")
    ap.add_argument("--root", default=None, help="unpacked packages, to check WordNet gloss quotes")
    args = ap.parse_args()
    errors = []
    held_keys, held_texts, train = set(), {}, []
    files = sorted(glob.glob(os.path.join(args.jsonl_dir, "*.jsonl")))
    if not files:
        print("check_heldout: no JSONL files in %s" % args.jsonl_dir)
        return 1
    n = 0
    for path in files:
        split = path.rsplit(".", 2)[-2]
        for lineno, line in enumerate(open(path, encoding="utf-8"), 1):
            rec = json.loads(line)
            src, key = rec["source"], rec["id"]
            n += 1
            h = is_heldout(src, key)
            if (split == "heldout") != h:
                errors.append("%s:%d: %s key %r is %sheld out" % (path, lineno, src, key, "" if h else "not "))
            if split == "heldout":
                held_keys.add(heldout.norm(key) if src in WORD_KEYED else src + ":" + base_id(key))
                held_texts.setdefault(src, set()).add(text_of(rec).strip())
            else:
                train.append((path, lineno, src, key, rec))
    for path, lineno, src, key, rec in train:
        k = heldout.norm(key) if src in WORD_KEYED else src + ":" + base_id(key)
        if k in held_keys:
            errors.append("%s:%d: held-out key %r in a train file" % (path, lineno, key))
        t = text_of(rec).strip()
        if len(t.split()) >= 8 and t in held_texts.get(src, ()):
            errors.append("%s:%d: text of a held-out %s record in a train file" % (path, lineno, src))
    if args.root:
        import chatsrc
        from prepare import GlossFilter
        wn = chatsrc.WordNet(args.root)
        gf = GlossFilter(wn.heldout_glosses())
        for path, lineno, src, key, rec in train:
            if src in ("gcide", "wordnet_sft", "preference", "sft_mix") and gf.quotes(text_of(rec)):
                errors.append("%s:%d: quotes a held-out WordNet gloss" % (path, lineno))
    for e in errors[:20]:
        print(e)
    print("check_heldout: %d records in %d files, %d held-out keys, %d violations" %
          (n, len(files), len(held_keys), len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
