"""What a real gunicorn writes to its log: with LOG_FORMAT=json, every line one JSON object (gunicorn's own, the app's,
the access log; tests/test_api.py has a traceback's); by default text lines whose access entries end with the
duration and request id."""
import json
import re
import urllib.request

import pytest

from tests.helpers import free_port, gunicorn, raw_exchange

SETTINGS = {"WORKERS": "1", "NAME_MODELS": "gru", "ENTITY_REVIEW": "false", "ACCESS_LOG": "-",
            "CACHE_RETRY_AFTER_SECONDS": "0"}


def traffic(base: str, port: int):
    """A classify with the caller's request id, a 404, and a request line gunicorn refuses itself."""
    req = urllib.request.Request(base + "/classify", data=b'{"name": "Nakamura"}',
                                 headers={"Content-Type": "application/json", "X-Request-ID": "logs-1"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(base + "/nowhere", timeout=10)
    assert raw_exchange(port, b"GARBAGE\r\n\r\n")[0].startswith("HTTP/1.1 400")


def test_json_logs_are_one_object_a_line(tmp_path):
    log = tmp_path / "gunicorn.log"
    nowhere = f"redis://127.0.0.1:{free_port()}/0"  # so the app logs a warning too
    with open(log, "wb") as out, gunicorn(tmp_path, out, LOG_FORMAT="json", REDIS_URL=nowhere,
                                          **SETTINGS) as (base, port, _):
        traffic(base, port)
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # a line that is not JSON fails here
    assert all({"time", "level", "logger", "process", "message"} <= r.keys() for r in records)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00", r["time"]) for r in records)
    by_logger = {}
    for r in records:
        by_logger.setdefault(r["logger"], []).append(r)
    assert any("Booting worker" in r["message"] for r in by_logger["gunicorn.error"])      # gunicorn's own
    assert any(r["message"].startswith("loaded names-gru") for r in by_logger["app.registry"])  # the app's
    assert any(r["level"] == "WARNING" and "redis get failed" in r["message"] for r in by_logger["app.cache"])
    access = {r["path"]: r for r in by_logger["gunicorn.access"]}
    classify = access["/classify"]
    assert (classify["method"], classify["status"], classify["request_id"]) == ("POST", 200, "logs-1")
    assert classify["message"] == "POST /classify 200" and 0 < classify["duration_s"] < 10 and classify["bytes"] > 0
    assert access["/nowhere"]["status"] == 404 and re.fullmatch(r"[0-9a-f]{32}", access["/nowhere"]["request_id"])
    assert "Nakamura" not in log.read_text()  # a name travels in the body, which is never logged


def test_text_logs_by_default(tmp_path):
    log = tmp_path / "gunicorn.log"
    with open(log, "wb") as out, gunicorn(tmp_path, out, **SETTINGS) as (base, port, _):
        traffic(base, port)
    text = log.read_text()
    assert re.search(r'"POST /classify HTTP/1.1" 200 \d+ .* \d+\.\d{6} id=logs-1$', text, re.M)
    assert re.search(r"^\S+ \S+ \d+ INFO app.registry: loaded names-gru", text, re.M)
    assert not any(line.startswith("{") for line in text.splitlines())
