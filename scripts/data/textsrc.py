"""Extractors for the pretraining sources of docs/data.md. Each yields (doc_id, heldout_key, text):
heldout_key is ("word", headword) for word-keyed sources and ("doc", doc_id) otherwise."""
import glob
import gzip
import html.parser
import os
import re
import subprocess
import tarfile
import unicodedata

from dictd import read_dictd

# ---------------------------------------------------------------- helpers

KEEP = None  # optional predicate (source, doc_id) -> bool, consulted before costly rendering


def _keep(source, doc_id):
    return KEEP is None or KEEP(source, doc_id)


def reflow(text):
    """Joins wrapped lines inside paragraphs (blank-line separated); paragraphs on their own lines."""
    paras = re.split(r"\n\s*\n", text)
    out = []
    for p in paras:
        lines = [l.strip() for l in p.split("\n") if l.strip()]
        if lines:
            out.append(" ".join(lines))
    return "\n".join(out)


def cap_chunks(text, limit=12000):
    """Splits a long document at paragraph (line) boundaries into pieces of at most ~limit chars."""
    if len(text) <= limit:
        return [text]
    chunks, cur, n = [], [], 0
    for line in text.split("\n"):
        while len(line) > limit:  # one enormous line: cut it
            if cur:
                chunks.append("\n".join(cur))
                cur, n = [], 0
            chunks.append(line[:limit])
            line = line[limit:]
        if n + len(line) + 1 > limit and cur:
            chunks.append("\n".join(cur))
            cur, n = [], 0
        cur.append(line)
        n += len(line) + 1
    if cur:
        chunks.append("\n".join(cur))
    return [c for c in chunks if c.strip()]


# ---------------------------------------------------------------- GCIDE

_ACCENT = {"=": "\u0304", "'": "\u0301", "`": "\u0300", "^": "\u0306", "~": "\u0303", ".": "\u0307",
           "u": "\u0306", "\"": "\u0308", ",": "\u0327"}
_LIGATURE = {"ae": "æ", "AE": "Æ", "oe": "œ", "OE": "Œ", "cced": "ç", "ntil": "ñ", "aum": "ä", "oum": "ö",
             "uum": "ü", "eum": "ë", "ium": "ï", "Aum": "Ä", "Oum": "Ö", "Uum": "Ü", "asl": "a", "th": "þ",
             "edh": "ð", "deg": "°", "frac12": "½", "frac14": "¼", "frac34": "¾", "sect": "§", "para": "¶",
             "pound": "£", "cre": "˘", "root": "√", "ndash": "–", "mdash": "—", "times": "×", "divide": "÷",
             "ait": "a", "eit": "e", "iit": "i", "oit": "o", "uit": "u", "imac": "ī", "amac": "ā", "emac": "ē",
             "omac": "ō", "umac": "ū", "acir": "â", "ecir": "ê", "icir": "î", "ocir": "ô", "ucir": "û",
             "adot": "ȧ", "ndot": "ṅ", "ddot": "ḍ", "hand": "☞", "?": "?", "eth": "ð", "thorn": "þ", "yogh": "ȝ", "ng": "ŋ", "=ae": "ǣ",
             "=oo": "o\u0304o", "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε",
             "theta": "θ", "lambda": "λ", "mu": "μ", "pi": "π", "sigma": "σ", "omega": "ω", "chi": "χ", "phi": "φ",
             "psi": "ψ", "eta": "η", "iota": "ι", "kappa": "κ", "nu": "ν", "xi": "ξ", "rho": "ρ", "tau": "τ",
             "zeta": "ζ", "upsilon": "υ", "omicron": "ο"}


def _gcide_escape(m):
    s = m.group(1)
    if s in _LIGATURE:
        return _LIGATURE[s]
    if len(s) == 2 and s[0] in _ACCENT and s[1].isalpha():
        return unicodedata.normalize("NFC", s[1] + _ACCENT[s[0]])
    if len(s) == 2 and s[1] in _ACCENT and s[0].isalpha():
        return unicodedata.normalize("NFC", s[0] + _ACCENT[s[1]])
    if len(s) == 2 and s[0] == "*" and s[1].isalpha():
        return s[1]
    return m.group(0)


