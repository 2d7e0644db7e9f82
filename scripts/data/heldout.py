"""The held-out rule of docs/data.md (fixed; never trained on, in any stage).

bucket(key) = int.from_bytes(sha256(("slm-heldout-v1:" + key).encode()).digest()[:8], "big") % 10000
- word-keyed sources (gcide, wordnet, foldoc): held out iff bucket("word:" + norm(headword)) < 300
- document-keyed sources: held out iff bucket("doc:" + source + ":" + doc_id) < pct * 100
"""
import hashlib
import re
import unicodedata

WORD_THRESHOLD = 300
DOC_PCT = {
    "kernelc": 1, "linuxdoc": 1, "fortunes": 1,
    "pgdoc": 2,
    "manpages": 3, "man_sft": 3,
    "pydoc": 5, "perldoc": 5, "djangodoc": 5, "handbook": 5, "pystdlib": 5,
    "faq_sft": 10,
}


def bucket(key: str) -> int:
    return int.from_bytes(hashlib.sha256(("slm-heldout-v1:" + key).encode()).digest()[:8], "big") % 10000


_KEEP = re.compile(r"[^a-z0-9' ]")


def norm(headword: str) -> str:
    """NFKD without accents, lower-case, _ and - to space, keep [a-z0-9' ]."""
    s = unicodedata.normalize("NFKD", headword)
    s = "".join(c for c in s if not unicodedata.combining(c)).lower()
    s = s.replace("_", " ").replace("-", " ")
    return _KEEP.sub("", s)


def word_heldout(headword: str) -> bool:
    return bucket("word:" + norm(headword)) < WORD_THRESHOLD


def doc_heldout(source: str, doc_id: str) -> bool:
    # man_sft shares the manpages key, so a held-out page is held out in both
    key_source = "manpages" if source == "man_sft" else source
    return bucket("doc:" + key_source + ":" + doc_id) < DOC_PCT[source] * 100
