"""Inference over a name-classifier checkpoint: the one object the service and evaluation use.

Two runtimes give the logits (the same to 1e-5, tests/test_names_models.py): "onnx" loads the weights
as numpy arrays and runs every batch in ONNX Runtime, so a serving worker never imports torch;
"torch" is the training code's NameClassifier (small batches optionally in ONNX Runtime). Everything
after the logits (calibration, full names, script evidence) is numpy, shared by both."""
from pathlib import Path

import numpy as np

from models import name_scripts, name_text, name_words
from models.checkpoint import CheckpointError, cache_version, load_arrays, load_checkpoint, state_arrays
from models.name_config import NameClassifierConfig, parameter_shapes
from models.name_onnx import OnnxNameModel
from models.name_text import CharVocab, normalise
from models.softmax import log_softmax, softmax

RUNTIMES = ("onnx", "torch")
# Besides the weights and the manifest, what decides a served probability: this file (calibration, how a full
# name's parts combine), the script, diacritic and particle rules, how a name comes apart into words and how it
# is read into characters, and the family-name lists.
SERVED_CODE = (Path(__file__), Path(name_scripts.__file__), Path(name_words.__file__), Path(name_text.__file__),
               *map(name_scripts.family_name_list_file, name_scripts.FAMILY_NAME_LISTS))


def name_config(manifest: dict) -> NameClassifierConfig:
    if manifest.get("kind") != "name-classifier":
        raise CheckpointError(f"not a name-classifier checkpoint (kind={manifest.get('kind')!r})")
    return NameClassifierConfig(**manifest["config"])


def build_name_model(manifest: dict):
    from models.name_classifier import NameClassifier
    return NameClassifier(name_config(manifest))


def prior_shift(adjustment: dict | None, num_labels: int) -> np.ndarray:
    """Logit adjustment (Menon et al., 2021): subtracting tau * log(prior) moves the model from the
    corpus's label prior (47 % Russian) towards a flatter one, prior^(1 - tau); tau = 0.5 is what
    count^-0.5 class weights aim at, applied after training instead of distorting the loss."""
    if not adjustment:
        return np.zeros(num_labels, dtype=np.float32)
    counts = np.asarray(adjustment["train_label_counts"], dtype=np.float32)
    if len(counts) != num_labels or float(counts.min()) <= 0:
        raise CheckpointError("prior_adjustment.train_label_counts must give a positive count per label")
    return (float(adjustment["tau"]) * np.log(counts / counts.sum())).astype(np.float32)


class TorchNames:
    """A NameClassifier (torch) as id lists -> logits; batches of up to onnx_max_batch names run in
    ONNX Runtime instead (~3x faster for one name, docs/benchmarks.md)."""

    def __init__(self, model, onnx_max_batch: int = 0, threads: int = 1):
        self.model, self.config, self.onnx_max_batch = model, model.config, onnx_max_batch
        self.onnx = OnnxNameModel(model.config, state_arrays(model), threads) if onnx_max_batch > 0 else None

    def __call__(self, id_lists: list[list[int]]) -> np.ndarray:
        if len(id_lists) <= self.onnx_max_batch:
            return self.onnx(id_lists)
        import torch

        from models.name_classifier import collate
        with torch.inference_mode():
            return self.model(*collate(id_lists)).numpy()


