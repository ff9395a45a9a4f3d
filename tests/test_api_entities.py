"""/review-entity against the committed encoder + RNN and a real redis-server."""
import json
import re
import subprocess
import sys

import pytest

from app import create_app
from tests.helpers import ROOT, edit_served_code, redeployed

from tests.test_api import assert_error, post

FEATURES_OK = {"features": [[0.01] * 768] * 5}


def test_review_single_contract_and_cache(client):
    first = post(client, "/review-entity", {"text": "手内肌萎缩"}).get_json()
    assert set(first) == {"text", "valid", "score", "model_version", "cached", "unknown_characters"}
    assert first["text"] == "手内肌萎缩" and first["valid"] is True and 0.5 <= first["score"] <= 1
    assert first["model_version"].startswith("entity-rnn-") and first["cached"] is False
    second = post(client, "/review-entity", {"text": "手内肌萎缩"}).get_json()
    assert second["cached"] is True and second["score"] == first["score"]


def test_committed_model_accepts_entities_and_rejects_reversals(client):
    entities = ["手内肌萎缩", "慢性支气管炎", "糖尿病肾病", "急性胃肠炎", "高血压"]
    body = post(client, "/review-entity", {"texts": entities + [e[::-1] for e in entities]}).get_json()
    results = body["results"]
    assert [r["text"] for r in results] == entities + [e[::-1] for e in entities]  # input order
    assert sum(r["valid"] for r in results[:5]) >= 4
    assert sum(not r["valid"] for r in results[5:]) >= 4
    assert sum(rev["score"] < ent["score"] for ent, rev in zip(results[:5], results[5:])) >= 4


def test_batch_equals_single(client):
    texts = ["肺炎", "手内肌萎缩", "缩萎肌内手", "肺炎"]
    batch = post(client, "/review-entity", {"texts": texts}).get_json()["results"]
    assert [r["cached"] for r in batch] == [False] * 4  # a repeat inside one batch is computed once, not cached
    assert batch[0]["score"] == batch[3]["score"]
    client.application.extensions["inference"].cache.client().flushdb()
    for text, r in zip(texts, batch):
        single = post(client, "/review-entity", {"text": text}).get_json()
        assert single["score"] == r["score"] and single["valid"] == r["valid"]  # int8 scales are fixed


def test_text_with_no_known_character_is_not_valid_and_never_reaches_the_model(client):
    texts = ["😀", "\u0007", "β", "🙂😀", "手内肌萎缩"]
    for attempt in range(2):
        results = post(client, "/review-entity", {"texts": texts}).get_json()["results"]
        assert [r["unknown_characters"] for r in results] == [["😀"], ["\u0007"], ["β"], ["🙂", "😀"], []]
        assert [(r["valid"], r["score"], r["cached"]) for r in results[:4]] == [(False, 0.0, False)] * 4
        assert results[4]["valid"] is True and results[4]["cached"] is (attempt == 1)


def test_punctuation_at_an_edge_is_not_valid_without_the_model(client):
    """No lexicon entity holds punctuation; the model rejects the ， and 。 that training negatives end with, but it had
    never seen the other marks of its vocabulary and accepted 2-62 % of test entities with one at an edge (高血压；
    0.59, 高血压. 0.75, 高血压 itself 0.69). Inside a text (肺炎，感染, 高血压-1) the model still answers."""
    texts = ["高血压；", "（高血压）", "高血压.", "\"高血压\"", "《高血压》", "高血压%", "高血压 。", "高血压"]
    results = post(client, "/review-entity", {"texts": texts}).get_json()["results"]
    assert [(r["valid"], r["score"], r["cached"]) for r in results[:-1]] == [(False, 0.0, False)] * 7
    assert results[-1]["valid"] is True and results[-1]["score"] > 0.5
    assert results[4]["unknown_characters"] == ["《", "》"]  # still listed: the encoder does not know them
    inside = post(client, "/review-entity", {"texts": ["肺炎，感染", "高血压-1"]}).get_json()["results"]
    assert all(0 < r["score"] < 1 for r in inside)