_GC_TAG = re.compile(r"^\s*\[[^\]]*(Webster|WordNet|PJC|Century|Suppl|RDH|Chambers|Vocab|F\. ?Art|AS|MW)[^\]]*\]\s*$",
                     re.M)


def clean_gcide(text):
    text = _GC_TAG.sub("", text)
    text = re.sub(r"\[(?:\d{4} )?Webster[^\]]*\]|\[WordNet[^\]]*\]|\[PJC\]", "", text)
    text = re.sub(r"\\[^\\\n]{1,80}\\(\s*\([^)\n]{1,60}\))?", "", text)  # \Ap"ple\ (pronunciation)
    text = re.sub(r"\[([^\[\]\s]{1,7})\]", _gcide_escape, text)
    text = text.replace("{", "").replace("}", "")
    return re.sub(r" +([,.;:])", r"\1", reflow(text))


def gcide(root):
    d = os.path.join(root, "dict-gcide/usr/share/dictd")
    for hw, texts in read_dictd(os.path.join(d, "gcide.index"), os.path.join(d, "gcide.dict.dz")):
        text = "\n".join(clean_gcide(t) for t in texts).strip()
        if len(text) > 20:
            yield hw, ("word", hw), text


# ---------------------------------------------------------------- FOLDOC

def clean_foldoc(text, hw):
    lines = text.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    if lines and lines[0].strip().lower() == hw.lower():
        lines = lines[1:]  # the headword line; the caller adds the title
    text = "\n".join(lines)
    text = re.sub(r"^\s*\(\d{4}-\d{2}-\d{2}\)\s*$", "", text, flags=re.M)
    text = re.sub(r"\s*\(?<?(https?|ftp)://[^\s>)]+>?\)?", "", text)
    text = text.replace("{", "").replace("}", "")
    text = re.sub(r"^\W*$", "", text, flags=re.M)
    return reflow(text)


def foldoc_entries(root):
    d = os.path.join(root, "dict-foldoc/usr/share/dictd")
    for hw, texts in read_dictd(os.path.join(d, "foldoc.index"), os.path.join(d, "foldoc.dict.dz")):
        body = "\n".join(clean_foldoc(t, hw) for t in texts).strip()
        first = texts[0].strip().split("\n", 1)[0].strip()
        title = first if first.lower() == hw.lower() else hw
        if len(body) > 10:
            yield title, body


def foldoc(root):
    for hw, body in foldoc_entries(root):
        yield hw, ("word", hw), hw + "\n" + body


# ---------------------------------------------------------------- fortunes

def fortunes(root):
    seen = set()
    files = sorted(glob.glob(os.path.join(root, "fortunes/usr/share/games/fortunes/*")) +
                   glob.glob(os.path.join(root, "fortunes-min/usr/share/games/fortunes/*")))
    for path in files:
        name = os.path.basename(path)
        if name.endswith(".dat") or name.endswith(".u8") or os.path.islink(path) or name == "ascii-art" \
                or os.path.isdir(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            parts = f.read().split("\n%\n")
        for i, p in enumerate(parts):
            p = p.strip("\n").rstrip()
            if not p.strip() or p.strip() == "%":
                continue
            # skip ASCII art: many lines dominated by punctuation
            letters = sum(c.isalpha() for c in p)
            if letters < 0.45 * len(p.replace(" ", "").replace("\n", "")):
                continue
            key = re.sub(r"\s+", " ", p).strip().lower()
            if key in seen:
                continue
            seen.add(key)
            doc_id = "%s/%d" % (name, i)
            yield doc_id, ("doc", doc_id), p


# ---------------------------------------------------------------- manpages

def man_render(path):
    env = dict(os.environ, MANWIDTH="100", LANG="C.UTF-8", MAN_KEEP_FORMATTING="")
    r = subprocess.run(["man", "--nh", "--nj", "-l", "-E", "UTF-8", path], capture_output=True, env=env,
                       timeout=60)
    text = r.stdout.decode("utf-8", errors="replace")
    text = re.sub(r".\x08", "", text)  # overstrike
    lines = text.split("\n")
    # drop the header and footer lines (first and last non-blank)
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) > 2:
        lines = lines[1:-1]
    out = [l.rstrip() for l in lines]
    text = "\n".join(out).strip("\n")
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text


