#!/usr/bin/python3
"""Extracts the documents of docs/data.md from unpacked Debian packages into JSONL files, split by
the held-out rule, plus the text the tokenizer is trained on. Called by scripts/prepare_data.sh.

  prepare.py --root data/cache/root --out data/prepared [--small] [--jobs N]

Writes OUT/jsonl/<name>.<split>.jsonl (split = train | heldout), OUT/tokenizer_train.txt
(training splits only) and OUT/extract.json (documents, bytes, seconds per output)."""
import argparse
import glob
import json
import multiprocessing
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chatsrc  # noqa: E402
import heldout  # noqa: E402
import tasksrc  # noqa: E402
import textsrc  # noqa: E402

SMALL_KEEP = {  # in --small mode keep 1 in N documents (by a hash of the id)
    "gcide": 40, "foldoc": 8, "fortunes": 8, "manpages": 20, "pydoc": 20, "perldoc": 10, "pystdlib": 10,
}
SMALL_SOURCES = ["gcide", "foldoc", "fortunes", "manpages", "pydoc", "perldoc", "pystdlib"]
ALL_SOURCES = ["gcide", "foldoc", "fortunes", "handbook", "linuxdoc", "pydoc", "manpages", "pgdoc", "perldoc",
               "djangodoc", "kernelc", "pystdlib"]
# Tokenizer text: 1 in N train documents of these sources (kernel C would otherwise be half of it).
TOKENIZER_SAMPLE = {"kernelc": 4}


class Writer:
    def __init__(self, out, name):
        self.name = name
        self.files = {}
        self.out = out
        self.stats = {}

    def write(self, split, rec):
        if split not in self.files:
            self.files[split] = open(os.path.join(self.out, "%s.%s.jsonl" % (self.name, split)), "w", encoding="utf-8")
            self.stats[split] = {"docs": 0, "bytes": 0}
        self.files[split].write(json.dumps(rec, ensure_ascii=False) + "\n")
        st = self.stats[split]
        st["docs"] += 1
        st["bytes"] += len(json.dumps(rec, ensure_ascii=False).encode()) - 2

    def close(self):
        for f in self.files.values():
            f.close()


def keep_small(args, source, doc_id):
    return not args.small or chatsrc.h("small:" + source + ":" + doc_id) % SMALL_KEEP.get(source, 1) == 0


class GlossFilter:
    """Finds held-out WordNet glosses (8+ words) quoted in a text, via 4-word shingles."""

    def __init__(self, glosses):
        self.first = {}
        for g in glosses:
            w = g.lower().split()
            self.first.setdefault(" ".join(w[:4]), []).append(" ".join(w))

    def quotes(self, text):
        w = re.sub(r"[\"()]", " ", text.lower()).split()
        joined = " ".join(w)
        for i in range(len(w) - 3):
            for g in self.first.get(" ".join(w[i:i + 4]), ()):
                if g in joined:
                    return True
        return False


def _render_man(item):
    doc_id, path = item
    return doc_id, textsrc.man_render(path)


def text_source(args, name, tok_file, gloss_filter, man_pages):
    w = Writer(args.jsonl, name)
    dropped = 0
    if name == "manpages":
        gen = ((d, ("doc", d), t) for d, t in man_pages if len(t) > 100)
    elif name == "kernelc" and args.small:
        gen = textsrc.kernelc(args.root, limit=200)
    else:
        gen = textsrc.SOURCES[name](args.root)
    for doc_id, (kind, key), text in gen:
        if not keep_small(args, name, doc_id):
            continue
        held = heldout.word_heldout(key) if kind == "word" else heldout.doc_heldout(name, key)
        if not held and name == "gcide" and gloss_filter.quotes(text):
            dropped += 1
            continue
        split = "heldout" if held else "train"
        chunks = textsrc.cap_chunks(text)
        for i, c in enumerate(chunks):
            w.write(split, {"source": name, "id": doc_id if len(chunks) == 1 else "%s#chunk%d" % (doc_id, i), "text": c})
            if split == "train" and chatsrc.h("tok:" + doc_id) % TOKENIZER_SAMPLE.get(name, 1) == 0:
                tok_file.write(c + "\n")
    w.close()
    if dropped:
        w.stats["dropped_quoting_heldout_gloss"] = dropped
    return w.stats


