"""Overload: heavy entity batches admitted or shed per worker (app/admission.py), and lingering closes kept
off gunicorn's event loop (app/gunicorn_worker.py), so /health keeps answering under both."""
import json
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest

from app.admission import HeavyWorkGate, Overloaded
from app.registry import heavy_share
from app.request_arrival import MAX_HEAD, request_arrived
from app.gunicorn_worker import LINGER_SECONDS, SocketDrain, _TimedSocket
from tests.helpers import ROOT, Answers, gunicorn, health_seconds, metric
from tests.test_api import post


# --- the gate -------------------------------------------------------------------------------------

def test_light_work_is_never_counted_or_shed():
    gate = HeavyWorkGate(admitted=1)
    with gate.admit(1.0):
        with gate.admit(0.99), gate.admit(0), gate.run(0.99):
            pass


def test_heavy_work_beyond_the_admitted_is_shed_and_a_slot_frees_on_exit_or_error():
    shed = []
    gate = HeavyWorkGate(admitted=2, on_shed=lambda: shed.append(1))
    with gate.admit(1), gate.admit(50):
        with pytest.raises(Overloaded) as e:
            with gate.admit(1):
                pass
    assert e.value.status == 503 and e.value.code == "overloaded" and e.value.retry_after >= 1 and shed == [1]
    with pytest.raises(ValueError):
        with gate.admit(1):
            raise ValueError("the request failed")
    with gate.admit(1), gate.admit(1):  # both slots free again
        pass


def test_cost_is_characters_as_a_share_of_a_heavy_request_per_model_and_zero_means_never():
    assert heavy_share(1000)(["ab", "cde"]) == 0.005 and heavy_share(10)(["a" * 10]) == 1.0
    assert heavy_share(0)(["a" * 10**6]) == 0


