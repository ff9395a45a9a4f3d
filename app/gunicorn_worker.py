"""gunicorn's gthread worker, with every wait on a client taken off the worker's event loop and threads.

gunicorn 27's gthread worker has one event loop (the main thread: it accepts connections and hands them
to the THREADS threads), and three ways for a client to stall the whole worker, each measured with
bench/probes_under_load.py (docs/benchmarks.md, "Session 15" and "Session 16"):

- Closing. A connection that will not be kept alive is closed as RFC 9112 (9.6) asks: half-close, then
  read until the client closes or 2 s pass, so unread request bytes cannot turn into a reset that
  truncates the response. gunicorn does this on the event loop, one connection after another, so a client
  that reads its response but keeps the socket open (an HTTP library holding an error response, a stalled
  peer) stopped the worker: four such clients held /health at 1.2 s with no other load. Here the same
  lingering close runs in the SocketDrain's thread, which watches every closing socket at once.
- Reading. A new connection goes straight to a thread, which waits up to 5 s for its request and then reads
  it on a blocking socket with no timeout. Eight silent connections (a browser's speculative ones) took
  every thread of both workers and a probe waited 4.7 s; eight clients that sent half a request held them
  for as long as they stayed connected. Here the event loop reads each request, as a buffering proxy
  would, and hands it to a thread only once it is whole (app/request_arrival.py): a client that is slow,
  silent or trickling costs a socket and its bytes, never a thread. A request that stops arriving for
  REQUEST_READ_TIMEOUT seconds gets a 408 and is closed (a connection silent from the start: closed after
  `keepalive` seconds). Bodies sent in chunks or after `Expect: 100-continue` are read in the thread, as
  before, where each blocking read gives up after REQUEST_READ_TIMEOUT seconds (the body read answers 408,
  app/views.py).
- Writing. A thread writes a response with a blocking sendall, so a client that does not read a large answer
  (one bigger than what the kernel buffers for it) holds the thread until it does: eight such clients held
  /health for up to 5.7 s. Here a thread sends what the kernel takes at once and the SocketDrain sends the
  rest, as a buffering proxy would; a client that takes nothing for the worker timeout is cut off, and a
  connection's next request waits on no thread until the answers before it are out.

And stopping (SIGTERM, HUP): connections that have sent nothing for STOP_SILENCE seconds are let go then,
instead of after `keepalive` seconds; requests that have begun to arrive are read and answered.
"""
import collections
import errno
import functools
import json
import logging
import os
import selectors
import socket
import threading
import time
from collections.abc import Callable

from gunicorn import util
from gunicorn.workers import gthread

from app.config import DEFAULTS, from_env
from app.errors import HTTP_CODES, INTERNAL_ERROR
from app.request_arrival import request_arrived

log = logging.getLogger("gunicorn.error")
LINGER_SECONDS = 2.0  # as gunicorn's util.close_graceful
MAX_DRAIN = 65536     # bytes read from a closing socket before giving up on it
# A stopping worker lets go of a connection that has sent nothing for this long (not after keepalive): a client
# usually sends its request within milliseconds of connecting; closing sooner lost requests sent just after a
# connection was accepted (2 of ~66,000 requests across HUP reloads under load in scratch runs; 0 of ~56,000 so).
STOP_SILENCE = 1.0
# What a worker holds for slow clients, each way (CLIENT_BUFFER_BYTES): one connection holds at most one request
# (MAX_CONTENT_LENGTH) or the rest of one answer (~1.5 MB: 1,000 names with 18 languages each), but a thousand
# connections could hold 2 GB, and cached answers are cheap to ask for.
MAX_BUFFERED = DEFAULTS["CLIENT_BUFFER_BYTES"]


class _Output:
    """The part of a connection's responses its client has not taken yet."""

    def __init__(self, sock: socket.socket, deadline: float):
        self.sock = sock
        # A second socket object on the same connection, in blocking mode so that MSG_DONTWAIT alone decides:
        # the worker's object may be in timeout mode, whose send would first wait for room.
        self.writer = socket.socket(fileno=os.dup(sock.fileno()))
        self.data, self.deadline = bytearray(), deadline
        self.then: str | None = None                  # after the last byte: "linger" or "close"
        self.resume: list[Callable[[bool], None]] = []  # requests held back until the answers before them are out


