"""Evidence a name's writing carries beyond what the romanised training corpus shows.

- Scripts: Cyrillic, Greek, Hangul, Kana and Arabic letters restrict the answer to the labels
  written in that script (renormalising the model's probabilities over them). Han characters
  alone are ambiguous between Chinese and Japanese: the split between the two comes from rules
  (kana present, common surname lists, simplified-only characters, name length), because the
  model only sees their Mandarin transliteration; whole classes of evidence (the classical
  compound-surname list, Japanese-only character forms, typical Japanese finals), not single names.
  An Arabic name element written in Latin letters (al-, Abdul, Abu, bin: see arabic_name), or a name made of
  Arabic given names only (Khaled, Omar Khaled), restricts the answer to Arabic as the Arabic script does.
- Diacritics the training corpus never contains (ř ů ě, ę ć ź, ư ơ đ and stacked Vietnamese
  marks, ...) are folded to ASCII by the encoder, so they would be lost: here each multiplies
  its languages' probabilities by DIACRITIC_BOOST before renormalising.
- Full names: tokens are split on whitespace; particles (van, der, de, von, O', Mac, ...) attach
  to the following token; the answer is the renormalised geometric mean of the tokens' probabilities.
  Particles and the Mac/Mc/O' prefixes also multiply their languages by PARTICLE_BOOST (Dutch's own particles
  by DUTCH_PARTICLE_BOOST in all), and the Czech feminine ending -ová and the Portuguese -eira, -eiro, -lho, -lha
  multiply their language by SUFFIX_BOOST.
  Words that say nothing about origin are left out of the mean (models/name_words.py): leading forms of address
  and titles (Dr., Mrs, Prof., Herr, Mme, Ing., ...), trailing suffixes (Jr., III, PhD, ...) and Latin initials (J.).
  A Vietnamese middle name (Van, Thi) after a Vietnamese family name is not the Dutch particle: it is left out
  and multiplies Vietnamese by PARTICLE_BOOST ('Nguyen Van An').
  A family name only one of our languages writes so multiplies it by FAMILY_NAME_BOOST: a romanised Korean one
  alone or beside a Korean given name ('Kim', 'Kim Min-jun', 'Kim Minjun'), a Vietnamese one alone ('Bui'); a
  common Dutch one or one on a list of the family names of Wikipedia's people of twelve of our languages
  (models/name_lists/, built by models/build_name_lists.py: 'Bennani' Arabic, 'Sneijder' Dutch, 'Teixeira'
  Portuguese) by LISTED_FAMILY_NAME_BOOST.
  An Arabic given name beside another family name ('Omar Bradley') multiplies Arabic by PARTICLE_BOOST, and so
  does a mainland pinyin full name Chinese ('Li Na').
"""
import re
import unicodedata
from collections.abc import Set as AbstractSet
from functools import lru_cache
from pathlib import Path

from anyascii import anyascii

from models.name_words import PARTICLES, WORD_SEPARATORS, bare_word, bare_words, origin_words, words

SCRIPT_LABELS = {"CYRILLIC": {"Russian"}, "GREEK": {"Greek"}, "HANGUL": {"Korean"}, "HIRAGANA": {"Japanese"},
                 "KATAKANA": {"Japanese"}, "ARABIC": {"Arabic"}, "CJK": {"Chinese", "Japanese"}}
DIACRITIC_BOOST = 20.0
DIACRITICS = {
    "Czech": set("řůěťďňĺľ"),
    "Polish": set("ęćźśżąłń"),
    "Vietnamese": set("ươđăâêôạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ"),
    "Portuguese": set("ãõ"),
    "German": set("ß"),
    "Spanish": set("ñ"),
}
DIACRITIC_LANGS = {ch: {lang for lang, marks in DIACRITICS.items() if ch in marks}  # one lookup per character
                   for ch in set().union(*DIACRITICS.values())}
PARTICLE_BOOST = 5.0
PARTICLE_LABELS = {"van": {"Dutch"}, "der": {"Dutch", "German"}, "den": {"Dutch"}, "ter": {"Dutch"}, "ten": {"Dutch"},
                   "von": {"German"}, "o'": {"Irish"}, "ó": {"Irish"}, "ní": {"Irish"}, "mac": {"Scottish", "Irish"},
                   "mc": {"Scottish", "Irish"}, "di": {"Italian"}, "della": {"Italian"}, "dos": {"Portuguese"},
                   "das": {"Portuguese"}, "del": {"Spanish", "Italian"}}
# van, den, ter and ten are Dutch particles alone (der is German too), yet the corpus's Dutch file holds 266 names and
# one particle (Ter Avest), so x5 left van Dijk Russian and van Nistelrooy French; a Vietnamese Van (Van Nguyen) is
# read by the Vietnamese rule first. Session 22: 50 over 20, chosen on the hand-made rows it was written for (README).
DUTCH_PARTICLES = {"van", "den", "ter", "ten"}
DUTCH_PARTICLE_BOOST = 50.0
# An accented -ová is Czech (or Slovak) spelling that romanised Russian never writes, yet the models, having
# learned -ova as Russian (18 Russian rows per Czech one), put Czech at 4-8 % for Nováková or Procházková:
# x5 left them Russian, x50 lifts every accented Czech feminine form in the real-world set (session 9).
# The Portuguese endings -eira, -eiro (Teixeira, Pinheiro; Spanish writes -era, -ero) and -lho, -lha (Carvalho; Spanish
# writes -jo, Italian -glio): 8 Portuguese and 2 English lines of the corpus end so (Ferreira, Pereira are listed under
# both), and no other; yet Teixeira, Moreira and Nogueira were Japanese, Carvalho Italian (session 23). Same factor.
# Czech surnames of the adjectival kind end in a consonant and -á (feminine: Novotná, Černá, Veselá, three of the ten
# commonest) or -ý (masculine: Novotný, Veselý), which no corpus line does; they were Italian or Spanish, and Russian
# (session 24). Same factor, in a word of four letters or more (not Portuguese Sá, Vietnamese Lý, Quý).
SUFFIX_BOOST = 50.0
SUFFIX_LABELS = {"ová": {"Czech"}, **{ending: {"Portuguese"} for ending in ("eira", "eiro", "eiras", "eiros",
                                                                          "lho", "lha", "lhos", "lhas")},
                 **{f"{consonant}{vowel}": {"Czech"} for consonant in "bcčdďfghjklmnňprřsštťvzž" for vowel in "áý"}}
