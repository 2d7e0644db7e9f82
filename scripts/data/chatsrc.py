"""Instruction (chat), preference and RLHF-prompt data of docs/data.md. Only the one-line question
frames are ours; every answer is the source's own text (WordNet glosses, FOLDOC entries, man
pages, FAQ answers)."""
import glob
import hashlib
import os
import re
import subprocess

import heldout
from textsrc import clean_rst, foldoc_entries, html_to_text, man_render

POS_FILES = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
POS_NAME = {"n": "noun", "v": "verb", "a": "adjective", "s": "adjective", "r": "adverb"}


def h(key: str) -> int:
    """A deterministic hash for sampling decisions (not the held-out rule)."""
    return int.from_bytes(hashlib.sha256(("slm-sample-v1:" + key).encode()).digest()[:8], "big")


def chat(question, answer, source, key):
    """A two-turn conversation; source and id (the held-out key) ride along for checking."""
    return {"source": source, "id": key,
            "messages": [{"role": "user", "content": question}, {"role": "model", "content": answer}]}


# ---------------------------------------------------------------- WordNet

class WordNet:
    def __init__(self, root):
        d = os.path.join(root, "wordnet-base/usr/share/wordnet")
        self.synsets = {}  # (pos_file_letter, offset) -> dict
        for p, name in POS_FILES.items():
            with open(os.path.join(d, "data." + name), encoding="utf-8", errors="replace") as f:
                for line in f:
                    if line.startswith("  "):
                        continue
                    body, _, gloss = line.partition(" | ")
                    t = body.split()
                    off, ss_type, w_cnt = t[0], t[2], int(t[3], 16)
                    words = [re.sub(r"\(.*\)$", "", t[4 + 2 * i]) for i in range(w_cnt)]
                    k = 4 + 2 * w_cnt
                    p_cnt = int(t[k])
                    ptrs = []
                    for i in range(p_cnt):
                        sym, o, pp, st = t[k + 1 + 4 * i: k + 5 + 4 * i]
                        ptrs.append((sym, (pp if pp != "s" else "a", o), st))
                    self.synsets[(p, off)] = {"words": words, "ptrs": ptrs, "gloss": gloss.strip(),
                                              "type": ss_type}
        self.index = []  # (lemma, pos, [synset keys], tagsense_cnt)
        for p, name in POS_FILES.items():
            with open(os.path.join(d, "index." + name), encoding="utf-8", errors="replace") as f:
                for line in f:
                    if line.startswith("  "):
                        continue
                    t = line.split()
                    lemma, syn_cnt, p_cnt = t[0], int(t[2]), int(t[3])
                    tagsense = int(t[5 + p_cnt])
                    offs = t[6 + p_cnt: 6 + p_cnt + syn_cnt]
                    self.index.append((lemma, p, [(p, o) for o in offs], tagsense))
        # a synset is held out iff any of its lemmas is
        self.heldout = {k for k, s in self.synsets.items() if any(heldout.word_heldout(w) for w in s["words"])}

    @staticmethod
    def definition(gloss):
        """The definition part of a gloss (before the quoted examples)."""
        return re.split(r';\s*"', gloss)[0].strip().rstrip(";").strip()

    def heldout_glosses(self, min_words=8):
        out = []
        for k in self.heldout:
            d = self.definition(self.synsets[k]["gloss"])
            if len(d.split()) >= min_words:
                out.append(d)
        return out


def question(lemma, pos):
    return 'What does the %s "%s" mean?' % (POS_NAME[pos], lemma.replace("_", " "))


def wordnet_sft(wn, max_senses=5):
    """Yields (split, record, tagsense) for every WordNet index entry."""
    for lemma, pos, keys, tagsense in wn.index:
        if not re.search(r"[a-z]", lemma):
            continue
        held = heldout.word_heldout(lemma)
        if not held:
            keys = [k for k in keys if k not in wn.heldout]
        keys = keys[:max_senses]
        if not keys:
            continue
        glosses = [wn.synsets[k]["gloss"] for k in keys]
        answer = glosses[0] if len(glosses) == 1 else "\n".join("%d. %s" % (i + 1, g) for i, g in enumerate(glosses))
        yield ("heldout" if held else "train"), chat(question(lemma, pos), answer, "wordnet_sft", lemma), tagsense


