"""JSON for responses and cache values: orjson, with the standard library as the fallback.

orjson encodes our response bodies ~10× faster than json.dumps (8.6 → 0.8 µs for a /classify hit,
docs/benchmarks.md), which is on every request's path. It refuses what json accepts (a lone
surrogate, non-str keys, integers over 64 bits); those fall back to json, so no input turns into a 500.
"""
import json

import orjson
from flask.json.provider import DefaultJSONProvider


def dumps(obj) -> bytes:
    try:
        return orjson.dumps(obj)
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(obj).encode()


loads = orjson.loads


def response_body(obj) -> bytes:
    """A JSON response body as this service sends every one: compact, newline-terminated."""
    return dumps(obj) + b"\n"


class FastJSONProvider(DefaultJSONProvider):
    """Flask's provider (jsonify, errors) with orjson underneath; key order is the order we build."""

    def dumps(self, obj, **kwargs) -> str:
        return super().dumps(obj, **kwargs) if kwargs else dumps(obj).decode()

    def response(self, *args, **kwargs):
        return self._app.response_class(response_body(self._prepare_response_obj(args, kwargs)),
                                        mimetype=self.mimetype)
