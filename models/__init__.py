"""Pure-PyTorch models, data pipelines and training/evaluation CLIs (no Flask, no Redis)."""
