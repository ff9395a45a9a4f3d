"""Train a name classifier and write a checkpoint + evaluation report.

    python -m models.train_names --arch gru

Batched, packed sequences; AdamW; early stopping on validation accuracy. The 140:1
Russian:Vietnamese imbalance: class weights count^-0.5 in the loss by default (what ships), or
plain cross-entropy plus logit adjustment at serving time (--class-weight-power 0 --prior-tau T,
models/name_predictor.prior_shift). Both move the served prior between the corpus's and a uniform
one; docs/names-experiments.md "Recipe sweep" has the measured trade-off.

--teacher DIR...: knowledge distillation from checkpoints trained on the same split (what ships since
session 6: five teachers with --init-seed 0..4, then the student; since session 7 the GRU and RNN students,
and the RNN's teachers, use --schedule onecycle --epochs 20; models/train_shipped.sh has the exact commands).
--transfer RATIO also distils on made-up names near the training ones, --ngram-teachers K also from K character
n-gram models trained in the run (models/ngram_teacher.py); measured in session 10, neither shipped (docs/names-experiments.md).
"""
import argparse
import json
import random
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from models.checkpoint import save_checkpoint
from models.countries import COUNTRIES_VERSION, LANGUAGE_COUNTRIES
from models.name_classifier import NameClassifier, NameClassifierConfig, collate
from models.name_predictor import NamePredictor, TorchNames
from models.name_text import CharVocab, build_vocab
from models.names_data import feminine_rows, load_corpus, transfer_names
from models.ngram_teacher import train_ngram_teacher
from models.paths import CHECKPOINTS, NAMES_DIR

UNLABELLED = -100  # nn.CrossEntropyLoss's ignore_index


def label_counts(rows, num_labels: int) -> list[int]:
    """Rows per label, at least 1 (a label absent from a small sample must not divide by zero)."""
    counts = Counter(label for _, label in rows)
    return [max(counts.get(c, 0), 1) for c in range(num_labels)]


def class_weights(rows, num_labels: int, power: float) -> torch.Tensor:
    """weight_c ∝ count_c^-power, normalised to mean 1 (power 0 = plain cross-entropy)."""
    w = torch.tensor(label_counts(rows, num_labels), dtype=torch.float) ** -power
    return w / w.mean()


@torch.no_grad()
def teacher_targets(teachers: list, names: list[str], temperature: float) -> torch.Tensor:
    """Soft targets [len(names), labels] from an ensemble (NamePredictor checkpoints, NgramTeacher models): the
    mean of their calibrated log-probabilities (a geometric mean of their answers), softened by `temperature`."""
    logps = [torch.log_softmax(torch.as_tensor(t.calibrate(t.logits_in_batches(names, 1024))), -1) for t in teachers]
    return torch.softmax(torch.stack(logps).mean(0) / temperature, -1)


def load_teachers(dirs: list[Path], corpus, seed: int) -> list[NamePredictor]:
    """Teachers must have been trained on this corpus and split: one that saw another split's
    validation or test names would leak them into the student."""
    teachers = [NamePredictor.load(d) for d in dirs]
    for d, t in zip(dirs, teachers):
        trained = t.manifest.get("training", {})
        if (trained.get("data_fingerprint"), trained.get("seed"), t.labels) != (corpus.fingerprint, seed, corpus.labels):
            raise SystemExit(f"teacher {d} was not trained on this corpus, split seed {seed} and label list")
    return teachers


@torch.no_grad()
def accuracy_and_loss(model, vocab, rows, loss_fn, batch_size=1024):
    model.eval()
    correct, total_loss = 0, 0.0
    for i in range(0, len(rows), batch_size):
        chunk = rows[i : i + batch_size]
        logits = model(*collate([vocab.encode(n) for n, _ in chunk]))
        y = torch.tensor([label for _, label in chunk])
        total_loss += float(loss_fn(logits, y)) * len(chunk)
        correct += int((logits.argmax(-1) == y).sum())
    model.train()
    return correct / len(rows), total_loss / len(rows)


