"""Script, diacritic and particle evidence; full names; calibration; any Unicode name is answered."""
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models import build_name_lists, metrics, name_scripts, name_words
from models.calibration import fit_temperature
from models.evaluate_realworld import DECORATIONS, DOTTED, corpus_top1, load_eval_set
from models.name_predictor import NamePredictor
from models.name_text import APOSTROPHE_LIKE, JOINED_PARTICLES, normalise, split_joined_particles
from models.names_data import load_corpus
from models.paths import CHECKPOINTS, NAMES_DIR


@pytest.fixture(scope="module")
def gru():
    return NamePredictor.load(CHECKPOINTS / "names-gru")


def top1(predictor, name):
    return predictor.labels[int(predictor.probabilities([name])[0].argmax())]


def rows_right(predictor, category: str) -> tuple[int, int]:
    """(rows the served top-1 gets right, rows) of one category of the hand-made real-world set."""
    rows = [r for r in load_eval_set() if r[2] == category]
    return sum(top1(predictor, name) == label for name, label, _ in rows), len(rows)


@pytest.mark.parametrize("name,label", [("Смирнов", "Russian"), ("Οικονόμου", "Greek"), ("박", "Korean"),
                                        ("すずき", "Japanese"), ("ヤマモト", "Japanese"), ("خالد", "Arabic"),
                                        ("佐々木", "Japanese"), ("欧阳", "Chinese"), ("张", "Chinese"), ("田中", "Japanese")])
def test_native_scripts(gru, name, label):
    assert top1(gru, name) == label


@pytest.mark.parametrize("name,expect_japanese", [
    ("関", True), ("辻本", True),      # Japanese-only character forms (shinjitai, kokuji)
    ("熊谷", True), ("大塚", True),    # two characters ending in a typical Japanese surname final
    ("端木", False), ("歐陽", False),  # compound surnames of the Hundred Family Surnames
    ("王", False), ("张伟", False)])   # a Chinese surname alone or with a given name
def test_han_rules_split_chinese_from_japanese(name, expect_japanese):
    assert (name_scripts.japanese_share_of_han(name) > 0.5) == expect_japanese


# The session-6 GRU left Polish second for "Wałęsa" (1.5 % before the rule's 20x); the session-7 GRU and RNN
# answer it, so every model must now put these first. The LSTM (unchanged since session 6) reads
# "Gonçalves" as Spanish, the neighbour it is most often confused with.
@pytest.mark.parametrize("arch", ["gru", "lstm", "rnn"])
def test_diacritics_decide_famous_names(arch):
    predictor = NamePredictor.load(CHECKPOINTS / f"names-{arch}")
    famous = [("Dvořák", "Czech"), ("Wałęsa", "Polish"), ("Nguyễn", "Vietnamese"), ("Muñoz", "Spanish")]
    if arch != "lstm":
        famous.append(("Gonçalves", "Portuguese"))
    for name, label in famous:
        assert top1(predictor, name) == label, name


def test_tokens_and_particles():
    assert name_scripts.tokens("mary o'neill") == ["mary", "o'neill"]
    assert name_scripts.tokens("jan van der berg") == ["jan", "van der berg"]
    assert name_scripts.tokens("ó briain") == ["ó briain"]
    assert name_scripts.particle_labels("van der berg") >= {"Dutch"}
    assert name_scripts.particle_labels("o'brien") == {"Irish"}
    assert "Scottish" in name_scripts.particle_labels("macdonald")
    assert name_scripts.particle_labels("mack") == set()  # too short to be a Mac- prefix


def test_titles_suffixes_and_initials_are_not_name_parts():
    assert name_scripts.tokens("prof. dr. j. r. schmidt jr.") == ["schmidt"]
    assert name_scripts.tokens("mrs mary smith, phd") == ["mary", "smith"]
    assert name_scripts.tokens("smith, john") == ["smith", "john"] == name_scripts.tokens("smith,john")
    assert name_scripts.tokens('maria "masha" (ivanova).') == ["maria", "masha", "ivanova"]
    assert name_scripts.tokens("st. john") == ["st john"] and name_scripts.tokens("...") == ["..."]
    assert name_scripts.tokens("mr. o neill") == ["o neill"]            # a particle, not an initial
    assert name_scripts.tokens("garcía y lópez") == ["garcía", "y lópez"]
    assert name_scripts.tokens("nguyễn như ý") == ["nguyễn", "như", "ý"]  # ý is a given name
    assert name_scripts.tokens("李 小龙") == ["李", "小龙"]
    assert name_scripts.tokens("stephen king") == ["stephen", "king"]   # King is a surname here
    assert name_scripts.tokens("dr") == ["dr"] and name_scripts.tokens("a b") == ["a", "b"]  # nothing else left
    # dots without spaces (session 19: J.R. and M.D. had been read as name parts, Dr.Smith as one word)
    assert name_scripts.tokens("j.r.r. tolkien") == ["tolkien"] == name_scripts.tokens("tolkien, j.r.r.")
    assert name_scripts.tokens("dr.kowalski") == ["kowalski"] and name_scripts.tokens("st.john") == ["st john"]
    assert name_scripts.tokens("mary smith, ph.d.") == ["mary", "smith"] == name_scripts.tokens("mary smith, m.d.")
    assert name_scripts.tokens("dott.ssa maria rossi") == ["maria", "rossi"]
    assert name_scripts.tokens("nakamura, y.") == ["nakamura"]  # an initial with its dot, though y is a particle
    # the word before a birth name (session 19: 'domu' had made Anna Kowalska z domu Nowak Japanese), only between names
    assert name_scripts.tokens("anna kowalska z domu nowak") == ["anna", "kowalska", "nowak"]
    assert name_scripts.tokens("anna schmidt geb. müller") == ["anna", "schmidt", "müller"]
    assert name_scripts.tokens("lily nee") == ["lily", "nee"] == name_scripts.tokens("nee lily")[::-1]  # 倪


def test_joined_particles_are_written_apart():
    assert normalise("DeLuca") == "de luca" and normalise("DeLaCruz") == "de la cruz"
    assert normalise("Jan VanDerBerg") == "jan van der berg" and normalise("Sean OBrien") == "sean o'brien"
    assert normalise("Jean-Luc LeBlanc") == "jean-luc le blanc" and normalise("ＤｅＬｕｃａ") == "de luca"
    for unchanged in ("Deluca", "DELUCA", "Dean", "McDonald", "MacArthur", "O'Brien", "OJ Smith", "Oscar"):
        assert normalise(unchanged) == unchanged.lower(), unchanged
    assert name_scripts.tokens(normalise("Jan VanDerBerg")) == ["jan", "van der berg"]
    assert {p.lower() for p in JOINED_PARTICLES} <= name_words.PARTICLES  # each one attaches to what follows


