"""What both entity-encoder runtimes share, without importing transformers: the feature shape,
the length limit, how a text is read, and how a batch of texts becomes [CLS] chars [SEP] ids (one id per character)."""
import functools
import unicodedata

import numpy as np

from models.invisible import visible

FEATURE_DIM = 768
POOLINGS = ("last", "mean")
MAX_CHARS = 62  # longest candidate we encode (+[CLS]/[SEP] = our encoder's 64 positions); the API rejects longer ones
# Distinct characters a memo keeps before it starts afresh. Every code point sent through once had grown a worker by
# ~500 MB for good (109 -> 613 MB, 1.1 M entries in each memo), some 18 requests of texts no model sees.
MEMO_LIMIT = 20_000


class EncoderError(ValueError):
    """Raised for inputs the encoder cannot turn into features."""


@functools.cache
def _traditional_to_simplified():
    import opencc  # loaded on the first character the encoder does not know (+6 MB)
    return opencc.OpenCC("t2s")


def simplified(text: str) -> str:
    """Traditional Chinese in simplified characters (OpenCC's t2s: 內 -> 内, 壓 -> 压; 反覆 -> 反复 as a phrase)."""
    try:
        return _traditional_to_simplified().convert(text)
    except UnicodeEncodeError:  # a lone surrogate (JSON cannot carry one; a Python caller can): left as it is
        return text


class _ReadTable(dict):
    """str.translate table, filled on first sight of a character: ord(ch) -> how the encoder reads ch."""

    def __init__(self, batches: "CharBatches"):
        super().__init__()
        self.batches = batches
        self.unknown: set[str] = set()  # characters seen that the encoder still cannot read

    def __missing__(self, code: int) -> str:
        ch, knows = chr(code), self.batches.knows
        mapped = ch
        if not knows(ch):  # its compatibility form if the encoder knows that, else (only then OpenCC) its simplified one
            compat = unicodedata.normalize("NFKC", ch)
            if compat and knows(compat):
                mapped = compat
            elif (simple := simplified(ch)) and knows(simple):
                mapped = simple
        self[code] = mapped
        self.unknown.update(c for c in mapped if not knows(c))
        return mapped


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
            if len(ids) >= MEMO_LIMIT:
                ids.clear()
            try:
                pieces = self.pieces(ch)
            except (TypeError, ValueError):  # a lone surrogate, which the tokenizers refuse: unknown, not a crash
                pieces = []
            cid = ids[ch] = pieces[0] if pieces else self.unk_id
        return cid

    def knows(self, chars: str) -> bool:
        """True when every character has a vocabulary id of its own (none is [UNK])."""
        return all(self.char_id(c) != self.unk_id for c in chars)

    def readable(self, text: str) -> tuple[str, list[str]]:
        """`text` as the encoder reads it, and the distinct characters it still cannot read, in order.

        NFC and without whitespace or invisible format characters, which the lexicon never holds (手内 肌萎缩 and
        维生素 C read as 手内肌萎缩 and 维生素C; a space was an [UNK] row). A character outside the vocabulary becomes
        its NFKC compatibility form when the encoder knows all of that (full-width Ｃ -> C, ① -> 1, ㎎ -> mg, compatibility ideographs), else
        its simplified form when the encoder knows that (traditional 內 -> 内, 壓 -> 压), because the lexicon
        writes them so. Known characters stay as they are (the full-width ， that training negatives contain is
        not turned into ASCII; 痠, which the lexicon holds, is not simplified), so training and evaluation texts,
        which hold no unknown character, read unchanged. A text that still holds unknown characters is read
        through t2s phrase by phrase if that leaves fewer: 覆 is also a simplified character, so 反覆 (反复) needs it."""
        table = self.__dict__.get("_readable")
        if table is None or len(table) >= MEMO_LIMIT:  # afresh: a new table, so a text another thread is reading
            table = self.__dict__["_readable"] = _ReadTable(self)  # keeps the old one and its unknown set whole
        # str.translate runs in C, after a character's first sight
        read = "".join(visible(unicodedata.normalize("NFC", text)).split()).translate(table)
        if table.unknown.isdisjoint(read):
            return read, []
        unknown = [c for c in dict.fromkeys(read) if c in table.unknown]
        # What is still unknown may be traditional in a phrase only (反覆 -> 反复): the whole text through t2s, kept
        # only if that leaves fewer unknown characters (this can change known ones too: 痠痛 -> 酸痛).
        phrased = simplified(read).translate(table)
        fewer = [c for c in dict.fromkeys(phrased) if c in table.unknown]
        return (phrased, fewer) if len(fewer) < len(unknown) else (read, unknown)

    @staticmethod
    def unread_reason(read: str, unknown: list[str]) -> str | None:
        """Why a text as read is answered "not valid" without the model, or None when the model scores it.
        'unknown_characters': it holds no character the encoder knows (emoji, control characters, Greek: none is
        in the lexicon), where the model, given only [UNK] rows, had accepted a lone emoji at 0.62.
        'punctuation_at_edge': it starts or ends with punctuation or a symbol (肺炎， 《高血压》 高血压;), a span cut
        through a sentence or a list. No lexicon entity holds any punctuation, and the training texts hold only the
        ， and 。 of negatives, which the model rejects at an edge; the other 24 marks of its vocabulary it never saw,
        and it accepted 2-62 % of test entities with one of them at an edge (session 24)."""
        if len(unknown) >= len(set(read)):
            return "unknown_characters"
        if unicodedata.category(read[0])[0] in "PS" or unicodedata.category(read[-1])[0] in "PS":
            return "punctuation_at_edge"
        return None

    @staticmethod
    def check(texts: list[str]):
        """Raise EncoderError for a text the encoder cannot take (empty, or longer than MAX_CHARS)."""
        for t in texts:
            if not t:
                raise EncoderError("empty text")
            if len(t) > MAX_CHARS:
                raise EncoderError(f"text has {len(t)} characters, at most {MAX_CHARS} allowed")

    def encode_ids(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """[CLS] chars [SEP] ids and attention mask (int64) for a batch, padded to the longest."""
        self.check(texts)
        width = max(len(t) for t in texts) + 2
        ids = np.full((len(texts), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for i, t in enumerate(texts):
            row = [self.cls_id, *(self.char_id(c) for c in t), self.sep_id]
            ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        return ids, mask

    @staticmethod
    def pooling_checked(pooling: str) -> str:
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        return pooling
