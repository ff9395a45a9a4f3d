"""Redis dies mid-test: requests keep answering uncached (or from the worker's own tier); Redis returns:
caching resumes by itself."""
import os
import re
import signal
import time

import pytest
import redis

from app import create_app
from app.metrics import CACHE_EVENTS
from tests.helpers import RedisServer, series_value


def redis_tier_alone(server):
    """The GRU app over `server` with no local tier, so every cached answer comes from Redis, and a breaker that
    tries Redis again after half a second."""
    return create_app({"REDIS_URL": server.url, "NAME_MODELS": "gru", "ENTITY_REVIEW": False,
                       "CACHE_RETRY_AFTER_SECONDS": 0.5, "LOCAL_CACHE_ITEMS": 0})


def test_redis_outage_and_recovery(tmp_path):
    server = RedisServer(tmp_path).start()
    app = redis_tier_alone(server)
    c = app.test_client()
    try:
        assert c.post("/classify", json={"name": "Dubois"}).get_json()["cached"] is False
        assert c.post("/classify", json={"name": "Dubois"}).get_json()["cached"] is True

        server.stop()
        for name in ["Dubois", "Rossi", "Dubois"]:
            start = time.perf_counter()
            r = c.post("/classify", json={"name": name})
            assert r.status_code == 200 and r.get_json()["cached"] is False
            assert time.perf_counter() - start < 1.0  # short socket timeouts, no retries
        batch = c.post("/classify", json={"names": ["Dubois", "Rossi"]})
        assert batch.status_code == 200 and not any(x["cached"] for x in batch.get_json()["results"])
        ready = c.get("/ready")
        assert ready.status_code == 200 and ready.get_json()["cache"] == "unavailable"
        metrics = c.get("/metrics").get_data(as_text=True)
        errors = re.search(r'prediction_cache_events_total\{event="error"\} (\S+)', metrics)
        assert errors and float(errors.group(1)) >= 1  # the series exists from the start: its count must move

        server.start()
        time.sleep(0.6)  # past the circuit breaker's retry interval
        assert c.post("/classify", json={"name": "Rossi"}).get_json()["cached"] is False  # refills
        assert c.post("/classify", json={"name": "Rossi"}).get_json()["cached"] is True
        assert c.get("/ready").get_json()["cache"] == "ok"
    finally:
        server.stop()


def test_a_frozen_redis_costs_one_timeout_and_never_a_wrong_answer(tmp_path):
    """A Redis that stops answering without closing its socket (SIGSTOP: a stalled host, a full swap) costs one
    request the socket timeout, then the breaker skips it. The commands it received meanwhile are answered once it
    runs again, on connections that must not be reused: with redis-py's disconnect-on-timeout switched off (a
    scratch run), 5 of the 12 answers below were another name's (Dubois answered Polish, Nakamura Italian)."""
    server = RedisServer(tmp_path).start()
    app = redis_tier_alone(server)
    c = app.test_client()
    names = ["Dubois", "Rossi", "Nakamura", "Ivanov", "Schmidt", "Kowalski"]
    def ask(name):
        return c.post("/classify", json={"name": name, "top_k": 18}).get_json()
    try:
        fresh = {name: ask(name)["predictions"] for name in names}  # computed, and cached in Redis
        os.kill(server.proc.pid, signal.SIGSTOP)
        for name in names[:3]:
            start = time.perf_counter()
            answer = ask(name)
            assert answer["cached"] is False and answer["predictions"] == fresh[name]
            assert time.perf_counter() - start < 0.5  # the 50 ms socket timeout once, then skipped
        assert c.get("/ready").get_json()["cache"] == "unavailable"
        os.kill(server.proc.pid, signal.SIGCONT)
        time.sleep(0.6)  # past the breaker
        answers = [(name, ask(name)) for name in names * 2]
        assert all(answer["cached"] for _, answer in answers)
        assert [name for name, answer in answers if answer["predictions"] != fresh[name]] == []
    finally:
        if server.proc:
            os.kill(server.proc.pid, signal.SIGCONT)
        server.stop()


