"""How a name as a form writes it comes apart into words, and which of them can say where the name comes from:
forms of address, titles and suffixes, initials, birth-name markers and the particles that attach to a name
(models/name_scripts.py reads the evidence in what is left)."""
import re

# Particles attach to the word after them ('van der berg', "o'neill"); a single letter that is one is not an initial.
PARTICLES = {"van", "von", "der", "den", "de", "del", "della", "di", "da", "dos", "das", "du", "la", "le", "ter",
             "ten", "o", "o'", "ó", "ní", "mac", "mc", "al", "el", "bin", "ibn", "abu", "st", "y"}

# Only words that are not also common names: nameparser's list (~600 titles) holds King, Judge and Dean,
# and a parse costs ~0.3 ms, more than this whole step on the request path. Written without dots (Ph.D. -> phd).
HONORIFICS = {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "rev", "herr", "frau", "mme", "mlle",
              "madame", "monsieur", "sr", "sra", "srta", "dott", "dottssa", "ing", "mgr", "hr", "fr",
              # session 21: Italian, Spanish, French, Dutch and Greek forms of address; German, Austrian and Czech
              # titles (Dipl.-Ing., Mag., MUDr.). Not 'eng' (a corpus surname), 'don', 'phil' or 'nat' (given names).
              "sig", "sigra", "signor", "signora", "avv", "dña", "lic", "pr", "dhr", "mevr", "mw", "kyrios", "kyria",
              "dipl", "kfm", "mag", "bc", "mudr", "judr", "phdr", "rndr", "mvdr"}
SUFFIXES = {"jr", "jnr", "sr", "snr", "ii", "iii", "iv", "phd", "md", "esq"}
# Words that introduce a birth name ('Anna Schmidt geb. Müller', 'Kowalska z domu Nowak'): dropped between two
# name words only ('Nee' alone, first or last is a surname: 倪).
BIRTH_NAME_MARKERS = {"née", "nee", "né", "geb", "geborene", "geboren", "domu", "roz", "rozená", "nata", "nato"}
_TITLES_AND_SUFFIXES = HONORIFICS | SUFFIXES


def _abbreviation(word: str) -> str:
    """A word as the title and suffix lists write it: 'ph.d' -> 'phd', 'dott.ssa' -> 'dottssa'."""
    return word.replace(".", "")


def _is_abbreviated(word: str, written: str) -> bool:
    """'med' of 'med.': two or more letters written with a closing dot."""
    return len(word) > 1 and word.isalpha() and written.endswith(".")


def _is_initial(word: str, written: str) -> bool:
    """'j' (of 'j.' or 'j'): a single ASCII letter (not 'ý', a Vietnamese given name; not a Han character), and
    not a particle (o, y: 'garcía y lópez') unless written with a dot ('nakamura, y.')."""
    return len(word) == 1 and word.isascii() and word.isalpha() and (word not in PARTICLES or written.endswith("."))


# Punctuation around a word (dots, commas, an apostrophe normalise left), and digits: none is part of a name
# ('smith2', a username; the corpus's three such lines, 'Rafaj1', are typing slips)
_EDGE_PUNCTUATION = re.compile(r"^[\W\d_]+|[\W\d_]+$")
_ORDINAL = re.compile(r"\d+(?:st|nd|rd|th)\.?")
_DOT_BEFORE_LETTER = re.compile(r"\.(?=\w)")
WORD_SEPARATORS = re.compile(r"[\s,.]+")  # words with their hyphens: 'dr.min-jun, kim' -> dr, min-jun, kim
_INITIALS = re.compile(r"(?:\w\.)+\w?")  # 'j.r', 'm.d': single letters with dots (J.R. is initials, not Jr.)


def bare_word(word: str) -> str:
    """A word without the punctuation and digits around it. The corpus has apostrophes only between letters, so one at a
    word's edge is a quote ('Bob', read as Irish before); an elided particle written apart (o', d') keeps its own."""
    if word[:1].isalpha() and word[-1:].isalpha():  # most words: no regex
        return word
    if _ORDINAL.fullmatch(word):  # 'smith 2nd', like 'ii'
        return ""
    bare = _EDGE_PUNCTUATION.sub("", word)
    return bare + "'" if len(bare) == 1 and word.endswith("'") else bare


def words(normalised: str) -> list[str]:
    """Words as written: split on spaces, hyphens and commas ('smith,john' too), and after a dot that a letter
    follows ('j.r.' -> 'j.', 'r.'; 'dr.smith' -> 'dr.', 'smith'), except in titles and degrees of more than
    single letters ('ph.d.', 'dott.ssa'; 'm.d.' comes apart into initials, dropped all the same). No corpus
    name holds a dot."""
    written = normalised.replace("-", " ").replace(",", " ").split()
    if "." not in normalised:
        return written
    out = []
    for word in written:
        bare = bare_word(word)
        keep = not _INITIALS.fullmatch(bare) and _abbreviation(bare) in _TITLES_AND_SUFFIXES
        out += [word] if keep else _DOT_BEFORE_LETTER.sub(". ", word).split()
    return out


def bare_words(normalised: str) -> list[str]:
    """Every word as written, without the punctuation around it: what the particle and ending rules read ('nováková.'
    -> ['nováková'])."""
    return [bare for word in words(normalised) if (bare := bare_word(word))]


def origin_words(written: list[str]) -> list[str]:
    """The words that can say where a name comes from: punctuation around words stripped, leading forms of
    address and titles, trailing suffixes, initials and the word before a birth name dropped ('prof. dr. j.
    schmidt jr.' -> ['schmidt'], 'anna schmidt geb. müller' -> ['anna', 'schmidt', 'müller']); all of them if
    nothing else is left."""
    pairs = [(bare, w) for w in written if (bare := bare_word(w))] or [(w, w) for w in written]
    start, end = 0, len(pairs)
    while start < end and _abbreviation(pairs[start][0]) in HONORIFICS:
        start += 1
    # After a title, a word written abbreviated belongs to it: 'dr. med.', 'dr. rer. nat.' (no corpus name holds a
    # dot); never the last word, which is the name ('dr. smith.').
    while 0 < start < end - 1 and _is_abbreviated(*pairs[start]):
        start += 1
    while end > start and _abbreviation(pairs[end - 1][0]) in SUFFIXES:
        end -= 1
    last = end - 1
    kept = [bare for i, (bare, w) in enumerate(pairs[start:end], start)
            if not _is_initial(bare, w) and not (bare in BIRTH_NAME_MARKERS and start < i < last)]
    return kept or [bare for bare, _ in pairs]
