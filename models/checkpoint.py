"""Self-describing checkpoints: weights in safetensors + a JSON manifest beside them.

The manifest records the sha256 of the weights file; `model_version` is derived from it,
so a new checkpoint always means a new version (and new cache keys). `load_checkpoint`
refuses a directory whose weights and manifest disagree.
"""
import hashlib
import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

WEIGHTS, MANIFEST = "model.safetensors", "manifest.json"


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, corrupt, tampered with or inconsistent."""


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def save_checkpoint(directory: Path, model: torch.nn.Module, manifest: dict, version_prefix: str) -> dict:
    """Write weights + manifest; returns the manifest with weights_sha256 and model_version filled in."""
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


def load_checkpoint(directory: Path, build) -> tuple[torch.nn.Module, dict]:
    """Verify and load: `build(manifest)` makes the empty module the weights must fit exactly."""
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
    model = build(manifest)
    try:
        model.load_state_dict(load_file(weights), strict=True)
    except (RuntimeError, ValueError) as e:  # shape/key mismatch, or unreadable safetensors header
        raise CheckpointError(f"checkpoint {directory}: weights do not fit the manifest's model: {e}") from None
    model.eval()
    return model, manifest
