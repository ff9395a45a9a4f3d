"""Character-level name classifiers: one module, three recurrent cells (rnn, lstm, gru).

Embedding -> bidirectional 2-layer recurrent net over a *packed* batch (padding never
reaches the cell, so a name scores the same alone or in a batch) -> final forward and
backward states -> linear layer over the languages.
"""
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


@dataclass
class NameClassifierConfig:
    arch: str = "gru"
    vocab_size: int = 64
    num_labels: int = 18
    embed_dim: int = 64
    hidden_size: int = 128
    num_layers: int = 2
    dropout: float = 0.3

    def to_dict(self):
        return asdict(self)


class NameClassifier(nn.Module):
    def __init__(self, config: NameClassifierConfig):
        super().__init__()
        if config.arch not in CELLS:
            raise ValueError(f"unknown arch {config.arch!r}; expected one of {sorted(CELLS)}")
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.embed_dim, padding_idx=0)
        self.rnn = CELLS[config.arch](config.embed_dim, config.hidden_size, num_layers=config.num_layers,
                                      batch_first=True, bidirectional=True,
                                      dropout=config.dropout if config.num_layers > 1 else 0.0)
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(2 * config.hidden_size, config.num_labels)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits [batch, num_labels] for padded ids [batch, max_len] with true lengths [batch]."""
        packed = pack_padded_sequence(self.embed(ids), lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, h = self.rnn(packed)
        if isinstance(h, tuple):  # LSTM returns (h, c)
            h = h[0]
        last = torch.cat([h[-2], h[-1]], dim=-1)  # last layer, forward and backward directions
        return self.head(self.drop(last))


def collate(id_lists: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad variable-length id lists into (ids [batch, max_len], lengths [batch])."""
    lengths = torch.tensor([len(x) for x in id_lists])
    ids = pad_sequence([torch.tensor(x) for x in id_lists], batch_first=True, padding_value=0)
    return ids, lengths
