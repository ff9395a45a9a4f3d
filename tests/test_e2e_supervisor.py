"""End to end: supervisord with the project's config runs redis + gunicorn; real HTTP; a worker is SIGKILLed;
`make reload`."""
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import (ROOT, can_isolate, free_port, http, isolated, process_status, stop_process, wait_for_workers,
                           wait_http, worker_pids)


def test_supervised_stack_survives_a_killed_worker(stack):
    base, env, ctl = stack
    deadline = time.monotonic() + 30  # supervisor calls gunicorn RUNNING after startsecs (15 s)
    while time.monotonic() < deadline:
        status = subprocess.run(ctl + ["status"], env=env, capture_output=True, text=True).stdout
        if status.count("RUNNING") == 2:
            break
        time.sleep(1)
    assert "redis" in status and "gunicorn" in status and status.count("RUNNING") == 2, status

    code, body = http("POST", base + "/classify", {"name": "Yamamoto"})
    assert code == 200 and body["predictions"][0]["countries"][0] == "JP" and body["cached"] is False
    code, body = http("POST", base + "/classify", {"name": "Yamamoto"})
    assert code == 200 and body["cached"] is True  # redis run by supervisor, shared by both workers
    code, body = http("GET", base + "/ready")
    assert code == 200 and body["cache"] == "ok"

    master = int(subprocess.run(ctl + ["pid", "gunicorn"], env=env, capture_output=True, text=True).stdout)
    before = worker_pids(master)
    assert len(before) == 2
    killed = sorted(before)[0]
    os.kill(killed, signal.SIGKILL)
    now = wait_for_workers(master, 2, {killed})
    assert len(now) == 2 and now != before, "master did not replace the killed worker"
    wait_http(base + "/ready")
    failures = [http("POST", base + "/classify", {"name": f"Name{i}"})[0] for i in range(40)]
    assert failures.count(200) == 40
    metrics = urllib.request.urlopen(base + "/metrics", timeout=5).read().decode()
    assert "http_requests_total" in metrics

    # `make reload` checks what the new workers would load first: nothing there, nothing signalled
    refused = subprocess.run(["make", "-s", "reload"], env={**env, "NAME_CHECKPOINTS_DIR": "/nonexistent/checkpoints"},
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "reload refused" in refused.stdout + refused.stderr
    assert "CheckpointError" in refused.stderr and worker_pids(master) == now

    # `make reload` (new checkpoints or code): every worker replaced, the master kept, the service ready
    reload = subprocess.run(["make", "-s", "reload"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert reload.returncode == 0 and '"status":"ready"' in reload.stdout, reload.stdout + reload.stderr
    reloaded = wait_for_workers(master, 2, now)  # the old workers finish what they hold, then exit
    assert len(reloaded) == 2 and not reloaded & now
    assert http("POST", base + "/classify", {"name": "Yamamoto"})[0] == 200

    # `make stop` returns once everything has stopped (supervisorctl's shutdown returns at once), so `make serve`
    # may follow without meeting the old processes on its ports
    redis_pid = int(subprocess.run(ctl + ["pid", "redis"], env=env, capture_output=True, text=True).stdout)
    stop = subprocess.run(["make", "-s", "stop"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=90)
    assert stop.returncode == 0, stop.stdout + stop.stderr
    alive = [pid for pid in (master, redis_pid, *reloaded) if os.path.exists(f"/proc/{pid}")]
    assert alive == [] and not (Path(env["RUN_DIR"]) / "supervisord.pid").exists()


def descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        children = {int(p) for p in subprocess.run(["pgrep", "-P", str(todo.pop())], capture_output=True,
                                                    text=True).stdout.split()}
        todo += children - found
        found |= children
    return found


@pytest.mark.skipif(not can_isolate(), reason="needs root, mount namespaces (unshare -m) and setpriv")
def test_the_image_runs_the_stack_as_its_unprivileged_user(tmp_path):
    """The Docker image's CMD as its USER (10001): supervisord, redis and gunicorn start and serve, each process that
    user, writing only RUN_DIR, which the image gives that user; everything else is root's, as here."""
    user, group = map(int, re.search(r"^USER (\d+):(\d+)$", (ROOT / "Dockerfile").read_text(), re.M).groups())
    run_dir = ROOT / "run" / f"image-user-{free_port()}"  # reachable by that user, unlike pytest's folders
    run_dir.mkdir(parents=True)
    os.chown(run_dir, user, group)
    port, redis_port = free_port(), free_port()
    env = {"PATH": os.environ["PATH"], "HOME": "/", "PROJECT_DIR": str(ROOT), "RUN_DIR": str(run_dir),
           "REDIS_PORT": str(redis_port), "BIND": f"127.0.0.1:{port}", "WORKERS": "1"}
    proc = subprocess.Popen(isolated("supervisord -n -c deploy/supervisord.conf", user, group),
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/ready", timeout=90, proc=proc)
        assert http("POST", base + "/classify", {"name": "Yamamoto"})[1]["cached"] is False
        assert http("POST", base + "/classify", {"name": "Yamamoto"})[1]["cached"] is True  # its redis
        processes = {proc.pid, *descendants(proc.pid)}
        assert len(processes) >= 4  # supervisord, redis-server, the gunicorn master and its worker
        for pid in processes:
            status = process_status(pid)
            assert status["Uid"].split() == [str(user)] * 4 and int(status["CapEff"], 16) == 0, (pid, status["Name"])
    finally:
        stop_process(proc)
        logs = {f.name: f.read_text(errors="replace") for f in run_dir.glob("*.log")}
        shutil.rmtree(run_dir, ignore_errors=True)
    assert {"supervisord.log", "redis.log", "gunicorn.log"} <= logs.keys()
    assert not any(re.search(r"Permission denied|Read-only file system|Traceback", t) for t in logs.values()), logs
