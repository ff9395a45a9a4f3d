"""Build models/name_lists/arabic_family_names.txt, the family names that Arabic-speaking countries' people bear and
our other 17 languages' people mostly do not, from name2nat's list of Wikipedia people and their nationalities.

The corpus's Arabic file holds 100 Levantine family names, so the models read most other Arabic family names as
another language (Bennani Italian 0.89, Khashoggi Japanese 0.96, Jumblatt English 0.88 with the GRU; session 25).
name2nat 0.5.1 (PyPI, Apache-2.0; https://github.com/Kyubyong/name2nat) ships `name2nats.pkl`, 1,074,617 Wikipedia
person names with 176 nationalities. Fetch it without installing it (that would pull in flair and torch):

    pip download --no-deps name2nat==0.5.1 -d /tmp/n2n
    unzip -o -q /tmp/n2n/name2nat-0.5.1-py3-none-any.whl -d /tmp/n2n
    python -m models.build_name_lists --name2nat /tmp/n2n/name2nat/name2nats.pkl

A person's family name is the last word of their name (after al-/el-: Al-Farsi is 'farsi'). A word is listed when
people of Arab League nationalities bear it and make at least half of its bearers from those countries, our other
languages' countries, the neighbouring ones whose names are often Arabic words too (Iran, Turkey, Pakistan, ...:
Hosseini is Iranian, not Arabic) and Israel (Mizrahi); when no more people of other countries have it as their given
name (Diane); when a lone bearer is its only one; when it has four letters or more; and when neither the corpus's
training split lists it under another language nor another name list holds it (Arabic given names, Dutch, Korean,
Vietnamese, pinyin family names). Bearers of other nationalities (American, Canadian, Australian: countries of
immigrants) count neither way. The factor the service applies was chosen on a held-out quarter of the people and
measured on another (README, "Names as signup forms send them").
"""
import argparse
import collections
import hashlib
import pickle
from pathlib import Path

from models import name_scripts
from models.name_scripts import ARABIC_FAMILY_NAMES_FILE
from models.name_text import normalise
from models.names_data import load_corpus
from models.paths import NAMES_DIR

# The file this was built from; a pickle runs code when loaded, so only this one is read
NAME2NAT_SHA256 = "82f6415d0a95f19320da7e01b91284262a0c8d5ef808340db8f49ac17263dbfb"

ARAB_NATIONALITIES = frozenset(
    "Egyptian Saudi Algerian Moroccan Iraqi Lebanese Tunisian Syrian Emirati Qatari Palestinian Jordanian Kuwaiti "
    "Sudanese Yemeni Libyan Bahraini Omani Mauritanian".split())
# Nationalities whose people's names are mostly of one of our other languages (name2nat has no Scottish, and 7 Poles)
OUR_OTHER_NATIONALITIES = frozenset(
    "English British Welsh Irish German Austrian French Belgian Italian Sammarinese Catalan Basque Mexican Argentine "
    "Colombian Chilean Peruvian Venezuelan Cuban Uruguayan Ecuadorian Bolivian Paraguayan Portuguese Brazilian Dutch "
    "Greek Cypriot Russian Ukrainian Belarusian Czech Slovak Pole Japanese Korean Chinese Taiwanese Vietnamese".split())
# Mostly Muslim countries outside the Arab League, whose family names are often Arabic words too, and Israel, whose
# Hebrew ones share Semitic roots (Mizrahi)
NEIGHBOUR_NATIONALITIES = frozenset(
    "Iranian Pakistani Turk Afghan Azerbaijani Bangladeshi Indonesian Malaysian Indian Somali Senegalese Malian "
    "Nigerian Bosniak Albanian Uzbek Tajik Maldivian Comorian Djiboutian Nigerien Chadian Guinean Gambian Burkinabé "
    "Kazakh Kyrgyz Eritrean Ethiopian Tamil Israeli".split())
_OTHER = OUR_OTHER_NATIONALITIES | NEIGHBOUR_NATIONALITIES
ARABIC_SHARE = 0.5
MIN_LETTERS = 4


