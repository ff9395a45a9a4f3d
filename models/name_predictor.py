"""Inference over a name-classifier checkpoint: the one object the service and evaluation use."""
from pathlib import Path

import torch

from models.checkpoint import CheckpointError, load_checkpoint
from models.name_classifier import NameClassifier, NameClassifierConfig, collate
from models.name_text import CharVocab


def build_name_model(manifest: dict) -> NameClassifier:
    if manifest.get("kind") != "name-classifier":
        raise CheckpointError(f"not a name-classifier checkpoint (kind={manifest.get('kind')!r})")
    return NameClassifier(NameClassifierConfig(**manifest["config"]))


class NamePredictor:
    def __init__(self, model: NameClassifier, manifest: dict):
        self.model, self.manifest = model, manifest
        self.vocab = CharVocab(manifest["vocab"])
        self.labels: list[str] = manifest["labels"]
        self.countries: dict[str, list[str]] = manifest["countries"]
        self.temperature = float(manifest.get("temperature", 1.0))
        self.version: str = manifest["model_version"]
        if len(self.labels) != model.config.num_labels or len(self.vocab) != model.config.vocab_size:
            raise CheckpointError("manifest labels/vocab sizes disagree with the model config")

    @classmethod
    def load(cls, directory: Path) -> "NamePredictor":
        return cls(*load_checkpoint(directory, build_name_model))

    @torch.inference_mode()
    def logits(self, names: list[str]) -> torch.Tensor:
        ids, lengths = collate([self.vocab.encode(n) for n in names])
        return self.model(ids, lengths)

    def probabilities(self, names: list[str]) -> torch.Tensor:
        """Calibrated class probabilities [len(names), num_labels] in one batched forward pass."""
        return torch.softmax(self.logits(names) / self.temperature, dim=-1)