# A Vietnamese full name puts the family name first and very often a middle name that marks sex: Văn (men), Thị
# (women). Written without diacritics (ASCII forms, passports), 'van' was read as the Dutch particle and 'le' as
# the French one: 'Nguyen Van An' was Vietnamese 0.27 / Dutch 0.23, 'Le Van Luong' French (session 20). After one
# of the common family names (these cover most Vietnamese people; several are names elsewhere too, hence the
# middle-name condition), the middle name is that evidence instead: Vietnamese x PARTICLE_BOOST, and it is left
# out of the mean like a particle with nothing to attach to.
VIETNAMESE_SURNAMES = {"nguyen", "tran", "le", "pham", "hoang", "huynh", "phan", "vu", "vo", "dang", "bui", "do", "ho",
                       "ngo", "duong", "ly", "dinh", "truong", "lam", "mai", "trinh", "doan", "luong", "cao", "ha",
                       "ta", "chu", "luu", "tong", "thai", "chau", "giang", "quach", "kieu", "la",
                       "nguyễn", "trần", "lê", "phạm", "hoàng", "huỳnh", "vũ", "võ", "đặng", "bùi", "đỗ", "hồ",
                       "ngô", "dương", "lý", "đinh", "trương", "lâm", "trịnh", "đoàn", "lương", "hà", "tạ", "lưu",
                       "tống", "thái", "châu", "tôn", "quách", "kiều"}
VIETNAMESE_MIDDLE = {"van", "văn", "thi", "thị"}
# Of those, the spellings no pinyin, Korean or other romanisation of ours writes (not Le, Do, Ho, Ly, Lam, Mai, Cao, Ha,
# Dang: pinyin or Korean too), with four more (Phung, Vuong, Nghiem, Diep): alone, one of these is Vietnamese x
# FAMILY_NAME_BOOST. Bui and Hoang had been Chinese (0.90, 0.64 with the GRU), Vo Russian (session 23).
VIETNAMESE_ONLY_SURNAMES = frozenset(
    "nguyen tran pham phan hoang huynh bui vo vu ngo duong dinh truong trinh doan luong luu quach kieu phung vuong "
    "nghiem diep nguyễn trần phạm hoàng huỳnh bùi võ vũ ngô dương đinh trương trịnh đoàn lương lưu quách kiều phùng "
    "vương nghiêm diệp".split())
# Romanised Korean full names: a family name of its own romanisation and a hyphenated two-syllable given name
# ('Kim Min-jun', 'Min-jun Kim'). The corpus has no Kim at all, and the given name's syllables read as Chinese:
# 7 of 24 hand-made rows were Chinese (GRU, session 20). Only family names that Chinese romanisations do not use
# too (not Lee, Han, Song, Kang, Lim, Cho: 'Lee Teng-hui', 'Han Han'). Since session 23 also such a family name alone
# (Jang, Jeong were Chinese, Baek Russian) and a two-word name whose given name is written as one word ('Kim Minjun'
# was Russian 0.67), at Korean x FAMILY_NAME_BOOST.
KOREAN_SURNAMES = {"kim", "park", "pak", "choi", "choe", "jung", "jeong", "yoon", "jang", "shin", "kwon", "hwang",
                   "ahn", "jeon", "moon", "baek", "bae", "ryu", "noh", "seo", "oh", "son", "ban", "yoo",
                   "heo", "chae", "kwak", "byun", "eom", "suh"}
_KOREAN_SYLLABLE = re.compile(r"(?:kk|tt|pp|ss|jj|ch|sh|[gkndtrlmbpsjh])?[wy]?(?:ae|eo|eu|oe|ui|oo|ee|ou|[aeiou])"
                              r"(?:ng|[kntlmp])?")
# The commonest Dutch family names (from the published lists of the Netherlands' most common surnames; words after van,
# van der, de written alone: dijk, meer, heuvel) that none of our other languages writes: the corpus's Dutch file has
# 266 names and few of these, so Bakker was Russian 0.67, de Vries French 0.58 and Virgil van Dijk Russian 0.59 with
# the GRU, despite the Dutch particle (session 24). Jong, Boer and Lange only after 'de' (Korean Jong; the corpus's
# German Boer, English and German Lange). Not Berg, Linden, Maas, Smit, Jansen, Janssen, Peters, Jacobs (German or
# English too, or corpus names under those). Family name plus at most a given name (particles aside): Dutch x
# LISTED_FAMILY_NAME_BOOST. That was 200 and not 50 (session 24): the models are surer of another language for these
# than for the Korean and Vietnamese ones (Bakker Russian 0.87 with the LSTM): of the 50 Dutch rows written before the
# list, the LSTM had 15 wrong at x50, 8 at x200, 7 at x1000; 5 of those are names the list leaves out (Jansen, Maas,
# Blom). Since session 26 a second list, built as the Arabic one below, adds the family names of Wikipedia's Dutch
# people (FAMILY_NAME_LISTS), and both lists multiply Dutch by 5000, the factor chosen for that list.
DUTCH_SURNAMES = frozenset("""
    dijk bakker visser meijer mulder groot bos vos hendriks leeuwen dekker brouwer wit dijkstra smits graaf meer haan
    vermeulen heuvel veen broek bruijn bruin heijden schouten beek willems vliet ven hoekstra verhoeven koster dam wal
    prins huisman peeters kuipers wijk postma kuiper veenstra brink scholten wijngaarden vink ploeg timmermans dongen
    groen jonker kuijpers wouters gerritsen bosman rijn rooij schipper claassen mol loon koning zwart doorn verbeek
    groenewegen hofman koopman hoogendoorn molenaar ruiter wiersma kok bruggen wijnen dekkers hoek smeets
    vries""".split())