class SocketDrain:
    """One daemon thread with one selector that finishes what a worker thread leaves on a socket, so that no
    thread waits on a client:

    - the rest of a response its client is slow to take. A thread writes what the kernel takes at once and
      hands the rest over (`hand_over`); a client that takes no byte for `write_timeout` seconds is cut off. The
      connection's next request waits (`hold`) until the answers before it are out, so a client that sends
      requests and reads nothing makes the worker hold at most one answer for it, not one per request. Past
      `max_buffered` bytes in all, the drain takes no more and a thread writes itself, as gunicorn's do.
    - a lingering close (`close`): half-close, then read until the client closes, MAX_DRAIN bytes or
      LINGER_SECONDS, as gunicorn does on its event loop, one connection after another.
    """

    def __init__(self, write_timeout: float | None = None, max_buffered: int = MAX_BUFFERED, metrics=None):
        self.write_timeout, self.max_buffered = write_timeout, max_buffered  # None: no limit
        self.metrics = metrics  # app.metrics.ServerMetrics, or None
        self._buffered = 0  # bytes in hand, all connections together
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._finished = threading.Condition(self._lock)  # an answer is out, or its client cut off
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._outputs: dict[socket.socket, _Output] = {}
        self._closing: dict[socket.socket, list] = {}  # socket -> [deadline, bytes drained]
        threading.Thread(target=self._run, name="socket-drain", daemon=True).start()

    # --- called by worker threads and the event loop ---

    def write(self, sock: socket.socket, data) -> bool:
        """Queue `data` behind what is still on its way to this client; False when nothing is (send it yourself).
        Past `max_buffered`, wait for what is on its way to be out (or cut off) and say False."""
        with self._lock:
            if sock not in self._outputs:
                return False
            if self._fits(data):
                self._outputs[sock].data += data
                self._add(len(data))
                return True
            while sock in self._outputs:
                self._finished.wait()
            return False

    def hand_over(self, sock: socket.socket, data) -> bool:
        """Send the rest of a response from here (`data`: what the kernel would not take); False when the
        worker already holds `max_buffered` bytes for slow readers."""
        with self._lock:
            if not self._fits(data):
                return False
            out = self._outputs[sock] = _Output(sock, self._deadline())
            self._selector.register(out.writer, selectors.EVENT_WRITE, out)
            out.data += data
            self._add(len(data))
        self._wake()
        return True

    def hold(self, sock: socket.socket, resume: Callable[[bool], None]) -> bool:
        """True when answers are still on their way to this client: `resume(True)` is called once they are out
        (`resume(False)` if the client is cut off instead). False: nothing pending, go ahead."""
        with self._lock:
            out = self._outputs.get(sock)
            if out is None:
                return False
            out.resume.append(resume)
            return True

    def close(self, sock: socket.socket, linger: bool = True):
        """Close after the last byte of any pending response, lingering (graceful) or not."""
        with self._lock:
            out = self._outputs.get(sock)
            if out is not None:
                out.then = "linger" if linger else "close"
                return
        if linger:
            self._linger(sock)
        else:
            util.close(sock)

    @property
    def buffered(self) -> int:
        return self._buffered

    def _fits(self, data) -> bool:
        """Whether `data` stays within max_buffered, with what is in hand (the lock held)."""
        return self._buffered + len(data) <= self.max_buffered

    def _add(self, n: int):
        """Count bytes taken in (n > 0) or let go (n < 0); the lock held."""
        self._buffered += n
        if self.metrics and n:
            self.metrics.buffered.set(self._buffered)

    def cut_off(self):
        """Log and count a client cut off for taking no byte of its answer for `write_timeout` seconds."""
        log.warning("closing a connection whose client took no response for %s s", self.write_timeout)
        if self.metrics:
            self.metrics.closed["response_timeout"].inc()

    def pending(self) -> int:
        """Sockets with a response or a lingering close still in hand."""
        with self._lock:
            return len(self._outputs) + len(self._closing)

    def wait(self, seconds: float):
        """Until nothing is in hand, for at most `seconds` (a stopping worker lets its last answers go out)."""
        deadline = time.monotonic() + seconds
        while self.pending() and time.monotonic() < deadline:
            time.sleep(0.05)

    # --- the drain's thread ---

    def _deadline(self) -> float:
        return time.monotonic() + (self.write_timeout or float("inf"))

    def _wake(self):
        self._wake_w.send(b"\0")

    def _linger(self, sock: socket.socket):
        with self._lock:
            lingering = self._start_linger(sock)
        if lingering:
            self._wake()
        else:
            util.close(sock)

    def _start_linger(self, sock: socket.socket) -> bool:
        """Half-close and watch for the client's end (the lock held); False if the connection is already gone."""
        try:
            sock.shutdown(socket.SHUT_WR)
            sock.setblocking(False)
        except OSError:
            return False
        self._closing[sock] = [time.monotonic() + LINGER_SECONDS, 0]
        self._selector.register(sock, selectors.EVENT_READ)
        return True

    def _run(self):
        while True:
            try:
                self._step()
            except Exception:  # a bug must not stop every connection's answers and closes with this thread
                log.exception("socket drain")

    def _step(self):
        with self._lock:
            deadlines = [d for d, _ in self._closing.values()] + [o.deadline for o in self._outputs.values()]
        timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
        for key, _ in self._selector.select(None if timeout == float("inf") else timeout):
            if key.fileobj is self._wake_r:
                self._wake_r.recv(4096)
            elif key.data is not None:
                self._send(key.data)
            else:
                self._drain(key.fileobj)
        now = time.monotonic()
        with self._lock:
            expired = [s for s, (deadline, _) in self._closing.items() if deadline <= now]
            stalled = [o for o in self._outputs.values() if o.deadline <= now]
        for sock in expired:
            self._done(sock)
        for out in stalled:
            self.cut_off()
            self._finish(out, delivered=False)

    def _send(self, out: _Output):
        try:
            with self._lock:
                sent = out.writer.send(out.data, socket.MSG_DONTWAIT)
                del out.data[:sent]
                self._add(-sent)
                out.deadline = self._deadline()
                if out.data:
                    return
        except BlockingIOError:
            return
        except OSError:  # the client is gone
            self._finish(out, delivered=False)
            return
        self._finish(out, delivered=True)

    def _finish(self, out: _Output, delivered: bool):
        with self._lock:
            if delivered and out.data:  # a thread queued more meanwhile
                return
            del self._outputs[out.sock]
            self._selector.unregister(out.writer)
            self._add(-len(out.data))  # what a client cut off never took
            self._finished.notify_all()
            # From answer to lingering close in one step, so that pending() never reads 0 in between.
            lingering = delivered and out.then == "linger" and self._start_linger(out.sock)
        if not delivered:
            try:
                out.writer.shutdown(socket.SHUT_RDWR)  # the event loop sees the connection end, if it still watches it
            except OSError:
                pass
        out.writer.close()  # the duplicate descriptor only; the connection lives on in out.sock
        if out.then and not lingering:
            util.close(out.sock)
        for resume in out.resume:
            resume(delivered)

    def _drain(self, sock: socket.socket):
        try:
            data = sock.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        state = self._closing[sock]
        state[1] += len(data)
        if not data or state[1] >= MAX_DRAIN:
            self._done(sock)

    def _done(self, sock: socket.socket):
        with self._lock:
            del self._closing[sock]
            self._selector.unregister(sock)
        util.close(sock)


