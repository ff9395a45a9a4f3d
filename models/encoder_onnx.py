"""The entity encoder served by ONNX Runtime, so a serving worker never imports transformers.

Why: transformers 5 pulls in torch._dynamo, torch.distributed.tensor and sympy on import, ~4 of the
~6 s a fresh gunicorn needed before /ready; the "master killed -> ready again within 10 s" drill
measured 8.6 s here and 10.4 s on a CI machine. The graph is exported by torch.onnx from the very
transformers BertModel that training used (CharEncoder), checked against it on export, and cached
under ONNX_CACHE_DIR keyed by the sha256 of every file in the encoder directory, so any edit to the
weights, vocabulary or config makes a new entry. The first start with a new encoder exports (needs
transformers, seconds); every later start, and every respawned worker, loads the cached file.
"""
import hashlib
import json
import logging
import os
import random
import shutil
import tempfile
from pathlib import Path

import numpy as np

from models.char_features import FEATURE_DIM, CharBatches
from models.checkpoint import CheckpointError
from models.onnx_session import cpu_session

log = logging.getLogger(__name__)
EXPORT_CHECK_TEXTS = ["手内肌萎缩", "头痛", "急性上呼吸道感染伴发热", "a1😀"]
EXPORT_TOLERANCE = 1e-3  # fp32 graph vs transformers' features, max abs difference (measured ~2e-6)
CALIBRATION_TEXTS = 256  # for the int8 graph's fixed activation scales
INT8_SCHEME = "int8s"  # cache entries of static int8 graphs; "int8" entries held the earlier dynamic ones


def directory_key(directory: Path) -> str:
    """sha256 over the names and bytes of every file in an encoder directory."""
    h = hashlib.sha256()
    for path in sorted(p for p in Path(directory).iterdir() if p.is_file()):
        h.update(path.name.encode() + b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def export(directory: Path, target: Path, int8: bool) -> dict:
    """Write model.onnx, tokenizer.json and meta.json for `directory` into `target` (atomically)."""
    import warnings

    import torch

    from models.entity_encoder import CharEncoder  # imports transformers: only on a cache miss

    class Features(torch.nn.Module):
        """BertModel -> (mean of all hidden states, last hidden state): both poolings from one graph."""

        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, ids, mask):
            out = self.bert(input_ids=ids, attention_mask=mask, output_hidden_states=True)
            return torch.stack(out.hidden_states).mean(0), out.last_hidden_state

    encoder = CharEncoder.load(directory)
    encoder.model.set_attn_implementation("eager")  # sdpa's mask logic does not trace to a shape-generic graph
    module = Features(encoder.model).eval()
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        ids, mask = encoder.encode_tensors(EXPORT_CHECK_TEXTS)
        with warnings.catch_warnings():  # tracer warnings about Python-side shape checks
            warnings.simplefilter("ignore")
            torch.onnx.export(module, (ids, mask), work / "fp32.onnx", input_names=["ids", "mask"],
                              output_names=["mean", "last"], opset_version=17, dynamo=False,
                              dynamic_axes={n: {0: "batch", 1: "time"} for n in ("ids", "mask", "mean", "last")})
        encoder.tokenizer.backend_tokenizer.save(str(work / "tokenizer.json"))
        meta = {"fingerprint": encoder.fingerprint, "int8": "static" if int8 else False,
                "source": str(Path(directory).resolve()),
                "ids": {"cls": encoder.cls_id, "sep": encoder.sep_id, "pad": encoder.pad_id, "unk": encoder.unk_id}}
        (work / "meta.json").write_text(json.dumps(meta, indent=2))
        with torch.inference_mode():
            reference = [r.numpy() for r in module(ids, mask)]
        keep = mask.bool().numpy()

        def max_diff(graph: str) -> float:
            (work / "model.onnx").unlink(missing_ok=True)
            (work / "model.onnx").symlink_to(graph)
            got = OnnxCharEncoder.from_entry(work).session.run(["mean", "last"], {"ids": ids.numpy(), "mask": mask.numpy()})
            return max(float(np.abs(g - r)[keep].max()) for g, r in zip(got, reference))

        meta["fp32_max_abs_diff_vs_transformers"] = max_diff("fp32.onnx")  # the export itself must be exact
        if meta["fp32_max_abs_diff_vs_transformers"] > EXPORT_TOLERANCE:
            raise CheckpointError(f"ONNX export of {directory} differs from transformers by "
                                  f"{meta['fp32_max_abs_diff_vs_transformers']:.2e}")
        if int8:
            quantise_static(work / "fp32.onnx", work / "int8.onnx", calibration_texts(encoder), encoder.encode_ids)
            meta["int8_max_abs_diff_vs_transformers"] = max_diff("int8.onnx")  # what quantisation changes
        (work / "model.onnx").unlink()
        (work / ("int8.onnx" if int8 else "fp32.onnx")).rename(work / "model.onnx")
        (work / "fp32.onnx").unlink(missing_ok=True)
        (work / "meta.json").write_text(json.dumps(meta, indent=2))
        work.chmod(0o755)  # mkdtemp makes it 0700: a service user other than the exporter must read it
        try:
            os.rename(work, target)  # atomic; another worker may have won the race with the same content
        except OSError:
            if not (target / "meta.json").is_file():
                raise
        return meta
    finally:
        shutil.rmtree(work, ignore_errors=True)


