"""Character-level BERT features: exactly one 768-dim vector per input character.

Works with any local BERT directory (our own pretrained one or a user's bert-base-chinese):
each character is mapped to one vocabulary id (its first word piece, or [UNK]), so
features line up 1:1 with characters whatever the tokenizer would do to whole words.
"""
import hashlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoTokenizer, BertModel

from models.char_features import FEATURE_DIM, MAX_CHARS, CharBatches
from models.checkpoint import CheckpointError


def vocab_id(tokenizer, ch: str) -> int:
    """One character's vocabulary id: its first word piece, else [UNK] (training and serving share it)."""
    pieces = tokenizer.tokenize(ch)
    return tokenizer.convert_tokens_to_ids(pieces[0]) if pieces else tokenizer.unk_token_id


def encoder_fingerprint(directory: Path, vocab: dict[str, int]) -> str:
    """sha256 over the weights and the vocabulary: what an RNN checkpoint was trained on.

    Config/tokenizer JSON formatting varies between library versions, so only what defines
    the features counts: the safetensors bytes and the token -> id mapping.
    """
    h = hashlib.sha256()
    for path in sorted(Path(directory).glob("*.safetensors")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    h.update(json.dumps(sorted(vocab.items()), ensure_ascii=False).encode())
    return h.hexdigest()[:16]


@dataclass
class CharEncoder(CharBatches):
    """A loaded tokenizer + BERT trunk that turns strings into [len, 768] feature tensors."""

    tokenizer: object
    model: BertModel
    fingerprint: str
    variant: str = "torch-fp32"  # how the features are computed: part of the entity cache key

    @classmethod
    def load(cls, directory, int8: bool = False) -> "CharEncoder":
        """Load offline. int8=True swaps every Linear for a dynamically quantised one (int8 weights,
        fp32 activations): about 2x faster for one short text on CPU, where the small matrix
        products are bound by reading fp32 weights. The fingerprint is that of the files on disk;
        evaluate_entities --int8 measures what quantisation does to accuracy."""
        directory = Path(directory)
        if not (directory / "config.json").is_file():
            raise CheckpointError(f"no BERT encoder at {directory} (config.json missing)")
        tok = AutoTokenizer.from_pretrained(directory, local_files_only=True)
        model = BertModel.from_pretrained(directory, local_files_only=True, dtype=torch.float32,
                                          add_pooling_layer=False)
        if model.config.hidden_size != FEATURE_DIM:
            raise CheckpointError(f"encoder hidden size is {model.config.hidden_size}, expected {FEATURE_DIM}")
        if model.config.max_position_embeddings < MAX_CHARS + 2:
            raise CheckpointError(f"encoder has {model.config.max_position_embeddings} positions, "
                                  f"needs {MAX_CHARS + 2} for {MAX_CHARS}-character texts")
        model.eval()
        if int8:
            with warnings.catch_warnings():  # eager-mode quantisation is deprecated in favour of torchao
                warnings.simplefilter("ignore")
                model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
        return cls(tok, model, encoder_fingerprint(directory, tok.get_vocab()), "torch-int8" if int8 else "torch-fp32")

    def __post_init__(self):
        t = self.tokenizer
        self.cls_id, self.sep_id, self.pad_id, self.unk_id = t.cls_token_id, t.sep_token_id, t.pad_token_id, t.unk_token_id

    def pieces(self, ch: str) -> list[int]:
        return [vocab_id(self.tokenizer, ch)]  # the id pretraining gave this character

    def encode_tensors(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """encode_ids as torch tensors, for BertModel (features, and the ONNX export's trace)."""
        ids, mask = self.encode_ids(texts)
        return torch.from_numpy(ids), torch.from_numpy(mask)

    @torch.inference_mode()
    def features(self, texts: list[str], pooling: str = "mean") -> tuple[torch.Tensor, torch.Tensor]:
        """Per-character features [batch, max_len, 768] (without [CLS]/[SEP]) and lengths [batch].

        pooling="last": the last layer's hidden state (BERT's usual feature, and where our
        pretraining's corruption-detection head reads). pooling="mean": the mean of all hidden
        states (embedding output and every layer), which keeps character identity when the top
        layer has learned little (our first, MLM-only encoder: a linear probe sat at 0.51 on its
        last layer and 0.72 on the layer mean). The RNN manifest records which one it was trained on.
        """
        self.pooling_checked(pooling)
        ids, mask = self.encode_tensors(texts)
        out = self.model(input_ids=ids, attention_mask=mask, output_hidden_states=pooling == "mean")
        hidden = torch.stack(out.hidden_states).mean(0) if pooling == "mean" else out.last_hidden_state
        lengths = torch.tensor([len(t) for t in texts])
        return hidden[:, 1 : 1 + int(lengths.max())], lengths
