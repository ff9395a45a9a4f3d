"""Entity review: offline encoder, pretraining and RNN training smoke runs, mismatch check, features path."""
import json
import os
import socket
import sys

import numpy as np
import pytest
import torch

from models import pretrain_encoder, train_entities
from models.batching import length_sorted_chunks
from models.checkpoint import CheckpointError, state_arrays
from models.entity_data import KINDS, build_split
from models.char_features import FEATURE_DIM, EncoderError
from models.entity_encoder import CharEncoder
from models.entity_reviewer import EntityReviewer
from models.entity_cell import EntityCell, parameter_shapes
from models.entity_rnn import EntityRNN, EntityRNNConfig

LEXICON = ["手内肌萎缩", "肌萎缩", "高血压", "糖尿病肾病", "急性胃肠炎", "慢性支气管炎", "头痛", "发热", "咳嗽",
           "阿司匹林", "维生素C", "心电图检查", "肺炎", "贫血", "白内障", "青光眼", "肝硬化", "胃溃疡", "关节炎", "哮喘"] * 3


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory):
    """A real (tiny) BERT pretrained by the project CLI: the pretraining smoke run."""
    root = tmp_path_factory.mktemp("entities")
    data = root / "lexicon.txt"
    data.write_text("\n".join(dict.fromkeys(LEXICON)) + "\n", encoding="utf-8")
    out = root / "encoder"
    pretrain_encoder.main(["--data", str(data), "--out", str(out), "--layers", "1", "--heads", "2",
                           "--intermediate", "32", "--epochs", "2", "--batch-size", "8"])
    report = json.loads((out / "pretraining_report.json").read_text())
    assert report["steps"] > 0 and report["heldout_after"]["masked_tokens"] > 0
    return out, data


