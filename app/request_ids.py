"""One id per request, sent back as X-Request-ID: the caller's (or nginx's, deploy/nginx.conf) when it sends
a sane one, else a new one, so a client's report can be matched with nginx's, gunicorn's and the app's logs."""
import re
import uuid

HEADER = "X-Request-ID"
# What a caller's id may hold: nothing that could forge or bloat a log line (deploy/nginx.conf keeps the same rule).
SANE = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")


def request_id(given: str | None) -> str:
    return given if given and SANE.fullmatch(given) else uuid.uuid4().hex