class NamePredictor:
    def __init__(self, model, manifest: dict):
        """model: id lists -> logits [batch, labels] as numpy, with a .config (TorchNames, OnnxNameModel)."""
        self.model, self.manifest = model, manifest
        self.vocab = CharVocab(manifest["vocab"])
        self.labels: list[str] = manifest["labels"]
        self.index = {label: i for i, label in enumerate(self.labels)}
        self.countries: dict[str, list[str]] = manifest["countries"]
        self.temperature = float(manifest.get("temperature", 1.0))
        self.prior_shift = prior_shift(manifest.get("prior_adjustment"), len(self.labels))
        self.version: str = manifest["model_version"]
        self.cache_version = cache_version(self.version, [manifest], SERVED_CODE)  # cached answers' key
        if len(self.labels) != model.config.num_labels or len(self.vocab) != model.config.vocab_size:
            raise CheckpointError("manifest labels/vocab sizes disagree with the model config")

    @classmethod
    def load(cls, directory: Path, runtime: str = "torch", onnx_max_batch: int = 0, threads: int = 1) -> "NamePredictor":
        """runtime="onnx": every batch in ONNX Runtime, torch never imported (the service's default);
        "torch": the training code's module, batches of up to onnx_max_batch in ONNX Runtime."""
        if runtime == "onnx":
            params, manifest = load_arrays(directory, lambda m: parameter_shapes(name_config(m)))
            return cls(OnnxNameModel(name_config(manifest), params, threads), manifest)
        if runtime == "torch":
            model, manifest = load_checkpoint(directory, build_name_model)
            return cls(TorchNames(model, onnx_max_batch, threads), manifest)
        raise ValueError(f"runtime must be one of {RUNTIMES}, got {runtime!r}")

    def logits(self, names: list[str]) -> np.ndarray:
        if not names:  # neither runtime can pad an empty batch
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        return self.model([self.vocab.encode(n) for n in names])

    def logits_in_batches(self, names: list[str], batch_size: int = 2048) -> np.ndarray:
        """Logits for a whole split (evaluation, calibration, distillation), batch_size names per pass."""
        return np.concatenate([self.logits(names[i : i + batch_size]) for i in range(0, len(names), batch_size)])

    def calibrate(self, logits: np.ndarray) -> np.ndarray:
        """logits / T - tau * log(training prior): what every probability the service gives is a softmax of."""
        return logits / self.temperature - self.prior_shift

    def calibrated_logits(self, names: list[str]) -> np.ndarray:
        return self.calibrate(self.logits(names))

    def probabilities(self, names: list[str]) -> np.ndarray:
        """Calibrated probabilities [len(names), num_labels]: every token of every name in one forward pass,
        tokens combined by geometric mean, then script and diacritic evidence (models/name_scripts.py)."""
        normalised = [normalise(n) for n in names]
        parts = [name_scripts.tokens(n) for n in normalised]  # never empty: '' is one token
        logp = log_softmax(self.calibrated_logits([t for ts in parts for t in ts]))
        if len(logp) > len(names):  # some names have several parts: average their log-probabilities
            owner = np.array([i for i, ts in enumerate(parts) for _ in ts])
            counts = np.array([len(ts) for ts in parts], dtype=logp.dtype)
            summed = np.zeros((len(names), logp.shape[1]), dtype=logp.dtype)
            np.add.at(summed, owner, logp)
            logp = summed / counts[:, None]
        probs = softmax(logp)
        for name, row in zip(normalised, probs):
            self._apply_evidence(name, row)
        return probs

    def _apply_evidence(self, name: str, row: np.ndarray) -> None:
        """Script, diacritic and particle evidence, applied in place to one name's probabilities."""
        allowed = name_scripts.allowed_labels(name)
        if allowed == {"Chinese", "Japanese"} and allowed <= self.index.keys():
            share = name_scripts.japanese_share_of_han(name)
            row[:] = 0
            row[self.index["Japanese"]], row[self.index["Chinese"]] = share, 1 - share
            return
        if allowed and allowed & self.index.keys():
            mask = np.zeros_like(row)
            mask[[self.index[label] for label in allowed if label in self.index]] = 1
            row[:] = row * mask if float((row * mask).sum()) > 0 else mask
        elif not allowed:  # Latin-only names: diacritics and particles the corpus cannot teach
            boosts = [(self.index[label], factor) for label, factor in name_scripts.latin_evidence(name)
                      if label in self.index]
            if not boosts:
                return
            for i, boost in boosts:
                row[i] *= boost
        row /= row.sum()