def test_encoder_loads_with_networking_disabled(tiny_encoder, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network disabled in this test")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    encoder = CharEncoder.load(tiny_encoder[0])
    feats, lengths = encoder.features(["手内肌萎缩"])
    assert feats.shape == (1, 5, FEATURE_DIM) and lengths.tolist() == [5]


@pytest.mark.parametrize("text", ["手内肌萎缩", "abc", "123", "😀💊", "维生素C", "a b"])
def test_one_feature_row_per_character(tiny_encoder, text):
    encoder = CharEncoder.load(tiny_encoder[0])
    ids, mask = encoder.encode_ids([text])
    assert ids.shape[1] == len(text) + 2 and mask.sum() == len(text) + 2
    feats, lengths = encoder.features([text, "肺炎"])
    assert feats.shape == (2, len(text) if len(text) > 2 else 2, FEATURE_DIM) and lengths.tolist() == [len(text), 2]
    assert torch.isfinite(feats).all()


def test_readable_uses_compatibility_and_simplified_forms_only_for_unknown_characters(tiny_encoder):
    encoder = CharEncoder.load(tiny_encoder[0])
    assert encoder.readable(" 维生素Ｃ ") == ("维生素C", [])  # full-width Latin as the lexicon writes it
    assert encoder.readable("肺炎①") == ("肺炎1", [])
    assert encoder.readable("头痛，发热") == ("头痛，发热", [])  # known full-width punctuation stays
    assert encoder.readable("β肺炎😀β") == ("β肺炎😀β", ["β", "😀"])
    assert encoder.readable("手內肌萎縮") == ("手内肌萎缩", [])  # traditional characters: their simplified forms
    assert encoder.readable("手内 肌萎缩") == ("手内肌萎缩", []) == encoder.readable("手内\u3000肌萎缩")  # no whitespace
    assert encoder.readable("维生素 C") == ("维生素C", [])
    # a lone surrogate (JSON cannot carry one, a Python caller can) is an unknown character, not a TypeError
    assert encoder.readable("肺炎\ud800") == ("肺炎\ud800", ["\ud800"])
    assert encoder.features(["肺炎\ud800"])[1].tolist() == [3]
    for example in build_split(LEXICON, "train"):
        assert encoder.readable(example.text)[0] == example.text  # what training reads, serving reads alike


def test_what_the_encoder_remembers_of_characters_is_bounded(tiny_encoder, monkeypatch):
    """Every code point sent once had grown a worker by ~500 MB for good (docs/benchmarks.md, session 19): the memos
    start afresh past MEMO_LIMIT, and read the same after as before."""
    from models import char_features
    monkeypatch.setattr(char_features, "MEMO_LIMIT", 50)
    encoder = CharEncoder.load(tiny_encoder[0])
    texts = ["".join(map(chr, range(c, c + 20))) for c in range(0x4E00, 0x4E00 + 2000, 20)] + LEXICON[:10] + ["手內肌萎縮"]
    bounded = []
    for text in texts:
        bounded.append(encoder.readable(text))
        # one text adds at most its characters and, read through t2s as a whole, their simplified forms
        assert len(encoder.__dict__["_readable"]) < 50 + 2 * 20 and len(encoder.__dict__["_ids"]) <= 50
    monkeypatch.setattr(char_features, "MEMO_LIMIT", 10 ** 9)
    unbounded = CharEncoder.load(tiny_encoder[0])
    assert bounded == [unbounded.readable(t) for t in texts]
    assert len(unbounded.__dict__["_readable"]) > 2000  # what the bound kept out
    assert encoder.readable("肺\u200b炎\u00ad") == ("肺炎", [])  # invisible format characters dropped


def test_length_sorted_chunks_bound_items_and_padded_characters():
    assert length_sorted_chunks([3, 1, 2, 5], max_items=2) == [[1, 2], [0, 3]]
    assert length_sorted_chunks([62, 6, 62, 6, 6], max_tokens=128) == [[1, 3, 4], [0, 2]]  # 4 x 62 > 128
    assert length_sorted_chunks([70], max_tokens=64) == [[0]]  # a text longer than the budget still gets a pass
    assert length_sorted_chunks([]) == []


def test_feature_poolings(tiny_encoder):
    encoder = CharEncoder.load(tiny_encoder[0])
    last, _ = encoder.features(["手内肌萎缩"], "last")
    mean, _ = encoder.features(["手内肌萎缩"], "mean")
    assert last.shape == mean.shape == (1, 5, FEATURE_DIM) and not torch.allclose(last, mean)
    with pytest.raises(ValueError):
        encoder.features(["肺炎"], "first")


def test_int8_encoder_gives_nearly_the_same_features(tiny_encoder):
    texts = ["手内肌萎缩", "维生素C", "肺炎"]
    exact, lengths = CharEncoder.load(tiny_encoder[0]).features(texts)
    quantised, lengths8 = CharEncoder.load(tiny_encoder[0], int8=True).features(texts)
    assert torch.equal(lengths, lengths8) and quantised.shape == exact.shape
    assert float((quantised - exact).norm() / exact.norm()) < 0.05


TEXTS = ["手内肌萎缩", "维生素C", "肺炎", "abc 123", "😀💊", "\x07控制"]


def test_onnx_export_gives_the_transformers_features(tiny_encoder, tmp_path, monkeypatch):
    from models import encoder_onnx
    exact = CharEncoder.load(tiny_encoder[0])
    onnx = encoder_onnx.OnnxCharEncoder.load(tiny_encoder[0], tmp_path / "cache")
    assert onnx.fingerprint == exact.fingerprint  # so the RNN's encoder check holds for either runtime
    assert [onnx.char_id(c) for c in "".join(TEXTS)] == [exact.char_id(c) for c in "".join(TEXTS)]
    for pooling in ("mean", "last"):
        (a, la), (b, lb) = onnx.features(TEXTS, pooling), exact.features(TEXTS, pooling)
        assert np.array_equal(la, lb.numpy()) and a.shape == tuple(b.shape)
        assert float(np.abs(a - b.numpy()).max()) < 1e-4, pooling
    # The second load is the cached export: no transformers, no new export.
    monkeypatch.setattr(encoder_onnx, "export", lambda *a: pytest.fail("exported again"))
    again = encoder_onnx.OnnxCharEncoder.load(tiny_encoder[0], tmp_path / "cache")
    assert np.array_equal(again.features(TEXTS)[0], onnx.features(TEXTS)[0])
    with pytest.raises(EncoderError):
        again.features(["肺" * 63])


def test_a_damaged_onnx_export_is_made_again_and_an_unwritable_cache_is_a_clear_error(tiny_encoder, tmp_path):
    from models.encoder_onnx import OnnxCharEncoder
    first = OnnxCharEncoder.load(tiny_encoder[0], tmp_path / "cache")
    entry, = (tmp_path / "cache").iterdir()
    (entry / "model.onnx").write_bytes(b"not a graph")
    again = OnnxCharEncoder.load(tiny_encoder[0], tmp_path / "cache")
    assert np.allclose(again.features(TEXTS)[0], first.features(TEXTS)[0])
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.access(locked, os.W_OK):  # root ignores permission bits: a file in the way fails the same way
        locked.rmdir()
        locked.write_text("")
    with pytest.raises(CheckpointError, match="ONNX_CACHE_DIR"):
        OnnxCharEncoder.load(tiny_encoder[0], locked / "cache")


def test_a_missing_export_where_torch_is_not_installed_is_a_clear_error(tiny_encoder, tmp_path, monkeypatch):
    """The service image (requirements-serve.txt) has no torch: an encoder without a shipped export must stop
    the worker with the command that makes one, not with a bare ModuleNotFoundError."""
    from models.encoder_onnx import OnnxCharEncoder
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError, as in the image
    with pytest.raises(CheckpointError, match=r"python -m models.encoder_onnx --encoder .* --fp32`"):
        OnnxCharEncoder.load(tiny_encoder[0], tmp_path / "cache", int8=False)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_onnx_int8_export_is_close_and_keyed_by_every_file(tiny_encoder, tmp_path):
    import shutil
    from models.encoder_onnx import OnnxCharEncoder, directory_key
    exact = CharEncoder.load(tiny_encoder[0]).features(TEXTS)[0].numpy()
    int8 = OnnxCharEncoder.load(tiny_encoder[0], tmp_path / "cache", int8=True)
    quantised, _ = int8.features(TEXTS)
    assert float(np.linalg.norm(quantised - exact) / np.linalg.norm(exact)) < 0.05
    # fixed (calibrated) activation scales: a text's features are the same alone or beside any others
    for i, text in enumerate(TEXTS):
        alone, _ = int8.features([text])
        assert np.allclose(alone[0], quantised[i, : len(text)], atol=1e-5), text
    copy = shutil.copytree(tiny_encoder[0], tmp_path / "copy")
    assert directory_key(copy) == directory_key(tiny_encoder[0])
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, "layer_norm_eps": 1e-6}))
    assert directory_key(copy) != directory_key(tiny_encoder[0])  # an edited encoder never reuses an old export
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [f"{directory_key(tiny_encoder[0])}-int8s"]


