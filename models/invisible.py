"""Format characters (Unicode category Cf, as Python 3.11's Unicode 14 lists them): invisible, in no name of the
corpus and no entry of the lexicon, yet carried along when text is copied from web pages and documents: soft
hyphens, zero-width spaces and joiners, bidirectional marks, a byte-order mark. Read inside a word they were one
more character ([UNK] for both models: Sch<ZWJ>midt was German 0.75 instead of 0.83), so both readers drop them;
tests/test_names_models.py holds this class to the runtime's category Cf."""
import re

FORMAT_CHARACTERS = re.compile(
    "[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U00013438\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]")


def visible(text: str) -> str:
    """`text` without format characters."""
    return FORMAT_CHARACTERS.sub("", text)