def test_unknown_characters_beside_known_ones_are_reported_and_the_model_answers(client):
    first = post(client, "/review-entity", {"text": "β受体阻滞剂"}).get_json()
    assert first["unknown_characters"] == ["β"] and first["cached"] is False and 0 < first["score"] < 1
    assert post(client, "/review-entity", {"text": "β受体阻滞剂"}).get_json()["cached"] is True


def test_full_width_and_compatibility_forms_read_as_the_lexicon_writes_them(client):
    texts = ["维生素Ｃ", "维生素C", "肺炎，感染", "肺炎,感染"]
    results = post(client, "/review-entity", {"texts": texts}).get_json()["results"]
    assert results[0]["score"] == results[1]["score"] and results[0]["unknown_characters"] == []
    assert results[0]["text"] == "维生素Ｃ"  # answered under the text as sent
    # the full-width comma is in the vocabulary (training negatives hold it), so it is not turned into ASCII
    assert results[2]["score"] != results[3]["score"]
    too_long = post(client, "/review-entity", {"text": "肺" * 30 + "㎎" * 20})  # 50 characters sent, 70 as read
    assert_error(too_long, 400, "invalid_text")
    assert "70 characters" in too_long.get_json()["error"]["message"]


def test_traditional_characters_read_as_the_simplified_lexicon_writes_them(client):
    """As sent by a Taiwan or Hong Kong user: before, 內 and 縮 were unknown and 手內肌萎縮 scored 0.24, not valid
    (over the test split written in traditional characters, 46 % of positives accepted, 84 % as written)."""
    texts = ["手內肌萎縮", "手内肌萎缩", "高血壓", "高血压"]
    results = post(client, "/review-entity", {"texts": texts}).get_json()["results"]
    assert results[0]["score"] == results[1]["score"] and results[0]["valid"] is True
    assert results[2]["score"] == results[3]["score"]
    assert [r["unknown_characters"] for r in results] == [[]] * 4 and results[0]["text"] == "手內肌萎縮"
    # 覆 is a simplified character too (unknown to the encoder): only the phrase 反覆 says it is traditional 反复
    phrase, simplified = post(client, "/review-entity", {"texts": ["反覆感染", "反复感染"]}).get_json()["results"]
    assert phrase["unknown_characters"] == [] and phrase["score"] == simplified["score"]


def test_entity_forms_report_scores_traditional_text_as_written(client):
    """models/evaluate_entity_forms on a sample of the test split, with the served reviewer."""
    from models import evaluate_entity_forms
    from models.entity_data import build_split, read_lexicon
    from models.paths import ENTITIES_FILE
    examples = build_split(read_lexicon(ENTITIES_FILE), "test", limit=40)
    report = evaluate_entity_forms.evaluate(client.application.extensions["inference"].registry.entity, examples)
    written, traditional = report["as written"], report["traditional characters"]
    assert written["texts_with_unknown_characters"] == 0 and traditional["texts_changed"] > 40
    assert traditional["accuracy"] == written["accuracy"] == report["full-width ASCII"]["accuracy"]
    assert report["a space inside"]["accuracy"] == written["accuracy"]
    assert report["a space inside"]["texts_with_unknown_characters"] == 0
    marked = evaluate_entity_forms.evaluate_marked(client.application.extensions["inference"].registry.entity, examples)
    assert marked["positives_rejected"] == marked["negatives_rejected"] == 1.0


def test_long_batches_run_in_bounded_passes_and_score_as_singles(client):
    from models.entity_reviewer import PASS_CHARS
    reviewer = client.application.extensions["inference"].registry.entity
    lexicon = "手内肌萎缩慢性支气管炎糖尿病肾病急性胃肠炎高血压"
    texts = [(lexicon * 3)[i : i + n] for i, n in enumerate([62, 3, 40, 62, 7, 1, 62, 25] * 5)]
    passes = []
    features = reviewer.encoder.features
    reviewer.encoder.features = lambda batch, pooling: passes.append(batch) or features(batch, pooling)
    try:
        batch = reviewer.scores(texts)
    finally:
        del reviewer.encoder.features
    assert len(passes) > 1 and all(len(p) * max(map(len, p)) <= PASS_CHARS for p in passes)
    assert sorted(t for p in passes for t in p) == sorted(texts)
    # input order kept, and the int8 encoder's fixed activation scales make a batch score as its texts alone
    assert batch == pytest.approx([reviewer.scores([t])[0] for t in texts], abs=1e-5)


