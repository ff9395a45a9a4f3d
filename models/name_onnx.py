"""A name classifier as an ONNX Runtime session, built in memory from verified checkpoint weights.

Why: a single name through torch's GRU kernel is ~36 small matrix products and ~10 element-wise
ops per time step, each a separate dispatch (~0.9 ms for one name on this CPU); ONNX Runtime runs
the same recurrent net as one fused operator per layer (~0.25 ms), and a serving worker that runs
every model here never imports torch (~270 MB of each worker's memory, docs/benchmarks.md). The
graph is made from the weights the checkpoint loader has verified (numpy arrays, or a torch module's
parameters), so there is no second weights file to keep in step; `tests/test_names_models.py`
checks that both runtimes give the same logits.
"""
from collections import defaultdict

import numpy as np

from models.name_config import NameClassifierConfig, pad_ids
from models.onnx_session import cpu_session

OPS = {"gru": "GRU", "lstm": "LSTM", "rnn": "RNN"}
# ONNX orders the gates differently from torch: (source order) -> (ONNX order), as chunk indices.
GATE_ORDER = {"gru": [1, 0, 2],      # torch r, z, n  -> ONNX z, r, h
              "lstm": [0, 3, 1, 2],  # torch i, f, g, o -> ONNX i, o, f, c
              "rnn": [0]}


# ONNX Runtime's recurrent operators slow down when a batch's lengths differ (GRU, 256 corpus names: 43 ms
# against torch's 28; run one length at a time: 25 ms), so batches from this size run one length at a time
# (below it the extra calls cost more than they save; bench/model_limits.py, docs/benchmarks.md).
SPLIT_BY_LENGTH_FROM = 48


def _gates(w: np.ndarray, arch: str) -> np.ndarray:
    chunks = np.asarray(w, dtype=np.float32).reshape(len(GATE_ORDER[arch]), -1, *w.shape[1:])
    return np.concatenate([chunks[i] for i in GATE_ORDER[arch]])


def build_graph(c: NameClassifierConfig, params: dict[str, np.ndarray]) -> bytes:
    """Serialised ONNX model: ids [batch, time] int64, lengths [batch] int32 -> logits [batch, labels]."""
    from onnx import TensorProto, helper, numpy_helper  # only needed to build the graph

    weights, nodes = [], []

    def const(name: str, value: np.ndarray) -> str:
        weights.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    nodes += [helper.make_node("Gather", [const("embedding", params["embed.weight"]), "ids"], ["x_bt"]),
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
              helper.make_node("Gemm", ["last", const("head_w", params["head.weight"]),
                                        const("head_b", params["head.bias"])], ["logits"], transB=1)]
    graph = helper.make_graph(nodes, f"names-{c.arch}",
                              [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "time"]),
                               helper.make_tensor_value_info("lengths", TensorProto.INT32, ["batch"])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", c.num_labels])],
                              weights)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9).SerializeToString()


class OnnxNameModel:
    """Logits for id lists, like NameClassifier.forward in eval mode, from an ONNX Runtime session."""

    def __init__(self, config: NameClassifierConfig, params: dict[str, np.ndarray], threads: int = 1):
        self.config = config
        # No arena: its working memory is small and per run, and an arena would keep every concurrent run's.
        self.session = cpu_session(build_graph(config, params), threads, arena=False)

    def __call__(self, id_lists: list[list[int]]) -> np.ndarray:
        if len(id_lists) < SPLIT_BY_LENGTH_FROM:
            return self._run(id_lists)
        by_length = defaultdict(list)
        for i, ids in enumerate(id_lists):
            by_length[len(ids)].append(i)
        out = np.empty((len(id_lists), self.config.num_labels), dtype=np.float32)
        for rows in by_length.values():
            out[rows] = self._run([id_lists[i] for i in rows])
        return out

    def _run(self, id_lists: list[list[int]]) -> np.ndarray:
        ids, lengths = pad_ids(id_lists)  # the same padding as torch's path
        logits, = self.session.run(["logits"], {"ids": ids, "lengths": lengths.astype(np.int32)})
        return logits
