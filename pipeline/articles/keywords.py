"""Light offline keywords in every language the pipeline detects: no model, no download.

News copy repeats its topic, so term frequency with stopword lists, a title bonus and repeated
two-word phrases finds the names and subjects a story is about. Words are matched on
`normalize_for_hash` keys, so tashkeel, tatweel and hamza or taa-marbuta spellings do not split a
term; Arabic keys also shed attached proclitics (و ف ب ك ل and the article ال), so الحكومة,
والحكومة and للحكومة count as one term. Keywords are returned as written (tashkeel and tatweel
removed), never as the lossy matching key.

Stopwords: Arabic and English lists tuned for news copy (below); every other language takes the
stopwords-iso list for its ISO 639-1 code (the `stopwordsiso` package). A language written without
spaces between words (Japanese, Chinese, Thai, ...) or without a stopword list gets no keywords:
frequency over unsegmented text or unfiltered function words would give fragments and stopwords.
"""

import heapq
import re
import unicodedata
from collections import Counter
from functools import lru_cache
from itertools import pairwise

import stopwordsiso

from pipeline.text import _ARABIC_FOLD, _LETTER_JOINERS, normalize_for_hash, primary_language

_TITLE_BONUS = 3
_MIN_LETTERS = 3  # shorter words are particles or fragments in both languages
_MIN_PHRASE_COUNT = 2
# Up to +30% for a 12-letter term: a tie-breaker among similar counts, never a jump over frequency.
_LENGTH_WEIGHT = 0.025
_LENGTH_CAP = 12

# Written in ordinary spelling and matched after normalize_for_hash. Words shorter than
# _MIN_LETTERS are dropped anyway, so the lists hold only longer ones.
_ENGLISH_STOPWORDS = """
the and for are but not you all any can had her was one our out has have him his how its may now own
she too who why yet also been both does each from into just more most much must only other over same
some such than that them then there these they this those very were what when where which while will
with would could should about above after again against because before being below between during
every few further here many might off once per since still through under until within without your
their did said says say told added according reported stated noted explained announced including
however although though among around across amid despite towards whether another less several like
well even get got make made take took come came way ago earlier later recently first last next year
years month months week weeks day days today yesterday tomorrow monday tuesday wednesday thursday
friday saturday sunday two three four five six seven eight nine ten hundred thousand million billion
percent everyone anyone someone new
"""
_ARABIC_STOPWORDS = """
إلى على منذ حتى خلال بين عند لدى نحو حول دون بعد قبل أمام تحت فوق عبر ضمن إثر بسبب رغم وفق وفقا حسب
بحسب لأن بأن وأن فإن لكن لكنه غير سوى إلا أما أيضا كما مثل حيث عندما بينما إذا لقد فقد وقد ولم ولن
ليس ليست ماذا كيف هذا هذه ذلك تلك هؤلاء هناك هنا هما الذي التي الذين نحن أنه أنها لها لهم لديه لديها
فيه فيها منه منها منهم عليه عليها إليه عنه عنها بها بهم وهو وهي وهم نفسه نفسها وفي ومن وما ولا فلا
فقط مما عما بما لما فيما بهذا بهذه بذلك لذلك لهذا كذلك بعض جميع أحد إحدى واحد عدة عدد أكثر أقل جدا
نفس ذات معظم أول الأول الأولى كافة حوالي كان كانت يكون يزال تزال قال قالت يقول أضاف أضافت أكد أكدت
أشار أشارت أوضح أوضحت أعلن أعلنت ذكر ذكرت تابع أفاد أفادت صرح لفت مشيرا مضيفا مؤكدا موضحا لافتا نقلا
يذكر يتم يعد تعد يمكن سوف أمس اليوم غدا الآن حاليا الماضي المقبل الحالي الأحد الاثنين الثلاثاء
الأربعاء الخميس الجمعة السبت يوم أيام يوميا أسبوع شهر أشهر سنوات مليون مليار ألف المئة المائة اثنان
اثنين ثلاث ثلاثة أربع أربعة خمس خمسة ستة سبع سبعة ثماني ثمانية تسع تسعة عشر عشرة جديد جديدة الجديد
الجديدة عام العام بنسبة
"""
_EN = frozenset(normalize_for_hash(_ENGLISH_STOPWORDS).split())
_AR = frozenset(normalize_for_hash(_ARABIC_STOPWORDS).split())
_EN_AR = _EN | _AR

