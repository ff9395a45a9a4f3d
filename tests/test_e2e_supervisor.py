"""End to end: supervisord with the project's config runs redis + gunicorn; real HTTP; a worker is SIGKILLed."""
import json
import os
import signal
import subprocess
import time
import urllib.request

import pytest

from tests.helpers import ROOT, free_port, wait_http


def http(method, url, body=None):
    req = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def worker_pids(master_pid: int) -> set[int]:
    out = subprocess.run(["pgrep", "-P", str(master_pid)], capture_output=True, text=True).stdout
    return {int(p) for p in out.split()}


@pytest.fixture
def stack(tmp_path):
    port, redis_port = free_port(), free_port()
    env = {**os.environ, "PROJECT_DIR": str(ROOT), "RUN_DIR": str(tmp_path), "REDIS_PORT": str(redis_port),
           "BIND": f"127.0.0.1:{port}", "WORKERS": "2", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom")}
    ctl = ["supervisorctl", "-c", str(ROOT / "deploy/supervisord.conf")]
    subprocess.run(["supervisord", "-c", str(ROOT / "deploy/supervisord.conf")], env=env, check=True, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/ready", timeout=90)
        yield base, env, ctl
    finally:
        subprocess.run(ctl + ["shutdown"], env=env, capture_output=True)
        for _ in range(100):  # supervisord removes its pid file when everything has stopped
            if not (tmp_path / "supervisord.pid").exists():
                break
            time.sleep(0.2)


def test_supervised_stack_survives_a_killed_worker(stack):
    base, env, ctl = stack
    status = subprocess.run(ctl + ["status"], env=env, capture_output=True, text=True).stdout
    assert "redis" in status and "gunicorn" in status and status.count("RUNNING") == 2

    code, body = http("POST", base + "/classify", {"name": "Yamamoto"})
    assert code == 200 and body["predictions"][0]["countries"][0] == "JP" and body["cached"] is False
    code, body = http("POST", base + "/classify", {"name": "Yamamoto"})
    assert code == 200 and body["cached"] is True  # redis run by supervisor, shared by both workers
    code, body = http("GET", base + "/ready")
    assert code == 200 and body["cache"] == "ok"

    master = int(subprocess.run(ctl + ["pid", "gunicorn"], env=env, capture_output=True, text=True).stdout)
    before = worker_pids(master)
    assert len(before) == 2
    os.kill(sorted(before)[0], signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = worker_pids(master)
        if len(now) == 2 and now != before:
            break
        time.sleep(0.2)
    assert len(now) == 2 and now != before, "master did not replace the killed worker"
    wait_http(base + "/ready")
    failures = [http("POST", base + "/classify", {"name": f"Name{i}"})[0] for i in range(40)]
    assert failures.count(200) == 40
    metrics = urllib.request.urlopen(base + "/metrics", timeout=5).read().decode()
    assert "http_requests_total" in metrics