def test_cache_entries_belong_to_the_encoder_variant_that_computed_them(app, redis_server):
    """Two instances sharing one Redis, int8 and fp32 encoders: neither answers from the other's scores."""
    redis_server.client().flushdb()
    fp32 = create_app({"REDIS_URL": redis_server.url, "NAME_MODELS": "", "ENTITY_ENCODER_INT8": False}).test_client()
    int8 = app.test_client()
    first = post(int8, "/review-entity", {"text": "慢性支气管炎"}).get_json()
    other = post(fp32, "/review-entity", {"text": "慢性支气管炎"}).get_json()
    assert first["cached"] is False and other["cached"] is False and other["score"] != first["score"]
    assert post(fp32, "/review-entity", {"text": "慢性支气管炎"}).get_json()["cached"] is True


def test_every_entity_answer_is_counted_by_verdict_and_score(client):
    """entity_answers_total and entity_answer_score say what the reviewer answers over time, cached or not,
    remembered repeats and the features path included."""
    from tests.test_api import metric_value
    def counts():
        return tuple(metric_value(client, s) for s in (
            'entity_answers_total{verdict="valid"}', 'entity_answers_total{verdict="invalid"}',
            "entity_answer_score_count", 'entity_answer_score_bucket{le="0.5"}'))
    post(client, "/review-entity", {"texts": ["手内肌萎缩", "缩萎肌内手"]})  # both verdicts' series exist from here on
    before = counts()
    body = {"texts": ["手内肌萎缩", "缩萎肌内手", "😀"]}
    results = post(client, "/review-entity", body).get_json()["results"]
    assert [r["valid"] for r in results] == [True, False, False] and results[2]["score"] == 0
    post(client, "/review-entity", body)  # from the cache; the emoji again without the model
    for _ in range(2):  # a hit, then a repeat of a fully cached request: remembered, not parsed
        post(client, "/review-entity", {"text": "手内肌萎缩"})
    post(client, "/review-entity", {"features": [[0.0] * 768] * 3})
    valid, invalid, scored, low = (a - b for a, b in zip(counts(), before))
    features_valid = post(client, "/review-entity", {"features": [[0.0] * 768] * 3}).get_json()["valid"]
    assert (valid, invalid) == (4 + features_valid, 4 + (not features_valid)) and scored == 9
    assert low == 4 + (not features_valid)  # every invalid score is under 0.5, every valid one over it


def test_features_path(client):
    body = post(client, "/review-entity", FEATURES_OK).get_json()
    assert set(body) == {"valid", "score", "model_version", "cached"} and 0 <= body["score"] <= 1


@pytest.mark.parametrize("body,code", [
    ({"text": ""}, "invalid_request"),
    ({"text": "  "}, "invalid_request"),
    ({"text": "肺" * 63}, "invalid_request"),
    ({"texts": []}, "invalid_request"),
    ({"texts": ["肺炎"] * 1001}, "invalid_request"),
    ({"text": "肺炎", "texts": ["肺炎"]}, "invalid_request"),
    ({"text": 5}, "invalid_request"),
    ({"features": [[0.0] * 767]}, "invalid_request"),
    ({"features": [[0.0] * 768] * 63}, "invalid_request"),
    ({"features": []}, "invalid_request"),
    ({"features": [["a"] * 768]}, "invalid_request"),
    ('{"features": [[NaN' + ", 0" * 767 + "]]}", "invalid_request"),
    ('{"features": [[Infinity' + ", 0" * 767 + "]]}", "invalid_request"),
    ("{bad", "malformed_json"),
    ('{"features": [' + ", ".join(["[3e38" + ", 3e38" * 767 + "]"] * 62) + "]}", "invalid_features"),  # finite; the cell overflows
])
def test_review_bad_input_is_400(client, body, code):
    assert_error(post(client, "/review-entity", body), 400, code)


