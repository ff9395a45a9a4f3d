"""Name encoder, training loop, checkpoint integrity and the committed name checkpoints."""
import json
import shutil

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from models.checkpoint import CheckpointError
from models import name_onnx, name_predictor
from models.name_config import NameClassifierConfig, parameter_shapes
from models.name_predictor import RUNTIMES, NamePredictor
from models.name_text import MAX_NAME_CHARS, CharVocab, build_vocab, normalise
from models.names_data import feminine_form, feminine_rows, load_corpus, transfer_names
from models.paths import CHECKPOINTS
from models import train_names
from tests.helpers import edit_served_code

VOCAB = CharVocab(build_vocab(["abc", "ñó"]))


@pytest.mark.parametrize("text", ["", " ", "abc", "ÑÓ", "Иванов", "田中", "😀", "\x00\n\t", "a" * 10_000,
                                  "\ud800", "e\u0301"])
def test_encoder_takes_any_string(text):
    ids = VOCAB.encode(text)
    assert 1 <= len(ids) <= MAX_NAME_CHARS and all(0 < i < len(VOCAB) for i in ids)


def test_encoder_keeps_accents_and_folds_unknown_letters():
    assert VOCAB.encode("ÑÓ") == [VOCAB.index["ñ"], VOCAB.index["ó"]]
    assert VOCAB.encode("e\u0301") == VOCAB.encode("é")  # NFC: composed and decomposed agree
    assert VOCAB.encode("Ä") == [VOCAB.index["a"]]       # unseen accented letter -> its ASCII letter
    assert normalise("  Van  der BERG ") == "van der berg"
    assert normalise("Ｎａｋａｍｕｒａ") == "nakamura" and normalise("ﾀﾅｶ") == "タナカ"  # NFKC: IME and phone forms


@settings(max_examples=2000, deadline=None)
@given(st.text(max_size=24) | st.sampled_from(["ŉ", "Aʹb", "O\u0374Brien", "De\u1fefLuca", "O´Brien", "DeLaCruz"]))
def test_normalise_is_idempotent(name):
    """The model reads tokens normalised again (CharVocab.encode), so a second pass must change nothing: NFKC makes
    apostrophe look-alikes of its own (ŉ -> ʼn), which an apostrophe rule applied only before it had left."""
    once = normalise(name)
    assert normalise(once) == once