def _client_gone(what: str, seconds: float | None) -> TimeoutError:
    """A timeout tagged ENOTCONN, which gunicorn treats as a client gone (closed quietly, no traceback); still a
    TimeoutError, so a body read answers 408 (app/views.py)."""
    return TimeoutError(errno.ENOTCONN, f"client {what} for {seconds} s")


class _TimedSocket(socket.socket):
    """A connection's socket that never keeps a thread waiting on its client. gunicorn switches it between
    non-blocking (on the event loop) and blocking (in a thread) with setblocking; in a thread, each read here
    gives up after `read_timeout` seconds, and a write sends what the kernel takes at once and leaves the rest
    to the worker's SocketDrain."""

    read_timeout: float | None = None
    drain: SocketDrain | None = None

    def setblocking(self, flag: bool):
        if flag:
            self.settimeout(self.read_timeout)
        else:
            super().setblocking(False)

    def recv(self, *args):
        try:
            return super().recv(*args)
        except TimeoutError:
            log.warning("closing a connection whose client sent nothing for %s s", self.read_timeout)
            raise _client_gone("sent nothing", self.read_timeout) from None

    def sendall(self, data, flags=0):
        timeout = self.gettimeout()
        if timeout == 0.0 or self.drain is None:  # on the event loop (a small error page): as gunicorn does
            return super().sendall(data, flags)
        if self.drain.write(self, data):  # behind the part of an answer still on its way
            return
        view = memoryview(data).cast("B")
        self.settimeout(None)  # blocking mode, where MSG_DONTWAIT alone decides (timeout mode first waits for room)
        try:
            while view:
                try:
                    view = view[self.send(view, flags | socket.MSG_DONTWAIT):]
                except BlockingIOError:  # the client is slow to read: the rest goes out from the drain
                    if self.drain.hand_over(self, view):
                        return
                    break
            if view:  # the drain is full: wait for the client here, up to the limit a drained answer has
                self.settimeout(self.drain.write_timeout)
                try:
                    super().sendall(view, flags)
                except TimeoutError:
                    self.drain.cut_off()
                    raise _client_gone("took no response", self.drain.write_timeout) from None
        finally:
            self.settimeout(timeout)

    def sendfile(self, file, offset=0, count=None):
        """Through sendall (gunicorn sends a WSGI file wrapper's file with socket.sendfile, which waits on the
        client and would pass any answer bytes still in the drain): the demo page's static files, a few KB."""
        file.seek(offset)
        data = file.read(count) if count else file.read()
        self.sendall(data)
        return len(data)


