"""Offline language identification tuned for short news headlines.

On a 5-10 word Arabic-script headline py3langid spreads its probability over
Arabic, its dialect labels, Persian, Urdu and neighbours such as Southern
Uzbek, because the three main languages share most letters. For that script
its scores are combined with the letters only one or two of them use.
"""

import functools
import math
import unicodedata
from collections import Counter
from dataclasses import dataclass

from py3langid.langid import MODEL_FILE, LanguageIdentifier

from pipeline.text import primary_language

_MIN_LETTERS = 3

# A feed's configured language multiplies its probability by this much:
# enough to settle a short or ambiguous text, too little to overturn a clear one.
_HINT_WEIGHT = 10.0

# Dialect labels reported as the macrolanguage news feeds are tagged with.
_ALIASES = {"ary": "ar", "arz": "ar"}
# py3langid's label for text that is not language (numbers, codes, markup).
_NOT_LANGUAGE = "zxx"

_ARABIC_SCRIPT_TRIO = ("ar", "fa", "ur")
_MAJORITY = 0.5
# Per-occurrence evidence, in nats, added to the languages that use a letter.
_URDU_ONLY = frozenset("ٹڈڑںےھۂۃہ")  # ہ: Urdu writes heh goal, Persian ه
_PERSO_URDU = frozenset("پچژگیک")  # ی and ک are the Persian/Urdu forms
_ARABIC_ONLY = frozenset("ةىكي")  # ك and ي are the Arabic forms
_LETTER_WEIGHT = 1.0
_ARTICLE = "ال"

# First word of a Unicode character name -> ISO 15924 code.
_SCRIPT_BY_NAME = {
    "LATIN": "Latn", "ARABIC": "Arab", "CYRILLIC": "Cyrl", "GREEK": "Grek",
    "HEBREW": "Hebr", "ARMENIAN": "Armn", "GEORGIAN": "Geor", "SYRIAC": "Syrc",
    "THAANA": "Thaa", "TIFINAGH": "Tfng", "ETHIOPIC": "Ethi",
    "DEVANAGARI": "Deva", "BENGALI": "Beng", "GURMUKHI": "Guru",
    "GUJARATI": "Gujr", "ORIYA": "Orya", "TAMIL": "Taml", "TELUGU": "Telu",
    "KANNADA": "Knda", "MALAYALAM": "Mlym", "SINHALA": "Sinh", "THAI": "Thai",
    "LAO": "Laoo", "TIBETAN": "Tibt", "MYANMAR": "Mymr", "KHMER": "Khmr",
    "MONGOLIAN": "Mong", "HANGUL": "Hang", "HIRAGANA": "Hira",
    "KATAKANA": "Kana", "CJK": "Hani",
}

# Scripts a language is written in, for checking a hint against the text.
# Languages not listed are assumed to be written in Latin script.
_LANGUAGES_BY_SCRIPT = {
    "Arab": "ar ary arz fa ps sdh ug ur uzs ckb sd ks ku pa",
    "Cyrl": "ba be bg kk ky mk mn ru sr tg tt uk uz",
    "Grek": "el grc",
    "Hebr": "he hbo yi",
    "Armn": "hy",
    "Geor": "ka",
    "Ethi": "am ti",
    "Deva": "gom hi mr ne sa",
    "Beng": "as bn",
    "Guru": "pa",
    "Gujr": "gu",
    "Orya": "or",
    "Taml": "ta",
    "Telu": "te",
    "Knda": "kn",
    "Mlym": "ml",
    "Sinh": "si",
    "Thai": "th",
    "Laoo": "lo",
    "Tibt": "bo dz",
    "Mymr": "my",
    "Khmr": "km",
    "Hang": "ko",
    "Hira": "ja",
    "Kana": "ja",
    "Hani": "ja ko wuu yue zh",
}
_ALSO_LATIN = frozenset({"ku", "sr", "uz"})


def _build_scripts_of() -> dict[str, frozenset[str]]:
    scripts: dict[str, set[str]] = {lang: {"Latn"} for lang in _ALSO_LATIN}
    for script, languages in _LANGUAGES_BY_SCRIPT.items():
        for lang in languages.split():
            scripts.setdefault(lang, set()).add(script)
    return {lang: frozenset(s) for lang, s in scripts.items()}


_SCRIPTS_OF = _build_scripts_of()


@dataclass(frozen=True)
class LanguageGuess:
    """A detected ISO 639 language, its probability and the text's script."""

    language: str | None
    confidence: float
    script: str | None


