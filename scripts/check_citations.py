#!/usr/bin/env python3
"""Checks that every design-note citation in the sources resolves in docs/.

usage: scripts/check_citations.py [--root DIR] [--list]
  --list   also print every citation found and where it resolves
Exit 0 when every citation resolves, 1 otherwise (one `file:line: message` per failure),
2 on a missing docs file.

Citation forms understood (old names map to the new ones):
  docs/architecture.md §N[, §M …] / "section N"   ARCHITECTURE.md §N   → a numbered heading
                                                   "## N." / "### N.M" of docs/architecture.md
  bare §N or "section N" after a citation of a document in the same file
                                                 → that document (the most recent one cited);
                                                   "paper §N", "its §N", "et al. §N" are skipped
  pitfall N / pitfalls N, M / "Pitfalls: … (N) …"  → item N. of the Pitfalls section of
                                                   docs/architecture.md
  docs/data.md (DATA.md), docs/design.md (DESIGN.md), docs/style.md (STYLE.md)
                                                 → the file exists; DOC "Heading" must be a
                                                   heading of it, DOC: term must occur in it
  any other docs/….md                            → the file exists
Scanned: *.c *.h *.cc *.py *.sh *.cmake CMakeLists.txt outside build/ and data caches, plus
docs/*.md themselves (their bare §N refer to docs/architecture.md unless another document is
named earlier on the same line).
"""
import argparse
import os
import re
import subprocess
import sys

DOCS = {
    "architecture": "docs/architecture.md",
    "data": "docs/data.md",
    "design": "docs/design.md",
    "style": "docs/style.md",
}
OLD_NAMES = {"ARCHITECTURE": "architecture", "DATA": "data", "DESIGN": "design", "STYLE": "style"}
SOURCE_EXT = (".c", ".h", ".cc", ".py", ".sh", ".cmake")
SKIP_DIRS = {".git", "__pycache__", "runs"}
SKIP_PREFIX = ("build", "data/cache", "data/prepared", "docs/results")
SELF = "scripts/check_citations.py"

# A document name: the old upper-case form (optionally with a path such as ../shared/) or docs/x.md.
DOC_RE = re.compile(r"(?:[\w./-]*/)?\b(ARCHITECTURE|DATA|DESIGN|STYLE)\.md\b|\bdocs/([\w/-]+)\.md\b")
SEC = r"(?:§\s*|\bsections?\s+)(\d+(?:\.\d+)*)"
SEC_RE = re.compile(SEC)
# After a document name: "§3, §12", "§7.1; …", "section 15.3", "§2 and §5".
SEC_LIST_RE = re.compile(r"`?\s*[,;:(]?\s*" + SEC + r"((?:\s*(?:,|and|&|/)\s*(?:§\s*|sections?\s+)?\d+(?:\.\d+)*)*)")
PITFALL_RE = re.compile(r"\bpitfalls?\s+(\d+)((?:\s*(?:,|and|&)\s*\d+)*)", re.IGNORECASE)
PITFALL_BLOCK_RE = re.compile(r"\bPitfalls:")
NAMED_RE = re.compile(r"\s*(?:\"([^\"\n]+)\"|:\s*([\w/.-]+))")
# comment leaders at the start of a continuation line, folded into spaces before parsing
LEADER_RE = re.compile(r"\n[ \t]*(?:\*(?!/)|#|//)?[ \t]*")


def fold(text):
    return LEADER_RE.sub(" ", text)


def doc_key(m):
    if m.group(1):
        return OLD_NAMES[m.group(1)]
    name = m.group(2)
    return name if name in DOCS else "docs/" + name + ".md"


def line_of(text, pos, starts):
    lo, hi = 0, len(starts)
    while lo + 1 < hi:
        mid = (lo + hi) // 2
        if starts[mid] <= pos:
            lo = mid
        else:
            hi = mid
    return lo + 1