@pytest.mark.parametrize("bad", ["", "肺" * 63])
def test_encoder_rejects_empty_and_too_long(tiny_encoder, bad):
    with pytest.raises(EncoderError):
        CharEncoder.load(tiny_encoder[0]).features([bad])


def test_operating_points_count_what_a_client_threshold_gets():
    from models.entity_data import Example
    from models.evaluate_entities import operating_points
    examples = [Example("a", 1, "positive"), Example("b", 1, "positive"), Example("c", 0, "reversed"),
                Example("d", 0, "truncated"), Example("e", 0, "truncated")]
    scores = np.array([0.9, 0.4, 0.6, 0.3, 0.95])
    low, high = operating_points(scores, examples, thresholds=(0.35, 0.7))
    # 0.35: valid = a, b, c, e -> precision 2/4, recall 1, reversed 0/1 and truncated 1/2 rejected
    assert low == {"threshold": 0.35, "accuracy": 0.6, "valid_precision": 0.5, "valid_recall": 1.0,
                   "rejected": {"reversed": 0.0, "truncated": 0.5}}
    # 0.7: valid = a, e -> precision 1/2, recall 1/2, reversed 1/1 and truncated 1/2 rejected
    assert high == {"threshold": 0.7, "accuracy": 0.6, "valid_precision": 0.5, "valid_recall": 0.5,
                    "rejected": {"reversed": 1.0, "truncated": 0.5}}


def test_dataset_builder_is_deterministic_and_clean():
    lexicon = list(dict.fromkeys(LEXICON))
    a, b = build_split(lexicon, "train", seed=3), build_split(lexicon, "train", seed=3)
    assert a == b
    negatives = [e for e in a if e.label == 0]
    assert negatives and all(e.text not in lexicon for e in negatives)
    assert {e.kind for e in negatives} <= set(KINDS)
    assert sum(e.label for e in a) == len([t for t in lexicon if any(x.text == t for x in a)])


def test_rnn_is_padding_invariant():
    torch.manual_seed(0)
    rnn = EntityRNN(EntityRNNConfig()).eval()
    x = torch.randn(2, 7, FEATURE_DIM)
    batch = rnn(x, torch.tensor([7, 3]))
    assert torch.allclose(batch[1], rnn(x[1:, :3], torch.tensor([3]))[0], atol=1e-5)
    assert torch.allclose(batch.exp().sum(1), torch.ones(2), atol=1e-5)  # LogSoftmax over 2 classes


def served_cell(rnn: EntityRNN) -> EntityCell:
    return EntityCell(rnn.config, state_arrays(rnn))


def test_served_numpy_cell_is_the_torch_cell():
    """The service runs the i2h/i2o cell in numpy (models/entity_cell.py), training in torch: same weights
    (names and shapes, as the torch-free loader demands them), same log-probabilities, padding included."""
    torch.manual_seed(1)
    config = EntityRNNConfig(hidden_size=16)
    rnn = EntityRNN(config).eval()
    assert parameter_shapes(config) == {k: tuple(v.shape) for k, v in rnn.state_dict().items()}
    x, lengths = torch.randn(4, 9, FEATURE_DIM), torch.tensor([9, 1, 5, 3])
    with torch.no_grad():
        expected = rnn(x, lengths).numpy()
    got = served_cell(rnn)(x.numpy(), lengths.numpy())
    assert got.dtype == np.float32 and np.allclose(got, expected, atol=1e-5)
    assert not np.allclose(got[0], got[1])  # really computed


