"""Failure drills on the supervised stack under a bounded loopback load."""
import http.client as http_client
import os
import shutil
import signal
import subprocess
import threading
import time

import redis

from app.cache import cache_key
from models.name_predictor import NamePredictor
from models.name_text import normalise
from models.paths import CHECKPOINTS
from tests.helpers import ROOT, http, supervised_stack, wait_http, worker_pids


class Load:
    """N client threads posting /classify until stopped (at most max_requests); records status codes."""

    def __init__(self, base, threads=3, max_requests=20_000):
        self.base, self.codes, self.stop_flag, self.max = base, [], threading.Event(), max_requests
        self.threads = [threading.Thread(target=self._run, args=(i,)) for i in range(threads)]

    def _run(self, tid):
        i = 0
        while not self.stop_flag.is_set() and len(self.codes) < self.max:
            i += 1
            try:
                code, _ = http("POST", self.base + "/classify", {"name": f"Drill{tid}x{i % 50}"})
            except (OSError, http_client.HTTPException):  # a killed worker can cut a reply short: a failure too
                code = 0
            self.codes.append(code)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        for t in self.threads:
            t.join()

    def failures(self):
        return sum(c != 200 for c in self.codes)


def pid_of(ctl, env, program):
    return int(subprocess.run(ctl + ["pid", program], env=env, capture_output=True, text=True).stdout)


def test_drills_redis_kill_worker_kill_master_kill(stack):
    base, env, ctl = stack
    # 1. Redis SIGKILLed under load: zero failed requests; supervisor restarts it; hits come back.
    with Load(base) as load:
        time.sleep(1)
        os.kill(pid_of(ctl, env, "redis"), signal.SIGKILL)
        time.sleep(3)
    assert load.failures() == 0 and len(load.codes) > 50, (load.failures(), len(load.codes))
    # Redis itself must serve hits again (the workers' local tiers could answer without it), so: once
    # the restarted, empty Redis holds an entry, names are cached there and come back from it.
    restarted = redis.Redis(port=int(env["REDIS_PORT"]), socket_timeout=1)
    deadline, i = time.monotonic() + 20, 0
    while time.monotonic() < deadline:
        i += 1
        http("POST", base + "/classify", {"name": f"Afterredis{i}"})
        try:
            if restarted.dbsize() > 0:
                break
        except redis.RedisError:
            pass
        time.sleep(0.5)
    assert restarted.dbsize() > 0
    # A name no worker has computed is answered "cached" only if Redis served it: plant one there.
    # (a worker's circuit breaker may still skip Redis for up to CACHE_RETRY_AFTER_SECONDS: retry)
    # The key's version: the service's, from the same checkpoint and code (clients see only model_version).
    version = NamePredictor.load(CHECKPOINTS / "names-gru", runtime="onnx").cache_version
    value, deadline = None, time.monotonic() + 15
    while value is None and time.monotonic() < deadline:
        i += 1
        seen = http("POST", base + "/classify", {"name": f"Afterredis{i}"})[1]
        value = restarted.get(cache_key("classify", "gru", version, normalise(f"Afterredis{i}")))
        time.sleep(0.2)
    assert value is not None
    # A fresh planted name per try: the other worker's breaker may stay open a few seconds longer, and a
    # name it computed would no longer prove anything.
    served_from_redis, deadline = False, time.monotonic() + 15
    while not served_from_redis and time.monotonic() < deadline:
        i += 1
        planted = f"Neverasked Beforenow{i}"
        restarted.set(cache_key("classify", "gru", version, normalise(planted)), value)
        answer = http("POST", base + "/classify", {"name": planted})[1]
        served_from_redis = answer["cached"] is True and answer["predictions"] == seen["predictions"]
        time.sleep(0.2)
    assert served_from_redis

    # 2. One worker SIGKILLed under load: the master respawns it; failures are the killed worker's in-flight requests.
    master = pid_of(ctl, env, "gunicorn")
    before = worker_pids(master)
    with Load(base) as load:
        time.sleep(2)
        os.kill(sorted(before)[0], signal.SIGKILL)
        time.sleep(6)
    assert len(worker_pids(master)) == 2 and worker_pids(master) != before
    print(f"worker kill drill: {load.failures()} failed of {len(load.codes)}")
    assert load.failures() <= max(3, len(load.codes) // 1000), (load.failures(), len(load.codes))

    # 3. gunicorn master SIGKILLed: supervisor restarts it, ready again within 10 s.
    os.killpg(master, signal.SIGKILL)  # the master and its workers, as a crash of the whole group
    start = time.monotonic()
    wait_http(base + "/ready", timeout=30)
    recovered = time.monotonic() - start
    print(f"master kill drill: ready again after {recovered:.1f} s")
    assert recovered <= 10 and pid_of(ctl, env, "gunicorn") != master


def test_corrupt_checkpoint_refuses_to_start(tmp_path):
    ckpts = tmp_path / "checkpoints"
    shutil.copytree(ROOT / "checkpoints" / "names-gru", ckpts / "names-gru")
    blob = bytearray((ckpts / "names-gru" / "model.safetensors").read_bytes())
    blob[100] ^= 0xFF
    (ckpts / "names-gru" / "model.safetensors").write_bytes(bytes(blob))
    run = tmp_path / "run"
    run.mkdir()
    with supervised_stack(run, wait=False, NAME_CHECKPOINTS_DIR=str(ckpts), NAME_MODELS="gru",
                          ENTITY_REVIEW="false") as (base, env, ctl):
        deadline = time.monotonic() + 60
        status = ""
        while time.monotonic() < deadline and "FATAL" not in status:
            time.sleep(1)
            status = subprocess.run(ctl + ["status", "gunicorn"], env=env, capture_output=True, text=True).stdout
        assert "FATAL" in status, status  # supervisor gave up: it never served
        log = (run / "gunicorn.log").read_text()
        assert "CheckpointError" in log and "does not match manifest" in log
        try:
            code = http("GET", base + "/ready")[0]
        except OSError:
            code = None
        assert code is None  # nothing listening, so nothing served garbage
