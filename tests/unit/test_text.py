import pytest

from pipeline.text import content_hash, count_words, normalize_for_hash


@pytest.mark.parametrize(
    ("variant", "plain"),
    [
        ("مُحَمَّدٌ رَسُولٌ", "محمد رسول"),  # harakat and shadda
        ("العـــربيـة", "العربية"),  # tatweel
        ("أحمد إلى آخر ٱلطريق", "احمد الي اخر الطريق"),  # hamza alefs, alef wasla, alef maksura
        ("مدرسة", "مدرسه"),  # taa marbuta
        ("کتاب علی", "كتاب علي"),  # Persian keheh and yeh
        ("سیاسۃ پاکستانہ", "سياسه پاكستانه"),  # Urdu taa marbuta goal and heh goal
        ("عام ٢٠٢٦ و۲۰۲۶", "عام 2026 و2026"),  # Arabic-Indic and Persian digits
        ("\u200fخبر\u200b عاجل\ufeff\u2067", "خبر عاجل"),  # bidi and zero-width marks
        ("قال، إن؛ ماذا؟", "قال ان ماذا"),  # Arabic punctuation
        ("ﻻ ﷲ", "لا الله"),  # presentation forms (NFKC)
        ("The  Quick\tBROWN fox!", "the quick brown fox"),
        ("وَالصَّلَاةُ", "والصلاه"),
        ("ذٰلِكَ", "ذلك"),  # superscript alef
    ],
)
def test_spelling_variants_share_a_hash(variant: str, plain: str) -> None:
    assert normalize_for_hash(variant) == normalize_for_hash(plain)
    assert content_hash(variant) == content_hash(plain)


def test_normalized_key_is_folded_and_trimmed() -> None:
    assert normalize_for_hash("  «أخبارُ»   اليومِ — عاجل!  ") == "اخبار اليوم عاجل"
    assert normalize_for_hash("Price: $5 + 10% ©") == "price 5 10"


def test_different_texts_hash_differently() -> None:
    headlines = [
        "ارتفاع أسعار النفط",
        "انخفاض أسعار النفط",
        "ارتفاع أسعار الذهب",
        "Oil prices rise",
        "Oil prices fall",
    ]
    hashes = {content_hash(h) for h in headlines}
    assert len(hashes) == len(headlines)


def test_hash_shape_and_empty_inputs() -> None:
    digest = content_hash("خبر")
    assert len(digest) == 32
    int(digest, 16)
    assert content_hash("") == ""
    assert content_hash(" \n\t\u200b ") == ""
    assert content_hash("...!؟") == ""


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", 0),
        ("   ", 0),
        ("مُحَمَّدٌ رَسُولُ اللَّهِ", 3),
        ("الـــعـــربيـــة لغة جميلة", 3),
        ("قال الرئيس، إن الحكومة ستعمل؛ أليس كذلك؟", 7),
        ("عاجل ـــ انفجار", 2),  # a run of tatweel is not a word
        ("می‌خواهم به خانه بروم", 4),  # ZWNJ inside a Persian word
        ("don't stop the state-run press", 5),
        ("It’s a well-known fact.", 4),
        ("Prices rose 3.5% to 1,000 dinars", 6),
        ("ارتفع بنسبة ٣٫٥ في المئة", 5),
        ("-- ... !!! ،،", 0),
        ("word\u200bword", 2),  # ZWSP separates
        ("Breaking: رئيس جديد", 3),
    ],
)
def test_count_words(text: str, words: int) -> None:
    assert count_words(text) == words
