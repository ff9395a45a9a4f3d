"""Two service instances behind nginx sharing one Redis (loopback only, bounded request counts)."""
import gzip
import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request

import pytest

from tests.helpers import NGINX, raw_exchange, run_cluster, stop_process, wait_until, worker_pids

pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx not installed (make test installs it)")


def classify(base, name):
    req = urllib.request.Request(base + "/classify", data=json.dumps({"name": name}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, r.headers["X-Instance"], json.loads(r.read())


@pytest.fixture
def cluster(tmp_path):
    with run_cluster(tmp_path, NAME_MODELS="gru", ENTITY_REVIEW="false") as c:
        yield c




def test_two_instances_share_cache_and_survive_one_stopping(cluster):
    lb, direct, procs = cluster
    served = [classify(lb, f"Burst{i}") for i in range(40)]
    assert all(code == 200 for code, _, _ in served)
    assert {inst for _, inst, _ in served} == {"a", "b"}  # both instances took traffic

    _, inst, first = classify(direct["a"], "Sharedcache")
    assert inst == "a" and first["cached"] is False
    _, inst, second = classify(direct["b"], "Sharedcache")
    assert inst == "b" and second["cached"] is True  # cached by a, a hit on b

    procs["b"].terminate()
    procs["b"].wait(30)
    after = [classify(lb, f"Afterstop{i}") for i in range(30)]
    assert all(code == 200 for code, _, _ in after)  # nginx retried on a: no request lost
    assert {inst for _, inst, _ in after} == {"a"}


def test_workers_killed_on_both_instances_within_fail_timeout_cost_no_request(cluster):
    # A worker killed with requests in flight is a failure of its instance for nginx, marked for fail_timeout (5 s)
    # though its master has a new worker serving within a second; nginx retries those requests on the other
    # instance. Without the backup peers, a worker killed there too within those 5 s left no live upstream: 502.
    lb, _, procs = cluster

    def batches_while_killing(name, tag):
        answers = []
        senders = [threading.Thread(target=lambda k=k: answers.append(post(lb, "/classify", {
            "names": [f"Abramovich{tag}{k}x{i:04d}" + "y" * 20 for i in range(1000)]}))) for k in range(2)]
        for t in senders:
            t.start()
        time.sleep(0.15)  # both batches computing (~0.4 s each)
        os.kill(min(worker_pids(procs[name].pid)), signal.SIGKILL)
        for t in senders:
            t.join()
        return answers

    assert batches_while_killing("a", "first") == [(200, None)] * 2  # a's batch retried on b
    assert batches_while_killing("b", "second") == [(200, None)] * 2  # a marked failed: b's retried on a's backup
    assert [post(lb, "/classify", {"name": f"Later{i}"}) for i in range(6)] == [(200, None)] * 6


def post(base, path, body):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, None
    except urllib.error.HTTPError as e:
        with e:
            body = e.read()
        try:
            return e.code, (json.loads(body)["error"]["code"], e.headers.get("Retry-After"))
        except ValueError:
            return e.code, body[:80]  # nginx's own HTML page


def test_a_shed_batch_reaches_the_client_and_leaves_both_instances_in_rotation(tmp_path):
    # nginx used to retry a 503 on the next instance and count it as that instance failing (max_fails=1):
    # two shed batches took both out for 5 s and every request, light or not, got 502 "no live upstreams".
    with run_cluster(tmp_path, NAME_MODELS="gru", THREADS="2", CACHE_ENABLED="false") as (lb, _, _):
        heavy, light = [], []

        def send_heavy(i):
            texts = [f"手内肌萎缩慢性支气管炎糖尿病肾病急性胃肠炎高血压{i}-{k}" for k in range(300)]
            heavy.append(post(lb, "/review-entity", {"texts": texts}))

        senders = [threading.Thread(target=send_heavy, args=(i,)) for i in range(6)]
        for t in senders:
            t.start()
        for i in range(20):
            light.append(post(lb, "/classify", {"name": f"Light{i}"}))
        for t in senders:
            t.join()
        assert light == [(200, None)] * 20
        assert {status for status, _ in heavy} == {200, 503}  # each instance admits one at a time
        assert all(detail == ("overloaded", "1") for status, detail in heavy if status == 503)
        assert [classify(lb, f"After{i}")[1] for i in range(4)].count("a") == 2  # both still in rotation


def test_nginx_compresses_large_answers_for_clients_that_ask(cluster):
    lb, _, _ = cluster
    body = json.dumps({"names": [f"{n}{i}" for i, n in enumerate(["Nakamura", "Ivanov", "Smith", "Rossi"] * 250)],
                       "top_k": 18}).encode()

    def fetch(data, encoding):
        req = urllib.request.Request(lb + "/classify", data=data, headers={"Content-Type": "application/json",
                                                                           **encoding})
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.headers, r.read()

    plain_headers, plain = fetch(body, {})
    headers, packed = fetch(body, {"Accept-Encoding": "gzip"})
    assert plain_headers.get("Content-Encoding") is None and headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in headers["Vary"] and len(packed) * 10 < len(plain)
    results = [json.loads(b)["results"] for b in (plain, gzip.decompress(packed))]
    assert [[{**r, "cached": None} for r in rs] for rs in results] == [[{**r, "cached": None} for r in results[0]]] * 2
    headers, single = fetch(b'{"name": "Smith"}', {"Accept-Encoding": "gzip"})
    assert headers.get("Content-Encoding") is None and json.loads(single)["name"] == "Smith"  # too small to gain
    req = urllib.request.Request(lb + "/docs/swagger-ui-bundle.js", headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(req, timeout=30) as r:  # the API reference's largest file
        assert r.headers["Content-Encoding"] == "gzip" and b"SwaggerUIBundle" in gzip.decompress(r.read())


def exchange(base, path, data=None, headers=None):
    """(status, headers, JSON body) of a request, whatever its status."""
    req = urllib.request.Request(base + path, data=data, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers, json.loads(r.read())
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.headers, json.loads(e.read())  # not JSON (nginx's HTML page): the test fails here


def test_nginx_passes_request_ids_and_answers_its_own_errors_in_json(cluster, tmp_path):
    lb, direct, procs = cluster
    status, headers, _ = exchange(lb, "/health", headers={"X-Request-ID": "client-7"})
    assert status == 200 and headers["X-Request-ID"] == "client-7"  # the client's id, through nginx and back
    made = {exchange(lb, "/health", headers=h)[1]["X-Request-ID"] for h in ({}, {"X-Request-ID": "a b"})}
    assert len(made) == 2 and all(len(i) == 32 for i in made)  # nginx's $request_id, passed to the instance
    # nginx logs a request after it has sent the answer, so a client can read the log before the line is there
    wanted = ["id=client-7", *(f"id={i}" for i in made)]
    log = tmp_path / "nginx-access.log"  # the cluster's RUN_DIR
    wait_until(lambda: all(w in log.read_text() for w in wanted), 10, "the access log naming the request ids")

    status, headers, body = exchange(lb, "/classify", data=b'{"name": "' + b"x" * (3 << 20) + b'"}')
    assert status == 413 and body["error"]["code"] == "payload_too_large" and headers["X-Request-ID"]
    for request, status, code in ((b"GARBAGE\r\n\r\n", 400, "bad_request"),
                                  (b"GET / HTTP/9.9\r\n\r\n", 505, "http_version_not_supported"),
                                  (b"POST /classify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501,
                                   "not_implemented")):
        status_line, headers, raw = raw_exchange(int(lb.rsplit(":", 1)[1]), request)
        assert status_line.startswith(f"HTTP/1.1 {status} ") and json.loads(raw)["error"]["code"] == code, raw

    status, headers, body = exchange(lb, "/metrics")  # for Prometheus, which scrapes each instance itself
    assert status == 404 and "scrape each instance" in body["error"]["message"] and headers["X-Request-ID"]
    with urllib.request.urlopen(direct["a"] + "/metrics", timeout=10) as r:
        assert r.status == 200 and b"http_requests_total" in r.read()

    for p in procs.values():
        stop_process(p)
    status, headers, body = exchange(lb, "/classify", data=b'{"name": "Smith"}', headers={"X-Request-ID": "late-1"})
    assert status == 502 and body["error"]["code"] == "unavailable" and headers["X-Request-ID"] == "late-1"
