"""Reader for dictd databases (.index + .dict.dz), merging entries that share a headword."""
import gzip

_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64V = {c: i for i, c in enumerate(_B64)}


def b64(s: str) -> int:
    v = 0
    for c in s:
        v = v * 64 + _B64V[c]
    return v


def read_dictd(index_path, dict_path):
    """Yields (headword, [entry texts]) in index order; each entry goes to its first headword
    (case-insensitive); 00-database-* entries skipped."""
    data = gzip.open(dict_path).read()
    groups = {}
    order = []
    seen = set()
    with open(index_path, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3 or parts[0].startswith("00-database") or parts[0].startswith("00database"):
                continue
            hw, off, ln = parts[0], b64(parts[1]), b64(parts[2])
            if (off, ln) in seen:
                continue
            seen.add((off, ln))
            k = hw.lower()
            if k not in groups:
                groups[k] = (hw, [])
                order.append(k)
            groups[k][1].append(off)
            groups[k][1].append(ln)
    for k in order:
        hw, offs = groups[k]
        texts = []
        for i in range(0, len(offs), 2):
            texts.append(data[offs[i]:offs[i] + offs[i + 1]].decode("utf-8", errors="replace"))
        yield hw, texts
