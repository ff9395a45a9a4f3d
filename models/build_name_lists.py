"""Build the family-name lists in models/name_lists/: the family names that one language's countries' people bear and
our other languages' people mostly do not, from name2nat's list of Wikipedia people and their nationalities.

The corpus's Arabic file holds 100 Levantine family names, so the models read most other Arabic family names as
another language (Bennani Italian 0.89, Khashoggi Japanese 0.96, Jumblatt English 0.88 with the GRU; session 25), its
Dutch file 266 names (Bergkamp, Sneijder, Balkenende; session 26), and so on for every language: the corpus holds
15,653 distinct names, Wikipedia's people many more (session 26: ten more lists).
name2nat 0.5.1 (PyPI, Apache-2.0; https://github.com/Kyubyong/name2nat) ships `name2nats.pkl`, 1,074,617 Wikipedia
person names with 176 nationalities. Fetch it without installing it (that would pull in flair and torch), then build
the lists, in name_scripts.FAMILY_NAME_LISTS order (each leaves out the words of those before it; `--language` builds
some of them only); `make name-lists` does all of this:

    pip download --no-deps name2nat==0.5.1 -d /tmp/n2n
    unzip -o -q /tmp/n2n/name2nat-0.5.1-py3-none-any.whl -d /tmp/n2n
    python -m models.build_name_lists --name2nat /tmp/n2n/name2nat/name2nats.pkl

A person's family name is the last word of their name (after al-/el-: Al-Farsi is 'farsi'; after van, de: van Dijk is
'dijk'). A word is listed when people of the language's nationalities ('own': Arab League nationalities for Arabic;
English, British and Welsh for English; Latin American ones, Catalan and Basque for Spanish: LANGUAGE_NATIONALITIES)
bear it and make at least half of its bearers from those countries, our other languages' countries and, for Arabic,
the neighbouring ones whose names are often Arabic words too (Iran, Turkey, Pakistan, ...: Hosseini is Iranian, not
Arabic) and Israel (Mizrahi), for the others the countries of languages we do not cover (Norway, Hungary, ...); when
no more people of other countries have it as their given name (Diane); when a lone bearer is its only one; when it
has four letters or more; when neither the corpus's training split lists it under another language nor a hand-made
list or an earlier list holds it; and when it does not look Polish (name2nat has 7 Polish people: Kowalski's
Wikipedia bearers are mostly German) or of a language we do not cover (-ić, -escu). Bearers of other nationalities
(American, Canadian, Australian: countries of immigrants; Belgian for Dutch and French: Flemish or Walloon) count
neither way. No Chinese, Korean or Vietnamese list (Wikipedia often writes those names family name first, so the last
word is a given name), no Polish or Scottish one (no people), and no Irish one: the corpus lists many Irish family
names under English or Scottish, and an Irish list lowered the validation split.
The factors the service applies were chosen on a held-out quarter of the people and the corpus's validation split,
and measured on another quarter and the test split (README, "Names as signup forms send them").
"""
import argparse
import collections
import dataclasses
import hashlib
import pickle
from pathlib import Path

from models import name_scripts
from models.name_text import normalise
from models.names_data import load_corpus
from models.paths import NAMES_DIR

# The file this was built from; a pickle runs code when loaded, so only this one is read
NAME2NAT_SHA256 = "82f6415d0a95f19320da7e01b91284262a0c8d5ef808340db8f49ac17263dbfb"

# name2nat's nationalities whose people's names are mostly of one of our languages (it has no Scottish, no Spaniard,
# and 7 Poles); Belgians write Dutch and French names
LANGUAGE_NATIONALITIES = {
    "Arabic": frozenset("Egyptian Saudi Algerian Moroccan Iraqi Lebanese Tunisian Syrian Emirati Qatari Palestinian "
                        "Jordanian Kuwaiti Sudanese Yemeni Libyan Bahraini Omani Mauritanian".split()),
    "English": frozenset({"English", "British", "Welsh"}), "Irish": frozenset({"Irish"}),
    "German": frozenset({"German", "Austrian"}), "French": frozenset({"French", "Belgian"}),
    "Italian": frozenset({"Italian", "Sammarinese"}),
    "Spanish": frozenset("Catalan Basque Mexican Argentine Colombian Chilean Peruvian Venezuelan Cuban Uruguayan "
                         "Ecuadorian Bolivian Paraguayan".split()),
    "Portuguese": frozenset({"Portuguese", "Brazilian"}), "Dutch": frozenset({"Dutch", "Belgian"}),
    "Greek": frozenset({"Greek", "Cypriot"}), "Russian": frozenset({"Russian", "Ukrainian", "Belarusian"}),
    "Czech": frozenset({"Czech", "Slovak"}), "Polish": frozenset({"Pole"}), "Japanese": frozenset({"Japanese"}),
    "Korean": frozenset({"Korean"}), "Chinese": frozenset({"Chinese", "Taiwanese"}),
    "Vietnamese": frozenset({"Vietnamese"}),
}
# Mostly Muslim countries outside the Arab League, whose family names are often Arabic words too, and Israel, whose
# Hebrew ones share Semitic roots (Mizrahi)
ARABIC_NEIGHBOURS = frozenset(
    "Iranian Pakistani Turk Afghan Azerbaijani Bangladeshi Indonesian Malaysian Indian Somali Senegalese Malian "
    "Nigerian Bosniak Albanian Uzbek Tajik Maldivian Comorian Djiboutian Nigerien Chadian Guinean Gambian Burkinabé "
    "Kazakh Kyrgyz Eritrean Ethiopian Tamil Israeli".split())