class _Conn(gthread.TConn):
    drain: SocketDrain

    def __init__(self, *args):
        super().__init__(*args)
        self.arrived = bytearray()  # request bytes read on the event loop, not yet given to the parser
        self.awaiting = False       # on the event loop, waiting for the rest of a request
        self.read_here = True       # requests read on the event loop (not for TLS, app/gunicorn_worker.py)
        self.idle_until = self.queued_until = self.since = 0.0

    def init(self):
        super().init()
        self.hand_over()

    def hand_over(self):
        """Give the bytes read on the event loop to gunicorn's parser, once there is one (made in init)."""
        if self.arrived and self.parser is not None:
            self.parser.unreader.unread(bytes(self.arrived))
            self.arrived.clear()

    def close(self, graceful=False):
        self.drain.close(self.sock, linger=graceful)  # after the rest of any answer still on its way


def raw_error(status: int, reason: str, message: str) -> bytes:
    """A whole HTTP/1.1 error response in the service's JSON envelope, for the answers the server writes
    itself, outside Flask; it closes the connection, as gunicorn's own error pages do."""
    body = json.dumps({"error": {"code": HTTP_CODES.get(status, "http_error"), "message": message}}).encode()
    return (b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"
            % (status, reason.encode("latin-1"), len(body), body))


TIMED_OUT = raw_error(408, "Request Timeout", "the request stopped arriving; send it whole")


def write_json_error(sock, status_int: int, reason: str, mesg: str, metrics=None):
    """For gunicorn.util.write_error, which answers what never reaches the app (a malformed request line or
    header, a request line or headers over gunicorn's limits: 400, 414, 431, ...) with an HTML page."""
    if metrics:
        metrics.refused.labels(status=str(status_int)).inc()
    util.write_nonblock(sock, raw_error(status_int, reason, mesg or INTERNAL_ERROR))


def use_json_error_pages(metrics=None):
    """Every answer is the JSON envelope, also gunicorn's own (called in each worker, deploy/gunicorn.conf.py)."""
    util.write_error = functools.partial(write_json_error, metrics=metrics)


