"""Evaluation tasks of `griffin eval --tasks` built from the sources we already extract (see
data/tasks.h for the file format). Every scored example comes from a held-out word of the fixed
held-out rule (DATA.md), and so do its distractors, so that neither the gold answer nor a wrong
one was ever trained on (a familiar distractor would otherwise beat an unseen gold one on
perplexity alone). A second file per task holds examples from training words, as the few-shot
pool (--fewshot-file).

  wordnet_gloss  multiple choice, 4 choices: which gloss defines the word? The question is the SFT
                 frame ('What does the noun "bank" mean?'); the gold is the definition of the word's
                 most frequent sense, the distractors definitions of three other held-out synsets of
                 the same part of speech that do not contain the word, of similar length. Chance 0.25.
  foldoc_term    multiple choice, 4 choices: which computing term does this FOLDOC definition (its
                 first sentences, the term masked) describe? Distractors: other held-out headwords,
                 of the same FOLDOC category when there are enough. Chance 0.25.
  wordnet_word   generation: which word means this short definition (at most 12 words)? Correct
                 if the reply's first line contains one of the synset's lemmas (match "contains").
"""
import json
import os
import re

import heldout
from chatsrc import POS_NAME, h, question
from textsrc import foldoc_entries

POOL_CAP = 2000          # few-shot pool examples per task
SMALL_CAP = 400          # held-out examples per task with --small


def _write(path, header, recs):
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(header, ensure_ascii=False) + "\n")
        for r in recs:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return len(recs)


def _pick(pool, n, key, ok):
    """n distinct items of pool accepted by ok, in a hash order seeded by key"""
    out, r = [], h(key)
    for i in range(min(len(pool), 200)):
        x = pool[(r + i * 7919) % len(pool)]
        if x not in out and ok(x):
            out.append(x)
            if len(out) == n:
                break
    return out if len(out) == n else None


def _gold_position(key, n=4):
    return h("label:" + key) % n


def _mc(context, gold, wrong, key, delim):
    label = _gold_position(key)
    choices = list(wrong)
    choices.insert(label, gold)
    return {"context": context, "choices": choices, "label": label, "target_delimiter": delim, "id": key}


# ---------------------------------------------------------------- WordNet

def wordnet_gloss(wn, held):
    """Multiple-choice records of held-out (held=True) or training lemmas."""
    synsets = {k: wn.definition(s["gloss"]) for k, s in wn.synsets.items() if (k in wn.heldout) == held}
    by_pos = {}
    for k in sorted(synsets):
        if len(synsets[k].split()) >= 3:
            by_pos.setdefault(k[0], []).append(k)
    recs = []
    for lemma, pos, keys, tagsense in wn.index:
        if not re.search(r"[a-z]", lemma) or heldout.word_heldout(lemma) != held or keys[0] not in synsets:
            continue
        if not held and h("pool:" + lemma) % 40:  # the few-shot pool: a sample of the training words
            continue
        gold = synsets[keys[0]]
        word = lemma.lower()
        if len(gold.split()) < 3:
            continue

        def ok(k, gold=gold, word=word):
            d = synsets[k]
            return word not in [w.lower() for w in wn.synsets[k]["words"]] and d != gold and \
                abs(len(d) - len(gold)) <= 0.5 * len(gold) + 10
        wrong = _pick(by_pos.get(keys[0][0], []), 3, "gloss:%s:%s" % (lemma, pos), ok)
        if wrong:
            recs.append(_mc(question(lemma, pos), gold, [synsets[k] for k in wrong], lemma + ":" + pos, "\n"))
    return recs