def parse_docs(root):
    """Returns {key: text}, the numbered sections of architecture, its pitfall numbers, headings."""
    texts = {}
    for key, rel in DOCS.items():
        path = os.path.join(root, rel)
        if not os.path.isfile(path):
            print(f"check_citations: {rel} is missing", file=sys.stderr)
            sys.exit(2)
        with open(path, encoding="utf-8") as f:
            texts[key] = f.read()
    headings = {k: [] for k in texts}
    sections = {k: set() for k in texts}
    for key, text in texts.items():
        for m in re.finditer(r"^(#{1,6})\s+(.+?)\s*$", text, re.MULTILINE):
            title = m.group(2)
            headings[key].append(title)
            n = re.match(r"(\d+(?:\.\d+)*)\.?\s", title + " ")
            if n:
                sections[key].add(n.group(1))
    # Pitfalls: the numbered items under the heading whose title contains "Pitfalls"
    pitfalls = set()
    text = texts["architecture"]
    m = re.search(r"^(#{1,6})\s+[^\n]*Pitfalls[^\n]*$", text, re.MULTILINE)
    if m:
        level = len(m.group(1))
        rest = text[m.end():]
        end = re.search(r"^#{1,%d}\s" % level, rest, re.MULTILINE)
        body = rest[: end.start()] if end else rest
        pitfalls = {int(x) for x in re.findall(r"^(\d+)\.\s", body, re.MULTILINE)}
    return texts, sections, pitfalls, headings


def source_files(root):
    files = None
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "--cached", "--others", "--exclude-standard"],
                             capture_output=True, text=True, check=True).stdout
        files = [f for f in out.splitlines() if f]
    except (OSError, subprocess.CalledProcessError):
        files = []
        for d, dirs, names in os.walk(root):
            dirs[:] = [x for x in dirs if x not in SKIP_DIRS]
            for n in names:
                files.append(os.path.relpath(os.path.join(d, n), root))
    keep = []
    for f in sorted(set(files)):
        f = f.replace(os.sep, "/")
        if f == SELF or f.startswith(SKIP_PREFIX) or any(p in SKIP_DIRS for p in f.split("/")):
            continue
        base = os.path.basename(f)
        if f.endswith(SOURCE_EXT) or base == "CMakeLists.txt" or (f.startswith("docs/") and f.endswith(".md")
                                                                    and "/" not in f[5:]):
            if os.path.isfile(os.path.join(root, f)):
                keep.append(f)
    return keep


def comment_end(text, pos):
    """End of the comment holding pos: the next */, or the first line that is not a # / // comment."""
    close = text.find("*/", pos)
    nl = pos
    while True:
        nxt = text.find("\n", nl + 1)
        if nxt < 0:
            line_end = len(text)
            break
        line = text[nxt + 1: text.find("\n", nxt + 1) if text.find("\n", nxt + 1) >= 0 else len(text)]
        if not re.match(r"\s*(#|//|\*)", line) or not line.strip(" \t#/*"):
            line_end = nxt
            break
        nl = nxt
    return min(close, line_end) if close >= 0 else line_end


