"""A name classifier's hyper-parameters and the weights they imply, without importing torch:
what the serving workers need to check a checkpoint and run it in ONNX Runtime (models/name_onnx.py)."""
from dataclasses import dataclass

import numpy as np

GATES = {"rnn": 1, "lstm": 4, "gru": 3}  # weight blocks per recurrent layer, as torch stacks them


@dataclass
class NameClassifierConfig:
    arch: str = "gru"
    vocab_size: int = 64
    num_labels: int = 18
    embed_dim: int = 64
    hidden_size: int = 128
    num_layers: int = 2
    dropout: float = 0.3


def parameter_shapes(c: NameClassifierConfig) -> dict[str, tuple]:
    """NameClassifier's state_dict shapes (models/name_classifier.py; a test holds the two together)."""
    if c.arch not in GATES:
        raise ValueError(f"unknown arch {c.arch!r}; expected one of {sorted(GATES)}")
    gated = GATES[c.arch] * c.hidden_size
    shapes = {"embed.weight": (c.vocab_size, c.embed_dim)}
    for layer in range(c.num_layers):
        inputs = c.embed_dim if layer == 0 else 2 * c.hidden_size
        for suffix in (f"_l{layer}", f"_l{layer}_reverse"):
            shapes |= {f"rnn.weight_ih{suffix}": (gated, inputs), f"rnn.weight_hh{suffix}": (gated, c.hidden_size),
                       f"rnn.bias_ih{suffix}": (gated,), f"rnn.bias_hh{suffix}": (gated,)}
    return shapes | {"head.weight": (c.num_labels, 2 * c.hidden_size), "head.bias": (c.num_labels,)}


def pad_ids(id_lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Pad variable-length id lists into (ids [batch, max_len] int64, lengths [batch] int64); 0 is padding."""
    lengths = np.array([len(x) for x in id_lists], dtype=np.int64)
    ids = np.zeros((len(id_lists), int(lengths.max())), dtype=np.int64)
    for i, x in enumerate(id_lists):
        ids[i, : len(x)] = x
    return ids, lengths
