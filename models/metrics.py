"""Classification metrics and plots shared by the name and entity evaluations."""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: CLIs and CI have no display
import matplotlib.pyplot as plt
import numpy as np


def confusion(y_true, y_pred, n: int) -> np.ndarray:
    m = np.zeros((n, n), dtype=int)
    np.add.at(m, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return m


def per_class(m: np.ndarray, labels: list[str]) -> dict:
    """Precision, recall, F1 and support per class from a confusion matrix (rows = truth)."""
    tp = np.diag(m).astype(float)
    precision = np.divide(tp, m.sum(0), out=np.zeros_like(tp), where=m.sum(0) > 0)
    recall = np.divide(tp, m.sum(1), out=np.zeros_like(tp), where=m.sum(1) > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(tp), where=(precision + recall) > 0)
    return {lab: {"precision": round(float(p), 4), "recall": round(float(r), 4), "f1": round(float(f), 4),
                  "support": int(s)} for lab, p, r, f, s in zip(labels, precision, recall, f1, m.sum(1))}


def expected_calibration_error(probs: np.ndarray, y_true, bins: int = 15) -> tuple[float, list[dict]]:
    """Top-label ECE with equal-width confidence bins; also returns the bins for a reliability diagram."""
    conf, pred = probs.max(1), probs.argmax(1)
    correct = (pred == np.asarray(y_true)).astype(float)
    edges = np.linspace(0, 1, bins + 1)
    ece, table = 0.0, []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (conf > lo) & (conf <= hi)
        if sel.any():
            gap = abs(correct[sel].mean() - conf[sel].mean())
            ece += sel.mean() * gap
            table.append({"lo": float(lo), "hi": float(hi), "count": int(sel.sum()),
                          "accuracy": float(correct[sel].mean()), "confidence": float(conf[sel].mean())})
    return float(ece), table


def plot_confusion(m: np.ndarray, labels: list[str], path: Path, title: str):
    norm = m / np.maximum(m.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(9, 8))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=90)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted"); ax.set_ylabel("true"); ax.set_title(title)
    fig.colorbar(im, ax=ax, label="fraction of true class")
    fig.tight_layout(); fig.savefig(path, dpi=90); plt.close(fig)


def plot_curves(history: list[dict], keys: list[str], path: Path, title: str, x: str = "epoch"):
    fig, ax = plt.subplots(figsize=(6, 4))
    for k in keys:
        ax.plot([h[x] for h in history], [h[k] for h in history], label=k)
    ax.set_xlabel(x); ax.set_ylabel("loss"); ax.set_title(title); ax.legend()
    fig.tight_layout(); fig.savefig(path, dpi=90); plt.close(fig)


def plot_reliability(tables: dict[str, list[dict]], path: Path, title: str):
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect")
    for name, table in tables.items():
        ax.plot([b["confidence"] for b in table], [b["accuracy"] for b in table], "o-", label=name)
    ax.set_xlabel("confidence"); ax.set_ylabel("accuracy"); ax.set_title(title); ax.legend()
    fig.tight_layout(); fig.savefig(path, dpi=90); plt.close(fig)