def check(root, list_all):
    texts, sections, pitfalls, headings = parse_docs(root)
    errors, found = [], []

    def want_section(f, ln, key, num, how):
        if key not in DOCS:
            errors.append(f"{f}:{ln}: cites §{num} of {key}, which is not a known document")
        elif num not in sections[key]:
            errors.append(f"{f}:{ln}: cites {DOCS[key]} §{num} ({how}), which has no section {num}")
        else:
            found.append((f, ln, f"{DOCS[key]} §{num}"))

    def want_pitfall(f, ln, n):
        if n not in pitfalls:
            errors.append(f"{f}:{ln}: cites pitfall {n}, not an item of the Pitfalls section of "
                          f"{DOCS['architecture']}")
        else:
            found.append((f, ln, f"pitfall {n}"))

    for f in source_files(root):
        with open(os.path.join(root, f), encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
        is_doc = f.startswith("docs/")
        consumed = set()  # offsets of § refs already attributed to an explicit citation
        cites = []        # (offset, key) of every document named in the file
        for m in DOC_RE.finditer(text):
            key = doc_key(m)
            ln = line_of(text, m.start(), starts)
            cites.append((m.start(), key))
            if key not in DOCS:
                if not os.path.isfile(os.path.join(root, key)):
                    errors.append(f"{f}:{ln}: cites {key}, which does not exist")
                continue
            found.append((f, ln, DOCS[key]))
            after = text[m.end(): m.end() + 400]
            folded = fold(after)
            sl = SEC_LIST_RE.match(folded)
            if sl:
                nums = [sl.group(1)] + re.findall(r"\d+(?:\.\d+)*", sl.group(2) or "")
                for num in nums:
                    want_section(f, ln, key, num, "explicit")
                # mark the § refs of this list as consumed (positions in the unfolded text)
                span_len = len(sl.group(0))
                raw = 0
                fl = 0
                # walk the raw text until the folded length is covered
                while fl < span_len and raw < len(after):
                    mm = LEADER_RE.match(after, raw) if after[raw] == "\n" else None
                    if mm:
                        raw = mm.end()
                        fl += 1
                    else:
                        raw += 1
                        fl += 1
                for s in SEC_RE.finditer(text, m.end(), m.end() + raw):
                    consumed.add(s.start())
            nm = NAMED_RE.match(after)
            if nm and key in ("data", "design", "style"):
                if nm.group(1):
                    title = nm.group(1).strip()
                    if not any(title.lower() == h.lower() or h.lower().startswith(title.lower())
                               for h in headings[key]):
                        errors.append(f"{f}:{ln}: cites {DOCS[key]} \"{title}\", not a heading there")
                    else:
                        found.append((f, ln, f"{DOCS[key]} \"{title}\""))
                elif nm.group(2):
                    term = nm.group(2).rstrip(".,;:)")
                    if term and term.lower() not in texts[key].lower():
                        errors.append(f"{f}:{ln}: cites {DOCS[key]}: {term}, which it does not mention")
                    elif term:
                        found.append((f, ln, f"{DOCS[key]}: {term}"))
        # bare § / "section N": the document cited last before it in the file; in docs/ pages
        # with no such citation, docs/architecture.md (the only page with numbered sections)
        for s in SEC_LIST_RE.finditer(text):
            sec = SEC_RE.search(text, s.start())
            if sec.start() in consumed:
                continue
            before = text[text.rfind("\n", 0, sec.start()) + 1: sec.start()][-30:]
            if re.search(r"\bpaper\b|\bits\s*$|\bet al\b", before):
                continue  # a section of a paper, not of our notes
            prior = [k for (p, k) in cites if p < sec.start()]
            if is_doc:
                key = prior[-1] if prior and line_of(text, cites[len(prior) - 1][0], starts) == \
                    line_of(text, sec.start(), starts) else "architecture"
            elif prior:
                key = prior[-1]
            else:
                continue  # a § of something else (a paper): not ours to check
            for num in [s.group(1)] + re.findall(r"\d+(?:\.\d+)*", s.group(2) or ""):
                want_section(f, line_of(text, sec.start(), starts), key, num, "bare")
        for p in PITFALL_RE.finditer(text):
            ln = line_of(text, p.start(), starts)
            for n in [p.group(1)] + re.findall(r"\d+", p.group(2) or ""):
                want_pitfall(f, ln, int(n))
        for p in PITFALL_BLOCK_RE.finditer(text):
            end = comment_end(text, p.end())
            for q in re.finditer(r"\((\d{1,3})\)", text[p.end(): end]):
                want_pitfall(f, line_of(text, p.end() + q.start(), starts), int(q.group(1)))

    if list_all:
        for f, ln, what in found:
            print(f"{f}:{ln}: {what}")
    for e in errors:
        print(e)
    n_files = len({f for f, _, _ in found})
    if errors:
        print(f"check_citations: {len(errors)} citation(s) do not resolve", file=sys.stderr)
        return 1
    print(f"check_citations: OK, {len(found)} citations in {n_files} files resolve "
          f"({len(sections['architecture'])} sections, {len(pitfalls)} pitfalls in {DOCS['architecture']})")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()
    sys.exit(check(os.path.abspath(a.root), a.list))


if __name__ == "__main__":
    main()
