"""What a real gunicorn answers to requests that never reach Flask: the same JSON error envelope as the app's
(gunicorn writes HTML pages of its own; app/gunicorn_worker.py write_json_error)."""
import json
import socket

import pytest

from tests.test_overload import health_seconds


def raw_exchange(port: int, request: bytes) -> tuple[str, dict, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(request)
        answer = b""
        while chunk := s.recv(65536):  # the server closes after an error it writes itself
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return status_line, headers, body


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