def man_files(root, small=False):
    files = []
    for pkg in ("manpages", "manpages-dev"):
        for path in sorted(glob.glob(os.path.join(root, pkg, "usr/share/man/man*/*"))):
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rb") as f:
                head = f.read(200)
            if head.startswith(b".so "):
                continue  # an alias page
            base = os.path.basename(path)
            if base.endswith(".gz"):
                base = base[:-3]
            files.append((base, path))
    return files


def manpages(root, small=False, pages=None):
    for doc_id, path in pages if pages is not None else man_files(root):
        text = man_render(path)
        if len(text) > 100:
            yield doc_id, ("doc", doc_id), text


# ---------------------------------------------------------------- reST (pydoc, linuxdoc)

_DIRECTIVE_DROP = re.compile(r"^\.\. (toctree|kernel-doc|only|index|include|literalinclude|highlight|"
                             r"image|figure|raw|c:namespace|c:namespace-push|c:namespace-pop|"
                             r"sectionauthor|moduleauthor|testsetup|testcleanup|contents|"
                             r"tabularcolumns|csv-table|cssclass|_)", re.I)


def clean_rst(text):
    out = []
    lines = text.split("\n")
    skip_indent = None
    for i, line in enumerate(lines):
        if skip_indent is not None:
            if not line.strip() or (len(line) - len(line.lstrip())) > skip_indent:
                continue
            skip_indent = None
        s = line.strip()
        if s.startswith(".. "):
            if _DIRECTIVE_DROP.match(s) or s.startswith(".. |") or re.match(r"\.\. \[", s) or \
                    not re.match(r"\.\. [\w:-]+::", s):
                skip_indent = len(line) - len(line.lstrip())
                continue
            # keep the directive's argument as text (e.g. ".. function:: open(file)")
            m = re.match(r"\.\. ([\w:-]+)::\s*(.*)", s)
            if m and m.group(2):
                out.append(m.group(2))
            continue
        # section adornments: a line of one repeated punctuation character
        if len(s) >= 3 and re.fullmatch(r"([=\-~^\"'`#*+<>_.:])\1+", s):
            continue
        if re.match(r"^\s*:[\w-]+:(\s|$)", line) and i < 20:  # field lists at the top (:orphan: etc.)
            continue
        out.append(line.rstrip())
    text = "\n".join(out)
    text = re.sub(r":[\w:+.-]+:`~?!?([^`<]*?)\s*(<[^>]*>)?`", r"\1", text)  # roles -> text
    text = re.sub(r"`([^`<]+?)\s*<[^>]+>`_{1,2}", r"\1", text)  # links
    text = re.sub(r"``([^`]+)``", r"\1", text)
    text = re.sub(r"`([^`]+)`_{0,2}", r"\1", text)
    text = re.sub(r"(\w)::\s*$", r"\1:", text, flags=re.M)
    text = re.sub(r"^\s*::\s*$", "", text, flags=re.M)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def rst_docs(root, pattern, exclude=None):
    for path in sorted(glob.glob(pattern, recursive=True)):
        rel = os.path.relpath(path, root)
        if exclude and exclude(rel):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            text = clean_rst(f.read())
        if len(text) > 200:
            doc_id = re.sub(r"^.*?_sources/", "", rel).replace(".rst.txt", "").replace(".txt", "")
            yield doc_id, ("doc", doc_id), text


