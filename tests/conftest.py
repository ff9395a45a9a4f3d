import os
import subprocess
import sys

import pytest

from app import create_app
from tests.helpers import ROOT, RedisServer, free_port, wait_http


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def app(redis_server):
    """The service over the committed checkpoints and a real Redis."""
    return create_app({"REDIS_URL": redis_server.url})


@pytest.fixture
def client(app, redis_server):
    redis_server.client().flushdb()
    app.extensions["inference"].cache.clear_local()  # each test starts with every cache tier empty
    return app.test_client()


@pytest.fixture
def stack(tmp_path):
    """supervisord + redis + gunicorn from the project's deploy/ config, on free ports."""
    from tests.helpers import supervised_stack
    with supervised_stack(tmp_path) as s:
        yield s


@pytest.fixture(scope="session")
def one_worker(tmp_path_factory):
    """gunicorn from deploy/gunicorn.conf.py, one worker with two threads: one heavy request admitted."""
    tmp = tmp_path_factory.mktemp("one-worker")
    port = free_port()
    env = {**os.environ, "BIND": f"127.0.0.1:{port}", "WORKERS": "1", "THREADS": "2", "NAME_MODELS": "gru",
           "REQUEST_READ_TIMEOUT": "1",
           "CACHE_ENABLED": "false", "RUN_DIR": str(tmp), "PROMETHEUS_MULTIPROC_DIR": str(tmp / "prom")}
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "app.wsgi:app"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/ready", timeout=90)
        yield base, port
    finally:
        proc.terminate()
        proc.wait(30)