DUTCH_AFTER_DE = frozenset({"jong", "boer", "lange"})
_DUTCH_LISTED = DUTCH_SURNAMES | DUTCH_AFTER_DE
# A family name that only one of our languages writes so (a Korean one, alone or with its given name; a Vietnamese one
# alone): that language x50, as Dutch for its particles. At x5 'Kim Minjun' stayed Russian; x50 was chosen over x20
# on the Korean rows (session 23).
FAMILY_NAME_BOOST = 50.0
NAME_LISTS_DIR = Path(__file__).resolve().parent / "name_lists"


def read_name_list(path: Path) -> frozenset[str]:
    """A list models/build_name_lists.py wrote: one word a line, '#' lines are its header."""
    return frozenset(line for line in path.read_text(encoding="utf-8").split("\n") if line and not line.startswith("#"))


# Family names from Wikipedia's people (models/build_name_lists.py says how they are chosen). Arabic first (session
# 25): the corpus's Arabic file holds 100 Levantine ones, so the models read most others as another language (Bennani
# Italian 0.89, Khashoggi Japanese 0.96, Jumblatt English 0.88 with the GRU); its list holds the family names that
# name2nat's people of Arab League nationalities bear and those of our other languages' countries, of Iran, Turkey,
# Pakistan and Israel mostly do not. Built from half of name2nat's people and scored on the family names of people of
# the other half, its factor was chosen between 200, 1000 and 5000 on one quarter and measured on the last: Arabic for
# 0.437 -> 0.582 of Arab people's family names (GRU), 0.11 % more of other people's answered Arabic. Session 26 built
# Dutch's the same way (Bergkamp, Sneijder: the same choice of 5000; Dutch for 0.325 -> 0.476 of Dutch people's family
# names, 0.14 % more of other people's answered Dutch), then the other languages whose people name2nat records under
# their nationalities (not Chinese, Korean or Vietnamese, which Wikipedia often writes family name first, nor Polish or
# Scottish, which it has no people of, nor Irish, which lowered the validation split). FAMILY_NAME_LISTS is the order
# the lists take words in (a word is on one list at most). A listed word, with at most one more word beside it (Arabic
# given names and particles aside), multiplies its language by LISTED_FAMILY_NAME_BOOST: on a held-out quarter of
# name2nat's people 0.582 with no list -> 0.669 with all twelve, and the corpus's test split as served 0.820 (the
# Arabic and Dutch lists) -> 0.854 (GRU; README, "Names as signup forms send them").
FAMILY_NAME_LISTS = ("Arabic", "Dutch", "English", "German", "French", "Italian", "Spanish", "Portuguese", "Russian",
                     "Czech", "Greek", "Japanese")
LISTED_FAMILY_NAME_BOOST = 5000.0


def family_name_list_file(language: str) -> Path:
    return NAME_LISTS_DIR / f"{language.lower()}_family_names.txt"


# word -> language of the list that holds it, for one dict look a word (149,072 words: +16 MB a process)
LISTED_FAMILY_NAMES = {word: language for language in FAMILY_NAME_LISTS
                       for word in read_name_list(family_name_list_file(language))}


def family_name_boost(label: str) -> float:
    """Korean and Vietnamese family names (FAMILY_NAME_BOOST) or those of a list (Dutch's hand-made one too)."""
    return FAMILY_NAME_BOOST if label in ("Korean", "Vietnamese") else LISTED_FAMILY_NAME_BOOST


_KOREAN_GIVEN_JOINED = re.compile(f"(?:{_KOREAN_SYLLABLE.pattern}){{2}}")  # 'minjun', 'jisoo', 'hyunwoo'
# One Vietnamese syllable, its marks folded (onset, vowels, final): every word of such a name is one, where Dutch
# names after 'van' mostly are not ('Ton van Dijk', 'Mai van Leeuwen').
_VIETNAMESE_SYLLABLE = re.compile(r"(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdghklmnprstvx])?[aeiouy]{1,3}"
                                  r"(?:ng|nh|ch|[cmnpt])?")
CHINESE_SURNAMES = set("王李张刘陈杨黄赵吴周徐孙马朱胡郭何罗郑梁谢宋唐许韩冯邓曹彭曾肖董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
                       "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
                       "張劉陳楊黃趙吳孫馬鄭謝韓馮鄧蕭葉蘇呂盧鍾譚陸賈韋鄒龔萬錢湯")