# Attached forms as normalize_for_hash spells them. The article (after و/ف and ب/ك/ل; ل+ال is
# written لل) is shed whenever enough is left; a bare و/ف/ب/ك/ل may be a root letter (فلسطين,
# بريطانيا), so it is shed only when the rest also occurs in the text on its own.
_ARTICLES = frozenset(c + p for c in ("", "و", "ف") for p in ("ال", "بال", "كال", "لل"))
_PROCLITICS = frozenset(c + p for c in ("", "و", "ف") for p in ("", "ب", "ك", "ل") if c + p)
_CONJUNCTIONS = "وف"
_CLITIC_LETTERS = frozenset("اوفبكل")


def _chars(category: str, *ranges: range) -> str:
    """Characters of a Unicode category in a few blocks (a full scan would slow the import)."""
    return "".join(chr(cp) for r in ranges for cp in r if unicodedata.category(chr(cp)).startswith(category))


# Python's \w stops at combining marks, which would cut Arabic (tashkeel), Hebrew or Devanagari
# words apart; these are the blocks of scripts that write words with marks.
_MARKS = _chars("M", range(0x0300, 0x1E00), range(0x20D0, 0x2100), range(0xFE20, 0xFE30))
_WORD = rf"[^\W_][\w{re.escape(_MARKS)}\u200c]*"  # ZWNJ stays inside Persian words
# A word (joined by apostrophes and hyphens, an English possessive left out: Egypt's counts as
# Egypt), or punctuation, which findall reports as "" so that phrases never span it.
_TOKEN = re.compile(rf"({_WORD}(?:[{re.escape(''.join(_LETTER_JOINERS))}](?![sS]\b){_WORD})*)(?:['’ʼ][sS]\b)?|[^\w\s]")
# Invisible format characters (bidi marks, BOM) would cut words and phrases apart. ZWSP is a
# space instead, and ZWNJ belongs to the Persian word it sits in.
_FORMAT = _chars("Cf", range(0x00A0, 0x2100), range(0xFE00, 0xFF00)).replace("\u200b", "").replace("\u200c", "")
_INVISIBLE = re.compile(f"[{re.escape(_FORMAT)}]")
_DISPLAY = {cp: None for cp, folded in _ARABIC_FOLD.items() if folded is None}  # tashkeel, tatweel
# Inside a word from _words everything is a letter, digit or mark except ZWNJ, the joiners and "_",
# so this table gives normalize_for_hash's key without its per-character loop, which would
# otherwise be half the run time (tests check the two agree).
_KEY = {**_ARABIC_FOLD, 0x200C: None, ord("_"): " ", **dict.fromkeys(map(ord, _LETTER_JOINERS), " ")}


def _words(text: str | None) -> list[str]:
    """Words as written (NFKC), with "" wherever punctuation interrupts the text."""
    if not text:
        return []
    if not text.isascii():
        text = unicodedata.normalize("NFKC", _INVISIBLE.sub("", text.replace("\u200b", " ")))
    return _TOKEN.findall(text)


def _key(word: str) -> str:
    """normalize_for_hash(word) for a word from _words."""
    key = word.casefold().translate(_KEY)
    return " ".join(key.split()) if " " in key else key


# Languages written without spaces between words: a "word" here is a whole clause.
_UNSEGMENTED = frozenset({"ja", "zh", "th", "lo", "km", "my", "bo", "dz"})


@lru_cache(maxsize=128)
def _rules(language: str | None) -> tuple[frozenset[str], bool] | None:
    """Stopwords, and whether Arabic clitics apply; None: no keywords for this language."""
    code = primary_language(language) or ""
    if code == "en":
        return _EN, False
    if code == "ar":
        return _AR, True
    if not code or code == "und":
        return _EN_AR, True
    if code in _UNSEGMENTED or not stopwordsiso.has_lang(code):
        return None
    return frozenset(normalize_for_hash(" ".join(stopwordsiso.stopwords(code))).split()), False


def _is_term(key: str, stopwords: frozenset[str], arabic: bool) -> bool:
    if len(key) < _MIN_LETTERS or key in stopwords or key.replace(" ", "").isnumeric():
        return False
    # words joined by an apostrophe or hyphen, all of them particles: d'un, aujourd'hui, don't
    if " " in key and all(len(part) < _MIN_LETTERS or part in stopwords for part in key.split()):
        return False
    # وأضاف, فإنه: a conjunction on a stopword. Prepositions are not tried: بلدية is not ب + لديه.
    return not (arabic and key[0] in _CONJUNCTIONS and len(key) > _MIN_LETTERS and key[1:] in stopwords)


