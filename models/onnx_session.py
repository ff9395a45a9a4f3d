"""One way to open an ONNX Runtime session on this CPU, for the name models and the entity encoder."""


def cpu_session(model, threads: int = 1):
    """`model`: serialised bytes or a path. Few threads, no spinning: workers x threads <= cores."""
    import onnxruntime as ort  # imported by the worker, never by the gunicorn master (deploy/gunicorn.conf.py)
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # no busy-waiting threads
    return ort.InferenceSession(model if isinstance(model, bytes) else str(model), options,
                                providers=["CPUExecutionProvider"])