# The compound surnames of the Hundred Family Surnames (百家姓), simplified and traditional: the whole
# classical list, so any compound surname is a lookup rather than a guess.
CHINESE_COMPOUND = set("""万俟 司马 上官 欧阳 夏侯 诸葛 闻人 东方 赫连 皇甫 尉迟 公羊 澹台 公冶 宗政 濮阳 淳于 单于 太叔
    申屠 公孙 仲孙 轩辕 令狐 钟离 宇文 长孙 慕容 鲜于 闾丘 司徒 司空 亓官 司寇 仉督 子车 颛孙 端木 巫马 公西 漆雕
    乐正 壤驷 公良 拓跋 夹谷 宰父 谷梁 段干 百里 东郭 南门 呼延 归海 羊舌 微生 梁丘 左丘 东门 西门 南宫 第五
    萬俟 司馬 歐陽 諸葛 聞人 東方 赫連 尉遲 單于 公孫 軒轅 鍾離 長孫 鮮于 閭丘 顓孫 樂正 壤駟 夾谷 東郭 南門
    歸海 東門 西門""".split())
# Characters written this way only in Japanese: kokuji (辻, 畑, 榊 ...) and shinjitai forms that differ
# from both simplified and traditional Chinese (関 vs 关/關, 沢 vs 泽/澤, 辺 vs 边/邊, 斎 vs 斋/齋 ...).
JAPANESE_ONLY = set("辻畑畠峠榊栃笹雫杢椛柾樫込関沢辺広斎斉桜浜滝竜栄恵蔵鉄塩徳黒嶋﨑瀬檜桧")
# Final characters typical of Japanese two-character surnames (熊谷, 大塚, 岡崎) and rare at the end
# of a Chinese surname + given name.
JAPANESE_FINALS = set("谷塚崎嵜瀬沢澤島嶋畑畠藤部橋岡浦尾野田川村井本木口原坂")
JAPANESE_SURNAMES = {"佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "渡邊", "山本", "中村", "小林", "加藤", "吉田", "山田", "佐々木",
                     "山口", "松本", "井上", "木村", "清水", "山崎", "森", "池田", "橋本", "阿部", "石川", "山下", "中島",
                     "石井", "小川", "前田", "岡田", "長谷川", "藤田", "後藤", "近藤", "村上", "遠藤", "青木", "坂本", "斉藤",
                     "斎藤", "福田", "太田", "西村", "藤井", "金子", "岡本", "藤原", "中野", "三浦", "原田", "中川", "松田",
                     "竹内", "小野", "田村", "中山", "和田", "石田", "森田", "上田", "原", "内田", "柴田", "酒井", "宮崎",
                     "横山", "高木", "安藤", "宮本", "大野", "小島", "谷口", "今井", "工藤", "高田", "増田", "丸山", "杉山",
                     "村田", "大塚", "新井", "小山", "平野", "藤本", "河野", "上野", "野口", "武田", "松井", "千葉", "岩崎",
                     "菅原", "木下", "久保", "佐野", "野村", "松尾", "菊地", "杉本", "市川", "古川", "大西", "島田", "水野",
                     "桜井", "高野", "渡部", "吉川", "山内", "西田", "飯田", "菅野", "服部", "五十嵐", "北村", "小松", "黒田",
                     "安田", "中田", "山中", "大橋", "荒木", "本田", "小池", "宮田", "秋山", "大久保", "平田", "永井", "松下"}
JAPANESE_PREFIXES = tuple(s for s in JAPANESE_SURNAMES if len(s) >= 2)  # for str.startswith
SIMPLIFIED_ONLY = set("张陈刘杨黄赵吴孙马郑谢韩冯邓萧叶苏吕卢钟谭陆贾韦邹龚万钱汤东门书见贝车长马鸟鱼龙华伟军丽")


@lru_cache(maxsize=8192)
def char_script(ch: str) -> str | None:
    """A letter's script (first word of its Unicode name), None for anything else. Cached: every
    request checks every character of every name, from a small alphabet."""
    return unicodedata.name(ch, "UNKNOWN").split(" ")[0] if unicodedata.category(ch).startswith("L") else None


def scripts(text: str) -> set[str]:
    """Unicode scripts of the letters in `text`."""
    found = {char_script(ch) for ch in text}
    found.discard(None)
    return found


SUPPORTED_SCRIPTS = {"LATIN", *SCRIPT_LABELS}


def is_supported(name: str) -> bool:
    """True when the name has letters and at least one in a script our labels use."""
    return bool(scripts(name) & SUPPORTED_SCRIPTS)


def allowed_labels(text: str) -> set[str] | None:
    """Labels the non-Latin scripts in `text` allow, {'Arabic'} for a Latin-script name with an Arabic name
    element or of Arabic given names only ('khaled', 'omar khaled'), or None (no restriction)."""
    allowed = set()
    for script in scripts(text):
        allowed |= SCRIPT_LABELS.get(script, set())
    if not allowed:
        given, words_in_all = arabic_given_names(text)
        if arabic_name(text) or given == words_in_all:  # an Arabic name element, or Arabic given names only
            return {"Arabic"}
    return allowed or None


# Romanised Arabic names carry name elements that none of our other languages writes as words: the article al-/el-
# (Al-Farsi, El-Sayed, Abd al-Rahman), Abd/Abdul/Abdel ("servant of": Abdul Rahman), Abu ("father of": Abu Bakr),
# Ibn/Bin/Bint ("son/daughter of": Mohammed bin Salman). The corpus's Arabic file holds 100 Levantine surnames and
# none of these, so the models put Arabic near zero ('al-farsi' Italian, 'abu khalil' Russian): 46 hand-made rows
# scored GRU 0.087, LSTM 0.087, RNN 0.0 (session 22), and x50 on Arabic still left a third of them wrong. Such an
# element settles the language as a script does. No corpus name holds any of these words.
ARABIC_ELEMENTS = {"abd", "abdul", "abdel", "abu", "ibn", "bint"}
_ARABIC_ARTICLE = re.compile(r"(?:^|[\s,.])(?:al|el)-\w|(?:^|[\s,.])el\s+\w|\S\s+al\s+\w")
_MAYBE_ARABIC = re.compile(r"(?:^|[\s,.])(?:al|el|abd|abdul|abdel|abu|ibn|bint|bin)[\s-]")
# Abd and its article written as one word with the name that follows (Abdullah, Abdelkader, Abdulaziz); the corpus's
# 47 Russian names built so carry a Russian ending (Abdulaev, Abdulin, Abdurakhmanov), and 'abdi' (English) is short.
_ARABIC_ABD_JOINED = re.compile(r"abd(?:ul|el|al|ol|ur|ou)[a-z]{3,}")
_RUSSIAN_ENDINGS = ("ov", "off", "ev", "eff", "in", "yn", "ova", "eva", "ina")