def drop_heldout_duplicates(jsonl_dir, report):
    """Removes train records whose text (8+ words) equals a held-out record's text of the same
    source (e.g. two FOLDOC headwords sharing one definition, one of them held out)."""
    from check_heldout import text_of
    held = {}
    for path in glob.glob(os.path.join(jsonl_dir, "*.heldout.jsonl")):
        for line in open(path, encoding="utf-8"):
            rec = json.loads(line)
            t = text_of(rec).strip()
            if len(t.split()) >= 8:
                held.setdefault(rec["source"], set()).add(t)
    for path in sorted(glob.glob(os.path.join(jsonl_dir, "*.train.jsonl"))):
        kept, dropped = [], 0
        for line in open(path, encoding="utf-8"):
            rec = json.loads(line)
            if text_of(rec).strip() in held.get(rec["source"], ()):
                dropped += 1
            else:
                kept.append(line)
        if dropped:
            with open(path, "w", encoding="utf-8") as f:
                f.writelines(kept)
            st = report[os.path.basename(path).split(".")[0]]
            st["train"]["docs"] -= dropped
            st["dropped_equal_to_heldout"] = dropped


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    ap.add_argument("--sources", default=None, help="comma-separated subset of the text sources")
    args = ap.parse_args()
    args.jsonl = os.path.join(args.out, "jsonl")
    os.makedirs(args.jsonl, exist_ok=True)
    sources = args.sources.split(",") if args.sources else (SMALL_SOURCES if args.small else ALL_SOURCES)
    textsrc.KEEP = lambda source, doc_id: keep_small(args, source, doc_id)
    report = {}
    t0 = time.time()
    tok_file = open(os.path.join(args.out, "tokenizer_train.txt"), "w", encoding="utf-8")

    t = time.time()
    wn = chatsrc.WordNet(args.root)
    gloss_filter = GlossFilter(wn.heldout_glosses())
    print("prepare: WordNet %d synsets (%d held out) in %.1f s" % (len(wn.synsets), len(wn.heldout), time.time() - t),
          flush=True)

    man_pages = []
    if "manpages" in sources:
        t = time.time()
        files = [f for f in textsrc.man_files(args.root) if keep_small(args, "manpages", f[0])]
        with multiprocessing.Pool(args.jobs) as pool:
            man_pages = pool.map(_render_man, files, chunksize=8)
        print("prepare: rendered %d man pages in %.1f s" % (len(man_pages), time.time() - t), flush=True)

    for name in sources:
        t = time.time()
        st = text_source(args, name, tok_file, gloss_filter, man_pages)
        st["seconds"] = round(time.time() - t, 1)
        report[name] = st
        print("prepare: %-10s %s" % (name, json.dumps(st)), flush=True)

    # ---- chat
    t = time.time()
    small_cap = 3000 if args.small else None
    w = Writer(args.jsonl, "wordnet_sft")
    mix = Writer(args.jsonl, "sft_mix")
    everyday, rest = [], []
    for split, rec, tagsense in chatsrc.wordnet_sft(wn):
        lemma = rec["messages"][0]["content"]
        if args.small and chatsrc.h("small:wn:" + lemma) % 40 != 0:
            continue
        if split == "train" and gloss_filter.quotes(rec["messages"][1]["content"]):
            continue
        w.write(split, rec)
        if split == "train":
            (everyday if tagsense > 0 else rest).append(rec)
            tok_file.write(rec["messages"][1]["content"] + "\n")
    w.close()
    report["wordnet_sft"] = w.stats
    per_half = (small_cap or 30000) // 2
    for lst in (everyday, rest):
        lst.sort(key=lambda r: chatsrc.h("mix:" + r["messages"][0]["content"]))
        for rec in lst[:per_half]:
            mix.write("train", rec)

    for name, gen in (("foldoc_sft", chatsrc.foldoc_sft(args.root)),
                      ("man_sft", chatsrc.man_sft(man_pages)),
                      ("faq_sft", chatsrc.faq_sft(args.root))):
        w = Writer(args.jsonl, name)
        for split, rec in gen:
            if args.small and name != "man_sft" and chatsrc.h("small:" + name + rec["messages"][0]["content"]) % 8:
                continue
            w.write(split, rec)
            if split == "train":
                mix.write("train", rec)
        w.close()
        report[name] = w.stats
    mix.close()
    report["sft_mix"] = mix.stats

    # ---- preference and RLHF prompts
    pw, qw = Writer(args.jsonl, "preference"), Writer(args.jsonl, "prompts")
    for name, split, rec in chatsrc.preference_and_prompts(wn):
        if args.small and chatsrc.h("small:pref:" + rec["prompt"]) % 8:
            continue
        if split == "train" and name == "preference" and gloss_filter.quotes(rec["chosen"] + "\n" + rec["rejected"]):
            continue
        (pw if name == "preference" else qw).write(split, rec)
    pw.close()
    qw.close()
    report["preference"] = pw.stats
    report["prompts"] = qw.stats
    print("prepare: chat/preference/prompts in %.1f s" % (time.time() - t), flush=True)
    tok_file.close()
    drop_heldout_duplicates(args.jsonl, report)

    # ---- evaluation tasks (griffin eval --tasks): held-out words only, plus few-shot pools
    t = time.time()
    report["tasks"] = tasksrc.write_tasks(wn, args.root, os.path.join(args.out, "tasks"), args.small)
    print("prepare: tasks %s in %.1f s" % (json.dumps(report["tasks"]), time.time() - t), flush=True)
    report["_seconds"] = round(time.time() - t0, 1)
    with open(os.path.join(args.out, "extract.json"), "w") as f:
        json.dump(report, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
