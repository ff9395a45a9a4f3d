"""gunicorn's gthread worker, with two waits taken off the worker's event loop and threads.

gunicorn 27's gthread worker has one event loop (the main thread: it accepts connections and hands them
to the THREADS threads), and two ways for a client to stall the whole worker, both measured with
bench/probes_under_load.py (docs/benchmarks.md, "Session 15"):

- Closing. A connection that will not be kept alive is closed as RFC 9112 (9.6) asks: half-close, then
  read until the client closes or 2 s pass, so unread request bytes cannot turn into a reset that
  truncates the response. gunicorn does this on the event loop, one connection after another, so a client
  that reads its response but keeps the socket open (an HTTP library holding an error response, a stalled
  peer) stopped the worker: four such clients held /health at 1.2 s with no other load. Here the same
  lingering close runs in a thread of its own that watches every closing socket at once.
- Reading. A new connection goes straight to a thread, which waits up to 5 s for its request and then reads
  it on a blocking socket with no timeout. Eight silent connections (a browser's speculative ones) took
  every thread of both workers and a probe waited 4.7 s; eight clients that sent half a request held them
  for as long as they stayed connected. Here the event loop reads each request, as a buffering proxy
  would, and hands it to a thread only once it is whole (app/request_arrival.py): a client that is slow,
  silent or trickling costs a socket and its bytes, never a thread. A request that stops arriving for
  REQUEST_READ_TIMEOUT seconds gets a 408 and is closed (a connection silent from the start: closed after
  `keepalive` seconds). Bodies sent in chunks or after `Expect: 100-continue` are read in the thread, as
  before, where each blocking read gives up after REQUEST_READ_TIMEOUT seconds (the body read answers 408,
  app/views.py) and writing a response after the worker timeout.
"""
import collections
import errno
import functools
import json
import logging
import selectors
import socket
import threading
import time

from gunicorn import util
from gunicorn.workers import gthread

from app.config import from_env
from app.errors import HTTP_CODES, INTERNAL_ERROR
from app.request_arrival import request_arrived

log = logging.getLogger("gunicorn.error")
LINGER_SECONDS = 2.0  # as gunicorn's util.close_graceful
MAX_DRAIN = 65536     # bytes read from a closing socket before giving up on it


class LingeringCloser:
    """Half-closes sockets and, in one daemon thread, reads each until EOF, MAX_DRAIN or LINGER_SECONDS."""

    def __init__(self):
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._closing: dict[socket.socket, list] = {}  # socket -> [deadline, bytes drained]
        threading.Thread(target=self._run, name="lingering-close", daemon=True).start()

    def close(self, sock: socket.socket):
        try:
            sock.shutdown(socket.SHUT_WR)
            sock.setblocking(False)
        except OSError:
            util.close(sock)
            return
        with self._lock:
            self._closing[sock] = [time.monotonic() + LINGER_SECONDS, 0]
            self._selector.register(sock, selectors.EVENT_READ)
        self._wake_w.send(b"\0")

    def pending(self) -> int:
        with self._lock:
            return len(self._closing)

    def _done(self, sock: socket.socket):
        with self._lock:
            del self._closing[sock]
            self._selector.unregister(sock)
        util.close(sock)

    def _run(self):
        while True:
            with self._lock:
                deadlines = [d for d, _ in self._closing.values()]
            timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
            for key, _ in self._selector.select(timeout):
                sock = key.fileobj
                if sock is self._wake_r:
                    self._wake_r.recv(4096)
                    continue
                try:
                    data = sock.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                state = self._closing[sock]
                state[1] += len(data)
                if not data or state[1] >= MAX_DRAIN:
                    self._done(sock)
            now = time.monotonic()
            with self._lock:
                expired = [s for s, (deadline, _) in self._closing.items() if deadline <= now]
            for sock in expired:
                self._done(sock)


class _TimedSocket(socket.socket):
    """A connection's socket whose blocking mode has time limits. gunicorn switches it between non-blocking
    (on the event loop) and blocking (in a thread) with setblocking; ours gives each blocking read
    `read_timeout` seconds and a whole response `write_timeout` seconds (the worker timeout)."""

    read_timeout: float | None = None
    write_timeout: float | None = None

    def setblocking(self, flag: bool):
        if flag:
            self.settimeout(self.read_timeout)
        else:
            super().setblocking(False)

    def recv(self, *args):
        try:
            return super().recv(*args)
        except TimeoutError:
            raise self._stalled("sent nothing", self.read_timeout) from None

    def sendall(self, *args):
        timeout = self.gettimeout()
        if timeout != 0.0:  # blocking, i.e. in a thread (0.0: non-blocking, left as it is)
            self.settimeout(self.write_timeout)
        try:
            return super().sendall(*args)
        except TimeoutError:
            raise self._stalled("took no response", self.write_timeout) from None
        finally:
            self.settimeout(timeout)

    @staticmethod
    def _stalled(what: str, seconds: float) -> TimeoutError:
        """A timeout tagged ENOTCONN, which gunicorn treats as a client gone (closed quietly, no traceback);
        still a TimeoutError, so a body read answers 408 (app/views.py)."""
        log.warning("closing a connection whose client %s for %s s", what, seconds)
        return TimeoutError(errno.ENOTCONN, f"client {what} for {seconds} s")


