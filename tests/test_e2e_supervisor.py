"""End to end: supervisord with the project's config runs redis + gunicorn; real HTTP; a worker is SIGKILLed;
`make reload`."""
import os
import signal
import subprocess
import time
import urllib.request

from tests.helpers import ROOT, http, wait_for_workers, wait_http, worker_pids


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

    # `make reload` (new checkpoints or code): every worker replaced, the master kept, the service ready
    reload = subprocess.run(["make", "-s", "reload"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert reload.returncode == 0 and '"status":"ready"' in reload.stdout, reload.stdout + reload.stderr
    reloaded = wait_for_workers(master, 2, now)  # the old workers finish what they hold, then exit
    assert len(reloaded) == 2 and not reloaded & now
    assert http("POST", base + "/classify", {"name": "Yamamoto"})[0] == 200