def preference_and_prompts(wn):
    """Yields (name, split, record): name 'preference' or 'prompt'. Lemmas are split between the
    reward-model pairs (80%) and RLHF prompts (20%) so that the two never share a word."""
    by_pos_len = {}
    keys_sorted = sorted(wn.synsets)
    for k in keys_sorted:
        s = wn.synsets[k]
        by_pos_len.setdefault(k[0], []).append(k)
    hyponyms = {}
    for k in keys_sorted:
        for sym, tgt, _ in wn.synsets[k]["ptrs"]:
            if sym in ("@", "@i"):
                hyponyms.setdefault(tgt, []).append(k)
    for lemma, pos, keys, tagsense in wn.index:
        if not re.search(r"[a-z]", lemma) or tagsense == 0:
            continue
        held = heldout.word_heldout(lemma)
        split = "heldout" if held else "train"
        q = question(lemma, pos)
        if h("split:" + lemma) % 10 < 2:
            if not held:
                yield "prompt", split, {"source": "prompts", "id": lemma, "prompt": q}
            continue
        top = keys[0]
        if not held and top in wn.heldout:
            continue
        chosen = wn.definition(wn.synsets[top]["gloss"])
        word = lemma.lower()

        def ok(k):
            return k in wn.synsets and word not in [w.lower() for w in wn.synsets[k]["words"]] and \
                (held or k not in wn.heldout) and wn.definition(wn.synsets[k]["gloss"]) != chosen
        cands = []
        for sym, tgt, _ in wn.synsets[top]["ptrs"]:
            if sym == "!" and ok(tgt):
                cands.append(tgt)
            if sym in ("@", "@i"):
                cands.extend(x for x in hyponyms.get(tgt, []) if ok(x))
        r = h("pair:" + lemma + ":" + pos)
        if cands and r % 3 != 0:
            rej = cands[r % len(cands)]
        else:  # a random synset of the same part of speech with a gloss of similar length
            pool = by_pos_len[top[0]]
            rej = None
            for i in range(50):
                k = pool[(r // 3 + i * 7919) % len(pool)]
                if ok(k) and abs(len(wn.definition(wn.synsets[k]["gloss"])) - len(chosen)) <= 0.25 * len(chosen) + 5:
                    rej = k
                    break
            if rej is None:
                continue
        yield "preference", split, {"source": "preference", "id": lemma, "prompt": q, "chosen": chosen, "rejected": wn.definition(wn.synsets[rej]["gloss"])}


# ---------------------------------------------------------------- FOLDOC, man pages, FAQs

def foldoc_sft(root):
    for hw, body in foldoc_entries(root):
        split = "heldout" if heldout.word_heldout(hw) else "train"
        yield split, chat('In computing, what is "%s"?' % hw, body, "foldoc_sft", hw)


MAN_KIND = {"1": "command", "2": "system call", "3": "library function", "8": "system administration command"}


def man_answer(text):
    """NAME line + the first paragraphs of DESCRIPTION."""
    sections = {}
    cur = None
    for line in text.split("\n"):
        if re.match(r"^[A-Z][A-Z0-9 ,/-]+$", line):
            cur = line.strip()
            sections[cur] = []
        elif cur:
            sections[cur].append(line)
    name = " ".join(l.strip() for l in sections.get("NAME", []) if l.strip())
    desc = "\n".join(sections.get("DESCRIPTION", [])).strip("\n")
    paras = [re.sub(r"\s+", " ", p).strip() for p in re.split(r"\n\s*\n", desc) if p.strip()]
    out, n = [], 0
    for p in paras:
        if n > 600 and out:
            break
        out.append(p)
        n += len(p)
    if not name or not out:
        return None
    return name + "\n\n" + "\n\n".join(out)


def man_sft(pages_rendered):
    """pages_rendered: iterable of (doc_id, text) from the manpages source."""
    for doc_id, text in pages_rendered:
        m = re.match(r"(.+)\.(\d)\w*$", doc_id)
        if not m:
            continue
        name, sec = m.group(1), m.group(2)
        ans = man_answer(text)
        if not ans:
            continue
        q = ("What does the `%s` %s do?" % (name, MAN_KIND[sec])) if sec in MAN_KIND else ("What is `%s`?" % name)
        split = "heldout" if heldout.doc_heldout("man_sft", doc_id) else "train"
        yield split, chat(q, ans, "man_sft", doc_id)


def perl_faq(root):
    for path in sorted(glob.glob(os.path.join(root, "perl-doc/usr/share/perl/*/pod/perlfaq[1-9].pod"))):
        r = subprocess.run(["pod2text", "--utf8", "-w", "10000", path], capture_output=True, timeout=120)
        text = r.stdout.decode("utf-8", errors="replace")
        q, body = None, []
        for line in text.split("\n") + ["  END"]:
            if re.match(r"^  \S", line):
                if q and q.endswith("?"):
                    ans = "\n".join(l[4:] if l.startswith("    ") else l for l in body).strip()
                    if len(ans) > 40:
                        yield os.path.basename(path) + "#" + q, q, re.sub(r"\n{3,}", "\n\n", ans)
                q, body = line.strip(), []
            elif re.match(r"^\S", line):
                q, body = None, []
            else:
                body.append(line)


def python_faq(root):
    base = os.path.join(root, "python3.11-doc/usr/share/doc/python3.11/html/_sources/faq")
    for path in sorted(glob.glob(base + "/*.rst.txt")):
        lines = open(path, encoding="utf-8", errors="replace").read().split("\n")
        titles = [i for i in range(len(lines) - 1) if lines[i].strip() and
                  re.fullmatch(r"([=\-~^\"'`#*+])\1+", lines[i + 1].strip() or "x") and
                  len(lines[i + 1].strip()) >= len(lines[i].strip())]
        for j, i in enumerate(titles):
            q = lines[i].strip()
            if not q.endswith("?"):
                continue
            end = titles[j + 1] if j + 1 < len(titles) else len(lines)
            ans = clean_rst("\n".join(lines[i + 2:end]))
            if len(ans) > 40:
                yield os.path.basename(path) + "#" + q, q, ans


def html_faq(root, pattern, skip_classes, prefix):
    for path in sorted(glob.glob(os.path.join(root, pattern))):
        text = html_to_text(path, skip_classes, mark_headings=True)
        parts = text.split("\x01")
        for part in parts[1:]:
            head, _, body = part.partition("\n")
            q = re.sub(r"^[\d.]+\s*", "", head.replace("\u00b6", "").strip())
            body = re.sub(r"\n{3,}", "\n\n", body).strip()
            body = re.split(r"\n\s*(Last update:|Prev\s+Up\s+Next|Previous\s)", body)[0].strip()
            if q.endswith("?") and len(body) > 40:
                yield prefix + os.path.basename(path) + "#" + q, q, body


def django_faq(root):
    yield from html_faq(root, "python-django-doc/usr/share/doc/python-django-doc/html/faq/*.html",
                        ("sphinxsidebar", "related", "nav", "footer", "headerlink", "breadcrumbs", "document-header"),
                        "django/")


def debian_faq(root):
    yield from html_faq(root, "debian-faq/usr/share/doc/debian/FAQ/*.en.html",
                        ("navheader", "navfooter", "toc"), "debian/")


def faq_sft(root):
    for gen in (perl_faq, python_faq, django_faq, debian_faq):
        for doc_id, q, a in gen(root):
            split = "heldout" if heldout.doc_heldout("faq_sft", doc_id) else "train"
            yield split, chat(q, a, "faq_sft", doc_id)