# Nationalities of languages we do not cover, countries of immigrants aside: their bearers count against a list other
# than Arabic's (which counts its own neighbours), so that a name mostly Norwegian or Hungarian is no sure German answer
OTHER_LANGUAGE_NATIONALITIES = frozenset(
    "Norwegian Hungarian Romanian Bulgarian Estonian Lithuanian Latvian Albanian Armenian Macedonian Moldovan "
    "Montenegrin Maltese Faroese Finn Dane Serb Croat Slovene Bosniak Georgian Filipino Thai Indian Indonesian "
    "Malaysian Pakistani Iranian Turk Bangladeshi Tamil Nepalese Burmese Cambodian Mongolian Lao Bhutanese Tibetan "
    "Azerbaijani Kazakh Uzbek Tajik Kyrgyz Afghan Nigerian Ghanaian Kenyan Ugandan Cameroonian Senegalese Ethiopian "
    "Tanzanian Zambian Malian Guinean Ivorian Congolese Rwandan Burundian Malagasy Somali Eritrean Togolese Beninese "
    "Gabonese Nigerien Chadian Gambian Liberian Burkinabé Malawian Namibian Botswana Swazi Sotho Israeli Syriac "
    "Breton".split())
SHARE = 0.5
MIN_LETTERS = 4


@dataclasses.dataclass(frozen=True)
class ListSpec:
    """Whose family names a list holds: people of `own` nationalities ('own' bearers) against those of `against`
    ('other': our other languages' countries and `neighbours`); `neighbours`' first words do not count as given names
    elsewhere (an Iranian Karim)."""
    language: str
    own: frozenset
    neighbours: frozenset = frozenset()
    neutral: frozenset = frozenset()  # counted neither way

    @property
    def against(self) -> frozenset:
        ours = frozenset().union(*LANGUAGE_NATIONALITIES.values())
        return (ours - self.own - self.neutral) | self.neighbours


ARABIC = ListSpec("Arabic", LANGUAGE_NATIONALITIES["Arabic"], ARABIC_NEIGHBOURS)


def list_spec(language: str) -> ListSpec:
    """Arabic's, or a language's own nationalities against our others' and those of languages we do not cover
    (Belgians count neither way for Dutch and French: their family names are Flemish or Walloon)."""
    if language == "Arabic":
        return ARABIC
    return ListSpec(language, LANGUAGE_NATIONALITIES[language] - {"Belgian"}, OTHER_LANGUAGE_NATIONALITIES,
                    neutral=frozenset({"Belgian"}))


DUTCH = list_spec("Dutch")


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


# Per person: the normalised first word of a name of two words or more (None otherwise), the family name (or None), the
# nationalities. Normalising is a third of the counting, and the same for every list: done once.
PersonWords = tuple[str | None, str | None, list[str]]


def person_words(people: dict[str, list[str]]) -> list[PersonWords]:
    return [(normalise(first[0]) if len(first := full_name.split()) > 1 else None, family_name(full_name),
             nationalities) for full_name, nationalities in people.items()]


def bearers(people: list[PersonWords], spec: ListSpec = ARABIC) -> dict[str, collections.Counter]:
    """word -> Counter: as a family name, how many people of the list's nationalities bear it ('own'), of our other
    languages' or the neighbouring countries' ('other'), of any other ('rest'); and how many people of neither the
    list's nor a neighbouring country's nationality bear it as their first word ('given': Diane, Karim)."""
    counts = collections.defaultdict(collections.Counter)
    for first, word, nationalities in people:
        own = not spec.own.isdisjoint(nationalities)
        neighbour = not spec.neighbours.isdisjoint(nationalities)
        if not (own or neighbour) and first is not None:
            counts[first]["given"] += 1
        if word is None:
            continue
        # a person of the list's nationalities counts as its bearer whatever else they hold (Ahmed Zewail, Egyptian
        # and American); anyone else once for each kind of nationality they hold
        counts[word].update({"own"} if own else {"other" if n in spec.against else "rest" for n in nationalities})
    return counts