def test_heavy_forward_passes_run_one_at_a_time():
    gate, inside, most = HeavyWorkGate(admitted=4), [0], [0]
    lock = threading.Lock()

    def work():
        with gate.admit(1), gate.run(1):
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            time.sleep(0.05)
            with lock:
                inside[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert most[0] == 1


# --- the API ---------------------------------------------------------------------------------------

def heavy_texts(app) -> list[str]:
    threshold = app.config["HEAVY_ENTITY_CHARS"]
    return ["手内肌萎缩" * 12] * (threshold // 60 + 1)  # 60 characters each, together at least the threshold


def test_a_heavy_batch_gets_503_overloaded_when_the_worker_is_full_and_light_requests_still_answer(client, app):
    gate, texts = app.extensions["inference"].registry.gate, heavy_texts(app)
    assert gate.admitted == app.config["THREADS"] - 1  # the default leaves one thread free
    slots = [gate.admit(10**6) for _ in range(gate.admitted)]
    for s in slots:
        s.__enter__()
    try:
        r = post(client, "/review-entity", {"texts": texts})
        assert r.status_code == 503 and r.headers["Retry-After"] == "1"
        assert r.get_json()["error"]["code"] == "overloaded"
        assert post(client, "/review-entity", {"text": "手内肌萎缩"}).status_code == 200
        assert post(client, "/review-entity", {"texts": texts[:3]}).status_code == 200  # under the threshold
        assert post(client, "/classify", {"names": ["Nakamura"] * 1000}).status_code == 200  # 8,000 characters: light
        long_names = [f"Nakamura-Takahashi{i:04d}" for i in range(app.config["HEAVY_NAME_CHARS"] // 22 + 1)]
        r = post(client, "/classify", {"names": long_names})
        assert r.status_code == 503 and r.get_json()["error"]["code"] == "overloaded"
        assert client.get("/health").status_code == 200
    finally:
        for s in slots:
            s.__exit__(None, None, None)
    assert b"heavy_requests_shed_total 2.0" in client.get("/metrics").data
    r = post(client, "/review-entity", {"texts": texts})
    assert r.status_code == 200 and len(r.get_json()["results"]) == len(texts)


def test_overloaded_is_documented_with_retry_after(client):
    doc = client.get("/openapi.json").get_json()
    answer = doc["paths"]["/review-entity"]["post"]["responses"]["503"]
    assert "overloaded" in answer["description"] and "Retry-After" in answer["headers"]


# --- reading requests on the event loop ----------------------------------------------------------------

def test_a_request_has_arrived_when_its_head_and_declared_body_are_in():
    head = b"POST /classify HTTP/1.1\r\nHost: x\r\ncOnTeNt-LeNgTh: 10\r\n\r\n"
    assert not request_arrived(head[:-2], 100)
    assert not request_arrived(head + b"12345", 100)
    assert request_arrived(head + b"1234567890", 100)
    assert request_arrived(head + b"1234567890GET / HTTP/1.1\r\n", 100)  # pipelined bytes after it
    assert request_arrived(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", 100)  # no body


def test_a_thread_takes_what_it_must_answer_or_refuse_before_the_body_is_in():
    assert request_arrived(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 100)
    assert request_arrived(b"POST / HTTP/1.1\r\nContent-Length: 50\r\nExpect: 100-continue\r\n\r\n", 100)
    assert request_arrived(b"POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n", 100)  # 413
    assert request_arrived(b"GET / HTTP/1.1\r\nX: " + b"a" * MAX_HEAD, 100)  # a head too large to wait for


# --- lingering closes -------------------------------------------------------------------------------

def test_closer_half_closes_at_once_and_lets_go_when_the_peer_closes_or_the_linger_ends():
    closer = SocketDrain()
    ours, peer = socket.socketpair()
    closer.close(ours)
    peer.settimeout(1)
    assert peer.recv(10) == b""  # our FIN arrived immediately
    assert closer.pending() == 1
    peer.sendall(b"late request bytes")  # drained, not answered with a reset
    peer.close()
    deadline = time.monotonic() + 1
    while closer.pending() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert closer.pending() == 0

    ours, held = socket.socketpair()  # a peer that never closes: dropped after the linger
    closer.close(ours)
    time.sleep(LINGER_SECONDS / 2)
    assert closer.pending() == 1
    time.sleep(LINGER_SECONDS / 2 + 0.5)
    assert closer.pending() == 0
    held.close()


# --- answers clients are slow to take -------------------------------------------------------------------

def test_drain_sends_the_rest_as_the_client_reads_queues_more_behind_it_and_closes_after_the_last_byte():
    drain = SocketDrain(write_timeout=5)
    ours, peer = socket.socketpair()
    rest = bytes(range(256)) * 16384  # 4 MiB, far more than a socket buffer
    assert drain.write(ours, b"x") is False and drain.hold(ours, print) is False  # nothing pending: go ahead
    drain.hand_over(ours, rest)
    resumed = []
    assert drain.write(ours, b"and more") is True and drain.hold(ours, resumed.append) is True
    drain.close(ours)
    time.sleep(0.3)
    assert drain.pending() == 1 and resumed == []  # the client has read nothing yet
    peer.settimeout(5)
    got = bytearray()
    while chunk := peer.recv(1 << 16):
        got += chunk
    assert got == rest + b"and more"  # every byte, in order, then our FIN
    deadline = time.monotonic() + 3
    while drain.pending() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert resumed == [True] and drain.pending() == 0
    peer.close()


def test_drain_cuts_off_a_client_that_takes_nothing_for_the_write_timeout():
    drain = SocketDrain(write_timeout=0.3)
    ours, peer = socket.socketpair()
    drain.hand_over(ours, b"x" * (8 << 20))
    resumed = []
    drain.hold(ours, resumed.append)
    time.sleep(1.0)
    assert resumed == [False] and drain.pending() == 0
    peer.settimeout(5)
    got = 0
    while chunk := peer.recv(1 << 16):  # what the kernel had taken, then the end: never the whole answer
        got += len(chunk)
    assert got < 8 << 20
    ours.close()
    peer.close()


def test_past_its_memory_cap_the_drain_refuses_and_the_thread_writes_itself_within_the_write_limit():
    drain = SocketDrain(write_timeout=0.5, max_buffered=1 << 20)
    (a, peer_a), (b, peer_b) = socket.socketpair(), socket.socketpair()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)  # the kernel takes little of what is handed over
    assert drain.hand_over(a, b"x" * (800 << 10)) is True and drain.buffered > 700 << 10
    assert drain.hand_over(b, b"y" * (300 << 10)) is False  # over 1 MiB in all: b's thread writes it itself
    queued = []
    writer = threading.Thread(target=lambda: queued.append(drain.write(a, b"x" * (300 << 10))))
    writer.start()  # more for a, past the cap: its thread waits until a's answer is out, then writes itself
    time.sleep(0.3)
    assert queued == []
    peer_a.settimeout(5)
    got = 0
    while got < 800 << 10:
        got += len(peer_a.recv(1 << 16))
    writer.join(5)
    assert queued == [False] and got == 800 << 10
    deadline = time.monotonic() + 2
    while drain.buffered and time.monotonic() < deadline:
        time.sleep(0.01)
    assert drain.buffered == 0 and drain.pending() == 0

    class Full(_TimedSocket):  # a worker's socket whose drain is full
        drain = SocketDrain(write_timeout=0.5, max_buffered=0)

    ours, peer = socket.socketpair()
    sock = Full(fileno=ours.detach())
    sock.settimeout(5)  # as in a worker thread
    received = []
    reader = threading.Thread(target=lambda: received.append(read_all(peer)))
    reader.start()  # a client that reads: the thread's own write completes
    sock.sendall(b"z" * (8 << 20))
    sock.shutdown(socket.SHUT_WR)
    reader.join(10)
    assert received == [8 << 20] and sock.gettimeout() == 5

    ours, peer = socket.socketpair()
    sock = Full(fileno=ours.detach())
    sock.settimeout(5)
    started = time.monotonic()
    with pytest.raises(TimeoutError):  # a client that reads nothing: cut off at the write limit
        sock.sendall(b"z" * (8 << 20))
    assert 0.4 < time.monotonic() - started < 3 and sock.gettimeout() == 5
    for s in (a, b, peer_a, peer_b, sock, peer):
        s.close()


def read_all(sock: socket.socket) -> int:
    sock.settimeout(10)
    n = 0
    while chunk := sock.recv(1 << 16):
        n += len(chunk)
    return n


def read_responses(sock: socket.socket, n: int) -> list[tuple[bytes, bytes]]:
    """n HTTP/1.1 responses with Content-Length, read in turn from one connection: (status line, body)."""
    sock.settimeout(30)
    answers = Answers(sock)
    return [(status_line.encode("latin-1"), body) for status_line, _, body in (answers.next() for _ in range(n))]


def test_clients_slow_to_read_large_answers_hold_no_thread_and_get_every_answer_whole_and_in_order(one_worker):
    base, port = one_worker
    names = [[f"Slow{r}x{i:04d}" for i in range(1000)] for r in range(3)]
    requests = b"".join(b"POST /classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                        for body in (json.dumps({"names": batch, "top_k": 18}).encode() for batch in names))
    readers = []
    try:
        for _ in range(4):  # twice the worker's threads, each sending 3 requests for ~1.5 MB answers at once
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small TCP window
            s.connect(("127.0.0.1", port))
            s.sendall(requests)
            readers.append(s)
        time.sleep(1.5)  # answers computed, and waiting on clients that read nothing
        assert health_seconds(base) < 0.5  # gunicorn's own worker: both threads held in sendall by the readers
        assert metric(base, "slow_reader_buffered_bytes") > 0  # what the worker holds for them
        for s in readers:
            answers = read_responses(s, 3)
            assert [status for status, _ in answers] == [b"HTTP/1.1 200 OK"] * 3
            assert [[r["name"] for r in json.loads(body)["results"]] for _, body in answers] == names
    finally:
        for s in readers:
            s.close()


def test_past_the_client_buffer_a_request_is_read_in_a_thread_whole_or_answered_408(tmp_path):
    body = b'{"name": "Nakamura"' + b" " * 60000 + b"}"  # 60 kB of valid JSON
    head = b"POST /classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
    clients = []
    with gunicorn(tmp_path, WORKERS="1", THREADS="2", NAME_MODELS="gru", ENTITY_REVIEW="false", CACHE_ENABLED="false",
                  REQUEST_READ_TIMEOUT="1", CLIENT_BUFFER_BYTES="50000") as (_, port, _):
        try:
            for _ in range(3):  # 40 kB each: the first stays on the event loop, the next two go past 50 kB
                c = socket.create_connection(("127.0.0.1", port))
                c.sendall(head + body[:40000])
                clients.append(c)
                time.sleep(0.1)
            for c in clients[:2]:  # the rest arrives: read here for the first, in a thread for the second
                c.sendall(body[40000:])
            for c in clients[:2]:
                answer = read_answer(c, b"Japanese")
                assert answer.startswith(b"HTTP/1.1 200") and b"Japanese" in answer
            answer = read_answer(clients[2], b'"request_timeout"')  # the third stops: 408, from the app this time
            assert answer.startswith(b"HTTP/1.1 408") and b"X-Request-ID" in answer  # (the event loop's 408 has none)
        finally:
            for c in clients:
                c.close()


def test_a_static_file_after_an_answer_a_client_is_slow_to_take_comes_whole_and_after_it(one_worker):
    _, port = one_worker
    body = json.dumps({"names": [f"Order{i:04d}" for i in range(1000)], "top_k": 18}).encode()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    try:
        s.sendall(b"POST /classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                  % (len(body), body) * 2 + b"GET /static/demo.js HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(1.5)  # the answers fill the buffers: the file's headers and bytes must queue behind them
        answers = read_responses(s, 3)
    finally:
        s.close()
    assert [status for status, _ in answers] == [b"HTTP/1.1 200 OK"] * 3
    assert answers[2][1] == (ROOT / "app/static/demo.js").read_bytes()


def test_clients_that_keep_closed_connections_open_do_not_stall_the_worker(one_worker):
    base, port = one_worker
    hold = 3.0
    held = []
    for _ in range(3):  # gunicorn's own gthread worker lingered on each of these in turn, up to 2 s apiece
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        s.settimeout(5)
        assert b" 200 " in s.recv(65536)
        held.append(s)
    try:
        assert health_seconds(base) < hold / 3
    finally:
        for s in held:
            s.close()


def test_silent_connections_take_no_thread_a_late_request_is_served_and_silence_is_closed(one_worker):
    base, port = one_worker
    silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]  # twice the worker's threads
    try:
        time.sleep(0.2)
        assert health_seconds(base) < 1.0  # gunicorn's own worker gave each a thread for 5 s
        late = silent[0]
        late.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        late.settimeout(5)
        assert late.recv(65536).startswith(b"HTTP/1.1 200")
        quiet = silent[1]
        quiet.settimeout(15)
        start = time.monotonic()
        assert quiet.recv(10) == b""  # closed by the worker after `keepalive` (5 s) of silence
        assert time.monotonic() - start < 10
    finally:
        for s in silent:
            s.close()


def read_answer(sock: socket.socket, marker: bytes) -> bytes:
    sock.settimeout(5)
    answer = b""
    while marker not in answer and (chunk := sock.recv(65536)):
        answer += chunk
    return answer


def test_a_request_that_stops_arriving_is_answered_408_and_holds_no_thread(one_worker):
    base, port = one_worker
    before = metric(base, 'client_connections_closed_total{reason="request_timeout"}')
    stalled = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]  # twice the worker's threads
    try:  # gunicorn's own worker gave each a thread that waited on it for as long as it stayed connected
        for i, s in enumerate(stalled):
            s.sendall(b"POST /classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 100\r\n\r\n{\"na" if i % 2 else b"POST /classify HTTP/1.1\r\nContent-Ty")
        time.sleep(0.2)
        assert health_seconds(base) < 0.5
        for s in stalled:  # REQUEST_READ_TIMEOUT is 1 s here
            answer = read_answer(s, b'"request_timeout"')
            assert answer.startswith(b"HTTP/1.1 408") and b'"request_timeout"' in answer
            assert s.recv(10) == b""
        assert metric(base, 'client_connections_closed_total{reason="request_timeout"}') >= before + 4
    finally:
        for s in stalled:
            s.close()


def test_trickled_requests_hold_no_thread_and_are_answered_once_whole(one_worker):
    base, port = one_worker
    body = json.dumps({"name": "Nakamura", "top_k": 1}).encode()
    request = (b"POST /classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
               b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    tricklers = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
    try:
        slowest = 0.0
        for start in range(0, len(request), 8):  # 8 bytes every 0.1 s: ~2 s a request, never 1 s silent
            for s in tricklers:
                s.sendall(request[start:start + 8])
            if start % 64 == 0:
                slowest = max(slowest, health_seconds(base))
            time.sleep(0.1)
        assert slowest < 0.5  # gunicorn's own worker: each trickler held a thread the whole time
        for s in tricklers:
            answer = read_answer(s, b"Japanese")
            assert answer.startswith(b"HTTP/1.1 200") and b"Japanese" in answer
    finally:
        for s in tricklers:
            s.close()


def test_concurrent_heavy_batches_beyond_the_worker_are_shed_while_health_answers(one_worker):
    base, _ = one_worker
    body = json.dumps({"texts": ["手内肌萎缩慢性支气管炎糖尿病肾病急性胃肠炎高血压" * 2 + f"{i:03d}" for i in range(300)]}).encode()
    statuses, lock = [], threading.Lock()

    def send():
        req = urllib.request.Request(base + "/review-entity", body, {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                out = (r.status, None)
        except urllib.error.HTTPError as e:
            with e:
                out = (e.code, (json.loads(e.read())["error"]["code"], e.headers.get("Retry-After")))
        with lock:
            statuses.append(out)

    clients = [threading.Thread(target=send) for _ in range(3)]
    for t in clients:
        t.start()
        time.sleep(0.05)
    health = [health_seconds(base) for _ in range(3)]
    for t in clients:
        t.join()
    assert sorted(s for s, _ in statuses)[0] == 200
    shed = [detail for s, detail in statuses if s != 200]
    assert shed and all(d == ("overloaded", "1") for d in shed)
    assert max(health) < 1.0
