"""One way to open an ONNX Runtime session on this CPU, for the name models and the entity encoder."""


def cpu_session(model, threads: int = 1, arena: bool = True):
    """`model`: serialised bytes or a path. Few threads, no spinning: workers x threads <= cores.
    arena=False: buffers from malloc, freed after each run, instead of ONNX Runtime's arena, which keeps
    the high-water mark of all concurrent runs (name batches of 256 on 4 gthreads: +160 MB per worker)."""
    import onnxruntime as ort  # imported by the worker, never by the gunicorn master (deploy/gunicorn.conf.py)
    options = ort.SessionOptions()
    options.enable_cpu_mem_arena = arena
    options.intra_op_num_threads = options.inter_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # no busy-waiting threads
    return ort.InferenceSession(model if isinstance(model, bytes) else str(model), options,
                                providers=["CPUExecutionProvider"])
