"""Character-level name classifiers: one module, three recurrent cells (rnn, lstm, gru).

Embedding -> bidirectional 2-layer recurrent net over a *packed* batch (padding never
reaches the cell, so a name scores the same alone or in a batch; a batch without padding skips
the packing) -> final forward and
backward states -> linear layer over the languages.
"""
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from models.name_config import NameClassifierConfig, pad_ids

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
KERNELS = {"rnn": torch.rnn_tanh, "lstm": torch.lstm, "gru": torch.gru}  # what those modules call


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
        x = self.embed(ids)
        if not self.training and bool((lengths == ids.shape[1]).all()):
            h = self._unpadded_final_states(x)
        else:
            _, h = self.rnn(pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False))
            if isinstance(h, tuple):  # LSTM returns (h, c)
                h = h[0]
        last = torch.cat([h[-2], h[-1]], dim=-1)  # last layer, forward and backward directions
        return self.head(self.drop(last))

    def _unpadded_final_states(self, x: torch.Tensor) -> torch.Tensor:
        """Final states [2 * layers, batch, hidden] of a batch without padding (a single name always),
        from the recurrent kernel itself: packing and nn.RNNBase.forward's per-call weight bookkeeping
        cost ~130 µs of a single GRU name's ~1.1 ms (bench/model_limits.py), and neither changes the result."""
        c = self.config
        h0 = x.new_zeros(2 * c.num_layers, x.shape[0], c.hidden_size)
        weights = [w for layer in self.rnn.all_weights for w in layer]
        hx = (h0, h0) if c.arch == "lstm" else h0  # LSTM takes (h, c) and returns (out, h, c)
        # weights, biases, layers, no dropout, eval, bidirectional, batch_first
        return KERNELS[c.arch](x, hx, weights, True, c.num_layers, 0.0, False, True, True)[1]


def collate(id_lists: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad variable-length id lists into (ids [batch, max_len], lengths [batch])."""
    ids, lengths = pad_ids(id_lists)
    return torch.from_numpy(ids), torch.from_numpy(lengths)
