"""Name normalisation and character encoding, shared by training and serving.

Decisions (see README "Names"): apostrophe look-alikes to ', NFKC-normalise, drop punctuation and symbols, write
particles joined to a name apart (DeLuca -> De Luca, OBrien -> O'Brien), lower-case, collapse whitespace; keep
accented letters (ř, ł, ß, ñ carry language evidence); a character outside the training
vocabulary falls back to its ASCII transliteration (anyascii) letter by letter, then to
<unk>. Names are truncated to MAX_NAME_CHARS. No input can make the encoder raise.
"""
import re
import unicodedata

from anyascii import anyascii

from models.invisible import visible

PAD, UNK = "<pad>", "<unk>"

MAX_NAME_CHARS = 32


# Particles that forms often get joined to the name (DeLuca, VanDerBerg, DosSantos, LeBlanc), which the corpus
# writes apart ('De luca', 'Van der ...'), and O' with its apostrophe left out (OBrien; the corpus: O'Brien).
# Only a capitalised particle before a capitalised word part: 'Deluca', 'DELUCA', 'Dean' and 'Mcdonald' stay as
# they are, and Mac/Mc stay joined because the corpus writes them so. Every one is a particle that
# name_scripts.tokens attaches to what follows (tests/test_name_scripts.py).
JOINED_PARTICLES = ("De", "Di", "Da", "Del", "Della", "Du", "Dos", "Das", "Le", "La", "Van", "Von", "Der", "Den",
                    "Ter", "Ten")
_UPPER, _LOWER = "A-ZÀ-ÖØ-Þ", "a-zß-öø-ÿ"  # Latin letters: ASCII and Latin-1
# One pass finds both kinds (a name with neither, nearly every name, costs one search): group 1 is a particle.
_JOINED = re.compile(rf"(?<![^\s\-.,])(?:({'|'.join(JOINED_PARTICLES)})|O)(?=[{_UPPER}][{_LOWER}])")


def _apart(match: re.Match) -> str:
    return f"{match[1]} " if match[1] else "O'"


def split_joined_particles(name: str) -> str:
    """'DeLuca' -> 'De Luca', 'DeLaCruz' -> 'De La Cruz', 'OBrien' -> "O'Brien"; other names unchanged."""
    for _ in range(4):  # a chain of particles comes apart one per pass (VanDerBerg: Van DerBerg, Van Der Berg)
        name, found = _JOINED.subn(_apart, name)
        if not found:
            break
    return name


# What keyboards and phones type for an apostrophe (the corpus has only '): ’ and ‘ (smart punctuation), ´ and `
# (dead keys: NFKC would turn ´ into a space and a combining accent, splitting O´Brien in two), ʼ ʹ ′ ʻ.
APOSTROPHE_LIKE = re.compile("[’‘´`ʼʹ′ʻ]")  # a regex, not str.translate: ~5x faster on a name with none


# Punctuation and symbols say nothing about where a name comes from, and the corpus writes none but ' - . , : / (one
# line each for : and /): quotes and brackets around a name or a word ('Khaled', (Bui), «Kim», Robert "Bob" Smith),
# a full stop or a required-field star after it, @ or # before it, underscores for spaces, emoji. Every other
# punctuation or symbol character (Unicode categories P* and S*) reads as a space, a dash as a hyphen (Smith–Jones),
# and an apostrophe that opens a word or closes one (but a one-letter word's: o' neill, d' angelo) goes too, so every
# rule reads the name as it reads the plain one. No corpus line reads differently.
_CORPUS_PUNCTUATION = frozenset("'-.,:/")
_PLAIN = re.compile(r"(?:[^\W_]|[\s'\-.,])*")  # letters, digits, spaces, ' - . , only: most names, no loop
_OPENING_APOSTROPHE = re.compile(r"(?<!\w)'+")
_CLOSING_APOSTROPHE = re.compile(r"(?<!\s\w)(?<!^\w)'+(?!\w)")  # once the others went: "(o' neill)", "'o' neill'"
# Pronouns written with a name (Alex Smith (she/her), he/they): a set of two or more joined by slashes goes.
PRONOUNS = ("he", "him", "his", "she", "her", "hers", "they", "them", "their", "theirs", "ze", "zir", "hir", "xe",
            "xem", "it", "its", "any", "all", "e", "em", "ey", "fae", "faer")
_PRONOUN_SET = re.compile(rf"(?<!\S)(?:{'|'.join(PRONOUNS)})(?:/(?:{'|'.join(PRONOUNS)}))+(?!\S)", re.IGNORECASE)


def _without_symbols(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        category = unicodedata.category(ch)
        # An @ after a word is an e-mail address's, which is not a name and keeps reading as before (not_family_names
        # .tsv: GRU low_confidence on 44 % of them); one before a word is a handle's (@deluca) and goes
        keep = ch in _CORPUS_PUNCTUATION or category[0] not in "PS" or (ch == "@" and i and name[i - 1].isalnum())
        out.append(ch if keep else "-" if category == "Pd" else " ")
    return "".join(out)


def normalise(name: str) -> str:
    """Canonical form used for training rows, cache keys, script checks and model input. NFKC, not just NFC:
    a phone keyboard or a Japanese IME may send full-width Ｎａｋａｍｕｒａ or half-width ﾀﾅｶ, whose letters
    are then the plain ones (the corpus has no compatibility forms, so training reads the same either way).
    Invisible format characters go (models/invisible.py), apostrophes become ', other punctuation and symbols go, and
    particles joined to a name come apart first, as the corpus writes them (no corpus line changes)."""
    # Apostrophes before NFKC, which splits ´, and after it too, which makes some (ŉ -> ʼn, Greek ʹ -> ʹ), so that
    # normalise(normalise(x)) == normalise(x): the model reads tokens normalised once more (CharVocab.encode).
    name = APOSTROPHE_LIKE.sub("'", unicodedata.normalize("NFKC", APOSTROPHE_LIKE.sub("'", visible(name))))
    if not name.replace(" ", "").isalpha():  # most names are letters and spaces only: none of this
        if not _PLAIN.fullmatch(name):
            name = _without_symbols(name)  # a space, not nothing: 'smith(jones)' is two words
        if "'" in name:
            name = _CLOSING_APOSTROPHE.sub(" ", _OPENING_APOSTROPHE.sub(" ", name))
        if "/" in name:
            name = _PRONOUN_SET.sub(" ", name)
    return " ".join(split_joined_particles(name).lower().split())


def build_vocab(names) -> list[str]:
    """<pad>, <unk>, then every character seen in the (normalised) training names, sorted."""
    return [PAD, UNK, *sorted({c for n in names for c in n})]


class CharVocab:
    """Maps normalised names to id lists; never raises."""

    def __init__(self, chars: list[str]):
        if chars[:2] != [PAD, UNK]:
            raise ValueError("vocabulary must start with <pad>, <unk>")
        self.chars = list(chars)
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self):
        return len(self.chars)

    def char_ids(self, ch: str) -> list[int]:
        if ch in self.index:
            return [self.index[ch]]
        folded = anyascii(ch).lower()  # e.g. 'ø' -> 'o', 'И' -> 'i'; may be '' or several letters
        ids = [self.index[c] for c in folded if c in self.index]
        return ids or [self.index[UNK]]

    def encode(self, name: str) -> list[int]:
        """Ids for one name; at least one id (an empty name encodes as a single <unk>)."""
        ids = [i for ch in normalise(name) for i in self.char_ids(ch)][:MAX_NAME_CHARS]
        return ids or [self.index[UNK]]
