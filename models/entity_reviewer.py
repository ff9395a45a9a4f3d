"""Entity review: character encoder + i2h/i2o RNN checkpoint, checked to belong together."""
import math
from pathlib import Path

import numpy as np

from models.batching import length_sorted_chunks
from models.char_features import FEATURE_DIM, MAX_CHARS
from models.checkpoint import CheckpointError, cache_version, load_arrays
from models.entity_cell import EntityCell, EntityRNNConfig, parameter_shapes
from models.paths import ONNX_CACHE

VALID = 1  # class index of "valid entity"
PASS_CHARS = 512  # padded characters per encoder pass (texts x longest): bounds the runtime's working memory
RUNTIMES = ("onnx", "torch")  # the encoder in ONNX Runtime (models/encoder_onnx.py) or in transformers/torch
# Besides the weights, the manifest and the encoder, what decides a served score: this file, the numpy cell, how
# texts become ids, and the ONNX export (its int8 calibration is code: a new image exports afresh).
_MODELS = Path(__file__).parent
SERVED_CODE = tuple(_MODELS / f for f in ("entity_reviewer.py", "entity_cell.py", "char_features.py", "encoder_onnx.py"))


def entity_config(manifest: dict) -> EntityRNNConfig:
    if manifest.get("kind") != "entity-rnn":
        raise CheckpointError(f"not an entity-rnn checkpoint (kind={manifest.get('kind')!r})")
    return EntityRNNConfig(**manifest["config"])


def build_entity_model(manifest: dict):
    from models.entity_rnn import EntityRNN
    return EntityRNN(entity_config(manifest))


class EntityReviewer:
    def __init__(self, encoder, rnn, manifest: dict):
        """rnn: (features [batch, len, 768], lengths [batch]) -> log-probabilities, as numpy (EntityCell)."""
        trained_on = manifest.get("encoder_fingerprint")
        if trained_on != encoder.fingerprint:
            raise CheckpointError(f"entity RNN was trained on encoder {trained_on}, but the configured encoder is "
                                  f"{encoder.fingerprint}; retrain with models.train_entities or point "
                                  f"ENTITY_ENCODER_DIR at the encoder it was trained on")
        self.encoder, self.rnn, self.manifest = encoder, rnn, manifest
        self.threshold = float(manifest.get("threshold", 0.5))
        self.pooling: str = manifest.get("features", "mean")  # which encoder features the RNN was trained on
        self.version: str = manifest["model_version"]
        self.cache_version = cache_version(self.version, [manifest, encoder.fingerprint], SERVED_CODE)

    @classmethod
    def load(cls, encoder_dir: Path, rnn_dir: Path, int8: bool = False, runtime: str = "torch",
             onnx_cache: Path | None = None, threads: int = 1) -> "EntityReviewer":
        """runtime="torch": transformers' BertModel (training and evaluation); "onnx": its cached ONNX
        export, made on the first load (the service's default: neither transformers nor torch is imported).
        The RNN runs in numpy either way (models/entity_cell.py)."""
        if runtime == "onnx":
            from models.encoder_onnx import OnnxCharEncoder
            encoder = OnnxCharEncoder.load(encoder_dir, onnx_cache or ONNX_CACHE, int8=int8, threads=threads)
        elif runtime == "torch":
            from models.entity_encoder import CharEncoder
            encoder = CharEncoder.load(encoder_dir, int8=int8)
        else:
            raise ValueError(f"runtime must be one of {RUNTIMES}, got {runtime!r}")
        params, manifest = load_arrays(rnn_dir, lambda m: parameter_shapes(entity_config(m)))
        return cls(encoder, EntityCell(entity_config(manifest), params), manifest)

    def p_valid(self, feats, lengths) -> np.ndarray:
        """P(valid) per row of a padded feature batch [batch, len, 768] with its lengths."""
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow shows as a non-finite score (score_features)
            return np.exp(self.rnn(np.asarray(feats, dtype=np.float32), np.asarray(lengths))[:, VALID])

    def scores(self, texts: list[str]) -> list[float]:
        """P(valid) per text: encoder and RNN over length-sorted passes of at most PASS_CHARS padded characters.
        One pass of 1,000 texts of 62 characters left ONNX Runtime's arena holding 2.5 GB in the worker;
        passes of this size keep it to ~30 MB at the same texts per second (docs/benchmarks.md)."""
        out = [0.0] * len(texts)
        for idx in length_sorted_chunks([len(t) for t in texts], max_tokens=PASS_CHARS):
            feats, lengths = self.encoder.features([texts[i] for i in idx], self.pooling)
            for i, score in zip(idx, self.p_valid(feats, lengths).tolist()):
                out[i] = score
        return out

    def score_features(self, features) -> float:
        """P(valid) for one precomputed [seq_len, 768] feature array (shape and finiteness checked)."""
        with np.errstate(over="ignore"):  # float64 beyond float32's range becomes inf: refused below
            x = np.asarray(features, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != FEATURE_DIM or not 1 <= x.shape[0] <= MAX_CHARS:
            raise ValueError(f"features must have shape [1..{MAX_CHARS}, {FEATURE_DIM}], got {list(x.shape)}")
        if not np.isfinite(x).all():
            raise ValueError("features must be finite numbers")
        score = float(self.p_valid(x[None], [x.shape[0]])[0])
        if not math.isfinite(score):  # finite inputs near float32's limit (3e38) overflow inside the cell
            raise ValueError("features are too large for the model: its output overflowed")
        return score
