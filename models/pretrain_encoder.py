"""Pretrain the compact 768-dim Chinese character BERT: masked-language modelling plus corruption detection.

    python -m models.pretrain_encoder --out checkpoints/entity-encoder --max-minutes 55

Text: the entity lexicon's *training split* (models.entity_data.split_of), one entity per sequence,
the same shape the service encodes; validation-split entities are the held-out set and test-split
entities are never seen, so the entity RNN's test figures stay honest.

Two objectives share one forward pass (both BERT-family recipes):
  * MLM (BERT): 15 % of the characters of the real entities are masked and predicted;
  * corruption detection (ELECTRA's discriminator / StructBERT's order objective, at sequence
    level): every batch pairs each real entity with a corrupted copy (reversed, cut off, swallowing
    neighbours, shuffled: the NER mistakes of models.entity_data, drawn afresh each epoch), and a
    linear head on every character's last hidden state predicts "real entity or not". This is
    what puts order and boundary information into each character's feature, where MLM alone
    learned next to nothing in an hour of CPU (held-out MLM accuracy 1.9 %, docs/entity-review.md).
Both kinds of sequence are masked alike, so a [MASK] token says nothing about the label.

`--words FILE|jieba` adds general Chinese words (one per line, first field; jieba's dict.txt format
"word freq tag" works, and `jieba` names the dictionary that the jieba package ships) as further real
sequences for both objectives, the most frequent first: where words end is what a cut-off or
overlong span gets wrong. Words that are validation or test entities are left out.

Saves the BertModel trunk (fp16 safetensors) + tokenizer with save_pretrained, and a
pretraining_report.json with held-out MLM loss/accuracy and corruption-detection accuracy.
"""
import argparse
import json
import math
import random
import time
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm
from transformers import BertConfig, BertForMaskedLM, BertTokenizerFast, DataCollatorForLanguageModeling

from models.batching import length_buckets
from models.char_features import MAX_CHARS
from models.entity_data import KINDS, make_negative, read_lexicon, split_of
from models.entity_encoder import vocab_id
from models.paths import CHECKPOINTS, ENTITIES_FILE

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
EXTRA_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-+/.,()%:;'\"[]<>~·、，。（）：；％"


def build_tokenizer(texts: list[str]) -> BertTokenizerFast:
    """One vocabulary entry per character seen in the lexicon, plus ASCII letters/digits/punctuation."""
    chars = sorted({c for t in texts for c in t.lower() if not c.isspace()} | set(EXTRA_CHARS))
    vocab = {tok: i for i, tok in enumerate(SPECIALS + chars)}
    return BertTokenizerFast(vocab=vocab, do_lower_case=True, tokenize_chinese_chars=True)


def char_ids(tok, text: str) -> list[int]:
    """[CLS] + one id per character + [SEP], the same mapping CharEncoder uses at serving time."""
    return [tok.cls_token_id, *(vocab_id(tok, c) for c in text), tok.sep_token_id]


def read_words(source: str, usable: set[str], exclude: set[str], limit: int) -> list[str]:
    """Up to `limit` words of a word list, most frequent first when the list gives frequencies.

    A word qualifies if it has 2..MAX_CHARS characters, all in the vocabulary (`usable`), and is not
    in `exclude` (held-out entities)."""
    if source == "jieba":
        import jieba  # only this option needs it: pip install jieba==0.42.1 (not a service dependency)
        source = str(Path(jieba.__file__).parent / "dict.txt")
    rows = []
    for order, line in enumerate(Path(source).read_text(encoding="utf-8").splitlines()):
        fields = line.split()
        if not fields:
            continue
        word, freq = fields[0].lower(), int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else 0
        if 2 <= len(word) <= MAX_CHARS and set(word) <= usable and word not in exclude:
            rows.append((-freq, order, word))
    return [w for _, _, w in sorted(rows)[:limit]]


def paired_batch(positives: list[str], rng: random.Random, known: set[str], donors: list[str]) -> list[tuple[str, int]]:
    """Each real entity (label 1) followed by one corrupted copy (label 0) of a random kind."""
    out = []
    for text in positives:
        out.append((text, 1))
        for kind in rng.sample(KINDS, len(KINDS)):
            neg = make_negative(text, kind, rng, donors)
            if neg and neg not in known and len(neg) <= MAX_CHARS:
                out.append((neg, 0))
                break
    return out