class _Conn(gthread.TConn):
    closer: LingeringCloser

    def __init__(self, *args):
        super().__init__(*args)
        self.arrived = bytearray()  # request bytes read on the event loop, not yet given to the parser
        self.awaiting = False       # on the event loop, waiting for the rest of a request
        self.read_here = True       # requests read on the event loop (not for TLS, app/gunicorn_worker.py)
        self.idle_until = self.queued_until = 0.0

    def init(self):
        super().init()
        self.hand_over()

    def hand_over(self):
        """Give the bytes read on the event loop to gunicorn's parser, once there is one (made in init)."""
        if self.arrived and self.parser is not None:
            self.parser.unreader.unread(bytes(self.arrived))
            self.arrived.clear()

    def close(self, graceful=False):
        if graceful:
            self.closer.close(self.sock)
        else:
            super().close(graceful)


def raw_error(status: int, reason: str, message: str) -> bytes:
    """A whole HTTP/1.1 error response in the service's JSON envelope, for the answers the server writes
    itself, outside Flask; it closes the connection, as gunicorn's own error pages do."""
    body = json.dumps({"error": {"code": HTTP_CODES.get(status, "http_error"), "message": message}}).encode()
    return (b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"
            % (status, reason.encode("latin-1"), len(body), body))


TIMED_OUT = raw_error(408, "Request Timeout", "the request stopped arriving; send it whole")


def write_json_error(sock, status_int: int, reason: str, mesg: str):
    """For gunicorn.util.write_error, which answers what never reaches the app (a malformed request line or
    header, a request line or headers over gunicorn's limits: 400, 414, 431, ...) with an HTML page."""
    util.write_nonblock(sock, raw_error(status_int, reason, mesg or INTERNAL_ERROR))


def use_json_error_pages():
    """Every answer is the JSON envelope, also gunicorn's own (called in each worker, deploy/gunicorn.conf.py)."""
    util.write_error = write_json_error


class ThreadWorker(gthread.ThreadWorker):
    """`worker_class = "app.gunicorn_worker.ThreadWorker"` (deploy/gunicorn.conf.py for WORKER_CLASS=gthread)."""

    def init_process(self):
        settings = from_env()
        _Conn.closer = LingeringCloser()  # after fork: the thread belongs to this worker
        # One limit for a request that stops arriving, on the event loop and in a thread alike (0: the worker
        # timeout; None when that is 0 too, gunicorn's "no timeout").
        self.read_timeout = _TimedSocket.read_timeout = settings["REQUEST_READ_TIMEOUT"] or self.cfg.timeout or None
        _TimedSocket.write_timeout = self.cfg.timeout or None
        self.max_body = settings["MAX_CONTENT_LENGTH"]
        self.arriving: collections.deque[_Conn] = collections.deque()  # awaiting, oldest deadline first (roughly)
        super().init_process()

    def accept(self, listener):
        """gthread.ThreadWorker.accept (gunicorn 27.0.1), with our connection and socket classes, and the
        request read on the event loop instead of in a thread (TLS and HTTP/2 with prior knowledge: gunicorn's way)."""
        try:
            accepted, client_addr = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = _Conn(self.cfg, _TimedSocket(fileno=accepted.detach()), client_addr, listener.getsockname())
        conn.read_here = not (self.cfg.is_ssl or gthread.negotiation.prior_knowledge_allowed(self.cfg, client_addr))
        if conn.read_here:
            self.await_request(conn)
        else:  # TLS or an HTTP/2 preface: bytes gunicorn must read from the socket itself
            self.enqueue_req(conn)

    def on_client_socket_readable(self, conn, client):
        """A kept-alive connection's next request has begun: read it here too."""
        if not conn.read_here:
            return super().on_client_socket_readable(conn, client)
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self.await_request(conn)

    def await_request(self, conn: _Conn):
        conn.awaiting = True
        conn.idle_until = conn.queued_until = time.monotonic() + self.cfg.keepalive  # for its first byte
        self.arriving.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, functools.partial(self.on_request_bytes, conn))
        self.on_request_bytes(conn, conn.sock)  # usually already there

    def on_request_bytes(self, conn: _Conn, sock):
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the client closed, or the connection broke
            self.drop(conn)
            return
        conn.arrived += data
        conn.idle_until = time.monotonic() + (self.read_timeout or float("inf"))
        if request_arrived(conn.arrived, self.max_body):
            self.stop_awaiting(conn)
            conn.hand_over()
            conn.data_ready = True  # handle() need not wait for data
            self.enqueue_req(conn)

    def stop_awaiting(self, conn: _Conn):
        conn.awaiting = False  # its entry in self.arriving is skipped later
        self.poller.unregister(conn.sock)

    def drop(self, conn: _Conn, answer: bytes = b""):
        self.stop_awaiting(conn)
        self.nr_conns -= 1
        if answer:
            try:
                conn.sock.send(answer)  # best effort: the socket is non-blocking and the answer small
            except OSError:
                pass
            conn.close(graceful=True)
        else:
            conn.close()

    def murder_pending(self):
        """gunicorn's, then: close connections whose request stopped arriving (a 408 when part of it came).
        Deadlines move as bytes arrive, so a connection that made progress goes to the back instead."""
        super().murder_pending()
        now = time.monotonic()
        while self.arriving:
            conn = self.arriving[0]
            if not conn.awaiting:
                self.arriving.popleft()
            elif conn.idle_until <= now:
                self.arriving.popleft()
                self.drop(conn, TIMED_OUT if conn.arrived else b"")
            elif conn.idle_until > conn.queued_until:
                self.arriving.popleft()
                conn.queued_until = conn.idle_until
                self.arriving.append(conn)
            else:
                break