def family_name(full_name: str) -> str | None:
    """The normalised last word of a person's name, after al-/el-; None for a one-word name, 'X of Y' (Cyril of
    Alexandria) or a last word that is not all letters."""
    parts = full_name.split()
    if len(parts) < 2 or "of" in parts:
        return None
    word = normalise(parts[-1])
    article, _, rest = word.partition("-")
    word = rest if article in ("al", "el") and rest else word
    return word if word.isalpha() else None


def bearers(people: dict[str, list[str]]) -> dict[str, collections.Counter]:
    """word -> Counter: as a family name, how many people of an Arab nationality bear it ('arab'), of our other
    languages' or the neighbouring countries' ('other'), of any other ('rest'); and how many people of neither an Arab
    nor a neighbouring country's nationality bear it as their first word ('given': Diane, Karim)."""
    counts = collections.defaultdict(collections.Counter)
    for full_name, nationalities in people.items():
        arab = not ARAB_NATIONALITIES.isdisjoint(nationalities)
        neighbour = not NEIGHBOUR_NATIONALITIES.isdisjoint(nationalities)
        if not (arab or neighbour) and len(first := full_name.split()) > 1:
            counts[normalise(first[0])]["given"] += 1
        if (word := family_name(full_name)) is None:
            continue
        # a person of an Arab nationality counts as an Arab bearer whatever else they hold (Ahmed Zewail, Egyptian and
        # American); anyone else once for each kind of nationality they hold
        counts[word].update({"arab"} if arab else
                            {"other" if n in _OTHER else "rest" for n in nationalities})
    return counts


def qualifies(c: collections.Counter) -> bool:
    """Listed: borne by people of Arab nationalities, at least half of those of the counted ones, and no more often
    the given name of others (Diane); one bearer alone only when nobody else bears it (name2nat's labels have errors:
    Emmerson Mnangagwa is 'Egyptian')."""
    return (c["arab"] >= 1 and c["arab"] >= ARABIC_SHARE * (c["arab"] + c["other"]) and c["given"] <= c["arab"]
            and (c["arab"] >= 2 or c["other"] + c["rest"] == 0))


def arabic_family_names(people: dict[str, list[str]], listed_elsewhere: set[str]) -> list[str]:
    """The listed words, sorted."""
    return sorted(word for word, c in bearers(people).items()
                  if qualifies(c) and len(word) >= MIN_LETTERS and word not in listed_elsewhere)


def listed_elsewhere(names_dir: Path) -> set[str]:
    """Words the corpus's training split lists under another language than Arabic, and the other name lists' words."""
    corpus = load_corpus(names_dir)
    arabic = corpus.labels.index("Arabic")
    return ({name for name, label in corpus.split("train") if label != arabic}
            | name_scripts.ARABIC_GIVEN_NAMES | name_scripts.DUTCH_SURNAMES | name_scripts.PINYIN_SURNAMES
            | set(name_scripts.KOREAN_SURNAMES) | name_scripts.VIETNAMESE_ONLY_SURNAMES)


def load_name2nat(path: Path) -> dict[str, list[str]]:
    data = path.read_bytes()
    if (digest := hashlib.sha256(data).hexdigest()) != NAME2NAT_SHA256:
        raise SystemExit(f"{path}: sha256 {digest}, not name2nat 0.5.1's name2nats.pkl ({NAME2NAT_SHA256})")
    return pickle.loads(data)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--name2nat", type=Path, required=True, help="name2nat 0.5.1's name2nat/name2nats.pkl")
    ap.add_argument("--names-dir", type=Path, default=NAMES_DIR)
    ap.add_argument("--out", type=Path, default=ARABIC_FAMILY_NAMES_FILE)
    args = ap.parse_args(argv)
    words = arabic_family_names(load_name2nat(args.name2nat), listed_elsewhere(args.names_dir))
    header = ("# Arabic family names (models/build_name_lists.py; from name2nat 0.5.1, Apache-2.0, a list of\n"
              "# Wikipedia people and their nationalities: https://github.com/Kyubyong/name2nat). One word a line.\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(header + "".join(f"{w}\n" for w in words), encoding="utf-8")
    print(f"{len(words)} words -> {args.out}")


if __name__ == "__main__":
    main()
