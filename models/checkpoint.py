"""Self-describing checkpoints: weights in safetensors + a JSON manifest beside them.

The manifest records the sha256 of the weights file; `model_version` is derived from it,
so a new checkpoint always means a new version (and new cache keys). `load_checkpoint`
refuses a directory whose weights and manifest disagree.
"""
import hashlib
import json
from pathlib import Path

import numpy as np

WEIGHTS, MANIFEST = "model.safetensors", "manifest.json"


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, corrupt, tampered with or inconsistent."""


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def cache_version(version: str, facts: list, code) -> str:
    """What a served answer is cached under: `version` (the weights) plus a hash of everything else that decides
    the answer (JSON-able facts such as the manifest, and the source files of the code that serves it). Rules
    have changed with the weights unchanged (the Czech -ova factor, session 9): keyed by `version` alone, such a
    deploy would serve the old answers from Redis for up to CACHE_TTL_SECONDS. Clients still see `version`."""
    h = hashlib.sha256(json.dumps(facts, sort_keys=True).encode())
    for path in code:
        h.update(Path(path).read_bytes())
    return f"{version}/{h.hexdigest()[:12]}"


def save_checkpoint(directory: Path, model, manifest: dict, version_prefix: str) -> dict:
    """Write a torch module's weights + manifest; returns the manifest with weights_sha256 and model_version filled in."""
    from safetensors.torch import save_file
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, directory / WEIGHTS)
    digest = file_sha256(directory / WEIGHTS)
    manifest = {**manifest, "weights_sha256": digest, "model_version": f"{version_prefix}-{digest[:12]}"}
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest


def read_manifest(directory: Path) -> dict:
    path = Path(directory) / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint manifest missing: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"checkpoint manifest unreadable: {path}: {e}") from None


def state_arrays(model) -> dict[str, np.ndarray]:
    """A torch module's state_dict as float32 numpy arrays: what load_arrays gives for its saved checkpoint."""
    return {k: v.detach().float().numpy() for k, v in model.state_dict().items()}


def verified(directory: Path) -> tuple[dict, Path]:
    """The manifest and weights path of a checkpoint whose weights are the ones its manifest names."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    weights = directory / WEIGHTS
    if not weights.is_file():
        raise CheckpointError(f"checkpoint weights missing: {weights}")
    digest = file_sha256(weights)
    if digest != manifest.get("weights_sha256"):
        raise CheckpointError(f"checkpoint {directory}: weights sha256 {digest[:12]} does not match "
                              f"manifest {str(manifest.get('weights_sha256'))[:12]} (corrupt or tampered)")
    if not str(manifest.get("model_version", "")).endswith(digest[:12]):
        raise CheckpointError(f"checkpoint {directory}: model_version {manifest.get('model_version')!r} "
                              f"does not match the weights {digest[:12]}")
    return manifest, weights


def _misfit(directory: Path, detail) -> CheckpointError:
    return CheckpointError(f"checkpoint {directory}: weights do not fit the manifest's model: {detail}")


def load_checkpoint(directory: Path, build) -> tuple[object, dict]:
    """Verify and load into torch: `build(manifest)` makes the empty module the weights must fit exactly."""
    from safetensors.torch import load_file
    manifest, weights = verified(directory)
    model = build(manifest)
    try:
        model.load_state_dict(load_file(weights), strict=True)
    except (RuntimeError, ValueError) as e:  # shape/key mismatch, or unreadable safetensors header
        raise _misfit(directory, e) from None
    model.eval()
    return model, manifest


def load_arrays(directory: Path, shapes) -> tuple[dict, dict]:
    """Verify and load as numpy arrays, without torch (the serving workers): `shapes(manifest)` gives the
    {name: shape} the weights must fit exactly, as load_state_dict(strict=True) would demand."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file
    manifest, weights = verified(directory)
    expected = shapes(manifest)
    try:
        arrays = load_file(weights)
    except (SafetensorError, ValueError) as e:
        raise _misfit(directory, e) from None
    if arrays.keys() != expected.keys():
        raise _misfit(directory, f"missing {sorted(expected.keys() - arrays.keys())}, "
                                 f"unexpected {sorted(arrays.keys() - expected.keys())}")
    wrong = {k: (list(a.shape), list(expected[k])) for k, a in arrays.items() if tuple(a.shape) != tuple(expected[k])}
    if wrong:
        raise _misfit(directory, f"shapes (found, expected): {wrong}")
    return {k: a.astype(np.float32, copy=False) for k, a in arrays.items()}, manifest