def test_invisible_format_characters_are_every_cf_and_leave_names():
    import sys
    import unicodedata
    from models.invisible import FORMAT_CHARACTERS
    cf = {chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf"}
    matched = {chr(c) for c in range(sys.maxunicode + 1) if FORMAT_CHARACTERS.fullmatch(chr(c))}
    assert matched == cf
    assert normalise("Sch\u200dmidt") == "schmidt" == normalise("\ufeffSchmi\u00addt\u2066")  # ZWJ, BOM, soft hyphen


def tiny_names(tmp_path):
    data = tmp_path / "names"
    data.mkdir()
    (data / "Japanese.txt").write_text("\n".join(f"{a}{b}ka" for a in "ktmsn" for b in "aiueo" * 3))
    (data / "Russian.txt").write_text("\n".join(f"{a}{b}ov" for a in "bdgvz" for b in "aiueo" * 3))
    return data


TINY = ["--epochs", "8", "--patience", "8", "--hidden", "16", "--embed-dim", "8", "--batch-size", "8", "--lr", "0.01",
        "--no-report"]


def test_smoke_training_lowers_the_loss(tmp_path):
    data, out = tiny_names(tmp_path), tmp_path / "ckpt"
    train_names.main(["--arch", "gru", "--data", str(data), "--out", str(out), *TINY])
    history = json.loads((out / "manifest.json").read_text())["training"]["history"]
    assert history[-1]["train_loss"] < 0.5 * history[0]["train_loss"]
    predictor = NamePredictor.load(out)
    assert predictor.labels == ["Japanese", "Russian"]


def test_limit_larger_than_the_corpus_takes_every_row(tmp_path):
    data, out = tiny_names(tmp_path), tmp_path / "ckpt"
    train_names.main(["--arch", "rnn", "--data", str(data), "--out", str(out), *TINY, "--epochs", "1", "--limit", "100000"])
    training = json.loads((out / "manifest.json").read_text())["training"]
    full = load_corpus(data)
    assert (training["train_rows"], training["val_rows"]) == (len(full.split("train", 0)), len(full.split("val", 0)))


def test_one_cycle_runs_its_whole_schedule(tmp_path):
    data = tiny_names(tmp_path)
    args = ["--arch", "rnn", "--data", str(data), *TINY, "--epochs", "6", "--patience", "1"]
    epochs = {}
    for schedule in ("constant", "onecycle"):
        train_names.main([*args, "--schedule", schedule, "--out", str(tmp_path / schedule)])
        epochs[schedule] = json.loads((tmp_path / schedule / "manifest.json").read_text())["training"]["epochs_run"]
    assert epochs["onecycle"] == 6 and epochs["constant"] < 6  # same data and patience; only the schedule differs


def test_feminine_forms():
    assert [feminine_form(n, "Russian") for n in ["ivanov", "tolstoy", "dostoevsky", "pushkin", "lvov", "nov"]] == \
        ["ivanova", "tolstaya", "dostoevskaya", "pushkina", "lvova", None]  # a one-letter stem is no surname
    assert feminine_form("kowalski", "Polish") == "kowalska" and feminine_form("smith", "English") is None
    assert [feminine_form(n, "Czech") for n in ["novak", "svoboda", "hajek", "cerny", "dvořák", "bartonova", "jiri"]] == \
        ["novakova", "svobodova", "hajkova", "cerna", "dvořáková", None, None]


def test_feminine_rows_never_add_a_held_out_name(tmp_path):
    data = tmp_path / "names"
    data.mkdir()
    masculine = [f"{a}{b}ov" for a in "bdgvzkmnprst" for b in "aeiou"]
    (data / "Russian.txt").write_text("\n".join(masculine))
    (data / "Czech.txt").write_text("\n".join(m + "a" for m in masculine))  # every feminine form is also Czech
    corpus = load_corpus(data)
    added = feminine_rows(corpus.split("train"), corpus)
    held_out = {n for n, _ in corpus.split("val") + corpus.split("test")}
    assert added and all(form not in held_out and form == masculine + "a" for form, _, masculine in added)
    assert len(added) < len(corpus.split("train", 0)) / 2  # the Czech rows gave none; held-out forms were dropped


def test_transfer_names_are_new_seeded_and_never_held_out(tmp_path):
    corpus = load_corpus(tiny_names(tmp_path))
    train = corpus.split("train")
    made = transfer_names(train, corpus, 40)
    assert made == transfer_names(train, corpus, 40) and made != transfer_names(train, corpus, 40, seed=1)
    known = {n for n, _ in corpus.rows}  # every corpus name, held-out ones included
    assert len(made) == len(set(made)) == 40 and not known & set(made)
    letters = {c for n, _ in train for c in n}
    assert all(set(n) <= letters for n in made)  # no character the student's vocabulary lacks


def test_smoke_distillation_from_teacher_checkpoints(tmp_path):
    data, teacher, student = tiny_names(tmp_path), tmp_path / "teacher", tmp_path / "student"
    train_names.main(["--arch", "rnn", "--data", str(data), "--out", str(teacher), *TINY])
    names = ["tanaka", "ivanov"]
    t = NamePredictor.load(teacher)
    soft = train_names.teacher_targets([t], names, temperature=2.0)
    expected = torch.softmax(torch.log_softmax(torch.as_tensor(t.calibrate(t.logits(names))), -1) / 2.0, -1)
    assert torch.allclose(soft, expected, atol=1e-6) and torch.allclose(soft.sum(1), torch.ones(2))
    train_names.main(["--arch", "gru", "--data", str(data), "--out", str(student), "--init-seed", "3",
                      "--teacher", str(teacher), "--distill-weight", "0.7", "--feminine-forms", "--transfer", "0.5", *TINY])
    training = json.loads((student / "manifest.json").read_text())["training"]
    assert training["feminine_form_rows"] > 0  # the tiny Russian names all end in -ov
    assert training["transfer_rows"] == round(0.5 * len(load_corpus(data).split("train")))
    assert training["distillation"] == {"teachers": [t.version], "weight": 0.7, "temperature": 2.0}
    assert training["init_seed"] == 3 and training["seed"] == 0
    assert training["history"][-1]["train_loss"] < 0.5 * training["history"][0]["train_loss"]
    with pytest.raises(SystemExit, match="need --teacher or --ngram-teachers"):  # made-up names have no label of their own
        train_names.main(["--arch", "gru", "--data", str(data), "--out", str(tmp_path / "y"), "--transfer", "1", *TINY])
    with pytest.raises(SystemExit, match="split seed"):  # a teacher from another split would leak its names
        train_names.main(["--arch", "gru", "--data", str(data), "--out", str(tmp_path / "x"), "--seed", "1",
                          "--teacher", str(teacher), *TINY])


def test_ngram_teachers_train_here_and_teach_a_student(tmp_path):
    from models.ngram_teacher import BUCKETS, gram_ids
    ids = gram_ids("kato")
    assert ids == gram_ids("kato") and len(ids) == 6 + 5 + 4 + 3 + 2 and all(0 <= i < BUCKETS for i in ids)
    assert gram_ids("") and gram_ids("\ud800x")  # any text hashes, even a lone surrogate
    data, student = tiny_names(tmp_path), tmp_path / "student"
    train_names.main(["--arch", "gru", "--data", str(data), "--out", str(student), "--ngram-teachers", "2",
                      "--transfer", "0.5", *TINY])
    distillation = json.loads((student / "manifest.json").read_text())["training"]["distillation"]
    assert distillation["teachers"] == [] and [t["seed"] for t in distillation["ngram_teachers"]] == [0, 1]
    assert all(t["val_accuracy"] > 0.9 and t["temperature"] > 0 for t in distillation["ngram_teachers"])  # -ka vs -ov
    assert NamePredictor.load(student).labels == ["Japanese", "Russian"]


@pytest.fixture(scope="module", params=["gru", "lstm", "rnn"])
def shipped(request):
    return NamePredictor.load(CHECKPOINTS / f"names-{request.param}")


def test_committed_checkpoint_predicts_obvious_names(shipped):
    names = ["Nakamura", "Yamamoto", "Ivanov", "Smirnov"]
    probs = shipped.probabilities(names)
    assert [shipped.labels[i] for i in probs.argmax(1)] == ["Japanese", "Japanese", "Russian", "Russian"]
    assert shipped.manifest["countries"]["Japanese"] == ["JP"]
    assert (CHECKPOINTS / f"names-{shipped.manifest['arch']}" / "model.safetensors").stat().st_size < 20 * 2**20


def test_batch_equals_single(shipped):  # single names take the unpadded kernel call, the batch the packed one
    names = ["Nakamura", "O'Neill", "Papadopoulos", "Nguyen", "a", "Abramovich-Kowalski"]
    batch = shipped.probabilities(names)
    for i, name in enumerate(names):
        assert np.allclose(shipped.probabilities([name])[0], batch[i], atol=1e-5)


@pytest.mark.parametrize("arch", ["gru", "lstm", "rnn"])
def test_onnx_runtime_gives_the_torch_logits(arch):
    """The service runs names in ONNX Runtime (models/name_onnx.py): gate order, biases, direction and
    variable lengths must come out exactly as torch computes them, alone, in padded batches, and in the
    batches it splits by length; the graph is built from the same weights read without torch."""
    torch_only = NamePredictor.load(CHECKPOINTS / f"names-{arch}")
    onnx = NamePredictor.load(CHECKPOINTS / f"names-{arch}", runtime="onnx")
    assert onnx.version == torch_only.version and onnx.labels == torch_only.labels
    # malloc'd buffers, not ONNX Runtime's arena: on 4 gthreads, batches of 256 had grown a worker by 160 MB
    assert not onnx.model.session.get_session_options().enable_cpu_mem_arena
    names = ["Nakamura", "O'Neill", "Papadopoulos", "Nguyen", "a", "", "Abramovich", "x" * 200, "Иванов", "Łukasiewicz"]
    assert np.allclose(onnx.logits(names), torch_only.logits(names), atol=1e-4)
    for name in names:
        assert np.allclose(onnx.logits([name]), torch_only.logits([name]), atol=1e-4)
    assert not np.array_equal(onnx.logits(names[:2]), onnx.logits(names[2:4]))  # really computed, not constant
    many = [f"{n}{i}" for i in range(20) for n in names]  # over SPLIT_BY_LENGTH_FROM: one pass per length
    assert len(many) >= name_onnx.SPLIT_BY_LENGTH_FROM and len({len(n) for n in many}) > 5
    assert np.allclose(onnx.logits(many), torch_only.logits(many), atol=1e-4)
    assert np.allclose(onnx.probabilities(many), torch_only.probabilities(many), atol=1e-5)
    for runtime in (onnx, torch_only):  # an empty batch (a caller whose names all need no model) is no error
        assert runtime.probabilities([]).shape == (0, len(runtime.labels))


def test_cache_version_follows_manifest_and_served_code_not_the_runtime(tmp_path, monkeypatch):
    onnx = NamePredictor.load(CHECKPOINTS / "names-gru", runtime="onnx")
    assert NamePredictor.load(CHECKPOINTS / "names-gru").cache_version == onnx.cache_version  # torch: same answers
    assert onnx.cache_version.startswith(onnx.version + "/")
    recalibrated = NamePredictor(onnx.model, {**onnx.manifest, "temperature": 2.0})
    assert recalibrated.version == onnx.version and recalibrated.cache_version != onnx.cache_version
    edit_served_code(monkeypatch, name_predictor, "name_scripts.py", tmp_path)  # a rule changed in the code
    assert NamePredictor(onnx.model, onnx.manifest).cache_version != onnx.cache_version


def test_torch_runtime_sends_only_batches_up_to_its_limit_to_onnx_runtime(monkeypatch):
    predictor = NamePredictor.load(CHECKPOINTS / "names-gru", onnx_max_batch=2)
    calls = []
    monkeypatch.setattr(predictor.model, "onnx", lambda ids: calls.append(len(ids)) or np.zeros((len(ids), 18)))
    predictor.logits(["Nakamura", "Ivanov"])
    predictor.logits(["Nakamura", "Ivanov", "Nguyen"])  # over the limit: torch
    assert calls == [2]


def test_tampered_or_incomplete_checkpoint_is_refused(tmp_path):
    src = CHECKPOINTS / "names-gru"
    bad = tmp_path / "names-gru"
    shutil.copytree(src, bad)
    blob = bytearray((bad / "model.safetensors").read_bytes())
    blob[-10] ^= 0xFF
    (bad / "model.safetensors").write_bytes(bytes(blob))
    for runtime in RUNTIMES:
        with pytest.raises(CheckpointError, match="does not match"):
            NamePredictor.load(bad, runtime)

    shutil.copy(src / "model.safetensors", bad / "model.safetensors")
    manifest = json.loads((bad / "manifest.json").read_text())
    manifest["config"]["hidden_size"] = 64  # manifest lies about the architecture
    (bad / "manifest.json").write_text(json.dumps(manifest))
    for runtime in RUNTIMES:  # the numpy loader checks every weight's shape as load_state_dict(strict=True) does
        with pytest.raises(CheckpointError, match="do not fit"):
            NamePredictor.load(bad, runtime)
    manifest["config"]["hidden_size"] = 128
    manifest["config"]["num_layers"] = 1  # fewer weights than the file holds
    (bad / "manifest.json").write_text(json.dumps(manifest))
    for runtime in RUNTIMES:
        with pytest.raises(CheckpointError, match="do not fit"):
            NamePredictor.load(bad, runtime)

    (bad / "manifest.json").write_text("{truncated")
    for runtime in RUNTIMES:
        with pytest.raises(CheckpointError, match="unreadable"):
            NamePredictor.load(bad, runtime)
    (bad / "model.safetensors").unlink()
    shutil.copy(src / "manifest.json", bad / "manifest.json")
    for runtime in RUNTIMES:
        with pytest.raises(CheckpointError, match="missing"):
            NamePredictor.load(bad, runtime)


@pytest.mark.parametrize("arch", ["gru", "lstm", "rnn"])
def test_numpy_loader_knows_the_torch_modules_weights(arch):
    """parameter_shapes (what the torch-free loader demands) is NameClassifier's state_dict, for every cell."""
    from models.name_classifier import NameClassifier
    config = NameClassifierConfig(arch=arch, vocab_size=37, num_labels=5, embed_dim=16, hidden_size=8, num_layers=3)
    assert parameter_shapes(config) == {k: tuple(v.shape) for k, v in NameClassifier(config).state_dict().items()}


def test_prior_adjustment_shifts_mass_from_frequent_to_rare_labels():
    gru = NamePredictor.load(CHECKPOINTS / "names-gru")
    counts = [1000] * len(gru.labels)
    counts[gru.index["Vietnamese"]], counts[gru.index["Russian"]] = 10, 9000

    def with_tau(tau):
        return NamePredictor(gru.model, {**gru.manifest, "prior_adjustment": {"tau": tau, "train_label_counts": counts}})

    flat, shifted = with_tau(0.0), with_tau(1.0)
    assert np.array_equal(flat.prior_shift, np.zeros(len(gru.labels)))
    assert np.allclose(flat.probabilities(["Lee"]), gru.probabilities(["Lee"]))  # no adjustment = tau 0
    p0, p1 = flat.probabilities(["Lee"])[0], shifted.probabilities(["Lee"])[0]
    assert p1[gru.index["Vietnamese"]] > p0[gru.index["Vietnamese"]] and p1[gru.index["Russian"]] < p0[gru.index["Russian"]]
    for bad in ([0] * len(counts), counts[:-1]):
        with pytest.raises(CheckpointError, match="train_label_counts"):
            NamePredictor(gru.model, {**gru.manifest, "prior_adjustment": {"tau": 0.5, "train_label_counts": bad}})