def test_rnn_training_smoke_and_encoder_mismatch(tiny_encoder, tmp_path):
    enc_dir, data = tiny_encoder
    out = tmp_path / "rnn"
    train_entities.main(["--encoder", str(enc_dir), "--data", str(data), "--out", str(out), "--epochs", "6",
                         "--patience", "6", "--batch-size", "8", "--val-limit", "0", "--train-limit", "0",
                         "--test-limit", "0"])
    manifest = json.loads((out / "manifest.json").read_text())
    history = manifest["training"]["history"]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    reviewer = EntityReviewer.load(enc_dir, out)
    assert reviewer.version == manifest["model_version"]
    scores = reviewer.scores(["手内肌萎缩", "缩萎肌内手"])
    assert all(0 <= s <= 1 for s in scores)
    assert abs(reviewer.score_features(np.zeros((4, FEATURE_DIM))) - reviewer.score_features([[0.0] * FEATURE_DIM] * 4)) < 1e-6

    manifest["encoder_fingerprint"] = "0000000000000000"
    from models.checkpoint import load_checkpoint, save_checkpoint
    from models.entity_reviewer import build_entity_model
    save_checkpoint(out, load_checkpoint(out, build_entity_model)[0], {k: v for k, v in manifest.items() if k not in ("weights_sha256", "model_version")},
                    "entity-rnn")
    for runtime in ("torch", "onnx"):
        with pytest.raises(CheckpointError, match="trained on encoder 0000000000000000"):
            EntityReviewer.load(enc_dir, out, runtime=runtime, onnx_cache=tmp_path / "cache")


@pytest.mark.parametrize("features", [np.zeros((3, 10)), np.zeros((0, FEATURE_DIM)), np.zeros((63, FEATURE_DIM)),
                                      np.full((2, FEATURE_DIM), np.nan), np.zeros(FEATURE_DIM)])
def test_feature_path_validates(tiny_encoder, tmp_path, features):
    rnn = served_cell(EntityRNN(EntityRNNConfig()))
    encoder = CharEncoder.load(tiny_encoder[0])
    reviewer = EntityReviewer(encoder, rnn, {"encoder_fingerprint": encoder.fingerprint, "model_version": "t"})
    with pytest.raises(ValueError):
        reviewer.score_features(features)


def test_baseline_reference_model_smoke(tmp_path):
    from itertools import product
    from models import entity_baseline
    data = tmp_path / "lexicon.txt"
    data.write_text("\n".join(a + b + c + "炎" for a, b, c in product("手肺肝胃肾脑心眼", "内外上下前后", "部叶管腔膜壁")),
                    encoding="utf-8")
    out = tmp_path / "report"
    entity_baseline.main(["--data", str(data), "--minutes", "0.05", "--threads", "1", "--out", str(out)])
    report = json.loads((out / "report.json").read_text())
    assert 0 <= report["accuracy"] <= 1 and report["history"]
    assert "positive" in report["accuracy_by_kind"] and set(report["accuracy_by_kind"]) - {"positive"} <= set(KINDS)


def test_pretraining_word_list_most_frequent_first_and_held_out_left_out(tmp_path):
    words = tmp_path / "dict.txt"
    words.write_text("头痛 5 n\n肌肉 900 n\n肌 1000 n\n发热咳嗽 40 n\n萎缩 300 v\nAB 7 eng\n手内 20 n\n\n", encoding="utf-8")
    usable = set("手内肌萎缩头痛发热咳嗽肉")
    # 肌: one character; AB: not in the vocabulary; 头痛: a held-out entity.
    assert pretrain_encoder.read_words(str(words), usable, {"头痛"}, limit=3) == ["肌肉", "萎缩", "发热咳嗽"]
    assert pretrain_encoder.read_words(str(words), usable, set(), limit=10)[-1] == "头痛"


def test_pretraining_smoke_with_words(tiny_encoder, tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("肌萎\n萎缩\n咳嗽\n血肉\n", encoding="utf-8")
    out = tmp_path / "enc"
    pretrain_encoder.main(["--data", str(tiny_encoder[1]), "--out", str(out), "--layers", "1", "--heads", "2",
                           "--intermediate", "32", "--epochs", "1", "--batch-size", "8", "--words", str(words)])
    report = json.loads((out / "pretraining_report.json").read_text())
    assert report["words"]["count"] == 2  # 咳嗽 is a lexicon entity, 肉 is outside the vocabulary
    assert report["steps"] > 0
