"""Reference point for entity review: how far can any character model get on this data?

    python -m models.entity_baseline [--minutes 10] [--threads 2]

Trains an unconstrained model end to end on the same train split and scores the same test split
as models.evaluate_entities: character embeddings, a 2-layer bidirectional GRU (non-linear, reads
the text both ways), mean+max pooling. It is free of the design's two constraints (a frozen encoder
and the linear i2h/i2o cell), so the distance between it and the served reviewer is what a better
encoder could still win, and its own distance to 100 % is what the data allows. Never served.
Writes docs/reports/entity-baseline/report.json.
"""
import argparse
import json
import random
import time
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from models.batching import length_buckets
from models.entity_data import build_split, read_lexicon
from models.evaluate_entities import accuracy_by_kind
from models.paths import ENTITIES_FILE, REPORTS


class CharBiGRU(nn.Module):
    def __init__(self, vocab_size: int, embed: int = 128, hidden: int = 256):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed, padding_idx=0)
        self.rnn = nn.GRU(embed, hidden, num_layers=2, batch_first=True, bidirectional=True, dropout=0.2)
        self.out = nn.Linear(4 * hidden, 2)

    def forward(self, ids, lengths):
        packed = nn.utils.rnn.pack_padded_sequence(self.embed(ids), lengths, batch_first=True, enforce_sorted=False)
        h, _ = nn.utils.rnn.pad_packed_sequence(self.rnn(packed)[0], batch_first=True)
        mask = (torch.arange(h.shape[1])[None] < lengths[:, None]).unsqueeze(-1)
        mean = (h * mask).sum(1) / lengths[:, None]
        return self.out(torch.cat([mean, h.masked_fill(~mask, -1e4).max(1).values], -1))


def encode(vocab: dict[str, int], examples) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    ids = [torch.tensor([vocab.get(c, 1) for c in e.text]) for e in examples]
    return (nn.utils.rnn.pad_sequence(ids, batch_first=True), torch.tensor([len(i) for i in ids]),
            torch.tensor([e.label for e in examples]))


@torch.no_grad()
def predict(model, vocab, examples, batch_size=512) -> list[int]:
    model.eval()
    out = []
    for i in range(0, len(examples), batch_size):
        ids, lengths, _ = encode(vocab, examples[i : i + batch_size])
        out += model(ids, lengths).argmax(-1).tolist()
    model.train()
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ENTITIES_FILE)
    ap.add_argument("--minutes", type=float, default=10.0, help="training wall-time budget")
    ap.add_argument("--limit", type=int, default=0, help="positives per split (smoke runs)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=REPORTS / "entity-baseline")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    lexicon = read_lexicon(args.data)
    train, val, test = (build_split(lexicon, s, args.seed, args.limit) for s in ("train", "val", "test"))
    vocab = {c: i + 2 for i, c in enumerate(sorted({c for e in train for c in e.text}))}  # 0 pad, 1 unknown
    model = CharBiGRU(len(vocab) + 2)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    rng, start, history = random.Random(args.seed), time.time(), []
    best, best_state = -1.0, None
    while time.time() - start < args.minutes * 60:
        for idx in tqdm(length_buckets([len(e.text) for e in train], 128, rng), desc=f"epoch {len(history) + 1}"):
            ids, lengths, y = encode(vocab, [train[j] for j in idx])
            loss = nn.functional.cross_entropy(model(ids, lengths), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if time.time() - start > args.minutes * 60:
                break
        val_acc = sum(p == e.label for p, e in zip(predict(model, vocab, val), val)) / len(val)
        history.append({"epoch": len(history) + 1, "minutes": round((time.time() - start) / 60, 2), "val_accuracy": val_acc})
        print(history[-1], flush=True)
        if val_acc > best:
            best, best_state = val_acc, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    pred = predict(model, vocab, test)
    summary = {"model": "char BiGRU 2x256, end to end (reference only, not served)", "test_examples": len(test),
               "accuracy": round(sum(p == e.label for p, e in zip(pred, test)) / len(test), 4),
               "accuracy_by_kind": accuracy_by_kind(test, pred), "best_val_accuracy": round(best, 4),
               "minutes": args.minutes, "history": history}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in summary.items() if k != "history"}, indent=2))


if __name__ == "__main__":
    main()
