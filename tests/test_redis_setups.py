"""Redis as it is deployed beyond one local server, with real redis-servers: a primary failing over to a replica
(under a real Redis Sentinel, and as a managed Redis does it), TLS and passwords. The service must cache through
each, and where the setup is wrong, answer uncached and log why."""
import os
import subprocess
import time

import redis

from app import create_app
from tests.helpers import RedisServer, free_port, wait_until

SETTINGS = {"NAME_MODELS": "gru", "ENTITY_REVIEW": False, "LOCAL_CACHE_ITEMS": 0,  # the Redis tier alone
            "CACHE_RETRY_AFTER_SECONDS": 0.3}


def role(server: RedisServer) -> str:
    return server.client().role()[0].decode()


def cached_twice(client, name: str) -> bool:
    """Whether `name`, asked twice, comes from the cache the second time: the first answer was written to Redis."""
    first = client.post("/classify", json={"name": name})
    second = client.post("/classify", json={"name": name})
    assert first.status_code == second.status_code == 200
    return second.get_json()["cached"]


def test_through_sentinel_the_cache_follows_a_failover(tmp_path, caplog):
    """REDIS_URL pointing at the primary had left the cache off for good after a failover: uncached while the old
    primary was down, and every write refused (READONLY) once it came back as a replica."""
    (tmp_path / "p").mkdir(), (tmp_path / "r").mkdir()
    primary = RedisServer(tmp_path / "p", "--repl-diskless-sync-delay", "0").start()
    replica = RedisServer(tmp_path / "r", "--replicaof", "127.0.0.1", str(primary.port)).start()
    port = free_port()
    conf = tmp_path / "sentinel.conf"  # Sentinel rewrites its file, so each run writes its own
    conf.write_text(f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\nsentinel monitor cache 127.0.0.1 {primary.port} 1\n"
                    "sentinel down-after-milliseconds cache 500\nsentinel failover-timeout cache 2000\n"
                    "requirepass s3ntinel\n")  # Sentinels with a password of their own
    sentinel = subprocess.Popen(["redis-server", str(conf), "--sentinel"], stdout=subprocess.DEVNULL)
    app = create_app({**SETTINGS, "REDIS_SENTINELS": f"127.0.0.1:{port}", "REDIS_SENTINEL_MASTER": "cache",
                      "REDIS_SENTINEL_PASSWORD": "s3ntinel", "REDIS_URL": "redis://not-used/0"})
    c = app.test_client()
    try:
        wait_until(lambda: role(replica) == "slave"
                   and replica.client().info("replication")["master_link_status"] == "up", 10, "replicating")
        assert cached_twice(c, "Dubois")
        assert primary.client().dbsize() == 1
        wrong = create_app({**SETTINGS, "REDIS_SENTINELS": f"127.0.0.1:{port}", "REDIS_SENTINEL_MASTER": "cache",
                            "REDIS_SENTINEL_PASSWORD": "wrong", "REDIS_URL": "redis://not-used/0"}).test_client()
        assert not cached_twice(wrong, "Dubois")  # answered, uncached, and the log says why
        assert any("(auth:AuthenticationError)" in r.getMessage() for r in caplog.records if r.name == "app.cache")

        primary.stop()
        for attempt in range(150):  # answered all along, uncached until the replica is promoted
            start = time.perf_counter()
            back = cached_twice(c, f"Failover{attempt}")
            assert time.perf_counter() - start < 1.0  # short timeouts, no retries, while no primary answers
            if back:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the cache never came back")
        assert role(replica) == "master" and replica.client().dbsize() == 2  # Dubois, replicated, and the new one
        assert c.get("/ready").get_json()["cache"] == "ok"
    finally:
        sentinel.terminate()
        sentinel.wait(10)
        replica.stop()
        primary.stop()