def arabic_name(normalised: str) -> bool:
    """Whether a Latin-script name carries an Arabic name element: the article joined by a hyphen ('al-farsi',
    'abd el-kader'), 'el' before a word ('el amrani'), 'al' before a word after another one ('zayed al nahyan'; a
    leading 'Al' is a given name too: Al Gore); abd, abdul, abdel, abu, ibn or bint before a word; 'bin' between
    two words ('mohammed bin salman'; at either end it is a Chinese given name too: Wang Bin, Bin Wang); Abd joined
    to its article and name ('abdullah', 'abdelkader'), without a Russian ending ('abdulaev')."""
    maybe_abd, maybe_other = "abd" in normalised, _MAYBE_ARABIC.search(normalised)  # cheap looks first
    if not (maybe_abd or maybe_other):
        return False
    origin = origin_words(words(normalised))
    if maybe_abd and any(_ARABIC_ABD_JOINED.fullmatch(w) and not w.endswith(_RUSSIAN_ENDINGS) for w in origin):
        return True
    if not maybe_other:
        return False
    return bool(_ARABIC_ARTICLE.search(normalised)) or any(w in ARABIC_ELEMENTS or (w == "bin" and i > 0)
                                                            for i, w in enumerate(origin[:-1]))


# The Arabic given names that are family names too, as Arabic-speaking countries pass the father's or grandfather's
# name on (Mustafa, Khaled, Hassan), in their common romanisations; the Arabic file of the corpus has 100 Levantine
# family names and few of these, and its English file lists 22 of them as English (Hassan, Mohammed: names found in
# England), so Khaled was English 0.67 and Musa Japanese 0.95: 50 hand-made rows scored GRU 0.32, LSTM 0.28, RNN 0.34
# (session 23). A name of such words only is Arabic, as an Arabic name element makes it; one such word beside a family
# name of another language is evidence (x PARTICLE_BOOST), not proof: Omar Bradley, Ali Smith. Left out: the names
# that our other languages write too (Adam, Elias, Ismael, Sara, Nadia, Nora, Lina, Mona, Dalia, Isa, Idris).
ARABIC_GIVEN_NAMES = frozenset("""
    muhammad mohammed mohamed mohammad muhammed mohamad ahmed ahmad ali hassan hasan hussein hussain husain
    hussien ibrahim ebrahim khalil mahmoud mahmood mahmud mustafa mostafa moustafa mustapha omar umar youssef
    yousef yusuf yousuf yousif saleh salih saeed said sayed sayyid hamid hamed karim kareem rashid rachid
    rasheed nasser nasir naser jamal gamal aziz khalid khaled abbas ismail osman othman uthman suleiman sulaiman
    soliman salah tariq tarek tarik amin amine ameen ayoub ayub yasin yassin yassine issa musa moussa farouk
    farouq faruk hamza hamzah bilal anwar fahad fahd faisal faysal nabil samir sameer walid waleed habib jamil
    jameel majid magdy mansour mansoor marwan mourad murad nour noor nader qasim kassem qassem kasim rami riad
    riyad sami samy sharif sherif talal wael yahya zakaria zakariya zaid zayed ziad ziyad adel adil amr ashraf
    ayman bashir bakr fouad fuad ghassan hatem hisham imad emad ihab jaber jabir kamal kamel mahdi mehdi mounir
    munir nasr raed saad sabri salim saleem salem sultan tamer tawfiq yasser yasir younes youness yunus zuhair
    hadi hakim hashem hashim ilyas abdallah abdullah
    fatima fatma aisha aicha ayesha khadija khadijah zainab zaynab zeinab maryam mariam amina aminah noura
    yasmin yasmine layla leila laila salma huda hoda rania hanan samira samia reem zahra asma asmaa basma ghada
    hiba iman imane jamila karima latifa lubna manal maha malak marwa nawal nisreen rasha rawan safaa sahar
    wafaa widad yusra""".split())


def arabic_given_names(normalised: str) -> tuple[int, int]:
    """(how many of the name's origin words are Arabic given names, how many origin words it has); (0, -1) for a name
    with none."""
    origin = _origin_holding(normalised, ARABIC_GIVEN_NAMES)
    return (0, -1) if origin is None else (sum(w in ARABIC_GIVEN_NAMES for w in origin), len(origin))


