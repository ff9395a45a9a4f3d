"""Train the i2h/i2o entity RNN on cached encoder features; write checkpoint + report.

    python -m models.train_entities [--encoder checkpoints/entity-encoder] [--train-limit N]

The encoder is frozen: each text's [len, 768] features are computed once (fp16 in memory)
and reused every epoch. The checkpoint records the encoder's fingerprint; pointing the
service at another encoder requires retraining with this CLI (--encoder DIR).
"""
import argparse
import json
import random
import time
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence
from tqdm import tqdm

from models.batching import length_buckets, length_sorted_chunks
from models.char_features import POOLINGS
from models.checkpoint import save_checkpoint
from models.entity_data import build_split, read_lexicon
from models.entity_encoder import CharEncoder
from models.entity_rnn import EntityRNN, EntityRNNConfig
from models.paths import CHECKPOINTS, ENTITIES_FILE


def featurize(encoder: CharEncoder, texts: list[str], batch_size: int = 256, desc: str = "features",
              pooling: str = "last") -> list[torch.Tensor]:
    """Per-text fp16 feature tensors [len, 768], computed in length-sorted batches (little padding)."""
    out: list[torch.Tensor | None] = [None] * len(texts)
    for idx in tqdm(length_sorted_chunks([len(t) for t in texts], batch_size), desc=desc, unit="batch"):
        feats, lengths = encoder.features([texts[j] for j in idx], pooling)
        for row, j in enumerate(idx):
            out[j] = torch.as_tensor(feats[row, : lengths[row]]).half().clone()  # torch or ONNX Runtime (numpy)
    return out


def batches(feats, labels, batch_size, rng: random.Random | None = None):
    """(x [b, max_len, 768] float32, lengths, y) batches: length-bucketed in random order when `rng` is
    given (training), in input order otherwise (prediction)."""
    if rng is not None:
        chunks = length_buckets([f.shape[0] for f in feats], batch_size, rng)
    else:
        chunks = [list(range(i, min(i + batch_size, len(feats)))) for i in range(0, len(feats), batch_size)]
    for idx in chunks:
        x = pad_sequence([feats[j] for j in idx], batch_first=True).float()
        yield x, torch.tensor([feats[j].shape[0] for j in idx]), torch.tensor([labels[j] for j in idx])


@torch.no_grad()
def predict_scores(model, feats, batch_size=1024) -> torch.Tensor:
    model.eval()
    scores = torch.cat([model(x, lengths)[:, 1].exp() for x, lengths, _ in batches(feats, [0] * len(feats), batch_size)])
    model.train()
    return scores


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--encoder", type=Path, default=CHECKPOINTS / "entity-encoder")
    ap.add_argument("--data", type=Path, default=ENTITIES_FILE)
    ap.add_argument("--out", type=Path, default=CHECKPOINTS / "entity-rnn")
    ap.add_argument("--train-limit", type=int, default=0, help="positives sampled for training (0 = all)")
    ap.add_argument("--val-limit", type=int, default=4000)
    ap.add_argument("--test-limit", type=int, default=0, help="positives in the evaluation report (0 = all)")
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--features", choices=POOLINGS, default="last",
                    help="encoder features: last layer, or the mean of all layers (recorded in the manifest)")
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--patience", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--no-report", dest="report", action="store_false")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    encoder = CharEncoder.load(args.encoder)
    lexicon = read_lexicon(args.data)
    train = build_split(lexicon, "train", args.seed, args.train_limit)
    val = build_split(lexicon, "val", args.seed, args.val_limit)
    train_x = featurize(encoder, [e.text for e in train], desc="train features", pooling=args.features)
    val_x = featurize(encoder, [e.text for e in val], desc="val features", pooling=args.features)
    train_y, val_y = [e.label for e in train], torch.tensor([e.label for e in val])

    config = EntityRNNConfig(hidden_size=args.hidden)
    model = EntityRNN(config)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.NLLLoss()
    rng = random.Random(args.seed)
    history, best, best_state, stale, start = [], -1.0, None, 0, time.time()
    for epoch in range(1, args.epochs + 1):
        total = 0.0
        for x, lengths, y in tqdm(batches(train_x, train_y, args.batch_size, rng), desc=f"epoch {epoch}",
                                  total=(len(train_x) + args.batch_size - 1) // args.batch_size, leave=False):
            loss = loss_fn(model(x, lengths), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # the linear recurrence can blow up without it
            opt.step()
            total += loss.item() * len(y)
        scores = predict_scores(model, val_x)
        val_loss = float(nn.functional.binary_cross_entropy(scores.clamp(1e-6, 1 - 1e-6), val_y.float()))
        val_acc = float(((scores >= 0.5).long() == val_y).float().mean())
        history.append({"epoch": epoch, "train_loss": total / len(train_x), "val_loss": val_loss, "val_accuracy": val_acc})
        print(f"epoch {epoch}: train_loss={total / len(train_x):.4f} val_loss={val_loss:.4f} val_acc={val_acc:.4f}")
        if val_acc > best:
            best, stale, best_state = val_acc, 0, {k: v.clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
            if stale >= args.patience:
                break
    model.load_state_dict(best_state)
    manifest = {"kind": "entity-rnn", "config": asdict(config), "encoder_fingerprint": encoder.fingerprint,
                "features": args.features,
                "threshold": 0.5,
                "training": {"train_examples": len(train), "val_examples": len(val), "seed": args.seed,
                             "lr": args.lr, "batch_size": args.batch_size, "best_val_accuracy": best,
                             "minutes": round((time.time() - start) / 60, 2), "history": history}}
    manifest = save_checkpoint(args.out, model, manifest, version_prefix="entity-rnn")
    print(f"wrote {args.out} model_version={manifest['model_version']}")
    if args.report:
        from models.evaluate_entities import evaluate
        report_dir = None if args.out == CHECKPOINTS / "entity-rnn" else args.out / "report"
        print(json.dumps(evaluate(args.encoder, args.out, args.data, args.seed, args.test_limit, report_dir)["summary"], indent=2))


if __name__ == "__main__":
    main()
