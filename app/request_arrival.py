"""Whether a whole HTTP/1.1 request has arrived, from the bytes read so far (app/gunicorn_worker.py reads
requests on the event loop and hands one to a thread only once it is whole)."""
import re

MAX_HEAD = 65536  # bytes of request line and headers; past this a thread takes it and gunicorn refuses it
_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)[ \t]*\r\n")


def request_arrived(buf: bytes | bytearray, max_body: int) -> bool:
    """True once `buf` holds a whole request, or once a thread should take it anyway: a body sent in chunks
    or after `Expect: 100-continue` (the client waits for the server's answer before sending it), or a head
    or declared body too large to wait for (gunicorn or the app then refuses it: 400, 413)."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return len(buf) > MAX_HEAD
    head = bytes(buf[:end + 2]).lower()
    if b"\r\ntransfer-encoding:" in head or b"\r\nexpect:" in head:
        return True
    declared = _LENGTH.search(head)
    if declared is None:
        return True  # no body
    length = int(declared.group(1))
    return length > max_body or len(buf) >= end + 4 + length