def calibration_texts(encoder, n: int = CALIBRATION_TEXTS, seed: int = 0) -> list[str]:
    """Seeded random strings of the vocabulary's own characters (2-20 of them): activation ranges for
    static quantisation without any data file (the served entity accuracy matched calibration on 256
    training entities within 0.1 point, docs/entity-review.md)."""
    rng = random.Random(seed)
    chars = sorted(t for t in encoder.tokenizer.get_vocab() if len(t) == 1)
    return ["".join(rng.choice(chars) for _ in range(rng.randint(2, 20))) for _ in range(n)]


def quantise_static(fp32: Path, int8: Path, texts: list[str], encode_ids):
    """int8 weights and int8 activations with fixed, calibrated scales (ONNX Runtime's MinMax over `texts`,
    one at a time). Dynamic quantisation takes each pass's own activation scale, so a text's score moved
    with the other texts of its batch (up to 0.045; 39 of 16,274 test verdicts flipped); fixed scales
    make a text score the same alone or in any batch."""
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter(texts)

        def get_next(self):
            text = next(self.batches, None)
            if text is None:
                return None
            ids, mask = encode_ids([text])
            return {"ids": ids, "mask": mask}

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # it advises "pre-processing" on the root logger, at every export
    try:
        quantize_static(str(fp32), str(int8), Reader(), quant_format=QuantFormat.QOperator,
                        op_types_to_quantize=["MatMul", "Gather"], per_channel=False,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax)
    finally:
        root.setLevel(level)


class OnnxCharEncoder(CharBatches):
    """CharEncoder's features from an ONNX Runtime session; same ids, same [batch, len, 768] output."""

    def __init__(self, session, tokenizer, meta: dict):
        self.session, self.tokenizer, self.meta = session, tokenizer, meta
        self.fingerprint: str = meta["fingerprint"]
        self.variant = f"onnx-int8-{meta['int8']}" if meta["int8"] else "onnx-fp32"  # part of the entity cache key
        ids = meta["ids"]
        self.cls_id, self.sep_id, self.pad_id, self.unk_id = ids["cls"], ids["sep"], ids["pad"], ids["unk"]

    @classmethod
    def load(cls, directory: Path, cache_dir: Path, int8: bool = False, threads: int = 1) -> "OnnxCharEncoder":
        """The cached export of `directory`, made first if missing."""
        directory = Path(directory)
        if not (directory / "config.json").is_file():
            raise CheckpointError(f"no BERT encoder at {directory} (config.json missing)")
        entry = Path(cache_dir) / f"{directory_key(directory)}-{INT8_SCHEME if int8 else 'fp32'}"
        if (entry / "meta.json").is_file():
            try:
                return cls.from_entry(entry, threads)
            except Exception as e:  # a damaged cache entry is only a derived file: make it again
                log.warning("ONNX export at %s unreadable (%s); exporting again", entry, e)
                shutil.rmtree(entry, ignore_errors=True)
        try:
            export(directory, entry, int8)
        except ImportError as e:  # the service image installs requirements-serve.txt: no torch, no transformers
            raise CheckpointError(
                f"no ONNX export of {directory} under {cache_dir}, and this install cannot make one ({e}): run "
                f"`python -m models.encoder_onnx --encoder {directory} --cache {cache_dir}{'' if int8 else ' --fp32'}` "
                f"where requirements.txt is installed") from e
        except OSError as e:  # read-only, not a directory, disk full
            raise CheckpointError(f"cannot write the encoder's ONNX export under {cache_dir} ({e}): set ONNX_CACHE_DIR "
                                  f"to a writable directory, or run `python -m models.encoder_onnx` where it is") from e
        return cls.from_entry(entry, threads)

    @classmethod
    def from_entry(cls, entry: Path, threads: int = 1) -> "OnnxCharEncoder":
        from tokenizers import Tokenizer
        session = cpu_session(entry / "model.onnx", threads)
        if session.get_outputs()[0].shape[-1] != FEATURE_DIM:
            raise CheckpointError(f"encoder hidden size is {session.get_outputs()[0].shape[-1]}, expected {FEATURE_DIM}")
        return cls(session, Tokenizer.from_file(str(entry / "tokenizer.json")), json.loads((entry / "meta.json").read_text()))

    def pieces(self, ch: str) -> list[int]:
        return self.tokenizer.encode(ch, add_special_tokens=False).ids

    def features(self, texts: list[str], pooling: str = "mean") -> tuple[np.ndarray, np.ndarray]:
        """Per-character features [batch, max_len, 768] (without [CLS]/[SEP]) and lengths [batch], as numpy."""
        output = self.pooling_checked(pooling)  # the graph's outputs are named after the poolings
        ids, mask = self.encode_ids(texts)
        hidden, = self.session.run([output], {"ids": ids, "mask": mask})
        lengths = np.array([len(t) for t in texts])
        return hidden[:, 1 : 1 + int(lengths.max())], lengths


def main(argv=None):
    """Make (or find) the cached export the service will load: `make serve` and the Dockerfile run this
    so that not even the first worker start has to import transformers."""
    import argparse

    from models.paths import CHECKPOINTS, ONNX_CACHE
    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--encoder", type=Path, default=Path(os.environ.get("ENTITY_ENCODER_DIR", CHECKPOINTS / "entity-encoder")))
    ap.add_argument("--cache", type=Path, default=ONNX_CACHE)
    ap.add_argument("--fp32", action="store_true", help="the unquantised graph (ENTITY_ENCODER_INT8=false)")
    args = ap.parse_args(argv)
    encoder = OnnxCharEncoder.load(args.encoder, args.cache, int8=not args.fp32)
    print(json.dumps(encoder.meta, indent=2))


if __name__ == "__main__":
    main()