def train(args) -> Path:
    init_seed = args.seed if args.init_seed is None else args.init_seed
    torch.manual_seed(init_seed)
    corpus = load_corpus(args.data)
    train_rows, val_rows = corpus.split("train", args.seed), corpus.split("val", args.seed)
    if args.limit:  # a random sample, so every language can appear
        rng = random.Random(args.seed)
        train_rows = rng.sample(train_rows, min(args.limit, len(train_rows)))
        val_rows = rng.sample(val_rows, min(max(args.limit // 4, 8), len(val_rows)))
    # weighed by the corpus's own counts: added forms must not make a language's errors count for less
    weights = class_weights(train_rows, len(corpus.labels), args.class_weight_power)
    teacher_names, corpus_rows = [n for n, _ in train_rows], train_rows
    transfer = transfer_names(train_rows, corpus, round(args.transfer * len(train_rows)), args.seed) if args.transfer else []
    if transfer and not (args.teacher or args.ngram_teachers):
        raise SystemExit("--transfer rows have no labels: they need --teacher or --ngram-teachers")
    added = feminine_rows(train_rows, corpus, args.seed) if args.feminine_forms else []
    if 0 < args.feminine_forms < 1:  # a seeded sample: every added row shifts the prior towards Russian
        added = random.Random(args.seed).sample(added, round(args.feminine_forms * len(added)))
    if added:
        print(f"feminine forms: {len(added)} training rows added to {len(train_rows)}")
        train_rows = train_rows + [(form, label) for form, label, _ in added]
        teacher_names += [masculine for _, _, masculine in added]  # Ivanova comes from where Ivanov does
    vocab = CharVocab(build_vocab(n for n, _ in train_rows))
    config = NameClassifierConfig(arch=args.arch, vocab_size=len(vocab), num_labels=len(corpus.labels),
                                  embed_dim=args.embed_dim, hidden_size=args.hidden, num_layers=args.layers,
                                  dropout=args.dropout)
    model = NameClassifier(config)
    loss_fn = nn.CrossEntropyLoss(weight=weights, label_smoothing=args.label_smoothing)
    eval_loss = nn.CrossEntropyLoss()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(init_seed)
    # transfer names carry no label (UNLABELLED is ignored by the cross-entropy): they learn from the teachers only
    encoded = [(vocab.encode(n), y) for n, y in train_rows] + [(vocab.encode(n), UNLABELLED) for n in transfer]
    if transfer:
        print(f"transfer names: {len(transfer)} unlabelled rows added for distillation")
    steps_per_epoch = (len(encoded) + args.batch_size - 1) // args.batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch,
                                                pct_start=0.1) if args.schedule == "onecycle" else None
    teachers = load_teachers(args.teacher, corpus, args.seed)
    # n-gram teachers: trained here on the corpus's training rows (seconds each), a second kind of model to average
    ngram = [train_ngram_teacher(corpus_rows, val_rows, len(corpus.labels), weights, seed=k)
             for k in tqdm(range(args.ngram_teachers), desc="n-gram teachers", leave=False)]
    for k, t in enumerate(ngram):
        print(f"n-gram teacher {k}: val_acc={t.val_accuracy:.4f} temperature={t.temperature:.3f}")
    soft = teacher_targets(teachers + ngram, teacher_names + transfer, args.distill_temperature) if teachers or ngram else None

    history, best, best_state, stale = [], -1.0, None, 0
    start = time.time()
    for epoch in range(1, args.epochs + 1):
        order = torch.randperm(len(encoded), generator=gen).tolist()
        running = 0.0
        bar = tqdm(range(0, len(order), args.batch_size), desc=f"{args.arch} epoch {epoch}", unit="batch", leave=False)
        for i in bar:
            idx = order[i : i + args.batch_size]
            batch = [encoded[j] for j in idx]
            logits = model(*collate([ids for ids, _ in batch]))
            labels = torch.tensor([y for _, y in batch])
            # a batch of transfer names only has no cross-entropy term (its mean over no rows would be NaN)
            loss = loss_fn(logits, labels) if bool((labels != UNLABELLED).any()) else logits.sum() * 0.0
            if soft is not None:  # Hinton et al. (2015): match the teachers' softened distribution, scaled by T^2
                t = args.distill_temperature
                kl = nn.functional.kl_div(torch.log_softmax(logits / t, -1), soft[idx], reduction="batchmean")
                loss = (1 - args.distill_weight) * loss + args.distill_weight * t * t * kl
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            if sched:
                sched.step()
            running += loss.item() * len(batch)
            bar.set_postfix(loss=f"{loss.item():.3f}")
        val_acc, val_loss = accuracy_and_loss(model, vocab, val_rows, eval_loss)
        history.append({"epoch": epoch, "train_loss": running / len(encoded), "val_loss": val_loss, "val_accuracy": val_acc})
        print(f"{args.arch} epoch {epoch}: train_loss={running / len(encoded):.4f} val_loss={val_loss:.4f} val_acc={val_acc:.4f}")
        if val_acc > best:
            best, stale = val_acc, 0
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
            # a one-cycle run ends where its schedule does: an early stop near the peak learning rate keeps
            # a model that never had the low-rate epochs (RNN student, validation: 0.784 stopped vs 0.816)
            if stale >= args.patience and args.schedule != "onecycle":
                print(f"early stop: no val improvement in {args.patience} epochs")
                break
    model.load_state_dict(best_state)
    model.eval()

    manifest = {
        "kind": "name-classifier", "arch": args.arch, "config": asdict(config),
        "vocab": vocab.chars, "labels": corpus.labels,
        "countries": {lang: LANGUAGE_COUNTRIES[lang] for lang in corpus.labels},
        "countries_version": COUNTRIES_VERSION, "temperature": 1.0,
        "prior_adjustment": {"tau": args.prior_tau,
                             "train_label_counts": label_counts(train_rows, len(corpus.labels))},
        "training": {"data_fingerprint": corpus.fingerprint, "seed": args.seed, "init_seed": init_seed, "train_rows": len(train_rows),
                     "feminine_form_rows": len(added), "transfer_rows": len(transfer), "val_rows": len(val_rows), "epochs_run": len(history), "best_val_accuracy": best,
                     "class_weight_power": args.class_weight_power, "lr": args.lr, "batch_size": args.batch_size,
                     "schedule": args.schedule, "label_smoothing": args.label_smoothing,
                     "distillation": {"teachers": [t.version for t in teachers],
                                      "weight": args.distill_weight, "temperature": args.distill_temperature,
                                      **({"ngram_teachers": [{"seed": k, "val_accuracy": t.val_accuracy,
                                                              "temperature": t.temperature} for k, t in enumerate(ngram)]}
                                         if ngram else {})}
                     if teachers or ngram else None,
                     "minutes": round((time.time() - start) / 60, 2), "history": history},
    }
    if args.calibrate:
        from models.calibration import fit_temperature
        manifest["temperature"] = fit_temperature(NamePredictor(TorchNames(model), {**manifest, "model_version": "tmp"}), val_rows)
        print(f"temperature fitted on validation split: {manifest['temperature']:.3f}")
    out = args.out or CHECKPOINTS / f"names-{args.arch}"
    manifest = save_checkpoint(out, model, manifest, version_prefix=f"names-{args.arch}")
    print(f"wrote {out} model_version={manifest['model_version']}")
    return out


def parser():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", choices=["rnn", "lstm", "gru"], default="gru")
    ap.add_argument("--data", type=Path, default=NAMES_DIR, help="folder of <Language>.txt files (env NAMES_DATA_DIR)")
    ap.add_argument("--feminine-forms", type=float, nargs="?", const=1.0, default=0.0, metavar="SHARE",
                    help="also train on the feminine forms of Russian and Polish training names (Ivanova, Kowalska), "
                         "all of them or a seeded SHARE, with the teachers' answer for the masculine form")
    ap.add_argument("--out", type=Path, default=None, help="checkpoint folder (default checkpoints/names-<arch>)")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--patience", type=int, default=6)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--embed-dim", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--dropout", type=float, default=0.3)
    ap.add_argument("--class-weight-power", type=float, default=0.5,
                    help="class weights count^-power in the loss (0 = plain cross-entropy)")
    ap.add_argument("--prior-tau", type=float, default=0.0,
                    help="serve logits - tau*log(training prior): 0 = corpus prior, 1 = uniform prior")
    ap.add_argument("--label-smoothing", type=float, default=0.0)
    ap.add_argument("--schedule", choices=["constant", "onecycle"], default="constant",
                    help="learning rate: constant (early stopping after --patience epochs without a better "
                         "validation score), or one-cycle over all --epochs (no early stop)")
    ap.add_argument("--teacher", type=Path, nargs="*", default=[],
                    help="checkpoints whose averaged answers the model also learns from (knowledge distillation)")
    ap.add_argument("--distill-weight", type=float, default=0.5, help="share of the loss given to the teachers")
    ap.add_argument("--distill-temperature", type=float, default=2.0)
    ap.add_argument("--ngram-teachers", type=int, default=0, metavar="K",
                    help="also distil from K character n-gram models trained here (models/ngram_teacher.py), "
                         "averaged with the --teacher checkpoints as K more teachers")
    ap.add_argument("--transfer", type=float, default=0.0, metavar="RATIO",
                    help="also distil on RATIO x the training rows of made-up names near them, labelled by the "
                         "teachers only (models/names_data.transfer_names)")
    ap.add_argument("--no-calibrate", dest="calibrate", action="store_false")
    ap.add_argument("--limit", type=int, default=0, help="train on a seeded random sample of N training rows (and N/4 validation rows, at most all)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0, help="split seed (and the initialisation's, unless --init-seed)")
    ap.add_argument("--init-seed", type=int, default=None, help="initialisation and batch-order seed, same split")
    ap.add_argument("--no-report", dest="report", action="store_false", help="skip the evaluation report")
    return ap


def main(argv=None):
    args = parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    out = train(args)
    if args.report:
        from models.evaluate_names import evaluate_checkpoint
        report_dir = None if args.out is None else out / "report"  # shipped checkpoints report into docs/reports
        print(json.dumps(evaluate_checkpoint(out, args.data, args.seed, report_dir)["summary"], indent=2))


if __name__ == "__main__":
    main()
