"""What a real gunicorn answers to requests that never reach Flask: the same JSON error envelope as the app's
(gunicorn writes HTML pages of its own; app/gunicorn_worker.py write_json_error)."""
import json

import pytest

from tests.helpers import health_seconds, metric, raw_exchange


@pytest.mark.parametrize("request_bytes, status, code", [
    (b"GARBAGE\r\n\r\n", 400, "bad_request"),
    (b"POST /classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n",
     400, "bad_request"),
    (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "uri_too_long"),
    (b"GET /health HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 9000 + b"\r\n\r\n", 431, "headers_too_large"),
    (b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(200)) + b"\r\n",
     431, "headers_too_large"),
])
def test_requests_gunicorn_refuses_get_the_json_error_envelope(one_worker, request_bytes, status, code):
    _, port = one_worker
    status_line, headers, raw = raw_exchange(port, request_bytes)
    assert status_line.startswith(f"HTTP/1.1 {status} ")
    assert headers["content-type"] == "application/json" and int(headers["content-length"]) > 0
    body = json.loads(raw)
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"]


def test_the_worker_serves_on_after_refusing(one_worker):
    base, port = one_worker
    assert raw_exchange(port, b"GARBAGE\r\n\r\n")[0].startswith("HTTP/1.1 400 ")
    assert health_seconds(base) < 1.0


def test_what_the_server_refuses_itself_is_counted_in_metrics(one_worker):
    base, port = one_worker
    before = metric(base, 'server_error_answers_total{status="400"}')
    raw_exchange(port, b"GARBAGE\r\n\r\n")
    raw_exchange(port, b"POST /classify HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
    assert metric(base, 'server_error_answers_total{status="400"}') == before + 2