def test_a_read_only_answer_drops_the_connection_so_the_next_one_finds_the_new_primary(tmp_path):
    """A managed Redis fails over by moving its primary's DNS name to the promoted replica; the pooled connection
    still reaches the old primary, now read-only. Here the name is a unix socket path, a link that is moved."""
    a = RedisServer(tmp_path / "a", "--unixsocket", str(tmp_path / "a.sock"))
    b = RedisServer(tmp_path / "b", "--unixsocket", str(tmp_path / "b.sock"))
    for server in (a, b):
        server.workdir.mkdir()
        server.start()
    link = tmp_path / "redis.sock"
    link.symlink_to(tmp_path / "a.sock")
    c = create_app({**SETTINGS, "REDIS_URL": f"unix://{link}?db=0"}).test_client()
    try:
        assert cached_twice(c, "Dubois") and a.client().dbsize() == 1

        # The failover: b becomes the primary and the name points at it; a follows b as a replica.
        b.client().replicaof("NO", "ONE")
        a.client().replicaof("127.0.0.1", b.port)
        os.replace(_linked(tmp_path, "b.sock"), link)
        wait_until(lambda: role(a) == "slave", 5, "demoted")

        assert not cached_twice(c, "Rossi")  # a refuses the write (READONLY): answered, uncached
        time.sleep(0.4)  # past the circuit breaker
        assert cached_twice(c, "Nakamura")  # a new connection, through the moved name, to b
        assert b.client().dbsize() == 1
    finally:
        a.stop()
        b.stop()


def _linked(directory, target: str):
    """A new symbolic link to `target`, to be moved over the old one in one step."""
    new = directory / f"next-{target}"
    new.symlink_to(directory / target)
    return new


def test_sentinels_that_do_not_answer_cost_a_socket_timeout_not_retries(tmp_path, caplog):
    """The Sentinels' own clients retry 3 times with back-off by default (7.5 s a request, measured); with none
    listening, a request must still be answered within the short socket timeouts, uncached, and the log say why
    in a line (redis-py's message holds ~1 KB of client repr per Sentinel)."""
    sentinels = f"127.0.0.1:{free_port()},127.0.0.1:{free_port()}"
    app = create_app({**SETTINGS, "REDIS_SENTINELS": sentinels, "REDIS_URL": "redis://x/0",
                      "CACHE_RETRY_AFTER_SECONDS": 0})
    c = app.test_client()
    for name in ("Dubois", "Rossi", "Dubois"):
        start = time.perf_counter()
        r = c.post("/classify", json={"name": name})
        assert r.status_code == 200 and r.get_json()["cached"] is False
        assert time.perf_counter() - start < 0.5
    assert c.get("/ready").get_json()["cache"] == "unavailable"
    said = [r.getMessage() for r in caplog.records if r.name == "app.cache"]
    assert said[0] == (f"redis get failed (no Sentinel at {sentinels.replace(',', ', ')} names a live primary "
                       "'mymaster' (network:ConnectionError)); serving uncached for 0.0s")


def test_tls_with_a_password_and_what_a_wrong_setting_logs(tmp_path, caplog):
    """rediss:// with the CA in the URL (a managed Redis's usual setup); a wrong password or an unknown CA is
    answered uncached, and the log names the cause."""
    import trustme
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    for pem, path in ((ca.cert_pem, "ca.pem"), (cert.cert_chain_pems[0], "cert.pem"),
                      (cert.private_key_pem, "key.pem")):
        pem.write_to_path(str(tmp_path / path))
    tls_port = free_port()
    server = RedisServer(tmp_path, "--tls-port", str(tls_port), "--tls-cert-file", str(tmp_path / "cert.pem"),
                         "--tls-key-file", str(tmp_path / "key.pem"), "--tls-ca-cert-file", str(tmp_path / "ca.pem"),
                         "--tls-auth-clients", "no", "--requirepass", "s3cret").start()
    url = f"rediss://:{{password}}@127.0.0.1:{tls_port}/0?ssl_ca_certs={tmp_path / 'ca.pem'}"
    try:
        c = create_app({**SETTINGS, "REDIS_URL": url.format(password="s3cret")}).test_client()
        assert cached_twice(c, "Dubois") and c.get("/ready").get_json()["cache"] == "ok"
        assert redis.Redis(port=server.port, password="s3cret").dbsize() == 1

        wrong = {"password": url.format(password="wrong"), "CA": url.format(password="s3cret").split("?")[0]}
        for setting, why in (("password", "invalid username-password pair"), ("CA", "certificate verify failed")):
            caplog.clear()
            c = create_app({**SETTINGS, "REDIS_URL": wrong[setting]}).test_client()
            assert not cached_twice(c, "Dubois") and c.get("/ready").get_json()["cache"] == "unavailable"
            assert any(why in r.getMessage() for r in caplog.records if r.name == "app.cache"), setting
    finally:
        server.stop()