# Letters that none of our 18 languages writes but languages we do not cover do: Turkish ı ş ğ İ, Romanian ș ț ţ,
# Danish and Norwegian ø, Scandinavian å, Hungarian ő ű, Icelandic ð þ, Lithuanian and Latvian ė į ų ķ ļ ņ ģ. The
# models can only answer one of ours (Şahin Russian 0.87, Sørensen English), so a name written with one is answered
# low_confidence: a form then suggests rather than pre-selects (session 22). Not ă or đ (Vietnamese too), æ (French
# Lætitia), č š ž (Czech), ć (Polish), macrons (Japanese Hepburn). No corpus line holds any of them.
OTHER_LANGUAGE_LETTERS = frozenset("ıİşŞğĞșȘțȚţŢøØåÅőŐűŰðÐþÞėĖįĮųŲķĶļĻņŅģĢ")
# Word endings of the same kind, written in letters our languages share: Romanian -escu, -eanu (Popescu was Italian
# 0.96), South Slavic -ić (Kovačević Czech 0.86), Lithuanian -auskas, Turkish -oglu, Icelandic -dottir. No corpus
# name ends so; not the ASCII -ic or -vic (Antic, Michalovic are corpus names), nor -aitis or -sson (corpus names
# under Russian and English).
OTHER_LANGUAGE_ENDINGS = ("escu", "eanu", "ić", "auskas", "oglu", "dottir", "dóttir")
# An ending after at least two letters of the same word, at the end of its letters (punctuation or a digit may
# follow: this reads the name as sent)
_OTHER_LANGUAGE_ENDING = re.compile(rf"\w\w({'|'.join(OTHER_LANGUAGE_ENDINGS)})(?![^\W\d_])")


def other_language_evidence(name: str) -> list[str]:
    """What in `name` none of our languages writes, in order: its distinct letters as written ('ş'), and the endings of
    its words ('-escu'); compatibility forms read as normalise reads them (full-width Ｐｏｐｅｓｃｕ too)."""
    if name.isascii():
        found = []
    else:
        name = unicodedata.normalize("NFKC", name)
        found = [ch for ch in name if ch in OTHER_LANGUAGE_LETTERS]
    found += [f"-{m.group(1)}" for m in _OTHER_LANGUAGE_ENDING.finditer(name.lower())]
    return list(dict.fromkeys(found))


def low_confidence(top_probability: float, evidence: list[str], threshold: float) -> bool:
    """An answer's low_confidence, the service's and the real-world report's alike: the top probability under the
    threshold, or other_language_evidence (whatever the models say, the name is likely none of our languages)."""
    return top_probability < threshold or bool(evidence)


def japanese_share_of_han(text: str) -> float:
    """P(Japanese | Chinese or Japanese) for a name written with Han characters (kana settles it)."""
    found = scripts(text)
    if found & {"HIRAGANA", "KATAKANA"}:
        return 0.99
    if "々" in text:  # the iteration mark (佐々木) is a Japanese habit
        return 0.95
    han = "".join(ch for ch in text if unicodedata.name(ch, "").startswith("CJK"))
    if not han:
        return 0.5
    if han.startswith(JAPANESE_PREFIXES) or han in JAPANESE_SURNAMES or any(ch in JAPANESE_ONLY for ch in han):
        return 0.9
    if han[:2] in CHINESE_COMPOUND or any(ch in SIMPLIFIED_ONLY for ch in han):
        return 0.05
    if len(han) == 2 and han[1] in JAPANESE_FINALS:
        return 0.8
    if han[0] in CHINESE_SURNAMES and len(han) <= 3:
        return 0.15
    return 0.75 if len(han) >= 2 else 0.3  # Japanese surnames are mostly 2+ characters, Chinese mostly 1


def diacritic_labels(text: str) -> set[str]:
    return {lang for ch in text for lang in DIACRITIC_LANGS.get(ch, ())}


def vietnamese_full_name(origin: list[str]) -> bool:
    """Whether origin words read as a Vietnamese full name with its middle name: 'nguyen van an', 'tran thi mai',
    in either order ('van an, nguyen'): a Văn or Thị that a name follows (not a particle: 'van der ...'), and a
    Vietnamese family name among the other words."""
    if len(origin) == 2:  # 'van nguyen', 'nguyen thi': the given name left out, as forms abroad often get it
        a, b = origin
        return ((a in VIETNAMESE_MIDDLE and b in VIETNAMESE_SURNAMES)
                or (b in VIETNAMESE_MIDDLE and a in VIETNAMESE_SURNAMES))
    if len(origin) < 3:
        return False
    middle = [i for i, w in enumerate(origin[:-1]) if w in VIETNAMESE_MIDDLE and origin[i + 1] not in PARTICLES]
    return (bool(middle) and any(w in VIETNAMESE_SURNAMES for i, w in enumerate(origin) if i not in middle)
            and all(_VIETNAMESE_SYLLABLE.fullmatch(anyascii(w)) for w in origin))  # marks folded: nguyễn -> nguyen


_NOT_LETTERS = re.compile(r"[\W\d_]+")


def _origin_holding(normalised: str, names: AbstractSet[str]) -> list[str] | None:
    """A name's origin words when one of `names` is among them, else None (most names: after one set look). The look
    splits on everything but letters, hyphens and digits too ('omar-khaled', 'kim2'): no list word holds any, so it
    never turns away a name whose origin words hold a list word."""
    if names.isdisjoint(_NOT_LETTERS.split(normalised)):
        return None
    origin = origin_words(words(normalised))
    return origin if not names.isdisjoint(origin) else None


def korean_name(normalised: str) -> bool:
    """Whether a name reads as a romanised Korean one: a Korean family name alone ('kim', 'dr. kwon'), or among its
    words with a given name of two Korean syllables, hyphenated ('kim min-jun', 'min-jun, kim') or, in a name of two
    words, joined ('kim minjun', 'minjun kim'); not 'kim smith-jones', 'jo-ann park', 'kim jones'."""
    origin = _origin_holding(normalised, KOREAN_SURNAMES)
    if origin is None:
        return False
    if len(origin) == 1:
        return True
    if len(origin) == 2 and _KOREAN_GIVEN_JOINED.fullmatch(origin[1] if origin[0] in KOREAN_SURNAMES else origin[0]):
        return True
    for word in WORD_SEPARATORS.split(normalised):  # 'dr.min-jun park' too
        halves = bare_word(word).split("-")
        if len(halves) == 2 and all(_KOREAN_SYLLABLE.fullmatch(h) for h in halves):
            return True
    return False