def test_a_full_redis_that_refuses_writes_still_serves_its_hits(tmp_path):
    """A Redis at maxmemory under noeviction (not deploy/redis.conf's policy, but a shared Redis's may be) refuses
    every write with OOM and answers every read. The refusal had opened the breaker for reads too, so each retry a
    write failed again and hit names were answered uncached: 0 of 6 hits (scratch run). Only writes pause now."""
    server = RedisServer(tmp_path, "--maxmemory-policy", "noeviction").start()
    app = redis_tier_alone(server)
    c = app.test_client()
    hot = ["Dubois", "Rossi", "Nakamura"]
    def cached(names):
        return [r["cached"] for r in c.post("/classify", json={"names": names}).get_json()["results"]]
    def events():
        text = c.get("/metrics").get_data(as_text=True)
        return {e: series_value(text, f'prediction_cache_events_total{{event="{e}"}}') for e in CACHE_EVENTS}
    try:
        cached(hot)
        server.client().config_set("maxmemory", "100kb")  # far under what Redis uses (~1 MB): full
        with pytest.raises(redis.ResponseError, match="used memory > 'maxmemory'"):
            server.client().set("probe", "x")
        assert cached(["Ivanov", "Schmidt"]) == [False, False]  # computed; their write refused (OOM)
        assert events()["refused"] == 1 and events()["error"] == 0  # Redis answered: not "cannot reach Redis"
        assert cached(hot) == [True, True, True]  # reads still answer
        assert cached(["Kowalski"]) == [False] and events()["write_skipped"] == 1  # not even tried
        assert cached(["Ivanov", "Schmidt"]) == [False, False] and events()["refused"] == 1

        server.client().config_set("maxmemory", "0")  # room again: writes resume after the pause
        time.sleep(0.6)
        cached(["Ivanov"])
        assert cached(["Ivanov"]) == [True] and events()["refused"] == 1
    finally:
        server.stop()


def test_local_tier_serves_hot_names_without_redis(tmp_path):
    server = RedisServer(tmp_path).start()
    app = create_app({"REDIS_URL": server.url, "NAME_MODELS": "gru", "ENTITY_REVIEW": False,
                      "CACHE_RETRY_AFTER_SECONDS": 0.5, "LOCAL_CACHE_ITEMS": 2})
    c = app.test_client()
    try:
        first = c.post("/classify", json={"name": "Dubois"}).get_json()
        server.stop()
        again = c.post("/classify", json={"name": "Dubois"}).get_json()  # from this worker's memory
        assert again["cached"] is True and again["predictions"] == first["predictions"]
        assert c.post("/classify", json={"name": "Rossi"}).get_json()["cached"] is False
        c.post("/classify", json={"names": ["Nakamura", "Ivanov"]})  # evicts Dubois and Rossi (LRU of 2)
        # another spelling of the same name: past the remembered responses (byte-identical bodies only)
        assert c.post("/classify", json={"name": "DUBOIS"}).get_json()["cached"] is False
        metrics = c.get("/metrics").get_data(as_text=True)
        assert 'prediction_cache_events_total{event="local_hit"} 1.0' in metrics
    finally:
        server.stop()


def test_a_redis_hit_fills_the_local_tier(tmp_path):
    server = RedisServer(tmp_path).start()
    config = {"REDIS_URL": server.url, "NAME_MODELS": "gru", "ENTITY_REVIEW": False, "LOCAL_CACHE_ITEMS": 16}
    try:
        create_app(config).test_client().post("/classify", json={"name": "Kowalski"})  # another worker fills Redis
        c = create_app(config).test_client()
        assert c.post("/classify", json={"name": "Kowalski"}).get_json()["cached"] is True  # Redis hit
        server.stop()
        assert c.post("/classify", json={"name": "Kowalski"}).get_json()["cached"] is True  # now local
    finally:
        server.stop()


def test_cache_keys_separate_every_field_and_take_any_text():
    from app.cache import cache_key
    keys = {cache_key("classify", "gru", "v1", "dubois"), cache_key("classify", "gru", "v2", "dubois"),
            cache_key("classify", "lstm", "v1", "dubois"), cache_key("review-entity", "gru", "v1", "dubois"),
            cache_key("classify", "gru", "v1", "dubois\0"), cache_key("classify", "gru", "v1", "\ud800")}
    assert len(keys) == 6 and all(k.startswith("pred:") and len(k) == 5 + 64 for k in keys)


def test_with_a_key_secret_redis_holds_no_reversible_trace_of_a_name(tmp_path):
    """Names are personal data. Redis holds only keys and the answers; a plain hash of a name is reversed by
    hashing a list of names, an HMAC under CACHE_KEY_SECRET is not. Instances with the same secret share entries."""
    from app.cache import cache_key
    from models.name_text import normalise
    server = RedisServer(tmp_path).start()
    settings = {"REDIS_URL": server.url, "NAME_MODELS": "gru", "ENTITY_REVIEW": False, "LOCAL_CACHE_ITEMS": 0}
    one, same, other = (create_app({**settings, "CACHE_KEY_SECRET": secret}).test_client()
                        for secret in ("s3", "s3", "x9"))
    try:
        assert one.post("/classify", json={"name": "Kowalczyk"}).get_json()["cached"] is False
        assert same.post("/classify", json={"name": "Kowalczyk"}).get_json()["cached"] is True  # shared
        assert other.post("/classify", json={"name": "Kowalczyk"}).get_json()["cached"] is False
        redis = server.client()
        stored = redis.keys("pred:*")
        assert len(stored) == 2 and not any(b"kowalczyk" in k + redis.get(k) for k in stored)
        version = one.application.extensions["inference"].registry.names["gru"].cache_version
        assert cache_key("classify", "gru", version, normalise("Kowalczyk")).encode() not in stored  # the plain hash
    finally:
        server.stop()
