"""The surname corpus: loading, de-duplication, fingerprint and a deterministic split.

Rows are unique (normalised name, language) pairs: a name listed twice under one language
counts once; a name listed under several languages keeps one row per language (it is
genuinely ambiguous). The split hashes the normalised *name*, so every row of a name lands
in the same split and no test name is ever seen in training.
"""
import hashlib
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
