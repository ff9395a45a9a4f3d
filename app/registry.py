"""Loads the configured checkpoints once per process and knows which are ready.

Readiness is an explicit list of expected models, each proven by one smoke inference at
load (an empty registry is never "ready"). A checkpoint that fails to load raises: the
worker does not boot, and gunicorn/supervisor show why in the log.
"""
import logging
import time
from pathlib import Path

from app.admission import HeavyWorkGate
from app.batcher import MicroBatcher
from app.config import comma_list, heavy_admitted
from app.libc import trim_heap
from models.entity_reviewer import EntityReviewer
from models.name_predictor import NamePredictor

log = logging.getLogger(__name__)


def heavy_share(heavy_chars: int):
    """Cost function: a batch's characters as a share of a heavy request's (`heavy_chars`; 0 = never heavy).
    Per model, because a character costs the entity encoder ~0.09 ms here and a name model ~0.015 ms."""
    if heavy_chars <= 0:
        return lambda texts: 0.0
    return lambda texts: sum(map(len, texts)) / heavy_chars


class ModelRegistry:
    def __init__(self, config: dict, metrics=None):
        self.expected = [f"names-{arch}" for arch in comma_list(config["NAME_MODELS"])]
        if config["ENTITY_REVIEW"]:
            self.expected.append("entity-review")
        self.config, self.metrics = config, metrics
        self.names: dict[str, NamePredictor] = {}
        self.entity: EntityReviewer | None = None
        self._infer: dict[str, object] = {}  # model id -> fn(list of inputs) -> list of outputs
        self._cost: dict[str, object] = {}   # model id -> fn(list of inputs) -> share of a heavy request's work
        self.gate = HeavyWorkGate(heavy_admitted(config), metrics.shed.inc if metrics else None)

    def load(self):
        for model_id in self.expected:
            if model_id == "entity-review":
                c = self.config
                reviewer = EntityReviewer.load(Path(c["ENTITY_ENCODER_DIR"]), Path(c["ENTITY_RNN_DIR"]),
                                               int8=c["ENTITY_ENCODER_INT8"], runtime=c["ENTITY_ENCODER_RUNTIME"],
                                               onnx_cache=Path(c["ONNX_CACHE_DIR"]), threads=c["TORCH_THREADS"])
                reviewer.scores(["手内肌萎缩"])  # smoke inference
                self.entity = reviewer
                self._expose(model_id, reviewer.version, reviewer.scores, heavy_share(c["HEAVY_ENTITY_CHARS"]))
            else:
                c = self.config
                predictor = NamePredictor.load(Path(c["NAME_CHECKPOINTS_DIR"]) / model_id, c["NAME_RUNTIME"],
                                               c["ONNX_MAX_BATCH"], c["TORCH_THREADS"])
                predictor.probabilities(["Nakamura"])  # smoke inference
                self.names[model_id.removeprefix("names-")] = predictor
                self._expose(model_id, predictor.version, lambda texts, p=predictor: list(p.probabilities(texts)),
                             heavy_share(c["HEAVY_NAME_CHARS"]))
        return self

    def timed(self, model_id: str, items: int, fn, *args):
        """fn(*args), its duration recorded as one forward pass of `items` inputs."""
        start = time.perf_counter()
        out = fn(*args)
        if self.metrics:
            self.metrics.observe_forward(model_id, items, time.perf_counter() - start)
        return out

    def _expose(self, model_id: str, version: str, fn, cost):
        log.info("loaded %s %s", model_id, version)
        if self.metrics:
            self.metrics.model_info.labels(model=model_id, version=version).set(1)
        trim_after = self.config["MALLOC_TRIM_AFTER_ITEMS"]

        def forward(inputs: list) -> list:  # timed here, so the metrics see the real (merged) batches
            out = self.timed(model_id, len(inputs), fn, inputs)
            if trim_after and len(inputs) >= trim_after:
                trim_heap()  # hand a large batch's freed buffers back to the OS now (app/libc.py)
            return out
        self._cost[model_id] = cost
        batching = self.config["CROSS_REQUEST_BATCHING"]
        self._infer[model_id] = MicroBatcher(forward, self.config["MAX_BATCH_ITEMS"]) if batching else forward

    def infer(self, model_id: str, inputs: list) -> list:
        """One output per input; heavy passes one at a time (app/admission.py), and concurrent calls in this
        worker may share a forward pass (app/batcher.py)."""
        with self.gate.run(self.cost(model_id, inputs)):
            return self._infer[model_id](inputs)

    def cost(self, model_id: str, inputs: list) -> float:
        """The work `inputs` make for `model_id`, as a share of a heavy request's (the gate's unit)."""
        return self._cost[model_id](inputs)

    def versions(self) -> dict[str, str]:
        loaded = {f"names-{k}": p.version for k, p in self.names.items()}
        if self.entity:
            loaded["entity-review"] = self.entity.version
        return loaded

    def fingerprint(self) -> tuple:
        """Every loaded model's version: part of a remembered response's key (app/cache.py), so no
        response built by another checkpoint is ever replayed."""
        return (*(p.version for p in self.names.values()), self.entity.version if self.entity else None)

    def missing(self) -> list[str]:
        return [m for m in self.expected if m not in self.versions()]

    def ready(self) -> bool:
        return bool(self.expected) and not self.missing()
