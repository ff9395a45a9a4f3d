"""Every kind of client at once (bench/soak.py), through HUP reloads and Redis restarts: no answer lost or wrong."""
from bench.soak import Soak, chaos_events
from tests.helpers import RedisServer, gunicorn


def test_every_kind_of_client_through_reloads_and_redis_restarts_gets_every_answer_right(tmp_path):
    redis = RedisServer(tmp_path).start()
    events = []
    try:
        with gunicorn(tmp_path, REDIS_URL=redis.url) as (_, port, master):
            result = Soak(port).run(16, 8, chaos_events([master], redis, ["hup", "redis"], 3.0, log=events.append))
    finally:
        redis.stop()
    counts = result["counts"]
    assert sum("hup" in e for e in events) >= 2 and sum("redis" in e for e in events) >= 1, events
    assert result["problems"] == [], result["problems"]  # nothing wrong, lost, or a failed probe
    assert counts["answered"] >= 300 and counts["garbage_refused"] + counts.get("garbage_closed", 0) >= 10, counts
    assert counts["told_to_close"] >= 1, counts  # keep-alive clients met the reloads


def test_the_soak_notices_answers_out_of_order_or_changed():
    soak = Soak(port=0)
    single = b'{"name":"Ivanov","predictions":[{"language":"Russian","probability":0.9960}]}'
    soak.check("/classify", 200, single, ["Ivanov"])
    soak.check("/classify", 200, single.replace(b"0.9960", b"0.9961"), ["Ivanov"])  # rounding: the same answer
    assert soak.counts == {"answered": 2}
    soak.check("/classify", 200, single.replace(b"Russian", b"Czech"), ["Ivanov"])
    batch = b'{"results":[{"text":"b","valid":true,"score":0.9},{"text":"a","valid":false,"score":0.1}]}'
    soak.check("/review-entity", 200, batch, ["a", "b"])
    soak.check("/classify", 500, b'{"error":{}}', ["Ivanov"])
    soak.check("/classify", 503, b'{"error":{}}', ["Ivanov"])
    assert soak.counts == {"answered": 2, "wrong": 3, "overloaded": 1}
