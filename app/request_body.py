"""The raw body of a JSON request, as the client sent it: its type, charset and content coding checked, read
within the limits, and a gzip body unpacked within the same limit. Views parse what this returns."""
import zlib

from flask import current_app, request
from werkzeug.exceptions import ClientDisconnected

from app.errors import ApiError

BOM = b"\xef\xbb\xbf"  # some Windows clients start UTF-8 with it; RFC 8259 lets parsers ignore it
UTF8 = {"utf-8", "utf8"}
GZIP = {"gzip", "x-gzip"}  # x-gzip: the same coding under its old name (RFC 9110 8.4.1.3)
ACCEPTED_CODINGS = "gzip"  # sent as Accept-Encoding with a 415 for another coding (RFC 9110 12.5.3)


def json_body() -> bytes:
    """The body of a JSON request, unpacked and without a UTF-8 byte-order mark. 415 for another Content-Type,
    a charset other than UTF-8 or a content coding other than gzip; 413 past MAX_CONTENT_LENGTH (unpacked too);
    408 when the client stops sending it; 400 for a gzip body that does not unpack."""
    environ = request.environ
    if environ.get("CONTENT_TYPE") != "application/json":  # the usual header, taken without parsing it
        check_content_type()
    gzipped = "HTTP_CONTENT_ENCODING" in environ and content_coding()
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    body = read_body(limit)
    return (gunzip(body, limit) if gzipped else body).removeprefix(BOM)


def check_content_type():
    if request.mimetype != "application/json":
        raise ApiError(f"Content-Type must be application/json, got {request.mimetype or 'none'!r}",
                       "unsupported_media_type", 415)
    charset = request.mimetype_params.get("charset", "utf-8")
    if charset.lower() not in UTF8:
        raise ApiError(f"JSON bodies are UTF-8 (RFC 8259); got charset={charset!r}", "unsupported_media_type", 415)


def content_coding() -> bool:
    """Whether the body is gzip; no Content-Encoding (or identity) is plain. Before, a gzip body was read as
    JSON and refused as 'Invalid JSON', and any other coding's header was ignored."""
    codings = [c.strip().lower() for c in request.headers.get("Content-Encoding", "").split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if not codings:
        return False
    if len(codings) == 1 and codings[0] in GZIP:
        return True
    raise ApiError(f"Content-Encoding {', '.join(codings)!r} is not accepted: send the body as it is, or gzip it",
                   "unsupported_media_type", 415, headers={"Accept-Encoding": ACCEPTED_CODINGS})


def read_body(limit: int) -> bytes:
    environ = request.environ
    declared = environ.get("CONTENT_LENGTH", "")
    try:
        if declared.isdigit() and int(declared) <= limit:
            # A declared body straight from the server, which reads exactly that many bytes: werkzeug's
            # limited-stream wrapper costs ~11 µs, a tenth of a cache hit (docs/benchmarks.md). Chunked or
            # oversized bodies take it (413).
            return environ["wsgi.input"].read(int(declared))
        return request.get_data(cache=False) or b""
    except (TimeoutError, ClientDisconnected) as e:
        # werkzeug reports a failed read as the client gone (400); a read that timed out is a client that
        # stopped sending (app/gunicorn_worker.py, REQUEST_READ_TIMEOUT). gunicorn keeps the connection: should
        # the rest of the body come, it is read and dropped before the next request; if nothing comes, the
        # connection waits on the event loop (no thread) until keepalive ends.
        if isinstance(e, TimeoutError) or isinstance(e.__context__, TimeoutError):
            raise ApiError("the request body stopped arriving; send it whole", "request_timeout", 408) from None
        raise


def gunzip(data: bytes, limit: int) -> bytes:
    """A gzip body unpacked, never past `limit` bytes (a few KB of gzip can unpack to gigabytes); a stream of
    several gzip members, as concatenating files makes, is unpacked whole."""
    out, size = [], 0
    while data:
        unpacker = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            part = unpacker.decompress(data, limit + 1 - size)
        except zlib.error as e:
            raise ApiError(f"Content-Encoding is gzip but the body does not unpack: {e}", "malformed_body") from None
        size += len(part)
        if size > limit:
            raise ApiError(f"the body unpacks to more than {limit} bytes (MAX_CONTENT_LENGTH)",
                           "payload_too_large", 413)
        if not unpacker.eof:
            raise ApiError("Content-Encoding is gzip but the body ends before its gzip stream does",
                           "malformed_body")
        out.append(part)
        data = unpacker.unused_data
    return b"".join(out)