class Pretrainer(nn.Module):
    """BERT trunk + MLM head + a per-character "real entity?" head; the trunk is what ships."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.mlm = BertForMaskedLM(config)
        self.detect = nn.Linear(config.hidden_size, 1)

    def forward(self, ids, mlm_labels, seq_labels, pad_id):
        chars = (ids != pad_id)
        chars[:, 0] = False  # [CLS]
        chars &= torch.cumsum(chars, 1) <= (chars.sum(1, keepdim=True) - 1)  # drop [SEP]
        hidden = self.mlm.bert(input_ids=ids, attention_mask=(ids != pad_id).long()).last_hidden_state
        masked = mlm_labels != -100
        logits = self.mlm.cls(hidden[masked])  # vocabulary logits only where a token was masked
        mlm_loss = nn.functional.cross_entropy(logits, mlm_labels[masked]) if masked.any() else hidden.sum() * 0
        token_logit = self.detect(hidden).squeeze(-1)[chars]
        token_label = seq_labels.unsqueeze(1).expand_as(ids)[chars].float()
        det_loss = nn.functional.binary_cross_entropy_with_logits(token_logit, token_label)
        # Sequence verdict for the report: mean character logit.
        per_seq = torch.zeros(ids.shape[0]).index_add_(0, chars.nonzero()[:, 0], token_logit.detach())
        seq_pred = (per_seq / chars.sum(1).clamp(min=1)) > 0
        return mlm_loss, det_loss, logits.detach(), mlm_labels[masked], seq_pred


def collate(tok, collator, pairs):
    batch = collator([{"input_ids": char_ids(tok, t)} for t, _ in pairs])
    labels = torch.tensor([y for _, y in pairs])
    mlm_labels = batch["labels"].masked_fill(labels.unsqueeze(1) == 0, -100)  # MLM targets from real entities only
    return batch["input_ids"], mlm_labels, labels


@torch.no_grad()
def evaluate(model, tok, heldout: list[str], known: set[str], batch_size=256) -> dict:
    """Held-out MLM loss/accuracy and corruption-detection accuracy, with fixed masking and negatives."""
    model.eval()
    collator = DataCollatorForLanguageModeling(tok, mlm_probability=0.15, return_tensors="pt", seed=1234)
    rng = random.Random(1234)
    loss_sum = correct = count = det_correct = det_count = 0
    for i in range(0, len(heldout), batch_size):
        ids, mlm_labels, labels = collate(tok, collator, paired_batch(heldout[i : i + batch_size], rng, known, heldout))
        mlm_loss, _, logits, targets, seq_pred = model(ids, mlm_labels, labels, tok.pad_token_id)
        loss_sum += float(mlm_loss) * len(targets)
        correct += int((logits.argmax(-1) == targets).sum())
        count += len(targets)
        det_correct += int((seq_pred.long() == labels).sum())
        det_count += len(labels)
    model.train()
    return {"mlm_loss": loss_sum / max(count, 1), "mlm_accuracy": correct / max(count, 1), "masked_tokens": count,
            "detection_accuracy": det_correct / max(det_count, 1), "detection_sequences": det_count}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ENTITIES_FILE)
    ap.add_argument("--out", type=Path, default=CHECKPOINTS / "entity-encoder")
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--intermediate", type=int, default=1024)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=64, help="real entities per batch (each brings one corrupted copy)")
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--mlm-weight", type=float, default=0.1,
                    help="MLM loss weight against detection's 1 (ELECTRA weighs its discriminator 50x; at 1:1 the "
                         "larger MLM gradients swamp detection, which then does not start learning)")
    ap.add_argument("--init-range", type=float, default=0.02, help="std of the initial weights (BERT's default 0.02)")
    ap.add_argument("--max-minutes", type=float, default=55.0,
                    help="stop after this wall time; the LR schedule decays to zero by then")
    ap.add_argument("--resume", type=Path, default=None,
                    help="start from the trunk saved in this directory by an earlier run (same lexicon, so the same "
                         "vocabulary); the heads start afresh")
    ap.add_argument("--words", default=None,
                    help="extra real text: a word list file (first field per line) or 'jieba' for jieba's dictionary")
    ap.add_argument("--words-limit", type=int, default=65_000, help="most frequent N words of --words")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N entities (smoke runs)")
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0 = torch default)")
    ap.add_argument("--seed", type=int, default=0, help="training seed; the split seed is entity_data's default")
    args = ap.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    texts = read_lexicon(args.data)
    if args.limit:
        texts = texts[: args.limit]
    known = set(texts)
    tok = build_tokenizer(texts)
    usable = [t for t in texts if len(t) <= MAX_CHARS]
    train = [t for t in usable if split_of(t, 0) == "train"]
    heldout = [t for t in usable if split_of(t, 0) == "val"] or train[-2:]  # tiny smoke lexicons may have no val entity
    words = []
    if args.words:
        # No lexicon entity joins as a word: training ones are already in, held-out ones must stay unseen.
        words = read_words(args.words, set(tok.get_vocab()) - set(SPECIALS), known, args.words_limit)
        print(f"{len(words)} words from {args.words} join {len(train)} training entities")
        train = train + words
    # A corrupted copy that is a real word is no corruption; held-out negatives stay those of the lexicon alone.
    known_train = known | set(words)

    config = BertConfig(vocab_size=tok.vocab_size, hidden_size=768, num_hidden_layers=args.layers,
                        num_attention_heads=args.heads, intermediate_size=args.intermediate,
                        max_position_embeddings=MAX_CHARS + 2, type_vocab_size=1, pad_token_id=tok.pad_token_id,
                        initializer_range=args.init_range)
    trunk = None
    if args.resume:
        from transformers import BertModel
        trunk = BertModel.from_pretrained(args.resume, local_files_only=True, dtype=torch.float32, add_pooling_layer=False)
        if trunk.config.vocab_size != config.vocab_size:
            raise SystemExit(f"{args.resume} has a {trunk.config.vocab_size}-token vocabulary, this lexicon {config.vocab_size}")
        config = trunk.config
    model = Pretrainer(config)
    if trunk is not None:
        model.mlm.bert.load_state_dict(trunk.state_dict())
        model.mlm.tie_weights()
    collator = DataCollatorForLanguageModeling(tok, mlm_probability=0.15, return_tensors="pt")
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    steps_total = args.epochs * math.ceil(len(train) / args.batch_size)
    start = time.time()

    def lr_factor(step: int) -> float:
        """Linear warm-up, then linear decay to zero at the last step or the time limit, whichever comes first."""
        progress = max(step / steps_total, (time.time() - start) / 60 / args.max_minutes)
        warm = 0.05
        return min(1.0, progress / warm) if progress < warm else max(0.0, (1 - progress) / (1 - warm))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: max(lr_factor(step), 1e-3))
    before = evaluate(model, tok, heldout, known)
    print(f"held-out before training: {before}")
    start, step, history = time.time(), 0, []
    bar = tqdm(total=steps_total, desc="pretraining", unit="step")
    stopped_early = False
    for epoch in range(args.epochs):
        for chunk in length_buckets([len(t) for t in train], args.batch_size, rng):
            ids, mlm_labels, labels = collate(tok, collator, paired_batch([train[i] for i in chunk], rng, known_train, train))
            mlm_loss, det_loss, *_ = model(ids, mlm_labels, labels, tok.pad_token_id)
            (args.mlm_weight * mlm_loss + det_loss).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step(); sched.step(); opt.zero_grad(set_to_none=True)
            step += 1
            bar.update(1)
            bar.set_postfix(mlm=f"{mlm_loss.item():.3f}", detect=f"{det_loss.item():.3f}", epoch=epoch)
            if step % 50 == 0:
                history.append({"step": step, "mlm_loss": round(mlm_loss.item(), 4), "detect_loss": round(det_loss.item(), 4)})
            if (time.time() - start) / 60 > args.max_minutes:
                stopped_early = True
                break
        if stopped_early:
            break
    bar.close()
    after = evaluate(model, tok, heldout, known)
    print(f"held-out after training: {after}")

    # Ship the trunk only (the heads are not used for features), in fp16 to halve the size.
    trunk = model.mlm.bert.half()
    trunk.save_pretrained(args.out, safe_serialization=True)
    tok.save_pretrained(args.out)
    previous = json.loads((args.resume / "pretraining_report.json").read_text()) if args.resume else None
    report = {"resumed_from": previous and {k: previous[k] for k in ("steps", "minutes", "heldout_after")},
              "entities": len(texts), "train_entities": len(train) - len(words),
              "words": args.words and {"source": args.words, "count": len(words)}, "heldout_entities": len(heldout),
              "objectives": ["mlm-15%", "corruption-detection"],
              "config": {k: getattr(args, k) for k in ("layers", "heads", "intermediate", "epochs", "batch_size", "lr", "mlm_weight", "init_range", "seed")},
              "steps": step, "minutes": round((time.time() - start) / 60, 1), "stopped_by_time_limit": stopped_early,
              "heldout_before": before, "heldout_after": after, "loss_history": history,
              "parameters": sum(p.numel() for p in trunk.parameters())}
    (args.out / "pretraining_report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(json.dumps({k: v for k, v in report.items() if k != "loss_history"}, indent=2))


if __name__ == "__main__":
    main()
