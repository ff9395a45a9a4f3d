"""The i2h/i2o cell's configuration and its serving implementation in numpy (no torch import).

models/entity_rnn.py is the same cell as a torch module, for training; tests/test_entities.py holds
the two to the same outputs and the same weight names and shapes."""
from dataclasses import dataclass

import numpy as np

from models.softmax import log_softmax


@dataclass
class EntityRNNConfig:
    input_size: int = 768
    hidden_size: int = 128
    num_classes: int = 2


def parameter_shapes(c: EntityRNNConfig) -> dict[str, tuple]:
    combined = c.input_size + c.hidden_size
    return {"i2h.weight": (c.hidden_size, combined), "i2h.bias": (c.hidden_size,),
            "i2o.weight": (c.num_classes, combined), "i2o.bias": (c.num_classes,)}


class EntityCell:
    """combined = cat(x_t, h_{t-1}); h_t = i2h(combined); out_t = LogSoftmax(i2o(combined)), batched over padded
    sequences: a sequence's state and output stop changing after its last character."""

    def __init__(self, config: EntityRNNConfig, params: dict[str, np.ndarray]):
        self.config = config
        self.i2h_w, self.i2h_b = params["i2h.weight"].T, params["i2h.bias"]
        self.i2o_w, self.i2o_b = params["i2o.weight"].T, params["i2o.bias"]

    def __call__(self, x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Log-probabilities [batch, num_classes] for features x [batch, max_len, input] and lengths [batch]."""
        batch, steps, _ = x.shape
        h = np.zeros((batch, self.config.hidden_size), dtype=np.float32)
        out = np.zeros((batch, self.config.num_classes), dtype=np.float32)
        for t in range(steps):
            combined = np.concatenate([x[:, t], h], axis=1)
            alive = (lengths > t)[:, None]
            out = np.where(alive, log_softmax(combined @ self.i2o_w + self.i2o_b), out)
            h = np.where(alive, combined @ self.i2h_w + self.i2h_b, h)
        return out