def _arabic_terms(keys: list[str]) -> dict[str, str]:
    """Key -> term: the article shed whenever possible, a bare proclitic only if the rest is attested."""
    bases = {
        key: next((key[n:] for n in (4, 3, 2) if key[:n] in _ARTICLES and len(key) - n >= _MIN_LETTERS), key)
        if key[0] in _CLITIC_LETTERS else key
        for key in keys
    }
    attested = set(bases.values())
    terms = {}
    for key, base in bases.items():
        if base == key and key[0] in _CLITIC_LETTERS:
            base = next((key[n:] for n in (2, 1) if key[:n] in _PROCLITICS and key[n:] in attested
                         and len(key) - n >= _MIN_LETTERS), key)
        terms[key] = base
    return terms


def _length(letters: int) -> float:
    """Score factor: a mild preference for longer, more specific words."""
    return 1 + _LENGTH_WEIGHT * min(letters, _LENGTH_CAP)


_Candidate = tuple[str, ...]  # (term,) or a phrase (term, term)


def keywords(title: str | None, body: str | None, language: str | None, limit: int = 8) -> list[str]:
    """Up to `limit` topic terms of an article, best first, as written in it.

    Score: occurrences in the body, +3 if in the title, times up to 1.3 for long words. Two
    different terms seen side by side at least twice form a phrase, and occurrences inside a
    phrase count for the phrase instead of its words, so a frequent phrase outranks its parts.
    Ties go to the term seen first (title, then body). `language` ("ar", "en", "ar-EG"...) picks
    the stopwords (see the module docstring), and None gets the Arabic and English lists.
    """
    rules = _rules(language)
    if limit <= 0 or rules is None:
        return []
    stopwords, arabic = rules
    title_words = _words(title)
    words = [*title_words, "", *_words(body)]
    body_start = len(title_words) + 1
    keys = {word: _key(word) for word in dict.fromkeys(words)}
    content = [key for key in dict.fromkeys(keys.values()) if _is_term(key, stopwords, arabic)]
    terms = _arabic_terms(content) if arabic else dict(zip(content, content, strict=True))
    term_of = {word: terms[key] for word, key in keys.items() if key in terms}

    # The candidate starting at each position: a phrase, a single term, or None.
    sequence = [term_of.get(word) for word in words]
    pairs = list(pairwise(sequence))
    phrases = {(a, b) for (a, b), n in Counter(pairs).items() if n >= _MIN_PHRASE_COUNT and a and b and a != b}
    at: list[_Candidate | None] = [(term,) if term else None for term in sequence]
    starts = [i for i, pair in enumerate(pairs) if pair in phrases]
    for i in starts:
        at[i + 1] = None
    for i in starts:
        at[i] = pairs[i]

    counts = Counter(at[body_start:])
    for candidate in set(at[:body_start]):
        counts[candidate] += _TITLE_BONUS
    counts.pop(None, None)
    if not counts:
        return []
    first = dict(zip(reversed(at), range(len(at) - 1, -1, -1), strict=True))
    # Length moves a score by at most _length(_LENGTH_CAP) / _length(_MIN_LETTERS), so anything
    # further behind the limit-th count cannot make the list: skips the long tail of words seen once.
    floor = heapq.nlargest(limit, counts.values())[-1] * _length(_MIN_LETTERS) / _length(_LENGTH_CAP)
    scores = {c: count * _length(sum(map(len, c))) for c, count in counts.items() if count >= floor}
    best = sorted(scores, key=lambda c: (-scores[c], first[c]))[:limit]
    # Written forms of the winners: [no bare و/ف/ب/ك/ل (الحكومة, not والحكومة), body count, title
    # count, -first position], compared in that order. A word's forms include those in phrases.
    forms: dict[_Candidate, dict[str, list[int]]] = {candidate: {} for candidate in best}

    def record(candidate: _Candidate, i: int) -> None:
        written = words[i : i + len(candidate)]
        form = " ".join(word.translate(_DISPLAY) for word in written)
        clean = all(keys[word] in (term, "ال" + term) for word, term in zip(written, candidate, strict=True))
        tally = forms[candidate].setdefault(form, [clean, 0, 0, -i])
        tally[1 if i >= body_start else 2] += 1

    singles = {candidate[0] for candidate in best if len(candidate) == 1}
    for i, term in enumerate(sequence):
        if term in singles:
            record((term,), i)
        if at[i] in forms and len(at[i]) == 2:
            record(at[i], i)
    return [max(tallies, key=tallies.__getitem__) for tallies in forms.values()]