def dutch_family_name(normalised: str) -> bool:
    """Whether a name is a common Dutch family name, alone or with a given name: 'bakker', 'jan de vries', 'van dijk',
    'de jong, frenkie'; not 'jong' or 'kim jong-un' (de Jong only), not 'anna maria bakker smith'."""
    origin = _origin_holding(normalised, _DUTCH_LISTED)
    if origin is None or sum(w not in PARTICLES for w in origin) > 2:
        return False
    return any(w in DUTCH_SURNAMES or (w in DUTCH_AFTER_DE and i and origin[i - 1] == "de")
               for i, w in enumerate(origin))


def listed_family_name_labels(normalised: str) -> set[str]:
    """The languages of the listed family names a name holds, beside at most one more word other than Arabic given
    names and particles: 'bennani', 'amin gemayel', 'mohamed ahmed bennani' -> Arabic; 'wesley sneijder' -> Dutch;
    nothing for 'anna maria gemayel smith'."""
    origin = _origin_holding(normalised, LISTED_FAMILY_NAMES.keys())
    if origin is None or sum(w not in PARTICLES and w not in ARABIC_GIVEN_NAMES for w in origin) > 2:
        return set()
    return {LISTED_FAMILY_NAMES[w] for w in origin if w in LISTED_FAMILY_NAMES}


def family_name_labels(normalised: str) -> set[str]:
    """The language of a family name only it writes so: 'kim', 'kim minjun', 'kim min-jun' -> Korean; 'bakker', 'jan
    de vries' -> Dutch; 'bennani', 'amin gemayel' -> Arabic (listed); 'bui', 'nguyễn' alone -> Vietnamese."""
    if korean_name(normalised):
        return {"Korean"}
    if dutch_family_name(normalised):
        return {"Dutch"}
    if listed := listed_family_name_labels(normalised):
        return listed
    origin = _origin_holding(normalised, VIETNAMESE_ONLY_SURNAMES)
    return {"Vietnamese"} if origin is not None and len(origin) == 1 else set()


# Mainland Chinese full names in pinyin ('Li Na', 'Hu Jun', 'Zhou Enlai'): every word one to four pinyin syllables,
# written without hyphens (those are Wade-Giles and Korean given names: 'Lee Teng-hui', 'Kim Min-jun'), one of them a
# common Chinese family name: Chinese x PARTICLE_BOOST. The corpus's Chinese and Korean files share many one-syllable
# words, so 'Li Na' was Korean 0.79 with the GRU and 'Sun Li' 0.81 (session 23). A Korean name of such syllables after
# a family name both write (Han Yuna, Kang Subin) reads the same and goes more Chinese too; x50 made those Chinese at
# 0.85-0.99, so the factor stays 5.
PINYIN_SYLLABLES = frozenset("""
    a o e ai ei ao ou an en ang eng er
    ba bo bai bei bao ban ben bang beng bi bie biao bian bin bing bu
    pa po pai pei pao pou pan pen pang peng pi pie piao pian pin ping pu
    ma mo me mai mei mao mou man men mang meng mi mie miao miu mian min ming mu
    fa fo fei fou fan fen fang feng fu
    da de dai dei dao dou dan den dang deng dong di die diao diu dian ding du duo dui duan dun
    ta te tai tao tou tan tang teng tong ti tie tiao tian ting tu tuo tui tuan tun
    na ne nai nei nao nou nan nen nang neng nong ni nie niao niu nian nin niang ning nu nuo nuan nv nve
    la le lai lei lao lou lan lang leng long li lia lie liao liu lian lin liang ling lu luo luan lun lv lve lyu
    ga ge gai gei gao gou gan gen gang geng gong gu gua guo guai gui guan gun guang
    ka ke kai kei kao kou kan ken kang keng kong ku kua kuo kuai kui kuan kun kuang
    ha he hai hei hao hou han hen hang heng hong hu hua huo huai hui huan hun huang
    ji jia jie jiao jiu jian jin jiang jing jiong ju jue juan jun
    qi qia qie qiao qiu qian qin qiang qing qiong qu que quan qun
    xi xia xie xiao xiu xian xin xiang xing xiong xu xue xuan xun
    zha zhe zhi zhai zhei zhao zhou zhan zhen zhang zheng zhong zhu zhua zhuo zhuai zhui zhuan zhun zhuang
    cha che chi chai chao chou chan chen chang cheng chong chu chua chuo chuai chui chuan chun chuang
    sha she shi shai shei shao shou shan shen shang sheng shu shua shuo shuai shui shuan shun shuang
    re ri rao rou ran ren rang reng rong ru ruo rui ruan run
    za ze zi zai zei zao zou zan zen zang zeng zong zu zuo zui zuan zun
    ca ce ci cai cao cou can cen cang ceng cong cu cuo cui cuan cun
    sa se si sai sao sou san sen sang seng song su suo sui suan sun
    ya yo ye yao you yan yin yang ying yong yi yu yue yuan yun
    wa wo wai wei wan wen wang weng wu""".split())
PINYIN_SURNAMES = frozenset("""
    wang li zhang liu chen yang huang zhao wu zhou xu sun ma zhu hu guo he gao lin luo zheng liang xie song tang han
    feng deng cao peng zeng xiao tian dong yuan pan cai jiang yu du ye cheng su wei lv lu ding ren shen yao cui zhong
    tan fan jin shi liao jia xia fu fang bai zou meng xiong qin qiu yin xue yan duan lei hou long tao gu mao hao gong
    shao wan qian dai mo kong xiang kang chang ouyang sima zhuge""".split())