def pydoc(root):
    base = os.path.join(root, "python3.11-doc/usr/share/doc/python3.11/html/_sources")
    yield from rst_docs(root, base + "/**/*.txt", exclude=lambda r: "/faq/" in r or "/whatsnew/changelog" in r)


def linuxdoc(root):
    bases = glob.glob(os.path.join(root, "linux-doc-6.1/usr/share/doc/linux-doc*/html/_sources"))
    for base in bases:
        yield from rst_docs(root, base + "/**/*.txt", exclude=lambda r: "/translations/" in r)


# ---------------------------------------------------------------- perldoc

def perldoc(root):
    pods = sorted(glob.glob(os.path.join(root, "perl-doc/usr/share/perl/*/pod/*.pod")))
    for path in pods:
        name = os.path.basename(path)[:-4]
        if re.match(r"perl\d+delta|perl5\d+delta|perlfaq|perlhist|perltoc", name) or not _keep("perldoc", name):
            continue
        r = subprocess.run(["pod2text", "--utf8", "-w", "10000", path], capture_output=True, timeout=120)
        text = r.stdout.decode("utf-8", errors="replace").strip()
        if len(text) > 200:
            yield name, ("doc", name), text


# ---------------------------------------------------------------- HTML (pgdoc, djangodoc, handbook)

class _HtmlText(html.parser.HTMLParser):
    SKIP = {"script", "style", "nav", "head", "title"}
    BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "table", "dt", "dd",
             "blockquote", "section", "ul", "ol", "dl", "hr"}

    def __init__(self, skip_classes, mark_headings=False):
        super().__init__(convert_charrefs=True)
        self.mark_headings = mark_headings
        self.out = []
        self.skip_depth = 0
        self.stack = []
        self.skip_classes = skip_classes
        self.pre = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "") + " " + (a.get("id") or "") + " " + (a.get("role") or "")
        skip = tag in self.SKIP or any(c in cls.split() for c in self.skip_classes)
        if tag in ("br", "hr", "img", "meta", "link", "input", "col", "area", "base", "wbr"):
            if tag == "br":
                self.out.append("\n")
            return
        self.stack.append((tag, skip))
        if skip:
            self.skip_depth += 1
        if tag == "pre":
            self.pre += 1
        if tag in self.BLOCK:
            self.out.append("\n")
        if self.mark_headings and tag in ("h2", "h3", "h4") and not self.skip_depth:
            self.out.append("\x01")
        if tag == "li" and not self.skip_depth:
            self.out.append("- ")

    def handle_endtag(self, tag):
        while self.stack:
            t, skip = self.stack.pop()
            if skip:
                self.skip_depth -= 1
            if t == "pre":
                self.pre -= 1
            if t == tag:
                break
        if tag in self.BLOCK:
            self.out.append("\n")

    def handle_data(self, data):
        if self.skip_depth:
            return
        if not self.pre:
            data = re.sub(r"\s+", " ", data)
        self.out.append(data)

    def text(self):
        t = "".join(self.out)
        t = "\n".join(l.strip() if not l.startswith("    ") else l.rstrip() for l in t.split("\n"))
        return re.sub(r"\n{3,}", "\n\n", t).strip()


def html_to_text(path, skip_classes=(), mark_headings=False):
    """Text of an HTML page; with mark_headings, h2-h4 lines start with \x01."""
    p = _HtmlText(set(skip_classes), mark_headings)
    with open(path, encoding="utf-8", errors="replace") as f:
        p.feed(f.read())
    return p.text()


_NAV_LINES = re.compile(r"^(Download the ebook|Django [\d.]+ documentation|Home \| Table of contents.*|"
                        r"« previous \| up \| next »|Prev Up Next|Prev\s+Next)$", re.M)
_NAV_TAIL = re.compile(r"\n\s*(Last update:|Prev Up Next|Prev\s+Next\n)[\s\S]*$")


