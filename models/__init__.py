"""Models, data pipelines and training/evaluation CLIs (no Flask, no Redis): torch for training; the serving path loads weights as numpy and runs ONNX Runtime."""
