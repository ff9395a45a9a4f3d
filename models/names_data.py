"""The surname corpus: loading, de-duplication, fingerprint and a deterministic split.

Rows are unique (normalised name, language) pairs: a name listed twice under one language
counts once; a name listed under several languages keeps one row per language (it is
genuinely ambiguous). The split hashes the normalised *name*, so every row of a name lands
in the same split and no test name is ever seen in training.
"""
import hashlib
import random
from dataclasses import dataclass
from pathlib import Path

from models.name_text import normalise
from models.paths import NAMES_DIR


@dataclass(frozen=True)
class Corpus:
    labels: list[str]
    rows: list[tuple[str, int]]  # (normalised name, label index)
    fingerprint: str

    def split(self, name: str, seed: int = 0, val: float = 0.1, test: float = 0.1) -> list[tuple[str, int]]:
        """Rows of 'train', 'val' or 'test'; membership depends only on (seed, name)."""
        def bucket(n):
            u = int.from_bytes(hashlib.sha256(f"{seed}:{n}".encode()).digest()[:8], "big") / 2**64
            return "test" if u < test else "val" if u < test + val else "train"
        return [r for r in self.rows if bucket(r[0]) == name]


def load_corpus(directory: Path = NAMES_DIR) -> Corpus:
    files = sorted(Path(directory).glob("*.txt"))
    if not files:
        raise FileNotFoundError(f"no *.txt name files in {directory}")
    labels = [f.stem for f in files]
    h = hashlib.sha256()
    seen, rows = set(), []
    for li, f in enumerate(files):
        data = f.read_bytes()
        h.update(f.name.encode() + b"\0" + data)
        for line in data.decode("utf-8").splitlines():
            name = normalise(line)
            if name and (name, li) not in seen:
                seen.add((name, li))
                rows.append((name, li))
    return Corpus(labels, rows, h.hexdigest()[:16])


# Russian, Polish and Czech surnames take a feminine form (Ivanov -> Ivanova, Tolstoy -> Tolstaya, Kowalski ->
# Kowalska, Novák -> Nováková); the corpus lists almost only masculine ones (no Russian name in it ends in
# -ova, 24 of 472 Czech ones do), so a model trained on it reads every -ova as Czech. First matching
# ending wins.
FEMININE_ENDINGS = {
    "Russian": [("skiy", "skaya"), ("skii", "skaya"), ("skij", "skaya"), ("sky", "skaya"), ("skoy", "skaya"),
                ("iy", "aya"), ("yy", "aya"), ("oy", "aya"), ("ov", "ova"), ("ev", "eva"), ("in", "ina"), ("yn", "yna")],
    "Polish": [("ski", "ska"), ("cki", "cka")],
    # Czech: Černý -> Černá, Svoboda -> Svobodová, Hájek -> Hájková, Novák -> Nováková (ASCII as the corpus
    # writes them: -ova); names already feminine or ending in another vowel get none.
    "Czech": [("ý", "á"), ("y", "a"), ("ova", None), ("ová", None), ("á", None), ("a", "ova"), ("ek", "kova"),
              ("ec", "cova"), ("e", None), ("ě", None), ("i", None), ("o", None), ("u", None), ("", "ova")],
}


def feminine_form(name: str, language: str) -> str | None:
    """'ivanov' -> 'ivanova' (Russian), 'kowalski' -> 'kowalska' (Polish), 'novak' -> 'novakova' (Czech);
    None if there is none."""
    for masculine, feminine in FEMININE_ENDINGS.get(language, []):
        if name.endswith(masculine) and len(name) > len(masculine) + 1:
            if feminine is None:
                return None
            form = name[: len(name) - len(masculine)] + feminine
            return form[:-1] + "á" if form.endswith("ova") and not name.isascii() else form  # dvořák -> dvořáková
    return None


def feminine_rows(rows: list[tuple[str, int]], corpus: Corpus, seed: int = 0) -> list[tuple[str, int, str]]:
    """(feminine form, label, masculine name) for each of `rows` (training rows) that has one; a form that is
    a held-out name (validation or test, any language) or already a corpus row is left out."""
    held_out = {n for n, _ in corpus.split("val", seed) + corpus.split("test", seed)}
    have = set(corpus.rows)
    out = {}
    for name, label in rows:
        form = feminine_form(name, corpus.labels[label])
        if form and form not in held_out and (form, label) not in have:
            out.setdefault((form, label), name)
    return [(form, label, masculine) for (form, label), masculine in out.items()]


def transfer_names(rows: list[tuple[str, int]], corpus: Corpus, count: int, seed: int = 0) -> list[str]:
    """`count` unlabelled made-up names near the training rows, for distillation only (the teachers label them):
    in the spirit of MUNGE (Bucila et al., 2006), which compresses an ensemble into one model by having it
    label synthetic examples drawn near the training data. Half splice the start of one training name onto
    the end of another of the same language (Naka|mura + Yama|moto -> Nakamoto), half change one character of
    a training name into a letter that language uses. A corpus name (held-out ones included) or a repeat is skipped."""
    rng = random.Random(seed)
    skip = {n for n, _ in corpus.rows}
    by_label: dict[int, list[str]] = {}
    for name, label in rows:
        if len(name) >= 3:
            by_label.setdefault(label, []).append(name)
    letters = {label: sorted({c for n in names for c in n if c.isalpha()}) for label, names in by_label.items()}
    labels = [label for _, label in rows if label in by_label]  # languages drawn as often as the corpus has them
    out: dict[str, None] = {}
    for _ in range(count * 20):
        if len(out) >= count:
            break
        label = rng.choice(labels)
        a = rng.choice(by_label[label])
        if rng.random() < 0.5:
            b = rng.choice(by_label[label])
            name = a[: rng.randrange(2, len(a))] + b[rng.randrange(1, len(b) - 1):]
        else:
            i = rng.randrange(len(a))
            name = a[:i] + rng.choice(letters[label]) + a[i + 1:]
        if name not in skip and 2 <= len(name) <= 32:
            out.setdefault(name)
    return list(out)