def test_entity_cache_key_follows_manifest_encoder_and_served_code(app, client, tmp_path, monkeypatch):
    """As for names: a deploy that changes how a score is computed (the cell, the text encoding, the export's int8
    calibration) with the same weights must not serve the old scores from Redis."""
    from models import entity_reviewer
    reviewer = app.extensions["inference"].registry.entity
    assert reviewer.cache_version.startswith(reviewer.version + "/")
    same = entity_reviewer.EntityReviewer(reviewer.encoder, reviewer.rnn, reviewer.manifest)
    assert same.cache_version == reviewer.cache_version
    other = entity_reviewer.EntityReviewer(reviewer.encoder, reviewer.rnn, {**reviewer.manifest, "threshold": 0.6})
    assert other.cache_version != reviewer.cache_version  # the whole manifest counts: cheap to be safe
    edit_served_code(monkeypatch, entity_reviewer, "encoder_onnx.py", tmp_path)  # e.g. the int8 calibration
    assert entity_reviewer.EntityReviewer(reviewer.encoder, reviewer.rnn, reviewer.manifest).cache_version \
        != reviewer.cache_version

    post(client, "/review-entity", {"text": "肺炎"})
    with redeployed(app, reviewer):
        r = post(client, "/review-entity", {"text": "肺炎"}).get_json()
        assert r["cached"] is False and r["model_version"] == reviewer.version


def test_ready_lists_entity_review(client):
    assert "entity-review" in client.get("/ready").get_json()["models"]


def canonical(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def serving_distributions() -> set[str]:
    """requirements-serve.txt (what the Docker image installs) and everything those need."""
    from importlib import metadata
    todo = [l for l in (ROOT / "requirements-serve.txt").read_text().splitlines() if l and not l.startswith("#")]
    seen = set()
    while todo:
        name = canonical(re.split(r"[=<>!~\[;( ]", todo.pop())[0])
        if name in seen:
            continue
        seen.add(name)
        try:
            todo += [r for r in metadata.requires(name) or [] if "extra ==" not in r]
        except metadata.PackageNotFoundError:  # a requirement for other Pythons (a marker): nothing to follow
            pass
    return seen


def test_service_imports_only_what_the_image_installs(app):
    """The encoder is served from its cached ONNX export (made when the `app` fixture loaded it), the name
    models and the entity RNN from their weights read as numpy, so a fresh process starts, and answers
    every kind of request, without transformers' ~4 s of imports or torch's ~270 MB (docs/benchmarks.md).
    Every distribution it imports, gunicorn's worker included, is in requirements-serve.txt or needed by one
    there: the Docker image installs only those. cryptography, which the full venv has for the Redis TLS test's
    certificates (trustme), is hidden as the image lacks it: redis-py probes for it at import and does without."""
    code = ("import json, sys; sys.modules['cryptography'] = None; before = set(sys.modules); "
            "from importlib import metadata; "
            "import app.gunicorn_worker, gunicorn.app.wsgiapp; from app import create_app; "
            "app = create_app({'REDIS_URL': 'redis://127.0.0.1:9/0'}); "
            "assert app.extensions['inference'].registry.ready(); c = app.test_client(); "
            "names = [f'Nakamura{i}' + 'x' * (i % 7) for i in range(40)]; "
            "assert all(c.post('/classify', json={'names': names, 'model': m}).status_code == 200 for m in ('gru', 'lstm', 'rnn')); "
            "assert c.post('/review-entity', json={'texts': ['手内肌萎缩', '肺炎']}).status_code == 200; "
            "assert c.post('/review-entity', json={'features': [[0.0] * 768] * 3}).status_code == 200; "
            "assert all(c.get(u).status_code == 200 for u in ('/', '/health', '/ready', '/metrics', '/openapi.json')); "
            "owners = metadata.packages_distributions(); "
            "print(json.dumps(sorted({d for m in set(sys.modules) - before for d in owners.get(m.split('.')[0], [])})))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    imported = {canonical(d) for d in json.loads(out.stdout.strip().splitlines()[-1])}
    assert {"flask", "onnxruntime", "numpy", "tokenizers"} <= imported  # really served, really seen
    assert not imported & {"torch", "transformers"}
    assert imported <= serving_distributions(), imported - serving_distributions()
