"""Fuzzing the API: generated and hand-picked nasty requests never give >= 500, errors keep their shape."""
import gzip
import json

import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import schemas
from app.openapi import document
from app.request_ids import SANE
from tests.helpers import assert_error_envelope

ENDPOINTS = [("POST", "/classify"), ("POST", "/review-entity"), ("GET", "/health"), ("GET", "/ready"),
             ("GET", "/metrics"), ("GET", "/openapi.json"), ("GET", "/"), ("PUT", "/classify"), ("GET", "/nope")]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=20)
names = st.text(max_size=120)
shaped = st.one_of(
    st.fixed_dictionaries({"name": names}, optional={"model": st.sampled_from(["rnn", "lstm", "gru", "x", 1]),
                                                     "top_k": st.integers(-5, 30) | st.text(max_size=3)}),
    st.fixed_dictionaries({"names": st.lists(names, max_size=12)}, optional={"top_k": st.integers(-1, 20)}),
    st.fixed_dictionaries({"text": st.text(max_size=70)}),
    st.fixed_dictionaries({"texts": st.lists(st.text(max_size=70), max_size=8)}),
    st.fixed_dictionaries({"features": st.lists(st.lists(st.floats(allow_nan=True, allow_infinity=True) | st.integers(),
                                                         min_size=0, max_size=3), max_size=3)}),
)


def documented_answers(path: str) -> tuple:
    """The response models /openapi.json documents for a 200 from POST `path`."""
    schema = document()["paths"][path]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    return tuple(getattr(schemas, s["$ref"].rsplit("/", 1)[-1]) for s in schema.get("oneOf", [schema]))


# What a 200 from each endpoint must be: one of the response models the API documents.
ANSWERS = {path: documented_answers(path) for path in ("/classify", "/review-entity")}


def conforms(body, models) -> bool:
    for model in models:
        try:
            model.model_validate(body, strict=True)
            return True
        except pydantic.ValidationError:
            pass
    return False


def check(resp, path=None):
    assert resp.status_code < 500, resp.get_data(as_text=True)[:300]
    assert SANE.fullmatch(resp.headers["X-Request-ID"])
    if resp.status_code >= 400:
        assert_error_envelope(resp.get_json())
    elif resp.status_code == 200 and path in ANSWERS:  # e.g. a null score would break the contract
        assert conforms(resp.get_json(), ANSWERS[path]), resp.get_data(as_text=True)[:300]


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(endpoint=st.sampled_from(ENDPOINTS), body=shaped | json_values,
       request_id=st.none() | st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=140))
def test_generated_requests(client, endpoint, body, request_id):
    method, path = endpoint
    raw = json.dumps(body, allow_nan=True)
    headers = {} if request_id is None else {"X-Request-ID": request_id}
    resp = client.open(path, method=method, data=raw, content_type="application/json", headers=headers)
    check(resp, path)
    if request_id is not None and SANE.fullmatch(request_id):
        assert resp.headers["X-Request-ID"] == request_id


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(raw=st.binary(max_size=200), content_type=st.sampled_from(["application/json", "text/plain", "", "application/json; charset=latin-1"]))
def test_generated_raw_bytes(client, raw, content_type):
    for path in ("/classify", "/review-entity"):
        check(client.post(path, data=raw, content_type=content_type), path)


FEATURE_ROW = [0.1] * 768
NASTY = [
    {"name": "x" * (1024 * 1024)},
    "[" * 100_000 + "]" * 100_000,
    '{"name": ' * 5000 + '"a"' + "}" * 5000,
    '{"features": [[NaN' + ", 0" * 767 + "]]}",
    '{"features": [[Infinity' + ", 0" * 767 + "]]}",
    {"features": [[0.0] * 767]},
    {"features": [[0.0] * 769]},
    {"features": [FEATURE_ROW] * 63},
    {"features": []},
    {"features": [[]]},
    {"features": [[3e38] * 768] * 62},  # finite, but overflows inside the cell
    {"name": "\x00\x01\x02\x1b[31m\u202e"},
    {"text": "\x00\u202e手内肌萎缩"},
    {"names": ["a"] * 10_000},
    {"texts": ["肺炎"] * 10_000},
    {"name": ["nested"]},
    b'{"name": "\xc3\x28"}',
    b'\xff\xfe{\x00"\x00',
    '{"name": "a", "name": "b"}',
    "null",
    "1e999999",
]


@pytest.mark.parametrize("body", NASTY, ids=range(len(NASTY)))
@pytest.mark.parametrize("path", ["/classify", "/review-entity"])
def test_hand_picked_nasty_inputs(client, path, body):
    raw = body if isinstance(body, (str, bytes)) else json.dumps(body)
    check(client.post(path, data=raw, content_type="application/json"), path)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=shaped | json_values, cut=st.integers(0, 40), noise=st.binary(max_size=20),
       coding=st.sampled_from(["gzip", "x-gzip", "gzip, identity", "br", "gzip, gzip", ""]))
def test_generated_gzip_bodies(client, body, cut, noise, coding):
    """Gzip bodies whole, cut short or with bytes after them, under every kind of Content-Encoding."""
    packed = gzip.compress(json.dumps(body, allow_nan=True).encode())
    for raw in (packed, packed[:cut], packed + noise):
        for path in ("/classify", "/review-entity"):
            check(client.post(path, data=raw, content_type="application/json",
                              headers={"Content-Encoding": coding} if coding else {}), path)
