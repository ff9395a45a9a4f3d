"""Entity review dataset: lexicon positives and NER-mistake negatives, deterministic and split.

Negative kinds (one per positive, kinds in rotation so they are spread evenly):
  reversed  - the reference system's recipe: 萎缩肌内手
  truncated - a span cut off at either end: 手内肌萎 / 内肌萎缩
  extended  - a span that swallowed neighbouring characters: 患者手内肌萎缩 / 手内肌萎缩伴
  shuffled  - the same characters in another order
Any negative that is itself in the lexicon is dropped (another kind is tried instead).
Positives are split by a hash of the text, and each negative derives from a positive of the
same split, so no test entity (nor its mistakes) is seen in training.
"""
import hashlib
import random
from dataclasses import dataclass
from pathlib import Path

from models.char_features import MAX_CHARS

KINDS = ("reversed", "truncated", "extended", "shuffled")
# Characters/words that sit next to entities in clinical text and get swallowed by a loose span.
CONTEXT = ["患者", "出现", "伴有", "的", "和", "或", "及", "等", "引起", "导致", "治疗", "检查", "明显", "可见", "轻度",
           "严重", "慢性", "急性", "术后", "左侧", "右侧", "伴", "后", "时", "者", "性", "。", "，"]


def read_lexicon(path: Path) -> list[str]:
    """Unique, stripped, non-empty lines in file order."""
    seen = dict.fromkeys(line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines())
    seen.pop("", None)
    return list(seen)


@dataclass(frozen=True)
class Example:
    text: str
    label: int      # 1 = valid entity
    kind: str       # "positive" or one of KINDS


def split_of(text: str, seed: int, val: float = 0.1, test: float = 0.1) -> str:
    u = int.from_bytes(hashlib.sha256(f"{seed}:{text}".encode()).digest()[:8], "big") / 2**64
    return "test" if u < test else "val" if u < test + val else "train"


def make_negative(text: str, kind: str, rng: random.Random, donors: list[str]) -> str | None:
    n = len(text)
    if kind == "reversed":
        return text[::-1]
    if kind == "truncated" and n >= 3:
        cut = rng.randint(1, max(1, n // 3))
        return text[cut:] if rng.random() < 0.5 else text[:-cut]
    if kind == "extended":
        if rng.random() < 0.5:
            extra = rng.choice(CONTEXT)
        else:  # the edge of a neighbouring entity
            donor = rng.choice(donors)
            extra = donor[: rng.randint(1, min(3, len(donor)))]
        return extra + text if rng.random() < 0.5 else text + extra
    if kind == "shuffled" and n >= 3:
        chars = list(text)
        for _ in range(10):
            rng.shuffle(chars)
            if "".join(chars) not in (text, text[::-1]):
                return "".join(chars)
    return None


def build_split(lexicon: list[str], split: str, seed: int = 0, limit: int = 0) -> list[Example]:
    """Balanced examples of one split: every positive plus one negative, kinds in rotation."""
    known = set(lexicon)
    positives = [t for t in lexicon if len(t) <= MAX_CHARS and split_of(t, seed) == split]
    rng = random.Random(f"{seed}:{split}")
    if limit:
        positives = rng.sample(positives, min(limit, len(positives)))
    out = []
    for i, text in enumerate(positives):
        out.append(Example(text, 1, "positive"))
        for j in range(len(KINDS)):  # start at this positive's turn in the rotation, fall through if impossible
            kind = KINDS[(i + j) % len(KINDS)]
            neg = make_negative(text, kind, rng, positives)
            if neg and neg not in known and len(neg) <= MAX_CHARS:
                out.append(Example(neg, 0, kind))
                break
    rng.shuffle(out)
    return out
