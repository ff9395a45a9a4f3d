"""LOG_FORMAT=json: every log line gunicorn and the app write is one JSON object, for log shippers (Loki, Elastic,
Cloud Logging) that would otherwise have to parse text lines, and break a traceback into one event per line.

An access line carries the request's fields as keys (method, path, status, duration_s, request_id, ...), never the
body: names, which are personal data, travel only in bodies (README, "Personal data")."""
import logging

from gunicorn import glogging
from pythonjsonlogger.json import JsonFormatter


def json_formatter() -> logging.Formatter:
    """time (ISO 8601, UTC), level, logger, process and message on every line, then whatever a call adds in
    `extra` (request_id); a traceback as one string under exc_info."""
    return JsonFormatter("{levelname}{name}{process}{message}", style="{", timestamp="time",
                         rename_fields={"levelname": "level", "name": "logger"})


class JsonLogger(glogging.Logger):
    """gunicorn's logger (deploy/gunicorn.conf.py sets it for LOG_FORMAT=json): its error and access log write JSON
    where they wrote text, to the same places (ERRORLOG, ACCESS_LOG), reopened on USR1 as before."""

    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(json_formatter())

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        fields = {"remote_addr": environ.get("REMOTE_ADDR"), "method": environ.get("REQUEST_METHOD"),
                  "path": environ.get("PATH_INFO"), "protocol": environ.get("SERVER_PROTOCOL"),
                  "status": int(status), "bytes": getattr(resp, "sent", None),
                  "duration_s": round(request_time.total_seconds(), 6),
                  "request_id": dict((k.lower(), v) for k, v in resp.headers).get("x-request-id"),
                  "user_agent": environ.get("HTTP_USER_AGENT"), "referer": environ.get("HTTP_REFERER")}
        try:
            self.access_log.info("%s %s %s", fields["method"], fields["path"], status, extra=fields)
        except Exception:
            self.exception("access log")
