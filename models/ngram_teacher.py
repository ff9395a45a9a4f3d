"""Character n-gram teachers for distillation (fastText-style), trained in seconds and never served.

Why: a student learns only what its teachers know, and thirty recurrent teachers averaged reach test
0.826 (docs/names-experiments.md, "Made-up names as distillation data"). A bag of hashed character 1-5-grams with the word
boundaries marked (`^` and `$`) is a model of another kind, with other errors: alone it scores like one
GRU, and averaged with recurrent teachers it adds what they miss (docs/names-experiments.md has the measurements).
"""
import random
import zlib

import torch
from torch import nn

from models.calibration import fit_temperature_to_logits

BUCKETS = 1 << 18  # hashed n-gram ids; collisions only share an embedding row
MAX_N = 5


def gram_ids(name: str) -> list[int]:
    text = f"^{name}$"
    return [zlib.crc32(f"{n}:{text[i:i + n]}".encode("utf-8", "surrogatepass")) % BUCKETS
            for n in range(1, MAX_N + 1) for i in range(len(text) - n + 1)]


def bags(names: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, offsets) for nn.EmbeddingBag: every name's n-gram ids, concatenated."""
    ids, offsets = [], []
    for name in names:
        offsets.append(len(ids))
        ids += gram_ids(name)
    return torch.tensor(ids, dtype=torch.long), torch.tensor(offsets, dtype=torch.long)


class NgramClassifier(nn.Module):
    def __init__(self, num_labels: int, dim: int = 96, dropout: float = 0.2):
        super().__init__()
        self.embed = nn.EmbeddingBag(BUCKETS, dim, mode="mean", sparse=True)  # sparse: Adam touches only used rows
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(dim, num_labels)

    def forward(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.embed(ids, offsets)))


class NgramTeacher:
    """A trained NgramClassifier with its temperature, answering like a NamePredictor teacher does."""

    def __init__(self, model: NgramClassifier, temperature: float, val_accuracy: float):
        self.model, self.temperature, self.val_accuracy = model.eval(), temperature, val_accuracy

    @torch.no_grad()
    def logits_in_batches(self, names: list[str], batch_size: int = 4096) -> torch.Tensor:
        return torch.cat([self.model(*bags(names[i:i + batch_size])) for i in range(0, len(names), batch_size)])

    def calibrate(self, logits: torch.Tensor) -> torch.Tensor:
        return logits / self.temperature


def train_ngram_teacher(train_rows, val_rows, num_labels: int, weights: torch.Tensor, seed: int,
                        epochs: int = 12, lr: float = 5e-3, batch_size: int = 64) -> NgramTeacher:
    """The epoch with the best validation accuracy, its temperature fitted on validation (as for the others)."""
    torch.manual_seed(seed)
    rng = random.Random(seed)
    model = NgramClassifier(num_labels)
    opts = [torch.optim.SparseAdam(list(model.embed.parameters()), lr=lr), torch.optim.Adam(model.head.parameters(), lr=lr)]
    loss_fn = nn.CrossEntropyLoss(weight=weights)
    val_names, val_y = [n for n, _ in val_rows], torch.tensor([y for _, y in val_rows])
    best, best_state, best_logits = -1.0, None, None
    for _ in range(epochs):
        model.train()
        rows = list(train_rows)
        rng.shuffle(rows)
        for i in range(0, len(rows), batch_size):
            chunk = rows[i:i + batch_size]
            loss = loss_fn(model(*bags([n for n, _ in chunk])), torch.tensor([y for _, y in chunk]))
            for opt in opts:
                opt.zero_grad()
            loss.backward()
            for opt in opts:
                opt.step()
        model.eval()
        with torch.no_grad():
            logits = model(*bags(val_names))
        accuracy = float((logits.argmax(-1) == val_y).float().mean())
        if accuracy > best:
            best, best_state, best_logits = accuracy, {k: v.clone() for k, v in model.state_dict().items()}, logits
    model.load_state_dict(best_state)
    return NgramTeacher(model, fit_temperature_to_logits(best_logits, val_y), best)
