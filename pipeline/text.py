"""Script-aware text keys and counts, with Arabic treated as first-class.

Arabic news copy varies in ways that do not change meaning: optional
diacritics, tatweel (kashida) stretching, hamza-on-alef spelling, Persian
keyboard letters, Arabic-Indic digits and invisible bidi marks. Hashes built
on raw text would treat those variants as different stories.
"""

import hashlib
import re
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

# Apostrophes and hyphens join letters ("don't", "state-run"): the same set as in _WORD.
_LETTER_JOINERS = frozenset("'\u2019\u02bc-\u2010\u2011")


def _category_table(drop: tuple[str, ...], space: tuple[str, ...], keep: str = "") -> dict[int, str | None]:
    """A str.translate table from Unicode categories, built once: per-character work then runs in C.

    Covers the BMP and the Supplementary Multilingual Plane (emoji and symbols); rarer planes hold
    letters only, which need no entry."""
    table: dict[int, str | None] = {}
    for cp in range(0x20000):
        ch = chr(cp)
        if ch in keep:
            continue
        category = unicodedata.category(ch)
        if category.startswith(drop):
            table[cp] = None
        elif category.startswith(space):
            table[cp] = " "
    return table


# Invisible format characters vanish; punctuation, symbols, separators and controls split words.
_HASH_TABLE = _category_table(drop=("Cf",), space=("P", "S", "Z", "Cc"))
# For counting: marks and tatweel extend a word and invisible characters vanish (except ZWSP,
# which separates words); what remains is matched by _WORD.
_COUNT_TABLE = {**_category_table(drop=("M", "Cf"), space=(), keep="\u200b"), ord(_TATWEEL): None,
                0x200B: " "}
_WORD = re.compile(r"[^\W_]+(?:['\u2019\u02bc\-\u2010\u2011][^\W_]+|(?<=\d)[.,\u066b\u066c](?=\d)[^\W_]+)*")


def normalize_for_hash(text: str) -> str:
    """Fold spelling variants so equivalent texts share one hashing key.

    The key is lossy by design (no punctuation, no diacritics) and must never
    be stored or shown.
    """
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_ARABIC_FOLD)
    return " ".join(folded.translate(_HASH_TABLE).split())


def content_hash(text: str) -> str:
    """Short sha256 of the normalized text; "" when nothing is left to hash."""
    key = normalize_for_hash(text)
    if not key:
        return ""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def count_words(text: str) -> int:
    """Count words in Arabic-script and Latin-script text alike.

    Python's ``\\w`` excludes combining marks, so a plain regex would split fully
    vocalised Arabic at every haraka: marks and tatweel are removed first (they
    extend a word, never start one). Apostrophes and hyphens join letters
    ("don't", "state-run"); decimal and thousands separators join digits
    ("3.5", "1,000", "٣٫٥").
    """
    return len(_WORD.findall(text.translate(_COUNT_TABLE)))


def primary_language(tag: object) -> str | None:
    """The primary subtag of a language tag, lower-cased: "ar-EG" / "en_US" -> "ar" / "en"."""
    if not isinstance(tag, str):
        return None
    return tag.strip().lower().replace("_", "-").split("-", 1)[0] or None


# Code points no record may carry: lone surrogates (not encodable as UTF-8, so Parquet and every
# encoder fail on them) become U+FFFD; C0 controls other than tab/newline/CR and the
# non-characters U+FFFE/U+FFFF are invisible debris from broken documents and are dropped.
_INVALID_CHARS = re.compile("[\ud800-\udfff\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _replacement(match: re.Match[str]) -> str:
    return "\ufffd" if "\ud800" <= match.group() <= "\udfff" else ""


def scrub(text: str) -> str:
    """`text` as valid, storable Unicode: applied where feed text enters records, so one bad
    character costs a glyph, never a stage."""
    return _INVALID_CHARS.sub(_replacement, text)


def is_xml_char(cp: int) -> bool:
    """XML 1.0 `Char`: what a character reference may name."""
    return (cp in (0x9, 0xA, 0xD) or 0x20 <= cp <= 0xD7FF or 0xE000 <= cp <= 0xFFFD
            or 0x10000 <= cp <= 0x10FFFF)
