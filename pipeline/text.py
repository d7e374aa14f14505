"""Script-aware text keys and counts, with Arabic treated as first-class.

Arabic news copy varies in ways that do not change meaning: optional
diacritics, tatweel (kashida) stretching, hamza-on-alef spelling, Persian
keyboard letters, Arabic-Indic digits and invisible bidi marks. Hashes built
on raw text would treat those variants as different stories.
"""

import hashlib
import unicodedata

_ALEF = "\u0627"
_YEH = "\u064a"
_HEH = "\u0647"
_TATWEEL = "\u0640"

# Applied after NFKC, so presentation forms are already plain letters.
_ARABIC_FOLD: dict[int, str | None] = {
    **{cp: None for cp in range(0x064B, 0x0660)},  # harakat, shadda, sukun, hamza marks
    0x0670: None,  # superscript (dagger) alef
    **{cp: None for cp in range(0x06D6, 0x06EE)},  # Quranic annotation marks
    ord(_TATWEEL): None,
    0x0623: _ALEF, 0x0625: _ALEF, 0x0622: _ALEF, 0x0671: _ALEF,  # أ إ آ ٱ
    0x0649: _YEH,  # alef maksura ى
    0x06CC: _YEH,  # Persian/Urdu yeh ی
    0x06A9: "\u0643",  # keheh ک -> kaf ك
    0x0629: _HEH,  # taa marbuta ة
    0x06C3: _HEH,  # Urdu taa marbuta goal ۃ
    0x06C1: _HEH,  # Urdu heh goal ہ
    **{0x0660 + d: str(d) for d in range(10)},  # Arabic-Indic digits
    **{0x06F0 + d: str(d) for d in range(10)},  # Persian digits
}

# Apostrophes and hyphens join letters ("don't", "state-run"); decimal and
# thousands separators join digits ("3.5", "1,000", "٣٫٥").
_LETTER_JOINERS = frozenset("'\u2019\u02bc-\u2010\u2011")
_DIGIT_JOINERS = frozenset(".,\u066b\u066c")


def normalize_for_hash(text: str) -> str:
    """Fold spelling variants so equivalent texts share one hashing key.

    The key is lossy by design (no punctuation, no diacritics) and must never
    be stored or shown.
    """
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_ARABIC_FOLD)
    chars = []
    for ch in folded:
        category = unicodedata.category(ch)
        if category == "Cf":  # zero-width and bidi controls are invisible: drop
            continue
        chars.append(" " if category[0] in "PSZ" or category == "Cc" else ch)
    return " ".join("".join(chars).split())


def content_hash(text: str) -> str:
    """Short sha256 of the normalized text; "" when nothing is left to hash."""
    key = normalize_for_hash(text)
    if not key:
        return ""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def _joins(joiner: str, prev_is_digit: bool, ch: str) -> bool:
    if joiner in _LETTER_JOINERS:
        return True
    return prev_is_digit and ch.isdigit()


def count_words(text: str) -> int:
    """Count words in Arabic-script and Latin-script text alike.

    Python's ``\\w`` excludes combining marks, so a regex would split fully
    vocalised Arabic at every haraka; this walks characters instead. Marks and
    tatweel extend a word but never start one. Invisible format characters
    such as ZWNJ (used inside Persian words) are skipped, except ZWSP, which
    separates words.
    """
    count = 0
    in_word = False
    prev_is_digit = False
    joiner = ""  # apostrophe/hyphen/separator seen right after a word
    for ch in text:
        category = unicodedata.category(ch)
        if category == "Cf" and ch != "\u200b":
            continue
        if in_word and (category[0] == "M" or ch == _TATWEEL):
            continue
        if category[0] in "LN" and ch != _TATWEEL:
            if not in_word or (joiner and not _joins(joiner, prev_is_digit, ch)):
                count += 1
            in_word, joiner, prev_is_digit = True, "", ch.isdigit()
        elif in_word and not joiner and (ch in _LETTER_JOINERS or ch in _DIGIT_JOINERS):
            joiner = ch
        else:
            in_word, joiner = False, ""
    return count
