"""The classic i2h/i2o recurrent cell over 768-dim character features, 2 classes.

    combined = cat(x_t, h_{t-1})
    h_t      = i2h(combined)
    out_t    = LogSoftmax(i2o(combined))

Run batched over padded sequences: a sequence's hidden state stops updating after its last
character, and its output is the one computed at its last character, so padding never
changes a result. Served by its numpy twin, models/entity_cell.py.
"""
import torch
from torch import nn

from models.entity_cell import EntityRNNConfig


class EntityRNN(nn.Module):
    def __init__(self, config: EntityRNNConfig):
        super().__init__()
        self.config = config
        combined = config.input_size + config.hidden_size
        self.i2h = nn.Linear(combined, config.hidden_size)
        self.i2o = nn.Linear(combined, config.num_classes)
        self.softmax = nn.LogSoftmax(dim=-1)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Log-probabilities [batch, num_classes] for features x [batch, max_len, input] and lengths [batch]."""
        batch, steps, _ = x.shape
        h = x.new_zeros(batch, self.config.hidden_size)
        out = x.new_zeros(batch, self.config.num_classes)
        for t in range(steps):
            combined = torch.cat([x[:, t], h], dim=1)
            alive = (lengths > t).unsqueeze(1)
            out = torch.where(alive, self.softmax(self.i2o(combined)), out)
            h = torch.where(alive, self.i2h(combined), h)
        return out
