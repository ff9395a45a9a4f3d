"""Names as signup forms send them: native scripts, diacritics, full names (issue: real-world names).

    python -m models.evaluate_realworld [--arch gru lstm rnn]

Uses models/eval_data/realworld_names.tsv, a hand-made set never used in training, its full names
once more as forms also write them ("decorated": titles, suffixes, initials, 'Surname, Given'; "dotted": the
same with dots and no spaces, Dr.Smith, J.R., Ph.D.), plus
the corpus test split for the no-regression check and the feminine forms of its Russian, Polish and
Czech names (the corpus lists almost only masculine forms). Writes docs/reports/realworld.json.
"""
import argparse
import json
from collections import defaultdict
from pathlib import Path

from models.evaluate_names import LOW_CONFIDENCE
from models.name_predictor import NamePredictor
from models.name_scripts import low_confidence, other_language_evidence
from models.names_data import Corpus, feminine_form, load_corpus
from models.paths import CHECKPOINTS, NAMES_DIR, REPORTS

EVAL_SET = Path(__file__).resolve().parent / "eval_data" / "realworld_names.tsv"
NOT_FAMILY_NAMES = Path(__file__).resolve().parent / "eval_data" / "not_family_names.tsv"
OTHER_LANGUAGE_NAMES = Path(__file__).resolve().parent / "eval_data" / "other_language_names.tsv"


def tsv_rows(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()
            if line and not line.startswith("#")]


def load_eval_set(path: Path = EVAL_SET) -> list[tuple[str, str, str]]:
    rows = [tuple(r) for r in tsv_rows(path)]
    return rows + decorated(rows)


# How forms write full names around the name itself; none of it says where the name comes from.
DECORATIONS = [lambda n: f"Dr. {n}", lambda n: f"Mr {n}", lambda n: f"{n} Jr.", lambda n: f"Prof. Dr. {n}",
               lambda n: " ".join([n.split()[0], "A.", *n.split()[1:]]), lambda n: f"J. R. {n}",
               lambda n: f"{n.split(maxsplit=1)[-1]}, {n.split()[0]}"]  # 'van der Berg, Jan


# The same written with dots and no spaces, as forms also get them (session 19).
DOTTED = [lambda n: f"Dr.{n}", lambda n: f"J.R. {n}", lambda n: f"{n}, Ph.D.", lambda n: f"Prof.Dr. {n}",
          lambda n: " ".join([n.split()[0], "A.B.", *n.split()[1:]]), lambda n: f"{n}, M.D."]


def decorated(rows) -> list[tuple[str, str, str]]:
    """Each full-name row once more with a title, suffix, initials or 'Surname, Given' (in rotation), and once
    more with those written with dots and no spaces."""
    full = [r for r in rows if r[2] == "full-name"]
    return [(forms[i % len(forms)](name), label, category)
            for forms, category in ((DECORATIONS, "decorated:full-name"), (DOTTED, "dotted:full-name"))
            for i, (name, label, _) in enumerate(full)]


def evaluate(predictor: NamePredictor, rows) -> dict:
    """Top-1 per category. A most-common surname (category common:*) on several languages' lists, as Smith is on
    the English, Irish and Scottish ones, is right when the answer is any of those languages."""
    probs = predictor.probabilities([r[0] for r in rows])
    top1 = [predictor.labels[i] for i in probs.argmax(1).tolist()]
    lists_of = defaultdict(set)
    for name, label, category in rows:
        if category.startswith("common:"):
            lists_of[name].add(label)
    groups = defaultdict(list)
    for (name, label, category), pred in zip(rows, top1):
        right = pred in lists_of[name] if category.startswith("common:") else pred == label
        groups[category].append(right)
        groups[category.split(":")[0] + " (all)"].append(right)
    return {k: {"top1": round(sum(v) / len(v), 4), "n": len(v)} for k, v in sorted(groups.items())}


def top1_right(predictor: NamePredictor, rows: list[tuple[str, int]]) -> list[bool]:
    """Whether the served top-1 is the row's label, for each (name, label index) row."""
    probs = predictor.probabilities([n for n, _ in rows])
    return [int(p) == y for p, (_, y) in zip(probs.argmax(1).tolist(), rows)]


def corpus_top1(predictor: NamePredictor, corpus: Corpus, seed: int = 0) -> float:
    right = top1_right(predictor, corpus.split("test", seed))
    return round(sum(right) / len(right), 4)


def feminine_test_top1(predictor: NamePredictor, corpus: Corpus, seed: int = 0) -> dict:
    """Top-1 on the feminine forms of the test split's Russian, Polish and Czech names (Ivanova from a held-out
    Ivanov), per language: the corpus lists almost only masculine forms, so its own test split cannot see this."""
    known = {n for n, _ in corpus.rows}
    rows = [(form, y) for n, y in corpus.split("test", seed)
            if (form := feminine_form(n, corpus.labels[y])) and form not in known]
    groups = defaultdict(list)
    for ok, (_, y) in zip(top1_right(predictor, rows), rows):
        groups[corpus.labels[y]].append(ok)
        groups["(all)"].append(ok)
    return {k: {"top1": round(sum(v) / len(v), 4), "n": len(v)} for k, v in sorted(groups.items())}


def answered_low_confidence(predictor: NamePredictor, texts: list[str]) -> list[bool]:
    """Whether the service, at its default threshold, answers each text low_confidence."""
    tops = predictor.probabilities(texts).max(1).tolist()
    return [low_confidence(top, other_language_evidence(t), LOW_CONFIDENCE) for t, top in zip(texts, tops)]


def low_confidence_shares(predictor: NamePredictor, corpus: Corpus, rows, seed: int = 0) -> dict:
    """How often an answer is low_confidence for what a family-name field receives: held-out corpus names, given
    and family name together, what it should not (given names alone, e-mail addresses: not_family_names.tsv), and
    family names of languages none of our labels covers (other_language_names.tsv, per language and in all). The
    NameOriginLowConfidenceAnswers alert is set from these."""
    kinds = defaultdict(list)
    kinds["corpus test split"] = [n for n, _ in corpus.split("test", seed)]
    kinds["full-name"] = [name for name, _, category in rows if category == "full-name"]
    for text, kind in tsv_rows(NOT_FAMILY_NAMES):
        kinds[kind].append(text)
    for text, language in tsv_rows(OTHER_LANGUAGE_NAMES):
        kinds["other-language (all)"].append(text)
        kinds[f"other-language:{language}"].append(text)
    shares = {}
    for kind, texts in kinds.items():
        low = answered_low_confidence(predictor, texts)
        shares[kind] = {"share": round(sum(low) / len(low), 4), "n": len(texts)}
    return shares


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", nargs="+", default=["gru", "lstm", "rnn"])
    ap.add_argument("--data", type=Path, default=NAMES_DIR)
    args = ap.parse_args(argv)
    rows, corpus = load_eval_set(), load_corpus(args.data)
    report = {}
    for arch in args.arch:
        predictor = NamePredictor.load(CHECKPOINTS / f"names-{arch}")
        report[arch] = {"realworld": evaluate(predictor, rows), "corpus_test_top1_served": corpus_top1(predictor, corpus),
                        "feminine_forms_of_test_names": feminine_test_top1(predictor, corpus),
                        "low_confidence_share": low_confidence_shares(predictor, corpus, rows)}
        print(arch, json.dumps(report[arch], ensure_ascii=False))
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / "realworld.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