def test_no_corpus_line_changes_with_the_rules_for_forms():
    """The corpus writes particles apart ('De luca') and apostrophes as ', always between letters, so neither rule
    changes a training, validation or test row, and the committed checkpoints and reports stand."""
    lines = [line for path in sorted(NAMES_DIR.glob("*.txt")) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(lines) > 18_000
    assert [line for line in lines if split_joined_particles(APOSTROPHE_LIKE.sub("'", line)) != line] == []
    assert all(name_words.origin_words(normalise(line).split()) == normalise(line).split()
               for line in lines if "'" in line)  # no corpus apostrophe is read as a quote
    assert not [line for line in lines if name_scripts.vietnamese_full_name(
        name_words.origin_words(name_words.words(normalise(line))))]  # the Vietnamese middle-name rule
    names = [normalise(line) for line in lines]
    several = [name for name in names if len(name_words.origin_words(name_words.words(name))) > 1]
    assert not [name for name in several if name_scripts.korean_name(name)]  # nor the Korean one (a name alone is)
    assert not [line for line in lines if name_scripts.pinyin_full_name(normalise(line))]  # nor the pinyin one
    assert not [line for line in lines if name_scripts.arabic_name(normalise(line))]  # nor the Arabic elements
    assert not [line for line in lines if name_scripts.other_language_evidence(line)]  # nor other languages' letters


@pytest.mark.parametrize("arch", ["gru", "lstm", "rnn"])
def test_romanised_korean_full_names(arch):
    """'Kim Min-jun' was Chinese: the corpus has no Kim, and the given name's syllables read as Chinese. The
    hand-made romanised Korean rows scored 0.67 / 0.67 / 0.63 (GRU, LSTM, RNN) before the rule, 0.92 / 0.88 / 0.79
    after; the Taiwanese and Hong Kong names beside them (Lee Teng-hui, Chow Yun-fat) did not move (README)."""
    predictor = NamePredictor.load(CHECKPOINTS / f"names-{arch}")
    right, rows = rows_right(predictor, "romanized:KOREAN")
    assert rows == 24 and right >= 0.75 * rows
    right, rows = rows_right(predictor, "romanized:CHINESE")
    assert rows == 12 and right >= 0.8 * rows
    for korean in ("Kim Min-jun", "Min-jun, Kim", "Dr. Park Ji-sung Jr."):
        assert name_scripts.family_name_labels(normalise(korean)) == {"Korean"}, korean
    for other in ("Kim Smith-Jones", "Lee Teng-hui", "Kim Jones", "Jean-Luc Moreau", "Jo-Ann Park", "Mary-Ann Park"):
        assert name_scripts.family_name_labels(normalise(other)) == set(), other


@pytest.mark.parametrize("arch,lone,joined", [("gru", 42, 13), ("lstm", 38, 14), ("rnn", 41, 12)])
def test_korean_family_names_alone_and_with_a_joined_given_name(arch, lone, joined):
    """Jeong and Jang alone were Chinese, 'Kim Minjun' Russian 0.67. The hand-made rows scored, before the rule, 36 /
    32 / 36 of 50 family names alone and 7 / 8 / 5 of 16 joined full names (GRU, LSTM, RNN); the forms that Chinese
    writes too (Lee, Han, Song, Yang, Jin) are left to the models. The Chinese rows beside them did not move
    (README)."""
    predictor = NamePredictor.load(CHECKPOINTS / f"names-{arch}")
    assert rows_right(predictor, "lone:KOREAN") >= (lone, 50)
    assert rows_right(predictor, "joined:KOREAN") >= (joined, 16)
    assert rows_right(predictor, "romanized:CHINESE")[0] >= 10 and rows_right(predictor, "pinyin:CHINESE")[0] >= 22
    for korean in ("Kim", "Dr. Kwon", "Kim Minjun", "Minjun Kim", "Jang Wonyoung", "Kim Min-jun"):
        assert name_scripts.family_name_labels(normalise(korean)) == {"Korean"}, korean
    for other in ("Lee", "Han", "Kim Jones", "Kim Basinger", "Kim Smith-Jones", "Mary Park Jones"):
        assert name_scripts.family_name_labels(normalise(other)) == set(), other


@pytest.mark.parametrize("arch,lone", [("gru", 37), ("lstm", 34), ("rnn", 36)])
def test_vietnamese_family_names_alone(arch, lone):
    """Bui was Chinese 0.90 and Vo Russian: a family name only Vietnamese writes multiplies Vietnamese by 50 when it
    stands alone. The hand-made rows scored 33 / 32 / 32 of 42 before (GRU, LSTM, RNN); Ho, Cao, Chau, Lai, which
    Chinese or Korean romanise too, are left to the models. No spelling on the list is a pinyin word or a Korean family
    name, and no corpus line of another language is one of them."""
    predictor = NamePredictor.load(CHECKPOINTS / f"names-{arch}")
    assert rows_right(predictor, "lone:VIETNAMESE") >= (lone, 42)
    assert rows_right(predictor, "common:VIETNAMESE") >= (9, 10)
    only = name_scripts.VIETNAMESE_ONLY_SURNAMES
    assert not [w for w in only if name_scripts._PINYIN_WORD.fullmatch(w) or w in name_scripts.KOREAN_SURNAMES]
    corpus = load_corpus(NAMES_DIR)
    assert not [n for n, y in corpus.rows if normalise(n) in only and corpus.labels[y] != "Vietnamese"]
    for name in ("Bui", "Nguyễn", "Dr. Tran"):
        assert name_scripts.family_name_labels(normalise(name)) == {"Vietnamese"}, name
    for name in ("Le", "Ho", "Nguyen Smith", "Tran Van An"):  # Smith is on the English list
        assert "Vietnamese" not in name_scripts.family_name_labels(normalise(name)), name


@pytest.mark.parametrize("arch,more,common,blind,blind2", [("gru", 38, 9, 32, 36), ("lstm", 37, 9, 32, 36),
                                                           ("rnn", 38, 9, 32, 35)])
def test_dutch_family_names(arch, more, common, blind, blind2):
    """Bakker was Russian 0.67, de Vries French 0.58 and Virgil van Dijk Russian 0.59 (GRU): a common Dutch family name
    that no other of our languages writes (session 24's hand-made list), or one on the list that
    models/build_name_lists.py builds from name2nat's Wikipedia people (session 26), multiplies Dutch by 5000, alone or
    with a given name. Before either list: 21 / 19 / 18 of the 40 more:DUTCH rows and 5 / 3 / 6 of the 10 common:DUTCH
    ones; with the hand-made list alone, at x200: 36 / 35 / 35 and 9 / 7 / 9, and of the names of well-known Dutch
    people (written after it, before the built list; their people are in Wikipedia, so this is coverage) 15 / 12 / 13 of
    dutch-heldout's 40 and 16 / 16 / 15 of dutch-heldout-2's 40. Its controls (Becker, Baker, Jong, Kim Jong-un) keep
    their answers; of the corpus, the lists reach 73 Dutch lines and three of other languages, none of them in the
    training split: leck, von wegberg and katsnelson (Mikhail Katsnelson is Dutch in Wikipedia). more:DUTCH was one
    row higher until Norwegians and Danes counted against the list and Blom left it."""
    predictor = NamePredictor.load(CHECKPOINTS / f"names-{arch}")
    assert rows_right(predictor, "more:DUTCH") >= (more, 40)
    assert rows_right(predictor, "common:DUTCH") >= (common, 10)
    assert rows_right(predictor, "dutch-heldout:DUTCH") >= (blind, 40)
    assert rows_right(predictor, "dutch-heldout-2:DUTCH") >= (blind2, 40)
    assert rows_right(predictor, "dutch-heldout:controls") >= ({"gru": 12}.get(arch, 9), 13)
    corpus = load_corpus(NAMES_DIR)
    reached = {(n, corpus.labels[y]) for n, y in corpus.rows
               if name_scripts.dutch_family_name(n) or "Dutch" in name_scripts.listed_family_name_labels(n)}
    assert {n for n, label in reached if label != "Dutch"} == {"leck", "von wegberg", "katsnelson"}
    assert len(reached) == 76
    for name in ("Bakker", "Jan de Vries", "van Dijk", "de Jong, Frenkie", "Dr. Visser", "Kok", "Bergkamp",
                 "Wesley Sneijder", "Balkenende, Jan"):
        assert name_scripts.family_name_labels(normalise(name)) == {"Dutch"}, name
    for name in ("Jong", "Kim Jong-un", "Anna Maria Bakker Smith", "Lange", "Boer", "Becker", "Dubois", "Schmidt",
                 "Jan Peter Balkenende"):
        assert name_scripts.family_name_labels(normalise(name)) != {"Dutch"}, name


@pytest.mark.parametrize("arch,blind,given", [("gru", 36, 26), ("lstm", 36, 26), ("rnn", 35, 25)])
def test_arabic_family_names(arch, blind, given):
    """Bennani was Italian 0.89, Khashoggi Japanese 0.96, Jumblatt English 0.88 (GRU): a family name on the Arabic
    list (models/build_name_lists.py, from name2nat's Wikipedia people) multiplies Arabic by 5000, with at most one more
    word beside it (Arabic given names and particles aside). Before: 7 / 9 / 4 of the 40 arabic-family rows (written
    before the list was built; their people are in Wikipedia, so this is the list's coverage) and 14 / 16 / 15 of the
    30 given-heldout Arabic rows (with the LSTM 28 until the Dutch list took Hakim Ziyech, a Dutch national in
    Wikipedia, in session 26, and one more for the LSTM and RNN when the French list took Nabih Berri). Its controls
    keep their answers; of the corpus, the list reaches 43 Arabic lines and
    three held-out lines of other languages: awad (also Arabic), kaddour and shaer."""
    predictor = NamePredictor.load(CHECKPOINTS / f"names-{arch}")
    assert rows_right(predictor, "arabic-family:ARABIC") >= (blind, 40)
    assert rows_right(predictor, "given-heldout:ARABIC") >= (given, 30)
    assert rows_right(predictor, "arabic-family:controls") >= ({"rnn": 10}.get(arch, 9), 10)
    corpus = load_corpus(NAMES_DIR)
    reached = {(n, corpus.labels[y]) for n, y in corpus.rows if "Arabic" in name_scripts.listed_family_name_labels(n)}
    assert {n for n, label in reached if label != "Arabic"} == {"awad", "kaddour", "shaer"}
    assert len(reached) == 46
    for name in ("Bennani", "Amin Gemayel", "Mohamed Ahmed Bennani", "Dr. Gemayel", "Gemayel, Amin", "KHASHOGGI"):
        assert name_scripts.family_name_labels(normalise(name)) == {"Arabic"}, name
    for name in ("Anna Maria Gemayel Smith", "Toscani", "Hamada", "Diane", "Mizrahi", "Hosseini", "Smith"):
        assert "Arabic" not in name_scripts.family_name_labels(normalise(name)), name  # Toscani: the Italian list


@pytest.mark.parametrize("arch,french,portuguese,full,served", [("gru", 31, 39, 65, 0.8538),
                                                                      ("lstm", 33, 37, 66, 0.8563),
                                                                      ("rnn", 32, 39, 64, 0.8464)])
def test_family_name_lists(arch, french, portuguese, full, served):
    """Session 26's lists of the family names of Wikipedia's English, German, French, Italian, Spanish, Portuguese,
    Russian, Czech, Greek and Japanese people, built as the Arabic one. With the Arabic and Dutch lists alone: 27 / 29 /
    28 of the 40 more:FRENCH rows, 29 / 25 / 27 of more:PORTUGUESE, 59 / 60 / 53 of the blind full-name set's 72, and
    the corpus's test split served 0.8200 / 0.8163 / 0.8053. Polish names, which name2nat has no people for, are on no
    list: Kowalski (German bearers) and Lewandowska (Russian) had turned German and Russian."""
    predictor = NamePredictor.load(CHECKPOINTS / f"names-{arch}")
    assert rows_right(predictor, "more:FRENCH") >= (french, 40)
    assert rows_right(predictor, "more:PORTUGUESE") >= (portuguese, 40)
    assert sum(rows_right(predictor, f"full-heldout:{lang.upper()}")[0] for lang in predictor.labels) >= full
    assert rows_right(predictor, "common:POLISH") >= (9, 10)
    assert corpus_top1(predictor, load_corpus(NAMES_DIR)) >= served
    for name, language in (("Lefebvre", "French"), ("Teixeira", "Portuguese"), ("Gonzalo Higuaín", "Spanish"),
                           ("Papadimitriou", "Greek"), ("Kurosawa", "Japanese"), ("Wesley Sneijder", "Dutch")):
        assert name_scripts.listed_family_name_labels(normalise(name)) == {language}, name
    for name in ("Kowalski", "Lewandowska", "Halilhodžić", "Popescu", "Anna Maria Rossi Smith"):
        assert name_scripts.listed_family_name_labels(normalise(name)) == set(), name


@pytest.mark.parametrize("language,size", [
    ("Arabic", 8303), ("Dutch", 7335), ("English", 21778), ("German", 23519), ("French", 21150), ("Italian", 14634),
    ("Spanish", 10312), ("Portuguese", 3034), ("Russian", 20181), ("Czech", 7022), ("Greek", 5021), ("Japanese", 6783)])
def test_the_lists_as_built(language, size):
    """The shipped lists are what the builder writes: normalised words, sorted, none of another list or of the corpus's
    training split under another language (which the builder reads to leave them out), none that looks Polish or of a
    language we do not cover."""
    path = name_scripts.family_name_list_file(language)
    listed = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    assert listed == sorted(set(listed)) and len(listed) == size
    assert all(normalise(w) == w and w.isalpha() and len(w) >= 4 for w in listed)
    assert not set(listed) & build_name_lists.listed_elsewhere(NAMES_DIR, language)
    assert not [w for w in listed if build_name_lists.left_to_the_models(w)]
    assert {w for w, lang in name_scripts.LISTED_FAMILY_NAMES.items() if lang == language} == set(listed)


def test_the_list_builder():
    """Who counts for what, on people made up for the purpose."""
    people = {
        "Amin Gemayel": ["Lebanese"], "Pierre Gemayel": ["Lebanese"],              # two Arab bearers
        "Mounir Diane": ["Moroccan"], "Alela Diane": ["American"],                 # one, and someone else
        "Diane Keaton": ["American"], "Diane Kruger": ["German"],                  # ...and a given name elsewhere
        "Ali Hosseini": ["Iraqi"], "Reza Hosseini": ["Iranian"], "Ali Hosseiny": ["Iranian"],
        "Sara Hosseini": ["Iranian"],                                              # mostly a neighbour's
        "Tarek Haddad": ["Syrian"], "Joe Haddad": ["American"],                    # Americans count neither way
        "Hanan Haddad": ["Lebanese"],
        "Omar al-Farsi": ["Omani"], "Salim Al-Farsi": ["Omani", "Emirati"],        # the word after the article
        "Cyril of Alexandria": ["Egyptian"], "Athanasius of Alexandria": ["Egyptian"],  # not a family name
        "Ahmed Zewail": ["Egyptian", "American"],                                  # one bearer, no one else
        "Fatima Bennani": ["Moroccan"], "Luca Bennani": ["Italian"], "Marco Bennani": ["Italian"],
        "Anna Kassis": ["Greek"], "Elias Kassis": ["Lebanese"], "Nadim Kassis": ["Lebanese"],
        "Faisal II": ["Iraqi"], "Abdullah II": ["Jordanian"],                      # too short
    }
    listed = build_name_lists.family_names(build_name_lists.person_words(people), listed_elsewhere={"kassis"})
    assert listed == ["farsi", "gemayel", "haddad", "zewail"]
    dutch = {
        "Johan Cruijff": ["Dutch"], "Jordi Cruijff": ["Dutch"],                    # two Dutch bearers
        "Vincent Kompany": ["Belgian"], "Kompany Smith": ["Belgian"],              # Belgians count neither way...
        "Jan Claes": ["Dutch"], "Piet Claes": ["Dutch"], "Willy Claes": ["Belgian"], "Kurt Claes": ["Belgian"],
        "Lien Claes": ["Belgian"],
        "Anna Meyer": ["Dutch"], "Hans Meyer": ["German"], "Karl Meyer": ["Austrian"],   # ...Germans against
        "Wim Kok": ["Dutch"],                                                      # too short
        "Arjen Robben": ["Dutch"], "Robben Ford": ["American"], "Robben Island": ["Irish"],  # a given name elsewhere
        "Erik Hansen": ["Dutch"], "Jan Hansen": ["Dutch"], "Per Hansen": ["Norwegian"],     # a language we lack
        "Ole Hansen": ["Norwegian"], "Lars Hansen": ["Norwegian"],
        "Jan Kowalski": ["Dutch"], "Piet Kowalski": ["Dutch"],                     # looks Polish
        "Ivo Jurić": ["Dutch"], "Ante Jurić": ["Dutch"],                           # -ić: a language we lack
    }
    assert build_name_lists.family_names(build_name_lists.person_words(dutch), set(),
                                           build_name_lists.DUTCH) == ["claes", "cruijff"]
    assert build_name_lists.family_name("Ahmad Al-Qasimi") == "qasimi"
    assert build_name_lists.family_name("Zidane") is None


@pytest.mark.parametrize("arch,more,full", [("gru", 29, 4), ("lstm", 25, 3), ("rnn", 27, 2)])
def test_portuguese_endings(arch, more, full):
    """Teixeira and Nogueira were Japanese, Carvalho Italian: -eira, -eiro, -lho and -lha, which of the corpus only
    Portuguese lines end with (and Ferreira, Pereira under English too), multiply Portuguese by 50. Before: 21 of 40
    hand-made Portuguese surnames with each model, and 2 / 1 / 1 of the blind full-name set's 4 Portuguese rows."""
    predictor = NamePredictor.load(CHECKPOINTS / f"names-{arch}")
    assert rows_right(predictor, "more:PORTUGUESE") >= (more, 40)
    assert rows_right(predictor, "full-heldout:PORTUGUESE") >= (full, 4)
    assert rows_right(predictor, "common:SPANISH") == (10, 10)
    for name in ("teixeira", "pinheiro", "carvalho", "botelho", "dos santos ferreira"):
        assert name_scripts.suffix_labels(name) == {"Portuguese"}, name
    for name in ("herrera", "romero", "vallejo", "aglio", "ribera", "ferreras"):
        assert name_scripts.suffix_labels(name) == set(), name
    corpus = load_corpus(NAMES_DIR)
    ending = [(n, corpus.labels[y]) for n, y in corpus.rows if name_scripts.suffix_labels(normalise(n)) - {"Czech"}]
    assert {label for _, label in ending} == {"Portuguese", "English"}
    assert {n for n, label in ending if label == "English"} == {"ferreira", "pereira"}


@pytest.mark.parametrize("arch,first,heldout", [("gru", 27, 21), ("lstm", 27, 20), ("rnn", 30, 20)])
def test_pinyin_full_names(arch, first, heldout):
    """'Li Na' and 'Sun Li' were Korean: the corpus's Chinese and Korean files share one-syllable words. A name of two
    or more pinyin words with a Chinese family name multiplies Chinese by 5. Before the rule: 26 / 22 / 22 of 30 rows
    (GRU, LSTM, RNN) and 19 / 19 / 16 of 22 written after them; of 8 Korean names it also reaches (Han Yuna), 2 / 1 / 1
    were right before and 0 / 0 / 1 after, the cost README states."""
    predictor = NamePredictor.load(CHECKPOINTS / f"names-{arch}")
    assert rows_right(predictor, "pinyin:CHINESE") >= (first, 30)
    assert rows_right(predictor, "pinyin-heldout:CHINESE") >= (heldout, 22)
    for chinese in ("li na", "zhou enlai", "jie chen", "dr. zhang wei", "zhang, wei"):
        assert name_scripts.pinyin_full_name(chinese), chinese
    for other in ("li", "lee teng-hui", "ma ying-jeou", "kim minjun", "anna smith", "nguyen van an", "john long"):
        assert not name_scripts.pinyin_full_name(other), other


@pytest.mark.parametrize("arch,heldout", [("gru", 14), ("lstm", 16), ("rnn", 15)])
def test_arabic_given_names_as_family_names(arch, heldout):
    """Khaled was English 0.67 and Musa Japanese 0.95: the corpus's English file lists 22 Arabic given names as English
    names. A name of such names only is Arabic; one beside another language's family name multiplies Arabic by 5.
    Before the rule: 16 / 14 / 17 of the 50 names alone (GRU, LSTM, RNN; the list was written after them, so these
    measure its coverage), 5 / 6 / 7 of 20 two-word names, and 10 / 11 / 9 of 30 public figures' names written after
    the list; the controls (Ali Smith, Omar Bradley) were read as before."""
    predictor = NamePredictor.load(CHECKPOINTS / f"names-{arch}")
    assert rows_right(predictor, "given:ARABIC") == (50, 50)
    assert rows_right(predictor, "given-full:ARABIC")[0] >= 18
    assert rows_right(predictor, "given-heldout:ARABIC")[0] >= heldout
    assert rows_right(predictor, "given:controls")[0] >= 6
    assert rows_right(predictor, "given-heldout:controls")[0] >= {"gru": 5, "lstm": 4, "rnn": 4}[arch]
    for arabic in ("Khaled", "Omar Khaled", "Khaled, Omar", "Dr. Mustafa Kamal", "Layla Mansour"):
        assert name_scripts.allowed_labels(normalise(arabic)) == {"Arabic"}, arabic
    for other in ("Ali Smith", "Omar Bradley", "Adam", "Elias", "Smith", "Kim Minjun"):
        assert name_scripts.allowed_labels(normalise(other)) is None, other
    assert ("Arabic", name_scripts.PARTICLE_BOOST) in name_scripts.latin_evidence(normalise("Ali Smith"))
    assert not [e for e in name_scripts.latin_evidence(normalise("Adam Smith")) if e[0] == "Arabic"]


@pytest.mark.parametrize("arch", ["gru", "lstm", "rnn"])
def test_vietnamese_full_names_without_diacritics(arch):
    """'Nguyen Van An' read 'van' as the Dutch particle (Vietnamese 0.27, Dutch 0.23 with the GRU) and 'Le Van Luong'
    'le' as the French one: the hand-made unaccented Vietnamese rows scored 0.78 / 0.69 / 0.63 (GRU, LSTM, RNN)
    before the middle-name rule, 0.94 / 0.94 / 0.91 after (README)."""
    predictor = NamePredictor.load(CHECKPOINTS / f"names-{arch}")
    right, rows = rows_right(predictor, "unaccented:VIETNAMESE")
    assert rows == 32 and right >= 0.85 * rows
    assert name_scripts.tokens(normalise("Nguyen Van An")) == ["nguyen", "an"]
    assert name_scripts.tokens(normalise("Dr. Tran Thi Kim Mai")) == ["tran", "kim", "mai"]
    assert name_scripts.particle_labels(normalise("Le Van Luong")) == {"Vietnamese"}
    # Dutch and Flemish names keep their particle: the family name before 'van' is not Vietnamese, or nothing follows
    assert name_scripts.tokens(normalise("Jan van Dijk")) == ["jan", "van dijk"]
    assert name_scripts.particle_labels(normalise("Ludwig van Beethoven")) == {"Dutch"}
    assert name_scripts.tokens(normalise("Nguyen Van")) == ["nguyen"]  # two words too (session 22): Van Nguyen,
    assert name_scripts.particle_labels(normalise("Van Nguyen")) == {"Vietnamese"}  # once Dutch 0.52
    assert name_scripts.particle_labels(normalise("van Dam")) == {"Dutch"}  # not a Vietnamese family name
    assert name_scripts.tokens(normalise("Van An, Nguyen")) == ["an", "nguyen"]  # 'Surname, Given' reordered
    assert name_scripts.tokens(normalise("Mai van der Berg")) == ["mai", "van der berg"]
    for dutch in ("Ton van Dijk", "Mai van Leeuwen", "Ton van Dam", "Ho van Basten"):  # not Vietnamese syllables,
        assert not name_scripts.vietnamese_full_name(normalise(dutch).split()), dutch  # or Ton: no family name


@pytest.mark.parametrize("arch", ["gru", "lstm", "rnn"])
def test_romanised_arabic_name_elements(arch):
    """'Al-Farsi' was Italian and 'Abu Khalil' Russian: the corpus's 100 Arabic names hold no al-, Abdul, Abu or bin.
    The hand-made rows scored 0.09 / 0.09 / 0.0 (GRU, LSTM, RNN) before the rule, 0.98 / 0.96 / 0.93 after, and the
    24 written after them 0.21 / 0.17 / 0.08 before, 1.0 after; names where those words are something else did not
    move (README)."""
    predictor = NamePredictor.load(CHECKPOINTS / f"names-{arch}")
    right, rows = rows_right(predictor, "particles:ARABIC")
    assert rows == 46 and right >= 0.85 * rows
    right, rows = rows_right(predictor, "particles-heldout:ARABIC")
    assert rows == 24 and right == rows
    right, rows = rows_right(predictor, "particles-joined:ARABIC")  # Abdullah, Abdelkader: 0.1 / 0.1 / 0.0 before
    assert rows == 10 and right >= 9
    for arabic in ("Al-Farsi", "Khalid al-Hashimi", "El Amrani", "Abd el-Kader", "Zayed bin Sultan Al Nahyan",
                   "Abdul Rahman", "Abu-Ghazaleh", "Ibn Khaldun", "Dr. Mohammed bin Salman", "Mohammed Abdullah"):
        assert name_scripts.allowed_labels(normalise(arabic)) == {"Arabic"}, arabic
    # A leading Al is a given name too, Bin a Chinese one; the words inside other names say nothing; the corpus's
    # Russian names built on Abd keep their Russian ending
    for other in ("Al Gore", "Al Pacino", "Wang Bin", "Bin Wang", "Li Bin", "Alvarez", "Albrecht", "Binchy",
                  "Abel", "Elgar", "Del Toro", "Abdulaev", "Abdulin", "Abdurakhmanov", "Abdi", "Abu"):
        assert name_scripts.allowed_labels(normalise(other)) is None, other


@pytest.mark.parametrize("arch", ["gru", "lstm", "rnn"])
def test_japanese_long_o_as_passports_write_it(arch):
    """Japanese passports write a long final ō as 'oh' (Satoh), many people as 'ou' (Satou); the corpus writes Sato.
    The hand-made rows scored 0.60 / 0.70 / 0.53 before the rule, 0.97 / 1.0 / 1.0 after (README); the names
    around them that end alike (Christou, Papadatou, Teoh, Toh) are read as they were."""
    predictor = NamePredictor.load(CHECKPOINTS / f"names-{arch}")
    right, rows = rows_right(predictor, "long-vowels:JAPANESE")
    assert rows == 30 and right >= 0.9 * rows
    for word, read in [("satoh", "sato"), ("saitoh", "saito"), ("kondou", "kondo"), ("shindoh", "shindo")]:
        assert name_scripts.japanese_long_o(word) == read
    for other in ("christou", "papadatou", "vlachou", "teoh", "toh", "loh", "dou", "poroh", "noh"):
        assert name_scripts.japanese_long_o(other) == other
    corpus = load_corpus(NAMES_DIR)
    changed = {n for n, _ in corpus.rows if any(name_scripts.japanese_long_o(w) != w for w in n.split())}
    assert changed == {"satoh", "itoh"} and not changed & {n for n, _ in corpus.split("test")}  # both Japanese


@pytest.mark.parametrize("arch", ["gru", "lstm", "rnn"])
def test_dutch_particles_and_two_word_vietnamese_names(arch):
    """van, den, ter and ten, which only Dutch writes, multiply Dutch by 50 (x5 had left van Dijk Russian): the
    hand-made rows scored 0.59 / 0.44 / 0.63 before, 0.96 / 0.93 / 0.81 after; a two-word Vietnamese name with Van or
    Thi (Van Nguyen, Dutch 0.52 before) is read by the Vietnamese rule first: 0.5 -> 0.9 / 0.9 / 1.0 (README)."""
    predictor = NamePredictor.load(CHECKPOINTS / f"names-{arch}")
    right, rows = rows_right(predictor, "particles:DUTCH")
    assert rows == 27 and right >= 0.8 * rows
    right, rows = rows_right(predictor, "particles:VIETNAMESE")
    assert rows == 10 and right >= 9


def test_apostrophes_as_keyboards_type_them_and_quotes():
    for sent in ("O'Brien", "O’Brien", "O‘Brien", "O´Brien", "O`Brien", "Oʼbrien"):
        assert normalise(sent) == "o'brien", sent  # NFKC alone splits O´Brien into 'o ́brien'
    assert name_scripts.tokens(normalise("Robert ‘Bob’ Smith")) == ["robert", "bob", "smith"]
    assert name_scripts.tokens("'smith'") == ["smith"] and name_scripts.tokens("o' neill") == ["o' neill"]


@pytest.mark.parametrize("arch", ["gru", "lstm", "rnn"])
def test_apostrophe_look_alikes_are_read_as_apostrophes(arch):
    """O´Brien and O`Connor were English, 'Smith' in quotes Irish: the hand-made apostrophe rows scored 0.50 (GRU,
    LSTM) and 0.56 (RNN) before, 0.94 / 1.00 / 0.94 after (README)."""
    predictor = NamePredictor.load(CHECKPOINTS / f"names-{arch}")
    right, rows = rows_right(predictor, "apostrophe")
    assert right >= 0.85 * rows
    assert top1(predictor, "O´Neill") == "Irish" and top1(predictor, "'Smith'") == top1(predictor, "Smith") == "English"


@pytest.mark.parametrize("arch", ["gru", "lstm", "rnn"])
def test_joined_particles_are_read_as_the_corpus_writes_them(arch):
    """Read as one word, DeLuca was Czech and OBrien English: the hand-made camel-case rows scored 0.48 (GRU,
    LSTM) and 0.50 (RNN) before the split, 0.83 / 0.78 / 0.72 after (README)."""
    predictor = NamePredictor.load(CHECKPOINTS / f"names-{arch}")
    right, rows = rows_right(predictor, "camel-case")
    assert right >= 0.7 * rows
    for name, label in (("DeLuca", "Italian"), ("OBrien", "Irish"), ("DosSantos", "Portuguese")):
        assert top1(predictor, name) == label, name


@pytest.mark.parametrize("arch", ["gru", "lstm", "rnn"])
def test_decorated_full_names_get_the_plain_answer(arch):
    """What forms add around a name (Dr., Jr., initials, 'Surname, Given', and since session 19 the same with dots and
    no spaces: Dr.Smith, J.R., Ph.D.) changes no probability: before session 8 they cost the real-world full names
    7-42 points of top-1, the dotted forms 8-13 points before session 19 (README, "Names as signup forms send them")."""
    predictor = NamePredictor.load(CHECKPOINTS / f"names-{arch}")
    rows = [r for r in load_eval_set() if r[2] == "full-name"]
    plain = predictor.probabilities([name for name, _, _ in rows])
    for decorate in DECORATIONS + DOTTED:
        assert np.allclose(predictor.probabilities([decorate(name) for name, _, _ in rows]), plain, atol=1e-6)


@pytest.mark.parametrize("arch", ["gru", "lstm"])
def test_the_gru_and_lstm_read_feminine_forms(arch):
    """Both were trained on feminine forms (train_names --feminine-forms; the LSTM in session 8, the GRU in
    session 9): the hand-made Russian and Polish feminine rows, which the RNN (no such rows) gets 0.20 and
    0.60 of, and which the GRU got 0.20 and 0.80 of before."""
    model = NamePredictor.load(CHECKPOINTS / f"names-{arch}")
    for language, floor in (("Russian", 0.6), ("Polish", 0.9)):
        right, rows = rows_right(model, f"feminine:{language.upper()}")
        assert right >= floor * rows, language
    assert top1(model, "Ivanova") == "Russian" and top1(model, "Kowalska") == "Polish"


def test_an_accented_ova_ending_is_czech(gru):
    """-ová is Czech spelling (romanised Russian never writes it): x50, enough to overturn the models'
    Russian reading of -ova, which put Czech at 7.5 % for Nováková (served Russian 0.69 with x5)."""
    assert name_scripts.suffix_labels("jana nováková") == {"Czech"} and name_scripts.suffix_labels("novakova") == set()
    for name in ("Nováková", "Procházková", "Jana Dvořáková"):
        assert top1(gru, name) == "Czech", name


@pytest.mark.parametrize("arch,right,masculine", [("gru", 14, 15), ("lstm", 13, 14), ("rnn", 13, 14)])
def test_czech_surnames_of_the_adjectival_kind(arch, right, masculine):
    """Novotná and Černá were Italian, Veselá Spanish, Veselý Russian: a consonant and a final -á or -ý, which no
    corpus line ends with, multiplies Czech by 50 in a word of four letters or more. 15 feminine rows written before
    the rule: 9 / 6 / 5 right (GRU, LSTM, RNN); 15 masculine ones, written before -ý joined it: 7 / 9 / 6. Of the
    controls (Alcalá, Sá, Costa, Lý, Quý) it reaches Alcalá only, which stays Spanish or Italian."""
    predictor = NamePredictor.load(CHECKPOINTS / f"names-{arch}")
    assert rows_right(predictor, "czech-adjectival:CZECH") >= (right, 15)
    assert rows_right(predictor, "czech-adjectival-m:CZECH") >= (masculine, 15)
    assert name_scripts.suffix_labels("novotná") == name_scripts.suffix_labels("jan černý") == {"Czech"}
    assert name_scripts.suffix_labels("sá") == name_scripts.suffix_labels("lý") == set()
    assert name_scripts.suffix_labels("novotna") == name_scripts.suffix_labels("novotny") == set()
    controls = [r for r in load_eval_set() if r[2] in ("czech-adjectival:controls", "czech-adjectival-m:controls")]
    assert [n for n, _, _ in controls if "Czech" in name_scripts.suffix_labels(normalise(n))] == ["Alcalá"]
    assert "Czech" not in [top1(predictor, n) for n, _, _ in controls]
    assert not [n for n, _ in load_corpus(NAMES_DIR).rows if name_scripts.suffix_labels(n) == {"Czech"}
                and not n.endswith("ová")]  # no corpus line ends in -á or -ý


@pytest.mark.parametrize("name,label", [("Hiroshi Tanaka", "Japanese"), ("Mary O'Neill", "Irish"),
                                        ("van der Berg", "Dutch"), ("García Márquez", "Spanish"),
                                        ("Vladimir Ivanov", "Russian")])
def test_full_names(gru, name, label):
    assert top1(gru, name) == label


def test_scripts_none_of_our_labels_use_are_flagged():
    assert name_scripts.allowed_labels("สมชาย") is None and name_scripts.scripts("สมชาย") == {"THAI"}
    assert name_scripts.allowed_labels("Smith") is None and name_scripts.allowed_labels("김") == {"Korean"}


def test_calibration_improves_ece_on_validation(gru):
    rows = load_corpus().split("val")
    logits = torch.as_tensor(gru.logits([n for n, _ in rows]))
    y = np.array([label for _, label in rows])
    temperature = fit_temperature(gru, rows)
    assert abs(temperature - gru.temperature) < 1e-3  # the manifest holds what fitting gives
    # Fitting minimises the negative log-likelihood (T = 1 is a candidate, so it never rises); ECE is the
    # figure the real-world issue bounds. A distilled model is nearly calibrated already (T = 1.02), where
    # ECE may move either way by a little.
    nll = [float(torch.nn.functional.cross_entropy(logits / t, torch.tensor(y))) for t in (1.0, temperature)]
    assert nll[1] <= nll[0] + 1e-6
    assert metrics.expected_calibration_error((logits / temperature).softmax(-1).numpy(), y)[0] < 0.03


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(name=st.text(min_size=1, max_size=100).filter(lambda s: s.strip()))
def test_any_unicode_name_gets_predictions_or_a_flag(client, name):
    r = client.post("/classify", json={"name": name})
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    assert body["unsupported_script"] is (body["predictions"] == [])
    if body["predictions"]:
        assert abs(sum(p["probability"] for p in client.post("/classify", json={"name": name, "top_k": 18})
                       .get_json()["predictions"]) - 1) < 0.01


def test_what_is_not_a_family_name_is_low_confidence_more_often_the_alert_s_premise(gru):
    """NameOriginLowConfidenceAnswers fires above 25 % low-confidence answers: held-out family names must stay well
    under it and given names or e-mail addresses over it, else a retrained GRU has made the alert blind or noisy."""
    from models.evaluate_realworld import low_confidence_shares
    shares = {k: v["share"] for k, v in low_confidence_shares(gru, load_corpus(NAMES_DIR), load_eval_set()).items()}
    assert shares["corpus test split"] < 0.2 and shares["given-name"] > 0.25 and shares["e-mail"] > 0.25, shares
    assert shares["other-language (all)"] > 0.25 and shares["other-language:Turkish"] > 0.5, shares  # ş ı ğ
    rules = (Path(__file__).resolve().parent.parent / "deploy/prometheus/alerts.yml").read_text()
    assert "/ sum(rate(name_answers_total{job=\"name-origin\"}[1h])) > 0.25" in rules


def test_national_titles_are_read_as_titles(gru):
    """'Sig. Rossi' was German and 'Dipl.-Ing. Schneider' English: the title was read as a name part. Every titles:*
    row of the real-world set now reads as its family name alone, and a name written with a final dot keeps it."""
    rows = [r for r in load_eval_set() if r[2].startswith("titles:")]
    assert len(rows) == 33
    def parts(name):
        return name_scripts.tokens(normalise(name))
    assert all(len(parts(name)) == 1 for name, _, _ in rows), [name for name, _, _ in rows if len(parts(name)) != 1]
    assert parts("Dr. rer. nat. Fischer") == ["fischer"] and parts("Mevr. de Vries") == ["de vries"]
    assert parts("Dr. Smith.") == ["smith"] and parts("Dr. Med") == ["med"]  # the last word is the name
    assert np.allclose(gru.probabilities(["Sig. Rossi", "Dipl.-Ing. Schneider"]),
                       gru.probabilities(["Rossi", "Schneider"]), atol=1e-6)


QUOTED = [lambda n: f"'{n}'", lambda n: f'"{n}"', lambda n: f"({n})", lambda n: f"[{n}]", lambda n: f"“{n}”",
          lambda n: f"«{n}»", lambda n: f"„{n}“", lambda n: f"（{n}）", lambda n: f"「{n}」"]


# What else a form's name field gets around a name or between its words, none of which says where it comes from:
# punctuation after it (a full stop, a required-field star), a symbol before it (@, #), a number after it (a username,
# a second account), pronouns, underscores or en dashes for spaces and hyphens.
ADDED = [lambda n: f"{n}.", lambda n: f"{n}!", lambda n: f"{n}?", lambda n: f"{n};", lambda n: f"{n}*",
         lambda n: f"*{n}", lambda n: f"@{n}", lambda n: f"#{n}", lambda n: f"{n}...", lambda n: f"{n} -",
         lambda n: f"{n}-", lambda n: f"{n}+", lambda n: f"{n}2", lambda n: f"{n} 2", lambda n: f"{n} 2nd",
         lambda n: f"{n} (he/him)", lambda n: f"{n} she/her", lambda n: f"{n} (they/them)", lambda n: f"{n} 😀",
         lambda n: n.replace(" ", "_"), lambda n: n.replace("-", "–"), lambda n: f"{n} ✓", lambda n: f"¡{n}!"]


def assert_read_as_plain(predictor, names, forms):
    """Each name as each form sends it (forms: one list of sent names per form) gets the plain name's probabilities
    and other-language evidence."""
    plain = predictor.probabilities(names)
    evidence = [name_scripts.other_language_evidence(n) for n in names]
    for sent in forms:
        probabilities = predictor.probabilities(sent)
        different = [s for s, p, row in zip(sent, probabilities, plain) if not np.allclose(p, row, atol=1e-6)]
        assert not different, (len(different), different[:10])
        wrong = [s for s, e in zip(sent, evidence) if name_scripts.other_language_evidence(s) != e]
        assert not wrong, wrong[:10]


def test_what_forms_add_around_a_name_changes_no_answer(gru):
    """Every rule reads a name in quotes or brackets, or with what ADDED puts around it, as the plain one. Before
    session 24 the list rules looked for their words between spaces, commas and dots only, so 'Khaled' was English
    0.67, (Bui) Chinese 0.90 and "Kim" English 0.28 (plain: Arabic, Vietnamese, Korean). Then, quotes read as plain, a
    number after a name still changed the GRU's top-1 for 559 of the 1,405 hand-made Latin-script rows (Novák2),
    pronouns for 516, underscores for spaces 388, a leading symbol 69 (*Ó Dónaill), a trailing full stop 24 (Nováková.:
    the ending rules read the word with its punctuation)."""
    names = [name for name, _, _ in load_eval_set()]
    assert_read_as_plain(gru, names, [[add(n) for n in names] for add in QUOTED + ADDED])


def test_any_punctuation_or_symbol_around_words_changes_no_answer(gru):
    """Seeded: every hand-made row with up to two punctuation or symbol characters before and after each word, drawn
    from those of the BMP up to U+2FFF whose NFKC form is punctuation or symbols too (not ⒦ -> (k), not the Kangxi
    radical ⽥ -> 田), but the corpus's own ' - . , : /, apostrophe look-alikes (′, ´: read as '), dashes (read as
    hyphens) and @ (kept after a word)."""
    import random
    import unicodedata
    rng = random.Random(0)
    marks = [ch for ch in map(chr, range(0x21, 0x3000)) if unicodedata.category(ch)[0] in "PS"
             and unicodedata.category(ch) != "Pd" and ch not in "'.,:/@" and not APOSTROPHE_LIKE.match(ch)
             and all(unicodedata.category(c)[0] in "PS" or c.isspace() for c in unicodedata.normalize("NFKC", ch))]
    assert len(marks) > 3000

    def around(word):
        before, after = ("".join(rng.choices(marks, k=rng.choice([0, 1, 2]))) for _ in range(2))
        return before + word + after

    names = [name for name, _, _ in load_eval_set()]
    assert_read_as_plain(gru, names, [[" ".join(around(w) for w in n.split(" ")) for n in names] for _ in range(2)])


def test_given_names_joined_by_a_hyphen_are_read_as_words(gru):
    """Omar-Khaled was English 0.49: the list rules' quick look split on spaces, commas and dots, not hyphens."""
    assert top1(gru, "Omar-Khaled") == top1(gru, "Omar Khaled") == "Arabic"
    assert name_scripts.latin_evidence("omar-khaled") == name_scripts.latin_evidence("omar khaled")


def test_normalise_keeps_no_punctuation_or_symbol_but_the_corpus_s_and_list_words_are_letters():
    """Every character of Unicode's punctuation and symbol categories reads as a space (a dash as a hyphen) but the
    corpus's own ' - . , : / and an e-mail address's @; _origin_holding's quick look relies on list words being
    letters only."""
    import sys
    import unicodedata
    kept = set("'-.,:/")
    for code in range(sys.maxunicode + 1):
        ch = chr(code)
        if unicodedata.category(ch)[0] in "PS" and ch not in kept:
            read = normalise(f"ab {ch}cd")
            assert not [c for c in read if unicodedata.category(c)[0] in "PS" and c not in kept], (hex(code), read)
    for names in (name_scripts.ARABIC_GIVEN_NAMES, name_scripts.KOREAN_SURNAMES, name_scripts.PINYIN_SURNAMES,
                  name_scripts.VIETNAMESE_ONLY_SURNAMES):
        assert all(name.isalpha() for name in names)
    assert normalise("Smith–Jones") == "smith-jones" and normalise("Maxa/B") == "maxa/b"  # a corpus line, as it was
    assert normalise("Emma.Mohammed@example.com") == "emma.mohammed@example.com"  # not a name: read as before
    assert normalise("Alex Smith (She/They)") == "alex smith" and normalise("He") == "he"  # 何: a Chinese family name
    assert normalise("Robert \"Bob\" Smith") == "robert bob smith" and normalise("(O'Neill)") == "o'neill"
    assert normalise("'o' neill'") == "o' neill" and normalise("Smith(Jones)") == "smith jones"
    assert normalise("'Shin Min-a'") == "shin min-a" and normalise("(O' Neill)") == "o' neill"
