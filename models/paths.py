"""Default locations of data and checkpoints; every CLI takes flags/env vars that override them."""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("DATA_DIR", ROOT.parent / "shared" / "data"))
NAMES_DIR = Path(os.environ.get("NAMES_DATA_DIR", DATA_DIR / "names"))
ENTITIES_FILE = Path(os.environ.get("ENTITIES_FILE", DATA_DIR / "entities" / "medical_entities.txt"))
CHECKPOINTS = ROOT / "checkpoints"
REPORTS = ROOT / "docs" / "reports"
ONNX_CACHE = Path(os.environ.get("ONNX_CACHE_DIR", ROOT / ".cache" / "onnx"))  # encoder exports (models/encoder_onnx.py)