def wordnet_word(wn, held):
    """Generation records: the word for a short definition."""
    recs = []
    for k in sorted(wn.synsets):
        if (k in wn.heldout) != held:
            continue
        s = wn.synsets[k]
        d = wn.definition(s["gloss"])
        words = sorted({w.replace("_", " ") for w in s["words"] if re.fullmatch(r"[A-Za-z_'-]{2,}", w)})
        if not words or not 3 <= len(d.split()) <= 12 or any(w.lower() in d.lower() for w in words):
            continue
        if held != any(heldout.word_heldout(w) for w in words):
            continue
        prompt = 'Which %s means "%s"? Answer with the word.\nAnswer:' % (POS_NAME[k[0]], d)
        recs.append({"prompt": prompt, "answers": words, "id": "%s:%s" % k})
    return recs


# ---------------------------------------------------------------- FOLDOC

def foldoc_definition(hw, body, max_chars=300):
    """The entry's definition line (after its alternate-name lines), first sentences, term masked"""
    lines = [l.strip() for l in body.split("\n") if l.strip()]
    text = next((l for l in lines if re.match(r"(\d+\.\s*)?<", l)), None) or \
        next((l for l in lines if len(l.split()) > 5), "")
    text = re.sub(r"^\d+\.\s*", "", text)   # "1. <processor> ...": the first of several senses
    cat = re.match(r"<([^>]+)>", text)
    text = re.sub(r"^(<[^>]+>\s*)+", "", text)
    out = ""
    for s in re.split(r"(?<=[.!?])\s+", text):
        if out and len(out) + len(s) > max_chars:
            break
        out = (out + " " + s).strip()
    out = re.sub(re.escape(hw), "___", out, flags=re.IGNORECASE)
    return (cat.group(1) if cat else ""), out[:max_chars]


def foldoc_term(root, held):
    entries = []
    for hw, body in foldoc_entries(root):
        if heldout.word_heldout(hw) != held or not re.search(r"[A-Za-z]", hw) or len(hw) > 40:
            continue
        cat, d = foldoc_definition(hw, body)
        if len(d.split()) >= 5 and "___" not in d[:3]:
            entries.append((hw, cat, d))
    by_cat = {}
    for hw, cat, _ in entries:
        by_cat.setdefault(cat, []).append(hw)
    every = [hw for hw, _, _ in entries]
    recs = []
    for hw, cat, d in entries:
        def ok(x, hw=hw):
            return x.lower() != hw.lower() and x.lower() not in d.lower()
        same = by_cat.get(cat, [])
        wrong = (_pick(same, 3, "foldoc:" + hw, ok) if len(same) > 8 else None) or _pick(every, 3, "foldoc:" + hw, ok)
        if wrong:
            recs.append(_mc("In computing, which term means: %s\nAnswer:" % d, hw, wrong, hw, " "))
    return recs


# ---------------------------------------------------------------- all tasks

def write_tasks(wn, root, out_dir, small):
    """Writes OUT/tasks/<name>.jsonl (held-out examples) and <name>.fewshot.jsonl (training
    words); returns {name: (examples, chance, kind)}."""
    os.makedirs(out_dir, exist_ok=True)
    made = {}
    tasks = (
        ("wordnet_gloss", {"task": "wordnet_gloss"}, lambda held: wordnet_gloss(wn, held), 0.25),
        ("foldoc_term", {"task": "foldoc_term"}, lambda held: foldoc_term(root, held), 0.25),
        ("wordnet_word", {"task": "wordnet_word", "match": "contains", "until": ["\n"], "max_new_tokens": 16},
         lambda held: wordnet_word(wn, held), None),
    )
    for name, header, build, chance in tasks:
        test = build(True)
        pool = build(False)
        pool.sort(key=lambda r: h("pool:" + name + ":" + r["id"]))
        if small:
            test.sort(key=lambda r: h("small:" + name + ":" + r["id"]))
            test = sorted(test[:SMALL_CAP], key=lambda r: r["id"])
        n = _write(os.path.join(out_dir, name + ".jsonl"), header, test)
        _write(os.path.join(out_dir, name + ".fewshot.jsonl"), {"task": name + "_fewshot"}, pool[:POOL_CAP])
        made[name] = (n, chance, "generation" if chance is None else "multiple choice, 4 choices")
    return made
