"""Inference over a name-classifier checkpoint: the one object the service and evaluation use."""
from pathlib import Path

import torch

from models.checkpoint import CheckpointError, load_checkpoint
from models.name_classifier import NameClassifier, NameClassifierConfig, collate
from models import name_scripts
from models.name_text import CharVocab, normalise


def build_name_model(manifest: dict) -> NameClassifier:
    if manifest.get("kind") != "name-classifier":
        raise CheckpointError(f"not a name-classifier checkpoint (kind={manifest.get('kind')!r})")
    return NameClassifier(NameClassifierConfig(**manifest["config"]))


def prior_shift(adjustment: dict | None, num_labels: int) -> torch.Tensor:
    """Logit adjustment (Menon et al., 2021): subtracting tau * log(prior) moves the model from the
    corpus's label prior (47 % Russian) towards a flatter one, prior^(1 - tau); tau = 0.5 is what
    count^-0.5 class weights aim at, applied after training instead of distorting the loss."""
    if not adjustment:
        return torch.zeros(num_labels)
    counts = torch.tensor(adjustment["train_label_counts"], dtype=torch.float)
    if len(counts) != num_labels or float(counts.min()) <= 0:
        raise CheckpointError("prior_adjustment.train_label_counts must give a positive count per label")
    return float(adjustment["tau"]) * torch.log(counts / counts.sum())


class NamePredictor:
    def __init__(self, model: NameClassifier, manifest: dict, onnx_max_batch: int = 0, threads: int = 1):
        """onnx_max_batch > 0: batches of up to that many name parts run in ONNX Runtime
        (models/name_onnx.py, ~3x faster for one name), larger ones in torch."""
        self.model, self.manifest = model, manifest
        self.vocab = CharVocab(manifest["vocab"])
        self.labels: list[str] = manifest["labels"]
        self.index = {label: i for i, label in enumerate(self.labels)}
        self.countries: dict[str, list[str]] = manifest["countries"]
        self.temperature = float(manifest.get("temperature", 1.0))
        self.prior_shift = prior_shift(manifest.get("prior_adjustment"), len(self.labels))
        self.version: str = manifest["model_version"]
        if len(self.labels) != model.config.num_labels or len(self.vocab) != model.config.vocab_size:
            raise CheckpointError("manifest labels/vocab sizes disagree with the model config")
        self.onnx_max_batch = onnx_max_batch
        if onnx_max_batch > 0:
            from models.name_onnx import OnnxNameModel
            self.onnx = OnnxNameModel(model, threads)

    @classmethod
    def load(cls, directory: Path, onnx_max_batch: int = 0, threads: int = 1) -> "NamePredictor":
        return cls(*load_checkpoint(directory, build_name_model), onnx_max_batch, threads)

    @torch.inference_mode()
    def logits(self, names: list[str]) -> torch.Tensor:
        id_lists = [self.vocab.encode(n) for n in names]
        if len(id_lists) <= self.onnx_max_batch:
            return self.onnx(id_lists)
        return self.model(*collate(id_lists))

    @torch.inference_mode()
    def logits_in_batches(self, names: list[str], batch_size: int = 2048) -> torch.Tensor:
        """Logits for a whole split (evaluation, calibration, distillation), batch_size names per pass."""
        return torch.cat([self.logits(names[i : i + batch_size]) for i in range(0, len(names), batch_size)])

    def calibrate(self, logits: torch.Tensor) -> torch.Tensor:
        """logits / T - tau * log(training prior): what every probability the service gives is a softmax of."""
        return logits / self.temperature - self.prior_shift

    def calibrated_logits(self, names: list[str]) -> torch.Tensor:
        return self.calibrate(self.logits(names))

    @torch.inference_mode()
    def probabilities(self, names: list[str]) -> torch.Tensor:
        """Calibrated probabilities [len(names), num_labels]: every token of every name in one forward pass,
        tokens combined by geometric mean, then script and diacritic evidence (models/name_scripts.py)."""
        normalised = [normalise(n) for n in names]
        parts = [name_scripts.tokens(n) for n in normalised]  # never empty: '' is one token
        logp = torch.log_softmax(self.calibrated_logits([t for ts in parts for t in ts]), dim=-1)
        if len(logp) > len(names):  # some names have several parts: average their log-probabilities
            owner = torch.tensor([i for i, ts in enumerate(parts) for _ in ts])
            counts = torch.tensor([len(ts) for ts in parts], dtype=logp.dtype)
            logp = torch.zeros(len(names), logp.shape[1]).index_add_(0, owner, logp) / counts[:, None]
        probs = torch.softmax(logp, dim=-1)
        for name, row in zip(normalised, probs):
            self._apply_evidence(name, row)
        return probs

    def _apply_evidence(self, name: str, row: torch.Tensor) -> None:
        """Script, diacritic and particle evidence, applied in place to one name's probabilities."""
        allowed = name_scripts.allowed_labels(name)
        if allowed == {"Chinese", "Japanese"} and allowed <= self.index.keys():
            share = name_scripts.japanese_share_of_han(name)
            row.zero_()
            row[self.index["Japanese"]], row[self.index["Chinese"]] = share, 1 - share
            return
        if allowed and allowed & self.index.keys():
            mask = torch.zeros_like(row)
            mask[[self.index[label] for label in allowed if label in self.index]] = 1
            row.copy_(row * mask if float((row * mask).sum()) > 0 else mask)
        elif not allowed:  # Latin-only names: diacritics and particles the corpus cannot teach
            boosts = [(self.index[label], factor) for label, factor in name_scripts.latin_evidence(name)
                      if label in self.index]
            if not boosts:
                return
            for i, boost in boosts:
                row[i] *= boost
        row /= row.sum()