@functools.lru_cache(maxsize=1)
def _identifier() -> LanguageIdentifier:
    # Loaded on first use in each worker and never stored on an object, so
    # pickled DoFns stay small. Never mutated (no set_languages): it is shared.
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def load_model() -> None:
    """Load the model now rather than at the first detection (`articles/preload.py`)."""
    _identifier()


@functools.lru_cache(maxsize=4096)
def _char_script(ch: str) -> str | None:
    return _SCRIPT_BY_NAME.get(unicodedata.name(ch, "").split(" ", 1)[0])


def _letter_scripts(text: str) -> Counter[str | None]:
    """Script of each letter (None when unknown); marks and tatweel excluded.

    Characters are counted first (in C), so the per-character look-ups run once per distinct one."""
    scripts: Counter[str | None] = Counter()
    for ch, n in Counter(text).items():
        if unicodedata.category(ch) in ("Lu", "Ll", "Lt", "Lo"):
            scripts[_char_script(ch)] += n
    return scripts


def _dominant(scripts: Counter[str | None]) -> str | None:
    return next((script for script, _ in scripts.most_common() if script), None)


def _hint_fits(language: str, script: str | None) -> bool:
    return script in _SCRIPTS_OF.get(language, frozenset({"Latn"}))


def _model_probs(text: str) -> dict[str, float]:
    probs: dict[str, float] = {}
    for label, p in _identifier().rank(text):
        lang = _ALIASES.get(label, label)
        probs[lang] = probs.get(lang, 0.0) + p
    return probs


def _letter_evidence(text: str) -> dict[str, float]:
    """Log-odds bonus for ar/fa/ur from letters and the Arabic article."""
    urdu = sum(ch in _URDU_ONLY for ch in text)
    perso_urdu = sum(ch in _PERSO_URDU for ch in text)
    arabic = sum(ch in _ARABIC_ONLY for ch in text)
    articles = sum(len(w) > 3 and w.startswith(_ARTICLE) for w in text.split())
    return {
        "ar": _LETTER_WEIGHT * (arabic + articles),
        "fa": _LETTER_WEIGHT * perso_urdu,
        "ur": _LETTER_WEIGHT * (perso_urdu + urdu),
    }


def _arabic_script_probs(text: str, probs: dict[str, float]) -> dict[str, float]:
    """Re-score Arabic, Persian and Urdu with letter evidence.

    Another Arabic-script language (Pashto, Kurdish, Uyghur...) is kept only
    when py3langid gives it a majority on its own.
    """
    best = max(probs, key=probs.__getitem__)
    if best not in _ARABIC_SCRIPT_TRIO and probs[best] >= _MAJORITY:
        return probs
    evidence = _letter_evidence(text)
    scores = {
        lang: math.log(max(probs.get(lang, 0.0), 1e-9)) + evidence[lang]
        for lang in _ARABIC_SCRIPT_TRIO
    }
    top = max(scores.values())
    weights = {lang: math.exp(s - top) for lang, s in scores.items()}
    total = sum(weights.values())
    return {lang: w / total for lang, w in weights.items()}


def detect_language(text: str, hint: str | None = None) -> LanguageGuess:
    """Guess the language of ``text``, optionally helped by a feed's language.

    ``hint`` (e.g. from feed config) acts as a prior: it is ignored when the
    text is in a script the hinted language is not written in, and otherwise
    wins whenever the model finds it at least a tenth as likely as its own
    pick, which in practice means short or ambiguous texts. With fewer than
    three letters nothing is detected and the hint, if any, is returned with
    confidence 0.0. Otherwise a hint only counts if it is a language still in
    the running: one py3langid knows and, on Arabic-script text, ar/fa/ur
    (unless py3langid gave another language a majority). ``confidence`` is
    the final probability of ``language``.
    """
    hint = primary_language(hint)
    text = unicodedata.normalize("NFKC", text)
    scripts = _letter_scripts(text)
    if sum(scripts.values()) < _MIN_LETTERS:
        return LanguageGuess(hint, 0.0, None)
    script = _dominant(scripts)
    probs = _model_probs(text)
    if script == "Arab":
        probs = _arabic_script_probs(text, probs)
    if hint and hint in probs and _hint_fits(hint, script):
        probs[hint] *= _HINT_WEIGHT
        total = sum(probs.values())
        probs = {lang: p / total for lang, p in probs.items()}
    language = max(probs, key=probs.__getitem__)
    if language == _NOT_LANGUAGE:
        return LanguageGuess(None, 0.0, script)
    return LanguageGuess(language, min(1.0, max(0.0, probs[language])), script)