def qualifies(c: collections.Counter) -> bool:
    """Listed: borne by people of the list's nationalities, at least half of those of the counted ones, and no more
    often the given name of others (Diane); one bearer alone only when nobody else bears it (name2nat's labels have
    errors: Emmerson Mnangagwa is 'Egyptian')."""
    return (c["own"] >= 1 and c["own"] >= SHARE * (c["own"] + c["other"]) and c["given"] <= c["own"]
            and (c["own"] >= 2 or c["other"] + c["rest"] == 0))


# name2nat has 7 Polish people, so Polish family names would go to the lists of the countries where their bearers live
# (Kowalski German, Lewandowska Russian, Michalska English); and names of languages we do not cover would read as sure
# answers of ours (Halilhodžić Arabic, Mihajlović Greek) where the service flags them. Such words are on no list.
POLISH_ENDINGS = ("ski", "ska", "cki", "cka", "dzki", "dzka", "wicz", "czyk", "czak")


def left_to_the_models(word: str) -> bool:
    """A letter only Polish writes or a Polish ending, or a letter or ending of a language we do not cover."""
    return (not name_scripts.DIACRITICS["Polish"].isdisjoint(word) or word.endswith(POLISH_ENDINGS)
            or bool(name_scripts.other_language_evidence(word)))


def family_names(people: list[PersonWords], listed_elsewhere: set[str], spec: ListSpec = ARABIC) -> list[str]:
    """The listed words, sorted, from person_words(people)."""
    return sorted(word for word, c in bearers(people, spec).items()
                  if qualifies(c) and len(word) >= MIN_LETTERS and word not in listed_elsewhere
                  and not left_to_the_models(word))


def listed_elsewhere(names_dir: Path, language: str = "Arabic", listed: dict[str, str] | None = None) -> set[str]:
    """Words the corpus's training split lists under another language, the hand-made name lists' words and those of
    the lists before this one in FAMILY_NAME_LISTS (`listed`, word -> language; the served lists by default): a word
    is on one list at most."""
    corpus = load_corpus(names_dir)
    own = corpus.labels.index(language)
    earlier = name_scripts.FAMILY_NAME_LISTS[:name_scripts.FAMILY_NAME_LISTS.index(language)]
    listed = name_scripts.LISTED_FAMILY_NAMES if listed is None else listed
    return ({name for name, label in corpus.split("train") if label != own}
            | {word for word, lang in listed.items() if lang in earlier}
            | name_scripts.ARABIC_GIVEN_NAMES | name_scripts.DUTCH_SURNAMES | name_scripts.DUTCH_AFTER_DE
            | name_scripts.PINYIN_SURNAMES | set(name_scripts.KOREAN_SURNAMES) | name_scripts.VIETNAMESE_ONLY_SURNAMES)


def load_name2nat(path: Path) -> dict[str, list[str]]:
    data = path.read_bytes()
    if (digest := hashlib.sha256(data).hexdigest()) != NAME2NAT_SHA256:
        raise SystemExit(f"{path}: sha256 {digest}, not name2nat 0.5.1's name2nats.pkl ({NAME2NAT_SHA256})")
    return pickle.loads(data)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--name2nat", type=Path, required=True, help="name2nat 0.5.1's name2nat/name2nats.pkl")
    ap.add_argument("--language", nargs="+", choices=name_scripts.FAMILY_NAME_LISTS,
                    default=list(name_scripts.FAMILY_NAME_LISTS),
                    help="the lists to build (default: all), in FAMILY_NAME_LISTS order whatever the order given")
    ap.add_argument("--names-dir", type=Path, default=NAMES_DIR)
    ap.add_argument("--out-dir", type=Path, default=name_scripts.NAME_LISTS_DIR)
    args = ap.parse_args(argv)
    people = person_words(load_name2nat(args.name2nat))  # 54 MB: read, hashed, loaded and normalised once for all
    listed = dict(name_scripts.LISTED_FAMILY_NAMES)  # a list built here replaces the served one for those after it
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for language in (lang for lang in name_scripts.FAMILY_NAME_LISTS if lang in args.language):
        words = family_names(people, listed_elsewhere(args.names_dir, language, listed), list_spec(language))
        listed = {w: lang for w, lang in listed.items() if lang != language} | dict.fromkeys(words, language)
        out = args.out_dir / name_scripts.family_name_list_file(language).name
        header = (f"# {language} family names (models/build_name_lists.py; from name2nat 0.5.1, Apache-2.0, a "
                  "list of\n# Wikipedia people and their nationalities: https://github.com/Kyubyong/name2nat). "
                  "One word a line.\n")
        out.write_text(header + "".join(f"{w}\n" for w in words), encoding="utf-8")
        print(f"{len(words)} words -> {out}")


if __name__ == "__main__":
    main()