_PINYIN_WORD = re.compile(f"(?:{'|'.join(sorted(PINYIN_SYLLABLES, key=len, reverse=True))}){{1,4}}")


_HYPHENATED = re.compile(r"[^\W\d_]-[^\W\d_]")  # a hyphen between letters: 'teng-hui', not 'li na -'


def pinyin_full_name(normalised: str) -> bool:
    """Whether a name of two or more words reads as mainland pinyin: every word one to four pinyin syllables, one a
    Chinese family name, no hyphen ('li na', 'zhou enlai', 'jie chen'; not 'lee teng-hui', 'anna smith')."""
    origin = None if _HYPHENATED.search(normalised) else _origin_holding(normalised, PINYIN_SURNAMES)
    return origin is not None and len(origin) >= 2 and all(_PINYIN_WORD.fullmatch(w) for w in origin)


def particle_labels(normalised: str) -> set[str]:
    """Languages suggested by the name's particles: 'van der berg' -> Dutch, "o'neill" -> Irish; a Vietnamese
    middle name after a Vietnamese family name -> Vietnamese ('nguyen van an')."""
    written = bare_words(normalised)
    if VIETNAMESE_MIDDLE.intersection(written) and vietnamese_full_name(origin_words(words(normalised))):
        return {"Vietnamese"}
    found = set()
    for word in written:
        key = "o'" if word.startswith("o'") else "mac" if word.startswith("mac") and len(word) > 4 else \
            "mc" if word.startswith("mc") and len(word) > 3 else word
        found |= PARTICLE_LABELS.get(key, set())
    return found


# The endings by length: a word's last n letters looked up, a few dict look-ups a word instead of 59 endswith calls
_SUFFIXES_BY_LENGTH = {n: {suffix: labels for suffix, labels in SUFFIX_LABELS.items() if len(suffix) == n}
                       for n in sorted({len(suffix) for suffix in SUFFIX_LABELS})}


def suffix_labels(normalised: str) -> set[str]:
    """Languages suggested by a word's ending: 'nováková', 'novotná', 'novotný' -> Czech; an ending leaves two letters
    or more before it ('sá' is no -á name)."""
    found = set()
    for word in bare_words(normalised):
        for n, endings in _SUFFIXES_BY_LENGTH.items():
            if len(word) >= n + 2 and (labels := endings.get(word[-n:])):
                found |= labels
    return found


def latin_evidence(name: str) -> list[tuple[str, float]]:
    """(language, factor) for each piece of evidence in a Latin-script name that the corpus cannot teach:
    diacritics, particles and prefixes, family names only one language writes, Arabic given names, pinyin full
    names, endings."""
    particles = particle_labels(name)
    dutch = "Dutch" in particles and not DUTCH_PARTICLES.isdisjoint(bare_words(name))
    return ([(label, DIACRITIC_BOOST) for label in diacritic_labels(name)]
            + [(label, PARTICLE_BOOST) for label in particles]
            + [("Dutch", DUTCH_PARTICLE_BOOST / PARTICLE_BOOST)] * dutch
            + [(label, family_name_boost(label)) for label in family_name_labels(name)]
            + [("Arabic", PARTICLE_BOOST)] * (0 < arabic_given_names(name)[0])
            + [("Chinese", PARTICLE_BOOST)] * pinyin_full_name(name)
            + [(label, SUFFIX_BOOST) for label in suffix_labels(name)])


# Japanese passports write a long final ō as 'oh' (SATOH, KONDOH), and many people write it 'ou' (Satou): the corpus
# has Sato and Kondo, and holds Satoh and Itoh once each, so Satoh was Arabic (GRU 0.82), Kondoh English and Kondou
# Greek (session 22). A word of one or two Hepburn syllables and a final toh, doh, tou or dou reads as the -o form.
# Not Christou or Papadatou (Greek: no Hepburn syllables, or more of them), Teoh, Loh, Toh or Dou (Chinese).
_HEPBURN_SYLLABLE = r"(?:(?:kk|ss|tt|pp|sh|ch|ts|ky|gy|ny|hy|by|py|my|ry|[kgszdnhbpmrwfj])?[aiueo]|n)"
_JAPANESE_LONG_O = re.compile(rf"({_HEPBURN_SYLLABLE}{{1,2}}[td]o)[hu]")


def japanese_long_o(word: str) -> str:
    """'satoh' -> 'sato', 'kondou' -> 'kondo'; any other word as it is."""
    if not word.endswith(("oh", "ou")):
        return word
    found = _JAPANESE_LONG_O.fullmatch(word)
    return found.group(1) if found else word


def tokens(normalised: str) -> list[str]:
    """Name parts with particles attached to what follows: 'mary o'neill' -> ['mary', "o'neill"],
    'jan van der berg' -> ['jan', 'van der berg'], 'dr. hans müller' -> ['hans', 'müller']; a Japanese long final o
    as the corpus writes it ('satoh' -> 'sato')."""
    origin = [japanese_long_o(w) for w in origin_words(words(normalised))]
    if vietnamese_full_name(origin):  # 'nguyen van an' -> ['nguyen', 'an']: the middle name is evidence, not a part
        return [w for w in origin if w not in VIETNAMESE_MIDDLE]
    parts, pending = [], []
    for word in origin:
        if word in PARTICLES or word == "o'":
            pending.append(word)
            continue
        parts.append(" ".join(pending + [word]))
        pending = []
    if pending:
        parts.append(" ".join(pending))
    return parts or [normalised]
