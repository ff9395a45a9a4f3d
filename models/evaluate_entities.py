"""Evaluate the entity reviewer (encoder + RNN) on the balanced held-out test split.

    python -m models.evaluate_entities

Writes docs/reports/entity-rnn/{report.json,loss.png,reliability.png} (with --int8:
docs/reports/entity-rnn-int8/, the encoder's Linear layers quantised by torch; with --runtime onnx --int8:
docs/reports/entity-rnn-onnx-int8/, the encoder exactly as the service runs it by default):
accuracy, precision/recall of "valid", accuracy per negative kind, how well the score is calibrated, and
what a client that compares the score with a threshold of its own would get (operating points).
"""
import argparse
import json
from pathlib import Path

import numpy as np

from models import metrics
from models.entity_data import build_split, read_lexicon
from models.entity_reviewer import RUNTIMES, EntityReviewer
from models.paths import CHECKPOINTS, ENTITIES_FILE, REPORTS


def accuracy_by_kind(examples, pred: list[int]) -> dict:
    """Accuracy per example kind ("positive" and each negative kind)."""
    out = {}
    for kind in sorted({e.kind for e in examples}):
        idx = [i for i, e in enumerate(examples) if e.kind == kind]
        out[kind] = {"accuracy": round(sum(pred[i] == examples[i].label for i in idx) / len(idx), 4), "count": len(idx)}
    return out


THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def operating_points(scores: np.ndarray, examples, thresholds=THRESHOLDS) -> list[dict]:
    """Per threshold on the score: accuracy, precision and recall of "valid", and each negative kind rejected."""
    y = np.array([e.label for e in examples]) == 1
    kinds = np.array([e.kind for e in examples])
    rows = []
    for t in thresholds:
        valid = scores >= t
        rows.append({"threshold": t, "accuracy": round(float((valid == y).mean()), 4),
                     "valid_precision": round(float((valid & y).sum() / max(valid.sum(), 1)), 4),
                     "valid_recall": round(float((valid & y).sum() / max(y.sum(), 1)), 4),
                     "rejected": {k: round(float((~valid[kinds == k]).mean()), 4)
                                  for k in sorted(set(kinds[~y]))}})
    return rows


def evaluate(encoder_dir: Path, rnn_dir: Path, data: Path = ENTITIES_FILE, seed: int = 0, limit: int = 0,
             out_dir: Path | None = None, int8: bool = False, runtime: str = "torch") -> dict:
    from models.train_entities import batches, featurize
    reviewer = EntityReviewer.load(encoder_dir, rnn_dir, int8=int8, runtime=runtime)
    test = build_split(read_lexicon(data), "test", seed, limit)
    feats = featurize(reviewer.encoder, [e.text for e in test], desc="test features", pooling=reviewer.pooling)
    scores = np.concatenate([reviewer.p_valid(x, lengths) for x, lengths, _ in batches(feats, [0] * len(feats), 1024)])
    pred = (scores >= reviewer.threshold).astype(int).tolist()
    y = [e.label for e in test]
    m = metrics.confusion(y, pred, 2)
    per = metrics.per_class(m, ["invalid", "valid"])
    by_kind = accuracy_by_kind(test, pred)
    ece, reliability = metrics.expected_calibration_error(np.stack([1 - scores, scores], 1), y)
    summary = {"model_version": reviewer.version, "encoder_fingerprint": reviewer.encoder.fingerprint,
               "encoder_int8": int8, "encoder_runtime": runtime, "features": reviewer.pooling, "test_examples": len(test), "accuracy": round(sum(p == t for p, t in zip(pred, y)) / len(y), 4),
               "valid_precision": per["valid"]["precision"], "valid_recall": per["valid"]["recall"],
               "accuracy_by_kind": by_kind, "score_ece": round(ece, 4)}
    name = "entity-rnn" + ("-onnx" if runtime == "onnx" else "") + ("-int8" if int8 else "")
    out_dir = Path(out_dir or REPORTS / name)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {"summary": summary, "confusion": m.tolist(), "operating_points": operating_points(scores, test),
              "reliability": reliability}
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    metrics.plot_reliability({"score": reliability}, out_dir / "reliability.png", "entity review: confidence vs accuracy")
    metrics.plot_curves(reviewer.manifest["training"]["history"], ["train_loss", "val_loss"], out_dir / "loss.png",
                        "entity RNN loss")
    return report


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--encoder", type=Path, default=CHECKPOINTS / "entity-encoder")
    ap.add_argument("--rnn", type=Path, default=CHECKPOINTS / "entity-rnn")
    ap.add_argument("--data", type=Path, default=ENTITIES_FILE)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--int8", action="store_true", help="int8 dynamic quantisation of the encoder (served by default)")
    ap.add_argument("--runtime", choices=RUNTIMES, default="torch",
                    help="encoder in transformers/torch, or its ONNX Runtime export (served by default)")
    args = ap.parse_args(argv)
    report = evaluate(args.encoder, args.rnn, args.data, args.seed, int8=args.int8, runtime=args.runtime)
    print(json.dumps(report["summary"], indent=2))


if __name__ == "__main__":
    main()