def html_docs(root, pattern, skip_classes, exclude=None, min_len=300):
    for path in sorted(glob.glob(pattern, recursive=True)):
        rel = os.path.relpath(path, root)
        if exclude and exclude(rel):
            continue
        text = _NAV_TAIL.sub("", html_to_text(path, skip_classes))
        text = re.sub(r"\n{3,}", "\n\n", _NAV_LINES.sub("", text)).strip()
        if len(text) > min_len:
            doc_id = os.path.basename(path)[:-5] if "postgresql" in rel else re.sub(r"^.*?/html/", "", rel)[:-5]
            yield doc_id, ("doc", doc_id), text


def pgdoc(root):
    yield from html_docs(root, os.path.join(root, "postgresql-doc-15/usr/share/doc/postgresql-doc-15/html/*.html"),
                         ("navheader", "navfooter", "toc"))


def djangodoc(root):
    yield from html_docs(root, os.path.join(root, "python-django-doc/usr/share/doc/python-django-doc/html/**/*.html"),
                         ("sphinxsidebar", "related", "nav", "footer", "headerlink", "breadcrumbs", "docs-content-nav",
                          "document-header"),
                         exclude=lambda r: "/_modules/" in r or "/_static/" in r or r.endswith("genindex.html")
                         or r.endswith("search.html") or r.endswith("py-modindex.html") or "/releases/" in r)


def handbook(root):
    yield from html_docs(root, os.path.join(root, "debian-handbook/usr/share/doc/debian-handbook/html/en-US/*.html"),
                         ("navheader", "navfooter", "toc", "docnav", "breadcrumbs"),
                         exclude=lambda r: r.endswith("index.html") or "/ix01" in r)


# ---------------------------------------------------------------- code (kernelc, pystdlib)

KERNEL_DIRS = ("kernel", "mm", "lib", "fs", "net", "block", "ipc", "init", "security", "crypto")


def kernelc(root, limit=None):
    tars = glob.glob(os.path.join(root, "linux-source-6.1/usr/src/linux-source-*.tar.xz"))
    seen = set()
    n = 0
    with tarfile.open(tars[0], "r:xz") as tf:
        for m in tf:
            if not m.isfile() or not (m.name.endswith(".c") or m.name.endswith(".h")) or m.size > 256 * 1024:
                continue
            parts = m.name.split("/", 2)
            if len(parts) < 3 or parts[1] not in KERNEL_DIRS:
                continue
            data = tf.extractfile(m).read()
            h = hash(data)
            if h in seen:
                continue
            seen.add(h)
            doc_id = parts[1] + "/" + parts[2]
            yield doc_id, ("doc", doc_id), data.decode("utf-8", errors="replace")
            n += 1
            if limit and n >= limit:
                return


def pystdlib(root):
    seen = set()
    paths = []
    for pkg in ("libpython3.11-minimal", "libpython3.11-stdlib"):
        paths += glob.glob(os.path.join(root, pkg, "usr/lib/python3.11/**/*.py"), recursive=True)
    for path in sorted(paths, key=lambda p: p.split("/usr/lib/python3.11/")[1]):
        if not os.path.isfile(path) or os.path.getsize(path) > 256 * 1024 or "/test/" in path or "/tests/" in path:
            continue
        with open(path, "rb") as f:
            data = f.read()
        if data in seen or len(data) < 200:
            continue
        seen.add(data)
        doc_id = path.split("/usr/lib/python3.11/")[1]
        yield doc_id, ("doc", doc_id), data.decode("utf-8", errors="replace")


SOURCES = {
    "gcide": gcide, "foldoc": foldoc, "fortunes": fortunes, "handbook": handbook, "linuxdoc": linuxdoc,
    "pydoc": pydoc, "manpages": manpages, "pgdoc": pgdoc, "perldoc": perldoc, "djangodoc": djangodoc,
    "kernelc": kernelc, "pystdlib": pystdlib,
}