class ThreadWorker(gthread.ThreadWorker):
    """`worker_class = "app.gunicorn_worker.ThreadWorker"` (deploy/gunicorn.conf.py for WORKER_CLASS=gthread)."""

    def init_process(self):
        settings = from_env()
        buffer_bytes = settings["CLIENT_BUFFER_BYTES"]  # for each direction
        # After fork: the drain's thread belongs to this worker. A client that takes no byte of its answers for
        # the worker timeout is cut off.
        self.metrics = getattr(self, "server_metrics", None)  # made in post_fork (deploy/gunicorn.conf.py)
        self.drain = _Conn.drain = _TimedSocket.drain = SocketDrain(self.cfg.timeout or None, buffer_bytes, self.metrics)
        # One limit for a request that stops arriving, on the event loop and in a thread alike (0: the worker
        # timeout; None when that is 0 too, gunicorn's "no timeout").
        self.read_timeout = _TimedSocket.read_timeout = settings["REQUEST_READ_TIMEOUT"] or self.cfg.timeout or None
        self.max_body = settings["MAX_CONTENT_LENGTH"]
        self.arriving: collections.deque[_Conn] = collections.deque()  # awaiting, oldest deadline first (roughly)
        # Request bytes read here, of requests not yet whole: past the limit a request's rest is read in a
        # thread, as gunicorn does (each read limited to read_timeout), so memory stays bounded.
        self.arriving_bytes, self.max_arriving = 0, buffer_bytes
        super().init_process()

    def run(self):
        super().run()
        self.drain.wait(self.cfg.graceful_timeout)  # a stopping worker lets its last answers go out

    def enqueue_req(self, conn):
        """gunicorn's, unless answers to this connection's earlier requests are still on their way: then the
        request waits for them on no thread, so a client that sends requests and reads nothing has one answer
        buffered at most, not one per request."""
        if not self.drain.hold(conn.sock, functools.partial(self.method_queue.defer, self.resume, conn)):
            super().enqueue_req(conn)

    def resume(self, conn: _Conn, delivered: bool):
        if delivered:
            super().enqueue_req(conn)
        else:  # the client took nothing for the worker timeout and was cut off
            self.nr_conns -= 1
            conn.close()

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
        conn.since = time.monotonic()
        conn.idle_until = conn.queued_until = conn.since + self.cfg.keepalive  # for its first byte
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
        self.arriving_bytes += len(data)
        conn.idle_until = time.monotonic() + (self.read_timeout or float("inf"))
        if request_arrived(conn.arrived, self.max_body) or self.arriving_bytes > self.max_arriving:
            self.stop_awaiting(conn)
            conn.hand_over()
            conn.data_ready = True  # handle() need not wait for data
            self.enqueue_req(conn)

    def stop_awaiting(self, conn: _Conn):
        conn.awaiting = False  # its entry in self.arriving is skipped later
        self.arriving_bytes -= len(conn.arrived)
        self.poller.unregister(conn.sock)

    def drop(self, conn: _Conn, answer: bytes = b"", reason: str | None = None):
        """Close a connection read on the event loop, after `answer` if any; `reason` is counted (ServerMetrics)."""
        self.stop_awaiting(conn)
        self.nr_conns -= 1
        if reason and self.metrics:
            self.metrics.closed[reason].inc()
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
        if not self.alive:  # stopping: let go of connections silent for STOP_SILENCE seconds, not after keepalive
            for conn in [c for c in self.arriving if c.awaiting and not c.arrived and now - c.since >= STOP_SILENCE]:
                self.on_request_bytes(conn, conn.sock)  # bytes that came meanwhile make it a request to answer
                if conn.awaiting and not conn.arrived:
                    self.drop(conn, reason="stopping")
        while self.arriving:
            conn = self.arriving[0]
            if not conn.awaiting:
                self.arriving.popleft()
            elif conn.idle_until <= now:
                self.arriving.popleft()
                if conn.arrived:
                    self.drop(conn, TIMED_OUT, "request_timeout")
                else:
                    self.drop(conn, reason="silent")
            elif conn.idle_until > conn.queued_until:
                self.arriving.popleft()
                conn.queued_until = conn.idle_until
                self.arriving.append(conn)
            else:
                break
