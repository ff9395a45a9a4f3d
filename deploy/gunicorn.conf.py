"""gunicorn settings; every value can be overridden from the environment (README table).

No preload: each worker loads the checkpoints *after* fork, so `kill -HUP` on the master
really reloads checkpoints (and the app's code) in fresh workers. The master only *imports*
tokenizers, and torch when a torch runtime is configured (no tensor work, so no OpenMP pool exists
to break across fork, pytorch#49555): a worker forked at start or on HUP then boots in about a second
instead of spending seconds on imports while it is not serving. By default the workers never use torch
(NAME_RUNTIME=onnx, ENTITY_ENCODER_RUNTIME=onnx), so the master leaves it out too: every worker
would otherwise hold torch's pages (RSS). Not onnxruntime: a process forked after
importing it never finishes exiting (measured: the child hangs in sys.exit; a worker that failed
to boot then kept supervisor from marking a broken release FATAL), so each worker imports it
itself (~0.3 s). transformers is not imported at all: the entity encoder is served from its
cached ONNX export (models/encoder_onnx.py); only a worker that has to make that export imports it.
"""
import os
import subprocess
import sys
import tempfile

from app.config import ConfigError, from_env, torch_if_used

try:
    settings = from_env()  # every variable checked before anything starts (app/config.py)
except ConfigError as e:
    sys.exit(f"configuration error: {e}")  # one line in the log, exit 1: supervisor marks the program FATAL

bind = settings["BIND"]
workers = settings["WORKERS"]
worker_class = settings["WORKER_CLASS"]  # threads keep /health answering while one request computes
if worker_class == "gthread":  # the same, with lingering closes off its event loop (app/gunicorn_worker.py)
    worker_class = "app.gunicorn_worker.ThreadWorker"
threads = settings["THREADS"]  # the app reads the same setting: it keeps one thread free of heavy work (app/admission.py)
timeout = settings["WORKER_TIMEOUT"]  # < a typical 60 s probe timeout
graceful_timeout = settings["GRACEFUL_TIMEOUT"]
keepalive = 5
preload_app = False
control_socket_disable = True  # several instances per host (tests, scale-out) must not share ~/.gunicorn/gunicorn.ctl
accesslog = settings["ACCESS_LOG"] or None
# gunicorn's default line, plus the request's duration in seconds and its X-Request-ID (app/request_ids.py)
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(L)s id=%({x-request-id}o)s'
errorlog = "-"
loglevel = settings["LOG_LEVEL"]
if settings["LOG_FORMAT"] == "json":
    logger_class = "app.log_format.JsonLogger"  # the same logs, one JSON object a line

os.environ.setdefault("OMP_NUM_THREADS", str(settings["TORCH_THREADS"]))  # before torch or numpy is imported
import tokenizers  # noqa: E402,F401  (import only)

torch_if_used(settings)  # imported in the master only where a torch runtime is set

# Metrics from all workers: prometheus-client multiprocess mode needs this set before it is imported.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", os.path.join(settings["RUN_DIR"] or tempfile.gettempdir(),
                                                               f"prometheus-{bind.replace(':', '_').replace('/', '_')}"))


def preflight() -> str | None:
    """None if a fresh process loads every expected model with this environment (app/preflight.py), else why not."""
    try:
        done = subprocess.run([sys.executable, "-m", "app.preflight"], capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        return "the check did not finish in 300 s"
    return None if done.returncode == 0 else (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]


def guard_reloads():
    """On HUP, check what the new workers will load before gunicorn replaces the old ones: it kills them as soon as it
    has forked the new workers and halts if one of those cannot boot, so a corrupt checkpoint or broken code on disk
    took the whole service down. A reload that fails the check is refused with an error line; the old workers serve
    on. gunicorn has no hook that can cancel a reload, so its Arbiter.reload is wrapped, once per master."""
    from gunicorn.arbiter import Arbiter
    if getattr(Arbiter.reload, "guarded", False):  # this file runs again on every reload
        return
    unguarded = Arbiter.reload

    def reload(arbiter):
        problem = preflight()
        if problem:
            arbiter.log.error("reload refused, the running workers serve on: %s", problem)
            return
        unguarded(arbiter)
    reload.guarded = True
    Arbiter.reload = reload


guard_reloads()


def on_starting(server):
    path = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):  # stale files from a previous run would double-count
        os.remove(os.path.join(path, name))


def forget_project_modules():
    """Drop the project's modules (app.*, models.*) from this freshly forked worker, so it imports them from disk.

    The master imports a few: app.config for the settings above, and the worker class with what it imports
    (app.errors, app.request_ids, app.request_arrival). A worker forked on HUP inherited those as the master had
    first loaded them, so `make reload` served new code everywhere but there: a changed error handler stayed the
    old one (tests/test_reload.py). The running worker class itself (app/gunicorn_worker.py, app/request_arrival.py)
    and this file's settings change only with a restart (`make serve`)."""
    for name in [m for m in sys.modules if m.split(".")[0] in ("app", "models")]:
        del sys.modules[name]


def post_fork(server, worker):
    forget_project_modules()  # first: everything below and the app then import today's code
    from app.gunicorn_worker import use_json_error_pages
    from app.metrics import ServerMetrics
    worker.server_metrics = ServerMetrics()  # the worker's own, for app/gunicorn_worker.py
    # gunicorn's own 400/414/431 pages in the service's JSON envelope (and counted), for any worker class
    use_json_error_pages(worker.server_metrics)
    # Before the worker allocates anything big (app/libc.py): a fixed mmap threshold keeps batch
    # tensors from piling up in the arenas; at most MALLOC_ARENAS arenas.
    from app.libc import fix_mmap_threshold, limit_malloc_arenas
    if settings["MALLOC_MMAP_THRESHOLD"]:  # 0 = glibc's dynamic threshold
        fix_mmap_threshold(settings["MALLOC_MMAP_THRESHOLD"])
    if settings["MALLOC_ARENAS"]:  # 0 = glibc's default (8 per core); 2 measured no RSS gain
        limit_malloc_arenas(settings["MALLOC_ARENAS"])


def child_exit(server, worker):
    from app.metrics import archive_dead_worker
    archive_dead_worker(worker.pid)  # its counts kept in one archive file, its own files gone
