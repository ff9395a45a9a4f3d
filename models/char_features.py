"""What both entity-encoder runtimes share, without importing transformers: the feature shape,
the length limit, and how a batch of texts becomes [CLS] chars [SEP] ids (one id per character)."""
import torch

FEATURE_DIM = 768
POOLINGS = ("last", "mean")
MAX_CHARS = 62  # longest candidate we encode (+[CLS]/[SEP] = our encoder's 64 positions); the API rejects longer ones


class EncoderError(ValueError):
    """Raised for inputs the encoder cannot turn into features."""


class CharBatches:
    """[CLS] chars [SEP] id batches, one id per character; shared by the torch and ONNX Runtime encoders.

    Subclasses set cls_id, sep_id, pad_id, unk_id and pieces(ch) -> the character's word-piece ids."""

    cls_id: int
    sep_id: int
    pad_id: int
    unk_id: int

    def pieces(self, ch: str) -> list[int]:
        raise NotImplementedError

    def char_id(self, ch: str) -> int:
        """Vocabulary id of one character: its first word piece, else [UNK] (memoised: the vocabulary is fixed)."""
        ids = self.__dict__.setdefault("_ids", {})
        cid = ids.get(ch)
        if cid is None:
            pieces = self.pieces(ch)
            cid = ids[ch] = pieces[0] if pieces else self.unk_id
        return cid

    @staticmethod
    def check(texts: list[str]):
        """Raise EncoderError for a text the encoder cannot take (empty, or longer than MAX_CHARS)."""
        for t in texts:
            if not t:
                raise EncoderError("empty text")
            if len(t) > MAX_CHARS:
                raise EncoderError(f"text has {len(t)} characters, at most {MAX_CHARS} allowed")

    def encode_ids(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """[CLS] chars [SEP] ids and attention mask for a batch, padded to the longest."""
        self.check(texts)
        width = max(len(t) for t in texts) + 2
        ids = torch.full((len(texts), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(texts), width), dtype=torch.long)
        for i, t in enumerate(texts):
            row = [self.cls_id, *(self.char_id(c) for c in t), self.sep_id]
            ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
        return ids, mask

    @staticmethod
    def pooling_checked(pooling: str) -> str:
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        return pooling
