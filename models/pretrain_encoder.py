"""Pretrain the compact 768-dim Chinese character BERT with masked-language modelling.

    python -m models.pretrain_encoder --out checkpoints/entity-encoder --max-minutes 55

Text: the entity lexicon, one entity per sequence (the same shape the service encodes).
Saves the BertModel trunk (fp16 safetensors) + tokenizer with save_pretrained, and a
pretraining_report.json with held-out MLM loss/accuracy.
"""
import argparse
import json
import random
import time
from pathlib import Path

import torch
from tqdm import tqdm
from transformers import BertConfig, BertForMaskedLM, BertTokenizerFast, DataCollatorForLanguageModeling

from models.batching import length_buckets
from models.entity_data import read_lexicon
from models.entity_encoder import MAX_CHARS
from models.paths import CHECKPOINTS, ENTITIES_FILE

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
EXTRA_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-+/.,()%:;'\"[]<>~·、，。（）：；％"


def build_tokenizer(texts: list[str], out_dir: Path) -> BertTokenizerFast:
    """One vocabulary entry per character seen in the lexicon, plus ASCII letters/digits/punctuation."""
    chars = sorted({c for t in texts for c in t.lower() if not c.isspace()} | set(EXTRA_CHARS))
    vocab = {tok: i for i, tok in enumerate(SPECIALS + chars)}
    return BertTokenizerFast(vocab=vocab, do_lower_case=True, tokenize_chinese_chars=True)


def char_ids(tok, text: str) -> list[int]:
    """[CLS] + one id per character + [SEP], the same mapping CharEncoder uses at serving time."""
    ids = [tok.convert_tokens_to_ids(p[0]) if (p := tok.tokenize(c)) else tok.unk_token_id for c in text]
    return [tok.cls_token_id, *ids, tok.sep_token_id]


@torch.no_grad()
def evaluate(model, tok, examples, batch_size=256) -> dict:
    """Held-out masked-token loss and accuracy; a seeded collator masks the same tokens every time."""
    model.eval()
    collator = DataCollatorForLanguageModeling(tok, mlm_probability=0.15, return_tensors="pt", seed=1234)
    total_loss, correct, count = 0.0, 0, 0
    for i in range(0, len(examples), batch_size):
        batch = collator([{"input_ids": e} for e in examples[i : i + batch_size]])
        out = model(input_ids=batch["input_ids"], attention_mask=(batch["input_ids"] != 0).long(), labels=batch["labels"])
        sel = batch["labels"] != -100
        n = int(sel.sum())
        total_loss += float(out.loss) * n
        correct += int((out.logits.argmax(-1)[sel] == batch["labels"][sel]).sum())
        count += n
    model.train()
    return {"mlm_loss": total_loss / max(count, 1), "mlm_accuracy": correct / max(count, 1), "masked_tokens": count}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ENTITIES_FILE)
    ap.add_argument("--out", type=Path, default=CHECKPOINTS / "entity-encoder")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--intermediate", type=int, default=1024)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--max-minutes", type=float, default=55.0, help="stop training after this wall time")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N entities (smoke runs)")
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0 = torch default)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    texts = read_lexicon(args.data)
    if args.limit:
        texts = texts[: args.limit]
    tok = build_tokenizer(texts, args.out)
    examples = [char_ids(tok, t[:MAX_CHARS]) for t in texts]
    rng.shuffle(examples)
    n_val = max(1, len(examples) // 50)
    val, train = examples[:n_val], examples[n_val:]

    config = BertConfig(vocab_size=tok.vocab_size, hidden_size=768, num_hidden_layers=args.layers,
                        num_attention_heads=args.heads, intermediate_size=args.intermediate,
                        max_position_embeddings=MAX_CHARS + 2, type_vocab_size=1, pad_token_id=tok.pad_token_id)
    model = BertForMaskedLM(config)
    collator = DataCollatorForLanguageModeling(tok, mlm_probability=0.15, return_tensors="pt")
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    steps_total = args.epochs * ((len(train) + args.batch_size - 1) // args.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps_total, pct_start=0.06)

    before = evaluate(model, tok, val)
    print(f"held-out before training: {before}")
    start, step, history = time.time(), 0, []
    bar = tqdm(total=steps_total, desc="mlm pretraining", unit="step")
    stopped_early = False
    for epoch in range(args.epochs):
        for chunk in length_buckets([len(e) for e in train], args.batch_size, rng):
            batch = collator([{"input_ids": train[i]} for i in chunk])
            out = model(input_ids=batch["input_ids"], attention_mask=(batch["input_ids"] != tok.pad_token_id).long(),
                        labels=batch["labels"])
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step(); sched.step(); opt.zero_grad(set_to_none=True)
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{out.loss.item():.3f}", epoch=epoch)
            if step % 50 == 0:
                history.append({"step": step, "loss": round(out.loss.item(), 4)})
            if (time.time() - start) / 60 > args.max_minutes:
                stopped_early = True
                break
        if stopped_early:
            break
    bar.close()
    after = evaluate(model, tok, val)
    print(f"held-out after training: {after}")

    # Ship the trunk only (the MLM head is not used for features), in fp16 to halve the size.
    trunk = model.bert.half()
    trunk.save_pretrained(args.out, safe_serialization=True)
    tok.save_pretrained(args.out)
    report = {"entities": len(texts), "train_sequences": len(train), "heldout_sequences": len(val),
              "config": {k: getattr(args, k) for k in ("layers", "heads", "intermediate", "epochs", "batch_size", "lr", "seed")},
              "steps": step, "minutes": round((time.time() - start) / 60, 1), "stopped_by_time_limit": stopped_early,
              "heldout_before": before, "heldout_after": after, "loss_history": history,
              "parameters": sum(p.numel() for p in trunk.parameters())}
    (args.out / "pretraining_report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(json.dumps({k: v for k, v in report.items() if k != "loss_history"}, indent=2))


if __name__ == "__main__":
    main()
