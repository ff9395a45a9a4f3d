"""The entity test split written as clients may write it, scored on the served path (ONNX Runtime, int8).

    python -m models.evaluate_entity_forms

Forms: as the lexicon writes it (simplified characters, ASCII letters and digits); in traditional characters
(OpenCC's s2t, as a Taiwan or Hong Kong user would send it); with full-width ASCII (a Chinese IME's default); with a
space at a seeded random place inside. Then each text with a punctuation mark at its start or end, which no lexicon
entity holds, so that every one should be rejected. Each text is read as the service reads it
(`CharBatches.readable`), and one with no character the encoder knows, or with punctuation at an edge, is "not
valid" without the model (`CharBatches.unread_reason`), as app/services.py answers it. Writes
docs/reports/entity-forms.json: accuracy, positives accepted, negatives rejected, texts still holding unknown
characters, and texts read back to exactly the lexicon's form, and the marked texts' rejected shares.
"""
import argparse
import json
import random
from pathlib import Path

import numpy as np

from models.entity_data import build_split, read_lexicon
from models.entity_reviewer import EntityReviewer
from models.paths import CHECKPOINTS, ENTITIES_FILE, REPORTS


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def forms(seed: int = 0) -> dict:
    import opencc
    s2t, rng = opencc.OpenCC("s2t"), random.Random(seed)

    def space_inside(text: str) -> str:  # a user's space in the middle of a term (手内 肌萎缩)
        i = rng.randrange(1, len(text)) if len(text) > 1 else 0
        return f"{text[:i]} {text[i:]}" if i else text

    return {"as written": lambda t: t, "traditional characters": s2t.convert, "full-width ASCII": full_width,
            "a space inside": space_inside}


def served_scores(reviewer: EntityReviewer, texts: list[str]) -> tuple[np.ndarray, list[tuple[str, list[str]]]]:
    read = [reviewer.encoder.readable(t) for t in texts]
    known = [i for i, (text, unknown) in enumerate(read) if reviewer.encoder.unread_reason(text, unknown) is None]
    scores = np.zeros(len(texts))
    scores[known] = reviewer.scores([read[i][0] for i in known])
    return scores, read


def evaluate(reviewer: EntityReviewer, examples) -> dict:
    y = np.array([e.label for e in examples]) == 1
    report = {}
    for name, write in forms().items():
        texts = [write(e.text) for e in examples]
        scores, read = served_scores(reviewer, texts)
        valid = scores >= reviewer.threshold
        report[name] = {"texts_changed": sum(t != e.text for t, e in zip(texts, examples)),
                        "accuracy": round(float((valid == y).mean()), 4),
                        "positives_accepted": round(float(valid[y].mean()), 4),
                        "negatives_rejected": round(float((~valid[~y]).mean()), 4),
                        "texts_with_unknown_characters": sum(bool(unknown) for _, unknown in read),
                        "read_as_written_in_the_lexicon": sum(r == e.text for (r, _), e in zip(read, examples))}
        print(name, json.dumps(report[name], ensure_ascii=False), flush=True)
    return report


# Punctuation a chatbot's NER step may take into a span at either end (a cut through a sentence or a list): no lexicon
# entity holds any, so every such span is not an entity as sent, whatever is inside it.
EDGE_MARKS = "，。、；：（）“”《》？！,.;:()[]\"'%~/-"


def with_a_mark(texts: list[str], seed: int = 0) -> tuple[list[str], list[str]]:
    """Each text with one of EDGE_MARKS at its start or its end (seeded), and the mark each got."""
    rng = random.Random(seed)
    marked, marks = [], []
    for text in texts:  # a mark, then its edge: the draws of the committed report
        mark = rng.choice(EDGE_MARKS)
        marked.append(f"{text}{mark}" if rng.random() < 0.5 else f"{mark}{text}")
        marks.append(mark)
    return marked, marks


def evaluate_marked(reviewer: EntityReviewer, examples) -> dict:
    """Rejected shares of the test texts with a mark at an edge, positives and negatives apart, and per mark."""
    marked, marks = with_a_mark([e.text for e in examples])
    scores, _ = served_scores(reviewer, marked)
    rejected = scores < reviewer.threshold
    y = np.array([e.label for e in examples]) == 1
    marks = np.array(marks)
    report = {"positives_rejected": round(float(rejected[y].mean()), 4),
              "negatives_rejected": round(float(rejected[~y].mean()), 4),
              "positives_rejected_per_mark": {m: round(float(rejected[y & (marks == m)].mean()), 4)
                                              for m in EDGE_MARKS if (y & (marks == m)).any()}}
    print("a mark at an edge", json.dumps(report, ensure_ascii=False), flush=True)
    return report


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ENTITIES_FILE)
    ap.add_argument("--limit", type=int, default=0, help="positives to sample from the test split (0: all)")
    args = ap.parse_args(argv)
    reviewer = EntityReviewer.load(CHECKPOINTS / "entity-encoder", CHECKPOINTS / "entity-rnn", int8=True, runtime="onnx")
    examples = build_split(read_lexicon(args.data), "test", limit=args.limit)
    report = {"model_version": reviewer.version, "test_examples": len(examples), "forms": evaluate(reviewer, examples),
              "a_mark_at_an_edge": evaluate_marked(reviewer, examples)}
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / "entity-forms.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
