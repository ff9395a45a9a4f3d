"""Real processes for tests: free ports, a redis-server, waiting for HTTP readiness; reading what a real server says."""
import contextlib
import json
import os
import re
import shutil
import socket
import stat
import string
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A throw-away redis-server on a free loopback port; stop()/start() for outage tests."""

    def __init__(self, workdir: Path, *args: str):
        self.port, self.workdir, self.proc, self.args = free_port(), workdir, None, args  # args: more redis options
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        exe = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.proc = subprocess.Popen([exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", str(self.workdir), *self.args],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port)
        for _ in range(100):
            try:
                if client.ping():
                    return self
            except redis.AuthenticationError:
                return self  # up, and wants a password (--requirepass)
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port)


def process_status(pid: int) -> dict[str, str]:
    """/proc/<pid>/status as a mapping: Uid, Gid, CapEff, ..."""
    return dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())


def wait_until(check, timeout: float = 5.0, what: str = "done", every: float = 0.1):
    """Return once `check()` is true; fail if it is still false after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not {what} after {timeout}s"
        time.sleep(every)


def wait_http(url: str, timeout: float = 60.0, status: int = 200, proc: subprocess.Popen | None = None) -> float:
    """Seconds until `url` answers `status`; raises on timeout, or at once if `proc` (the server) has exited."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited ({proc.returncode}) before {url} answered {status}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == status:
                    return time.monotonic() - start
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} not answering {status} after {timeout}s")


def http(method, url, body=None):
    req = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def edit_served_code(monkeypatch, module, name: str, tmp_path: Path):
    """Stand a copy of the file `name` with one line added in for it in `module`.SERVED_CODE: a code change
    with the weights and the manifest as they were (models.checkpoint.cache_version must notice)."""
    original = next(f for f in module.SERVED_CODE if Path(f).name == name)
    edited = tmp_path / name
    edited.write_text(Path(original).read_text() + "\n# a change\n")
    monkeypatch.setattr(module, "SERVED_CODE", tuple(edited if f == original else f for f in module.SERVED_CODE))


@contextlib.contextmanager
def redeployed(app, served):
    """`served` (a loaded NamePredictor or EntityReviewer) under another cache_version, as after a deploy that
    changed a rule, a calibration or the serving code with the same weights: fresh workers, Redis as it was."""
    old = served.cache_version
    served.cache_version = old + "-redeployed"
    app.extensions["inference"].cache.clear_local()
    try:
        yield
    finally:
        served.cache_version = old


def worker_pids(master_pid: int) -> set[int]:
    out = subprocess.run(["pgrep", "-P", str(master_pid)], capture_output=True, text=True).stdout
    return {int(p) for p in out.split()}


def wait_for_workers(master_pid: int, count: int, gone: set[int], timeout: float = 30.0) -> set[int]:
    """The master's workers once there are `count` of them and none of `gone` (killed, or replaced by a reload)
    is among them; or as they are after `timeout` seconds (the caller asserts)."""
    deadline = time.monotonic() + timeout
    while True:
        now = worker_pids(master_pid)
        if (len(now) == count and not now & gone) or time.monotonic() > deadline:
            return now
        time.sleep(0.1)


def spawn_gunicorn(run_dir: Path, port: int, log=subprocess.DEVNULL, **settings) -> subprocess.Popen:
    """gunicorn from deploy/gunicorn.conf.py on 127.0.0.1:`port`, with `settings` over the environment; its
    output to `log` (an open file, or DEVNULL)."""
    env = {**os.environ, "BIND": f"127.0.0.1:{port}", "RUN_DIR": str(run_dir),
           "PROMETHEUS_MULTIPROC_DIR": str(Path(run_dir) / f"prom-{port}"), **settings}
    return subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "app.wsgi:app"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def stop_process(proc: subprocess.Popen):
    if proc.poll() is None:
        proc.terminate()
    proc.wait(30)


@contextlib.contextmanager
def gunicorn(run_dir: Path, log=subprocess.DEVNULL, **settings):
    """spawn_gunicorn on a free port, once /ready answers: yields (base URL, port, process); stopped on exit."""
    port = free_port()
    proc = spawn_gunicorn(run_dir, port, log, **settings)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/ready", timeout=90, proc=proc)
        yield base, port, proc
    finally:
        stop_process(proc)


@contextlib.contextmanager
def supervised_stack(tmp_path, wait=True, **extra_env):
    port, redis_port = free_port(), free_port()
    env = {**os.environ, "PROJECT_DIR": str(ROOT), "RUN_DIR": str(tmp_path), "REDIS_PORT": str(redis_port),
           "BIND": f"127.0.0.1:{port}", "WORKERS": "2", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"), **extra_env}
    ctl = ["supervisorctl", "-c", str(ROOT / "deploy/supervisord.conf")]
    subprocess.run(["supervisord", "-c", str(ROOT / "deploy/supervisord.conf")], env=env, check=True, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        if wait:
            wait_http(base + "/ready", timeout=90)
        yield base, env, ctl
    finally:
        subprocess.run(ctl + ["shutdown"], env=env, capture_output=True)
        for _ in range(100):  # supervisord removes its pid file when everything has stopped
            if not (tmp_path / "supervisord.pid").exists():
                break
            time.sleep(0.2)


def health_seconds(base: str) -> float:
    start = time.monotonic()
    with urllib.request.urlopen(base + "/health", timeout=30) as r:
        assert r.status == 200
    return time.monotonic() - start


def parse_head(head: bytes) -> tuple[str, dict]:
    """An HTTP/1.1 answer's status line and headers (names lower-cased)."""
    status_line, *lines = head.decode("latin-1").split("\r\n")
    return status_line, {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}


