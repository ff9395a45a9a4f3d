"""`kill -HUP` on the gunicorn master: new checkpoints served, no in-flight request dropped."""
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request

from tests.helpers import ROOT, free_port, wait_http


def classify(base):
    req = urllib.request.Request(base + "/classify", data=json.dumps({"name": "Tanaka"}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, json.loads(r.read())["model_version"]


def test_hup_reloads_checkpoints_without_dropping_requests(tmp_path):
    ckpts = tmp_path / "checkpoints"
    shutil.copytree(ROOT / "checkpoints" / "names-gru", ckpts / "names-gru")
    port = free_port()
    env = {**os.environ, "BIND": f"127.0.0.1:{port}", "WORKERS": "2", "NAME_CHECKPOINTS_DIR": str(ckpts),
           "NAME_MODELS": "gru", "ENTITY_REVIEW": "false", "CACHE_ENABLED": "false", "RUN_DIR": str(tmp_path)}
    log = open(tmp_path / "gunicorn.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "app.wsgi:app"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/ready", timeout=60)
        deadline = time.monotonic() + 60  # both workers must have loaded the old files before they change
        while (tmp_path / "gunicorn.log").read_text().count("loaded names-gru") < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        _, old_version = classify(base)
        # a "retrained" checkpoint lands on disk (the LSTM's files stand in for it)
        shutil.rmtree(ckpts / "names-gru")
        shutil.copytree(ROOT / "checkpoints" / "names-lstm", ckpts / "names-gru")
        results, stop = [], threading.Event()

        def load():
            while not stop.is_set():
                try:
                    results.append(classify(base))
                except OSError as e:
                    results.append((0, repr(e)))

        threads = [threading.Thread(target=load) for _ in range(3)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        os.kill(proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (results and results[-1][1] != old_version):
            time.sleep(0.2)
        time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join()
        assert all(code == 200 for code, _ in results), [r for r in results if r[0] != 200][:3]
        assert results[-1][1].startswith("names-lstm-") and old_version.startswith("names-gru-")
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
