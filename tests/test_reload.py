"""`kill -HUP` on the gunicorn master: new checkpoints served, no in-flight request dropped; `kill -TERM` (supervisor's
stop, a deploy): what has begun is finished, then the master exits."""
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

from tests.helpers import (ROOT, free_port, gunicorn, http, metric, stop_process, wait_for_workers, wait_http,
                           worker_pids)


def classify(base):
    req = urllib.request.Request(base + "/classify", data=json.dumps({"name": "Tanaka"}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, json.loads(r.read())["model_version"]


@contextlib.contextmanager
def posting(base, clients: int = 1):
    """`clients` threads posting /classify until the block ends; yields their (status, model_version) answers."""
    results, stop = [], threading.Event()

    def load():
        while not stop.is_set():
            try:
                results.append(classify(base))
            except OSError as e:
                results.append((0, repr(e)))

    threads = [threading.Thread(target=load) for _ in range(clients)]
    for t in threads:
        t.start()
    try:
        yield results
    finally:
        stop.set()
        for t in threads:
            t.join()


def test_hup_reloads_checkpoints_without_dropping_requests(tmp_path):
    ckpts = tmp_path / "checkpoints"
    shutil.copytree(ROOT / "checkpoints" / "names-gru", ckpts / "names-gru")
    with open(tmp_path / "gunicorn.log", "w") as log, \
            gunicorn(tmp_path, log, WORKERS="2", NAME_CHECKPOINTS_DIR=str(ckpts), NAME_MODELS="gru",
                     ENTITY_REVIEW="false", CACHE_ENABLED="false") as (base, _, proc):
        deadline = time.monotonic() + 60  # both workers must have loaded the old files before they change
        while (tmp_path / "gunicorn.log").read_text().count("loaded names-gru") < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        _, old_version = classify(base)
        # a "retrained" checkpoint lands on disk (the LSTM's files stand in for it)
        shutil.rmtree(ckpts / "names-gru")
        shutil.copytree(ROOT / "checkpoints" / "names-lstm", ckpts / "names-gru")
        with posting(base, clients=3) as results:
            time.sleep(0.5)
            os.kill(proc.pid, signal.SIGHUP)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not (results and results[-1][1] != old_version):
                time.sleep(0.2)
            time.sleep(0.5)
        assert all(code == 200 for code, _ in results), [r for r in results if r[0] != 200][:3]
        assert results[-1][1].startswith("names-lstm-") and old_version.startswith("names-gru-")
        # /metrics names the new version only once the old workers have exited: their series leave with them
        deadline = time.monotonic() + 20
        while True:
            with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
                served = re.findall(r'^model_info\{model="names-gru",version="([^"]+)"\} 1\.0$', r.read().decode(), re.M)
            if served == [results[-1][1]] or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert served == [results[-1][1]], served


def test_a_reload_whose_workers_could_not_boot_is_refused_and_the_old_workers_serve_on(tmp_path):
    """gunicorn kills the old workers as soon as it has forked the new ones and halts when one cannot boot: a HUP with
    a corrupt checkpoint on disk stopped the master within a second, every request after it refused (scratch run,
    before the guard in deploy/gunicorn.conf.py). Now the reload is refused with an error line and nothing changes;
    once the file is mended, the next HUP reloads."""
    ckpts = tmp_path / "checkpoints"
    shutil.copytree(ROOT / "checkpoints" / "names-gru", ckpts / "names-gru")
    weights = ckpts / "names-gru" / "model.safetensors"
    good = weights.read_bytes()
    with open(tmp_path / "gunicorn.log", "w") as log, \
            gunicorn(tmp_path, log, WORKERS="2", NAME_CHECKPOINTS_DIR=str(ckpts), NAME_MODELS="gru",
                     ENTITY_REVIEW="false", CACHE_ENABLED="false") as (base, _, proc):
        old = wait_for_workers(proc.pid, 2, set())
        _, version = classify(base)
        weights.write_bytes(good[:-100] + bytes(100))  # the end of the weights overwritten: a bad copy
        with posting(base) as results:
            os.kill(proc.pid, signal.SIGHUP)
            deadline = time.monotonic() + 60
            while "reload refused" not in (tmp_path / "gunicorn.log").read_text() and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(2)  # were new workers forked anyway, the old ones would be stopping now
        text = (tmp_path / "gunicorn.log").read_text()
        assert "reload refused, the running workers serve on: CheckpointError" in text and "does not match" in text
        assert proc.poll() is None and worker_pids(proc.pid) == old
        assert results and all(r == (200, version) for r in results), [r for r in results if r != (200, version)][:3]

        weights.write_bytes(good)  # mended: the next reload goes through
        os.kill(proc.pid, signal.SIGHUP)
        new = wait_for_workers(proc.pid, 2, old)
        assert len(new) == 2 and not new & old and classify(base) == (200, version)


def test_the_preflight_check_says_why_in_one_line_and_leaves_no_metrics_files(tmp_path):
    env = {**os.environ, "NAME_MODELS": "gru", "ENTITY_REVIEW": "false", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    def check(**settings):
        return subprocess.run([sys.executable, "-m", "app.preflight"], env={**env, **settings}, cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
    ok = check()
    assert ok.returncode == 0 and list(tmp_path.iterdir()) == []  # no worker's files: no model_info counted twice
    bad = check(NAME_CHECKPOINTS_DIR=str(tmp_path / "none"))
    assert bad.returncode == 1 and bad.stderr.strip().splitlines()[-1].startswith("CheckpointError: checkpoint")
    assert "Traceback" not in bad.stderr


def test_hup_puts_new_code_in_service_even_where_the_master_had_imported_it(tmp_path):
    """A copy of the code, served, changed on disk in app/errors.py (which the master imports with the worker
    class), then HUP: the fresh workers' 404 carries the new code. Before deploy/gunicorn.conf.py's
    forget_project_modules they inherited the master's copy of the module and kept answering the old one."""
    src = tmp_path / "src"
    for part in ("app", "models", "deploy"):
        shutil.copytree(ROOT / part, src / part, ignore=shutil.ignore_patterns("__pycache__"))
    (src / "checkpoints").symlink_to(ROOT / "checkpoints")
    port = free_port()
    env = {**os.environ, "BIND": f"127.0.0.1:{port}", "RUN_DIR": str(tmp_path), "WORKERS": "1",
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"), "NAME_MODELS": "gru", "ENTITY_REVIEW": "false",
           "CACHE_ENABLED": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "app.wsgi:app"],
                            cwd=src, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/ready", timeout=90)
        assert http("GET", base + "/nope")[1]["error"]["code"] == "not_found"
        errors = src / "app" / "errors.py"
        errors.write_text(errors.read_text().replace('404: "not_found"', '404: "no_such_path"'))
        old = worker_pids(proc.pid)
        os.kill(proc.pid, signal.SIGHUP)
        assert not wait_for_workers(proc.pid, 1, old) & old
        wait_http(base + "/ready", timeout=60)
        assert http("GET", base + "/nope")[1]["error"]["code"] == "no_such_path"
    finally:
        stop_process(proc)


def test_sigterm_finishes_the_requests_that_have_begun_then_the_master_exits(tmp_path):
    answers = {}
    with gunicorn(tmp_path, WORKERS="1", NAME_MODELS="gru", CACHE_ENABLED="false",
                  HEAVY_ENTITY_CHARS="0") as (base, port, proc):
        def slow():  # an entity batch of ~1-2 s, computing when the signal comes
            texts = [f"手内肌萎缩慢性支气管炎糖尿病肾病急性胃肠炎高血压手内肌萎缩慢性支气管炎糖尿病{k}" for k in range(400)]
            req = urllib.request.Request(base + "/review-entity", data=json.dumps({"texts": texts}).encode(),
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=60) as r:
                answers["slow"] = r.status, r.headers["Connection"], len(json.loads(r.read())["results"])

        idle = socket.create_connection(("127.0.0.1", port), timeout=5)  # a connection that never sends a request
        arriving = socket.create_connection(("127.0.0.1", port), timeout=10)
        arriving.sendall(b"POST /classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 17\r\n\r\n{\"name\":")  # half a request, read on the event loop
        sender = threading.Thread(target=slow)
        sender.start()
        time.sleep(0.5)
        stopped = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        arriving.sendall(b' "Smith"}')  # the rest comes after the signal
        answers["arriving"] = arriving.recv(65536).split(b"\r\n", 1)[0]
        sender.join(60)
        proc.wait(30)
        exited = time.monotonic() - stopped
        assert answers["slow"] == (200, "close", 400)  # finished, and the client told not to reuse the connection
        assert answers["arriving"] == b"HTTP/1.1 200 OK"
        # Once the batch is answered: the idle connection is let go after 1 s of silence (gunicorn's worker waits
        # out its keepalive, 5 s: 4.8 s in a scratch run, and ours did until session 16: 5.7 s).
        assert exited < 4
        assert idle.recv(10) == b""
        idle.close()
        arriving.close()


def test_reloads_keep_every_count_in_metrics_and_the_metrics_files_do_not_pile_up(tmp_path):
    """Counters and histograms of exited workers are folded into one archive file each (app.metrics): without
    that, every worker ever started left two files that each scrape reads (60 reloads: 188 files)."""
    with gunicorn(tmp_path, WORKERS="2", NAME_MODELS="gru", ENTITY_REVIEW="false", CACHE_ENABLED="false") as \
            (base, port, proc):
        files = tmp_path / f"prom-{port}"
        sent = 0
        for reload in range(6):
            for _ in range(5):
                assert classify(base)[0] == 200
                sent += 1
            old = worker_pids(proc.pid)
            proc.send_signal(signal.SIGHUP)
            assert not wait_for_workers(proc.pid, 2, old) & old, "the old workers did not exit"
        wait_http(base + "/ready")
        assert metric(base, 'http_requests_total{endpoint="/classify",method="POST",status="200"}') == sent
        assert metric(base, 'http_request_duration_seconds_count{endpoint="/classify",method="POST"}') == sent
        db = sorted(f.name for f in files.glob("*.db"))
        # the two live workers' files (at most a counter, a histogram and a live gauge file or two each) and
        # the two archives; twelve exited workers would have left up to 24 more
        assert {"counter_archive.db", "histogram_archive.db"} <= set(db) and len(db) <= 12, db


def test_archiving_sums_a_dead_workers_counts_and_waits_for_scrapes_only_so_long(tmp_path, monkeypatch):
    from prometheus_client import CollectorRegistry, generate_latest, multiprocess
    from prometheus_client.mmap_dict import MmapedDict, mmap_key

    from app import metrics
    key = mmap_key("requests_total", "requests_total", ["status"], ["200"], "help")
    for pid, value in ((101, 3.0), (102, 4.0)):  # two workers' counter files
        f = MmapedDict(str(tmp_path / f"counter_{pid}.db"))
        f.write_value(key, value, 0.0)
        f.close()

    def total():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(tmp_path))
        return re.search(rb'requests_total\{status="200"\} (\S+)', generate_latest(registry)).group(1)

    metrics.archive_dead_worker(101, str(tmp_path))
    metrics.archive_dead_worker(102, str(tmp_path))
    assert sorted(f.name for f in tmp_path.glob("*.db")) == ["counter_archive.db"] and total() == b"7.0"

    f = MmapedDict(str(tmp_path / "counter_103.db"))
    f.write_value(key, 1.0, 0.0)
    f.close()
    monkeypatch.setattr(metrics, "ARCHIVE_LOCK_WAIT", 0.2)
    with metrics.files_locked(str(tmp_path), exclusive=False):  # a scrape that never ends
        started = time.monotonic()
        metrics.archive_dead_worker(103, str(tmp_path))
        assert time.monotonic() - started < 1.0
    assert (tmp_path / "counter_103.db").exists() and total() == b"8.0"  # left as it was, still counted
    metrics.archive_dead_worker(103, str(tmp_path))
    assert not (tmp_path / "counter_103.db").exists() and total() == b"8.0"