class Answers:
    """HTTP/1.1 answers read in turn from one connection, each framed by its Content-Length."""

    def __init__(self, sock: socket.socket, step: int = 65536):
        self.sock, self.step, self.buf = sock, step, b""

    def _more(self):
        chunk = self.sock.recv(self.step)
        if not chunk:
            raise EOFError("connection closed before the answer")
        self.buf += chunk

    def next(self) -> tuple[str, dict, bytes]:
        """(status line, headers, body) of the next answer."""
        while b"\r\n\r\n" not in self.buf:
            self._more()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status_line, headers = parse_head(head)
        size = int(headers.get("content-length", "0"))
        while len(self.buf) < size:
            self._more()
        body, self.buf = self.buf[:size], self.buf[size:]
        return status_line, headers, body


def raw_exchange(port: int, request: bytes) -> tuple[str, dict, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(request)
        answer = b""
        while chunk := s.recv(65536):  # the server closes after an error it writes itself
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return (*parse_head(head), body)


def metric(base: str, series: str) -> float:
    """The value of one series (name with labels, as /metrics writes it) summed over the workers; 0 if absent."""
    with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
        return series_value(r.read().decode(), series)


def series_value(exposition: str, series: str) -> float:
    """The value of one series in a /metrics text (name with labels, as written there); 0 if absent."""
    found = re.search(rf"^{re.escape(series)} (\S+)$", exposition, re.M)
    return float(found.group(1)) if found else 0.0


NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)


@contextlib.contextmanager
def run_cluster(tmp_path, redis_server: "RedisServer | None" = None, **settings):
    """nginx (deploy/nginx.conf) in front of two one-worker instances a and b sharing one Redis (`redis_server`, or
    one of its own): yields (nginx's URL, {name: instance URL}, {name: gunicorn master process})."""
    own_redis = redis_server is None
    server = redis_server or RedisServer(tmp_path).start()
    ports, procs, lb_port = {"a": free_port(), "b": free_port()}, {}, free_port()
    conf = string.Template((ROOT / "deploy/nginx.conf").read_text()).safe_substitute(
        LISTEN=f"127.0.0.1:{lb_port}", UPSTREAM_A=f"127.0.0.1:{ports['a']}", UPSTREAM_B=f"127.0.0.1:{ports['b']}",
        RUN_DIR=str(tmp_path))
    (tmp_path / "nginx.conf").write_text(conf)
    try:
        for name, port in ports.items():
            procs[name] = spawn_gunicorn(tmp_path, port, open(tmp_path / f"{name}.log", "w"), WORKERS="1",
                                         INSTANCE_NAME=name, REDIS_URL=server.url, **settings)
        for port in ports.values():
            wait_http(f"http://127.0.0.1:{port}/ready", timeout=90)
        subprocess.run([NGINX, "-c", str(tmp_path / "nginx.conf"), "-e", str(tmp_path / "nginx-error.log")], check=True)
        lb = f"http://127.0.0.1:{lb_port}"
        wait_http(lb + "/ready")
        yield lb, {k: f"http://127.0.0.1:{p}" for k, p in ports.items()}, procs
    finally:
        subprocess.run([NGINX, "-c", str(tmp_path / "nginx.conf"), "-e", str(tmp_path / "nginx-error.log"), "-s", "stop"],
                       capture_output=True)
        for p in procs.values():
            stop_process(p)
        if own_redis:
            server.stop()


def interpreter_for_everyone() -> list[str]:
    """Mount commands that let any user reach the Python the venv was made from, as in the image (/usr/local): here
    it may sit in a private home (pyenv's /root/.pyenv), which another user cannot enter. The first ancestor others
    cannot enter is covered by an open tmpfs holding only the way to the interpreter, bound from where it is."""
    path = Path(sys.base_prefix).resolve()
    closed = next((a for a in reversed(path.parents) if not os.stat(a).st_mode & stat.S_IXOTH), None)
    if closed is None:
        return []
    inside = path.relative_to(closed).parts[0]
    return [f"mkdir /tmp/.interpreter", f"mount --bind {closed / inside} /tmp/.interpreter",
            f"mount -t tmpfs -o mode=0755 open {closed}", f"mkdir {closed / inside}",
            f"mount --move /tmp/.interpreter {closed / inside}"]


def can_isolate() -> bool:
    """Root with mount namespaces and setpriv: what running the service as the pod runs it takes here."""
    return (os.geteuid() == 0 and shutil.which("setpriv") is not None
            and subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0)


def isolated(command: str, user: int, group: int, read_only=(), tmpfs=()) -> list[str]:
    """argv that runs the shell `command` as `user`:`group` without any capability, in a mount namespace where each
    of `read_only` is read-only and each of `tmpfs` a fresh tmpfs that user owns: a container's view, here."""
    mounts = [f"mount --bind {p} {p} && mount -o remount,bind,ro {p}" for p in read_only]
    mounts += [f"mount -t tmpfs -o mode=0755,uid={user},gid={group} scratch {p}" for p in tmpfs]
    mounts += ["mount -t tmpfs -o mode=1777 tmp /tmp", *interpreter_for_everyone()]
    drop = f"setpriv --reuid={user} --regid={group} --clear-groups --inh-caps=-all --bounding-set=-all"
    return ["unshare", "-m", "sh", "-c", " && ".join([*mounts, f"exec {drop} {command}"])]


def assert_error_envelope(body: dict):
    """The service's one error shape: {"error": {"code", "message"}}, and for invalid_request "details", one
    {"field", "problem"} per problem found."""
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == ({"code", "message", "details"} if error["code"] == "invalid_request" else {"code", "message"})
    assert error.get("details", True) and all(set(d) == {"field", "problem"} for d in error.get("details", [])), error
    assert "Traceback" not in error["message"]

