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
- Accepting. A new connection goes straight to a thread, which waits up to 5 s for its request; eight
  silent connections (a browser's speculative ones, a slow client) took every thread of both workers and
  a probe waited 4.7 s. Here a connection whose request has not started to arrive waits on the event loop,
  as gunicorn itself parks one that stayed silent for those 5 s.

And one wait bounded: gunicorn reads a request's headers and body, and writes its response, on a blocking
socket with no timeout, so a client that stops sending mid-request (a phone losing its network) held a
thread for good, and eight such clients stopped the service. Here a read gives up after
REQUEST_READ_TIMEOUT seconds without a byte (a body read then answers 408), and writing a response after
the worker timeout. That bounds how long a stalled client holds a thread, not how many threads slow
clients can hold: a client that trickles one byte every few seconds still holds one, which is why
untrusted traffic belongs behind a proxy that buffers whole requests (deploy/nginx.conf, docs/scaling.md).
"""
import errno
import functools
import logging
import selectors
import socket
import threading
import time

from gunicorn import util
from gunicorn.workers import gthread

from app.config import from_env

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

    def close(self, graceful=False):
        if graceful:
            self.closer.close(self.sock)
        else:
            super().close(graceful)


class ThreadWorker(gthread.ThreadWorker):
    """`worker_class = "app.gunicorn_worker.ThreadWorker"` (deploy/gunicorn.conf.py for WORKER_CLASS=gthread)."""

    def init_process(self):
        _Conn.closer = LingeringCloser()  # after fork: the thread belongs to this worker
        _TimedSocket.read_timeout = from_env()["REQUEST_READ_TIMEOUT"] or None
        _TimedSocket.write_timeout = self.cfg.timeout or None
        super().init_process()

    def accept(self, listener):
        """gthread.ThreadWorker.accept (gunicorn 27.0.1), making our connection class, and handing a connection
        to a thread only once its request has started to arrive."""
        try:
            accepted, client_addr = listener.accept()
            client_sock = _TimedSocket(fileno=accepted.detach())
            self.nr_conns += 1
            client_sock.setblocking(True)
            conn = _Conn(self.cfg, client_sock, client_addr, listener.getsockname())
            if has_data(client_sock):
                self.enqueue_req(conn)
            else:
                self.wait_for_request(conn)
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise

    def wait_for_request(self, conn):
        """Park a silent new connection on the event loop, as gunicorn parks one that stayed silent for 5 s in a
        thread (finish_request, _DEFER): a thread takes it when it becomes readable, and after `keepalive`
        seconds of silence it is closed. gunicorn would hold one of the worker's threads for those first 5 s:
        a browser's speculative connections, or a few idle sockets, took every thread and /health waited."""
        conn.timeout = time.monotonic() + self.cfg.keepalive
        self.pending_conns.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, functools.partial(self.on_pending_socket_readable, conn))


def has_data(sock: socket.socket) -> bool:
    """Whether a non-blocking socket has bytes (or the peer's close) to read now."""
    try:
        sock.recv(1, socket.MSG_PEEK)
        return True
    except BlockingIOError:
        return False
    except OSError:
        return True  # let the thread meet the error, as gunicorn would
