"""Evaluate name checkpoints on the held-out test split; print and save the report.

    python -m models.evaluate_names --arch gru lstm rnn

Writes docs/reports/names-<arch>/{report.json,confusion.png,loss.png,reliability.png}.
"""
import argparse
import json
from pathlib import Path

import numpy as np

from models import metrics
from models.name_predictor import NamePredictor
from models.names_data import load_corpus
from models.paths import CHECKPOINTS, NAMES_DIR, REPORTS
from models.softmax import softmax


LOW_CONFIDENCE = 0.5  # the service's LOW_CONFIDENCE_THRESHOLD default: under it an answer says low_confidence


def evaluate_checkpoint(ckpt: Path, data: Path = NAMES_DIR, seed: int = 0, out_dir: Path | None = None) -> dict:
    predictor = NamePredictor.load(ckpt)
    corpus = load_corpus(data)
    if corpus.labels != predictor.labels:
        raise ValueError(f"corpus labels {corpus.labels} differ from checkpoint labels {predictor.labels}")
    rows = corpus.split("test", seed)
    names, y = [n for n, _ in rows], np.array([label for _, label in rows])
    logits = predictor.logits_in_batches(names)
    raw = softmax(logits)
    unshifted_top1 = float((logits.argmax(1) == y).mean())  # the model as trained, before any prior shift
    probs = softmax(predictor.calibrate(logits))  # as served, from the same forward pass
    top3 = np.argsort(-probs, 1)[:, :3]
    # A name listed under several languages is one name with several right answers: scored once per
    # name, its top-1 is right if it is any of them (the per-row figure can't exceed ~0.97 here).
    languages: dict[str, set[int]] = {}
    first_row: dict[str, int] = {}
    for i, (n, label) in enumerate(rows):
        languages.setdefault(n, set()).add(label)
        first_row.setdefault(n, i)
    top1_any = np.mean([probs[i].argmax() in languages[n] for n, i in first_row.items()])
    m = metrics.confusion(y, probs.argmax(1), len(corpus.labels))
    per = metrics.per_class(m, corpus.labels)
    ece_raw, table_raw = metrics.expected_calibration_error(raw, y)
    ece_cal, table_cal = metrics.expected_calibration_error(probs, y)
    arch = predictor.manifest["arch"]
    right, unsure = probs.argmax(1) == y, probs.max(1) < LOW_CONFIDENCE  # what a form that trusts only sure answers gets
    summary = {
        "arch": arch, "model_version": predictor.version, "test_rows": len(rows),
        "top1_accuracy": round(float(right.mean()), 4),
        "top1_accuracy_without_prior_shift": round(unshifted_top1, 4),
        "top3_accuracy": round(float((top3 == y[:, None]).any(1).mean()), 4),
        "test_names": len(first_row), "names_with_several_languages": sum(len(v) > 1 for v in languages.values()),
        "top1_accuracy_per_name_any_language": round(float(top1_any), 4),
        "macro_f1": round(float(np.mean([p["f1"] for p in per.values()])), 4),
        "ece_uncalibrated": round(ece_raw, 4), "ece_calibrated": round(ece_cal, 4),
        "low_confidence_share": round(float(unsure.mean()), 4),
        "top1_accuracy_confident": round(float(right[~unsure].mean()), 4),
        "top1_accuracy_low_confidence": round(float(right[unsure].mean()), 4) if unsure.any() else None,
        "temperature": round(predictor.temperature, 4),
        "prior_tau": float((predictor.manifest.get("prior_adjustment") or {}).get("tau", 0.0)),
        "weights_mb": round((Path(ckpt) / "model.safetensors").stat().st_size / 2**20, 3),
    }
    out_dir = Path(out_dir or REPORTS / f"names-{arch}")
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {"summary": summary, "per_language": per, "confusion": m.tolist(), "labels": corpus.labels,
              "reliability": {"uncalibrated": table_raw, "calibrated": table_cal}}
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    metrics.plot_confusion(m, corpus.labels, out_dir / "confusion.png", f"names-{arch} test confusion")
    metrics.plot_curves(predictor.manifest["training"]["history"], ["train_loss", "val_loss"], out_dir / "loss.png",
                        f"names-{arch} loss")
    metrics.plot_reliability({f"T=1 (ECE {ece_raw:.3f})": table_raw,
                              f"T={predictor.temperature:.2f}, served (ECE {ece_cal:.3f})": table_cal},
                             out_dir / "reliability.png", f"names-{arch} reliability (test)")
    return report


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", nargs="+", default=["gru", "lstm", "rnn"])
    ap.add_argument("--data", type=Path, default=NAMES_DIR)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    for arch in args.arch:
        report = evaluate_checkpoint(CHECKPOINTS / f"names-{arch}", args.data, args.seed)
        print(json.dumps(report["summary"]))
        for lang, p in report["per_language"].items():
            print(f"  {lang:<11} precision={p['precision']:.3f} recall={p['recall']:.3f} support={p['support']}")


if __name__ == "__main__":
    main()
