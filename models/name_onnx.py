"""A name classifier as an ONNX Runtime session, built in memory from the loaded torch module.

Why: a single name through torch's GRU kernel is ~36 small matrix products and ~10 element-wise
ops per time step, each a separate dispatch (~0.9 ms for one name on this CPU); ONNX Runtime runs
the same recurrent net as one fused operator per layer (~0.25 ms). Large batches stay with torch,
whose packed kernel is faster there (docs/benchmarks.md). The graph is made from the weights the
checkpoint loader has already verified, so there is no second weights file to keep in step;
`tests/test_names_models.py` checks that both runtimes give the same logits.
"""
import numpy as np
import torch

from models.name_classifier import NameClassifier, collate
from models.onnx_session import cpu_session

OPS = {"gru": "GRU", "lstm": "LSTM", "rnn": "RNN"}
# ONNX orders the gates differently from torch: (source order) -> (ONNX order), as chunk indices.
GATE_ORDER = {"gru": [1, 0, 2],      # torch r, z, n  -> ONNX z, r, h
              "lstm": [0, 3, 1, 2],  # torch i, f, g, o -> ONNX i, o, f, c
              "rnn": [0]}


def _gates(w: torch.Tensor, arch: str) -> np.ndarray:
    chunks = w.detach().float().numpy().reshape(len(GATE_ORDER[arch]), -1, *w.shape[1:])
    return np.concatenate([chunks[i] for i in GATE_ORDER[arch]])


def build_graph(model: NameClassifier) -> bytes:
    """Serialised ONNX model: ids [batch, time] int64, lengths [batch] int32 -> logits [batch, labels]."""
    from onnx import TensorProto, helper, numpy_helper  # only needed to build the graph

    c, params = model.config, dict(model.named_parameters())
    weights, nodes = [], []

    def const(name: str, value: np.ndarray) -> str:
        weights.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    nodes += [helper.make_node("Gather", [const("embedding", params["embed.weight"].detach().numpy()), "ids"], ["x_bt"]),
              helper.make_node("Transpose", ["x_bt"], ["x0"], perm=[1, 0, 2])]  # [time, batch, embed]
    x, extra = "x0", {"linear_before_reset": 1} if c.arch == "gru" else {}  # torch's GRU applies r after W_hn h
    if c.arch == "rnn":
        extra["activations"] = ["Tanh", "Tanh"]
    for layer in range(c.num_layers):
        w, r, b = [], [], []
        for suffix in (f"_l{layer}", f"_l{layer}_reverse"):
            w.append(_gates(params[f"rnn.weight_ih{suffix}"], c.arch))
            r.append(_gates(params[f"rnn.weight_hh{suffix}"], c.arch))
            b.append(np.concatenate([_gates(params[f"rnn.bias_ih{suffix}"], c.arch),
                                     _gates(params[f"rnn.bias_hh{suffix}"], c.arch)]))
        nodes += [
            helper.make_node(OPS[c.arch], [x, const(f"W{layer}", np.stack(w)), const(f"R{layer}", np.stack(r)),
                                           const(f"B{layer}", np.stack(b)), "lengths"],
                             [f"y{layer}", f"h{layer}"], direction="bidirectional", hidden_size=c.hidden_size, **extra),
            # y: [time, directions, batch, hidden] -> the next layer's input [time, batch, 2 * hidden]
            helper.make_node("Transpose", [f"y{layer}"], [f"yt{layer}"], perm=[0, 2, 1, 3]),
            helper.make_node("Reshape", [f"yt{layer}", const(f"shape{layer}", np.array([0, 0, -1]))], [f"x{layer + 1}"]),
        ]
        x = f"x{layer + 1}"
    top = f"h{c.num_layers - 1}"  # final states of the last layer: [directions, batch, hidden]
    nodes += [helper.make_node("Transpose", [top], ["last_t"], perm=[1, 0, 2]),
              helper.make_node("Reshape", ["last_t", const("last_shape", np.array([0, -1]))], ["last"]),
              helper.make_node("Gemm", ["last", const("head_w", params["head.weight"].detach().numpy()),
                                        const("head_b", params["head.bias"].detach().numpy())], ["logits"], transB=1)]
    graph = helper.make_graph(nodes, f"names-{c.arch}",
                              [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "time"]),
                               helper.make_tensor_value_info("lengths", TensorProto.INT32, ["batch"])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", c.num_labels])],
                              weights)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9).SerializeToString()


class OnnxNameModel:
    """Logits for padded ids, like NameClassifier.forward in eval mode, from an ONNX Runtime session."""

    def __init__(self, model: NameClassifier, threads: int = 1):
        self.session = cpu_session(build_graph(model), threads)

    def __call__(self, id_lists: list[list[int]]) -> torch.Tensor:
        ids, lengths = collate(id_lists)  # the same padding as torch's path
        logits, = self.session.run(["logits"], {"ids": ids.numpy(), "lengths": lengths.numpy().astype(np.int32)})
        return torch.from_numpy(logits)
